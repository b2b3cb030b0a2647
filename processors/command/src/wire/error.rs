//! Why a wire record could not become a domain value.

/// A wire value the domain cannot represent: the record is malformed, not merely
/// against a rule, so it cannot be decided at all.
///
/// Every variant is handled the same way, and never by retrying (the same bytes
/// fail the same way again):
///
/// - a **command** goes to the dead-letter topic, with [`record`](Self::record),
///   [`field`](Self::field), [`kind`](Self::kind) and the message in its headers.
///   No `CommandRejected` is published: no reason code covers a malformed record,
///   and its command id may itself be what is malformed;
/// - an **event** read back from `account-events` (catch-up, restore) is counted
///   and logged with the same details, and the account it belongs to is flagged:
///   its state is missing a fact.
///
/// The variants say what was wrong, so that the sender can fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// An id with the `uuid` logical type that is not a UUID in its canonical
    /// form: 36 characters, lower-case hex, hyphenated. Only that spelling is taken,
    /// so that the id echoed back in results is byte for byte the one sent.
    #[error("{record}.{field}: {value:?} is not a lower-case hyphenated UUID")]
    NotAUuid {
        record: &'static str,
        field: &'static str,
        value: String,
    },

    /// An empty account or owner id: it would name no aggregate (an account id is
    /// the Kafka key of every account topic), or a transfer that could never be
    /// credited nor refunded.
    #[error("{record}.{field} is empty")]
    EmptyId {
        record: &'static str,
        field: &'static str,
    },

    /// A currency that is not shaped like an ISO 4217 code: three upper-case ASCII
    /// letters. Whether the code exists is not checked; a well-shaped code the
    /// account does not hold is a `CURRENCY_MISMATCH` rejection.
    #[error("{record}.{field}: {value:?} is not an ISO 4217 code (three capital letters)")]
    NotACurrency {
        record: &'static str,
        field: &'static str,
        value: String,
    },

    /// A number outside what the field can mean: a negative `expected_version`, or
    /// an event version below 1.
    #[error("{record}.{field}: {value} is out of range ({expected})")]
    OutOfRange {
        record: &'static str,
        field: &'static str,
        value: i64,
        expected: &'static str,
    },
}

impl WireError {
    /// The record's name, e.g. `DepositMoney`.
    pub fn record(&self) -> &'static str {
        match self {
            Self::NotAUuid { record, .. }
            | Self::EmptyId { record, .. }
            | Self::NotACurrency { record, .. }
            | Self::OutOfRange { record, .. } => record,
        }
    }

    /// The field at fault, as named in the `.avsc` (`metadata.` first for the
    /// event envelope), e.g. `command_id` or `metadata.version`.
    pub fn field(&self) -> &'static str {
        match self {
            Self::NotAUuid { field, .. }
            | Self::EmptyId { field, .. }
            | Self::NotACurrency { field, .. }
            | Self::OutOfRange { field, .. } => field,
        }
    }

    /// A stable, low-cardinality name of the problem, for dead-letter headers and
    /// metric labels.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotAUuid { .. } => "not-a-uuid",
            Self::EmptyId { .. } => "empty-id",
            Self::NotACurrency { .. } => "not-a-currency",
            Self::OutOfRange { .. } => "out-of-range",
        }
    }
}
