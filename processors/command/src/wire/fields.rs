//! Reading single wire fields into domain values, and the few values that need
//! more than a copy on the way out.

use ledgerstream_domain::{AccountId, Currency, OwnerId};
use uuid::Uuid;

use super::WireError;

/// Reads the fields of one record, naming it in every error.
#[derive(Debug, Clone, Copy)]
pub(super) struct Fields {
    pub(super) record: &'static str,
}

impl Fields {
    pub(super) fn of(record: &'static str) -> Self {
        Self { record }
    }

    /// A `uuid` field, in its canonical spelling only (see [`WireError::NotAUuid`]).
    pub(super) fn uuid(self, field: &'static str, value: &str) -> Result<Uuid, WireError> {
        // 36 characters is the hyphenated form; the braced, URN and simple forms
        // have other lengths.
        let canonical = value.len() == 36 && !value.bytes().any(|b| b.is_ascii_uppercase());
        match Uuid::try_parse(value) {
            Ok(uuid) if canonical => Ok(uuid),
            _ => Err(WireError::NotAUuid {
                record: self.record,
                field,
                value: value.to_owned(),
            }),
        }
    }

    pub(super) fn account(
        self,
        field: &'static str,
        value: String,
    ) -> Result<AccountId, WireError> {
        self.non_empty(field, &value)?;
        Ok(AccountId::new(value))
    }

    pub(super) fn owner(self, field: &'static str, value: String) -> Result<OwnerId, WireError> {
        self.non_empty(field, &value)?;
        Ok(OwnerId::new(value))
    }

    pub(super) fn currency(
        self,
        field: &'static str,
        value: String,
    ) -> Result<Currency, WireError> {
        if value.len() == 3 && value.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Currency::new(value))
        } else {
            Err(WireError::NotACurrency {
                record: self.record,
                field,
                value,
            })
        }
    }

    /// A command's `expected_version`: absent, or 0 and up.
    pub(super) fn expected_version(
        self,
        field: &'static str,
        value: Option<i64>,
    ) -> Result<Option<u64>, WireError> {
        value
            .map(|v| {
                u64::try_from(v).map_err(|_| WireError::OutOfRange {
                    record: self.record,
                    field,
                    value: v,
                    expected: "0 or more",
                })
            })
            .transpose()
    }

    /// An event's version: 1 and up (0 is "not opened yet", which no event leaves).
    pub(super) fn event_version(self, field: &'static str, value: i64) -> Result<u64, WireError> {
        match u64::try_from(value) {
            Ok(version) if version >= 1 => Ok(version),
            _ => Err(WireError::OutOfRange {
                record: self.record,
                field,
                value,
                expected: "1 or more",
            }),
        }
    }

    fn non_empty(self, field: &'static str, value: &str) -> Result<(), WireError> {
        if value.is_empty() {
            Err(WireError::EmptyId {
                record: self.record,
                field,
            })
        } else {
            Ok(())
        }
    }
}

/// A version on the wire. Versions count events on one account, so one above
/// `i64::MAX` cannot occur; it would saturate rather than wrap.
pub(super) fn wire_version(version: u64) -> i64 {
    i64::try_from(version).unwrap_or(i64::MAX)
}
