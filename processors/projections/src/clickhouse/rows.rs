//! Events as rows: what `account_events` and `account_balances` hold, and how an
//! account's state moves with each event.

use ledgerstream_schemas::records::{AccountType, Channel, EventMetadata, EventRecord};
use serde::{Deserialize, Serialize};

use crate::sink::{Rejected, SourcedEvent};

/// One event, checked and flattened, waiting in a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Projected {
    pub partition: i32,
    pub offset: i64,
    pub account_id: String,
    pub version: u64,
    pub event_id: String,
    pub event_type: &'static str,
    pub occurred_at_ms: i64,
    /// Owner and type, carried by `AccountOpened` only.
    pub opened: Option<(String, &'static str)>,
    /// Empty for `AccountClosed`, which carries none.
    pub currency: String,
    pub amount_minor: i64,
    pub fee_minor: i64,
    pub balance_delta_minor: i64,
    /// `None` for `AccountClosed`: the balance stays as it was.
    pub balance_after_minor: Option<i64>,
    pub counterparty_account_id: String,
    pub transfer_id: String,
    pub reference: String,
    pub channel: &'static str,
    pub reason_code: String,
    pub reason: String,
    pub command_id: String,
    pub correlation_id: String,
    pub causation_id: String,
}

/// Epoch seconds as a `DateTime` holds them (`UInt32`), from epoch ms checked to
/// be in range.
pub fn epoch_seconds(millis: i64) -> u32 {
    u32::try_from(millis.div_euclid(1_000)).unwrap_or(if millis < 0 { 0 } else { u32::MAX })
}

fn account_type(value: AccountType) -> &'static str {
    match value {
        AccountType::Checking => "CHECKING",
        AccountType::Savings => "SAVINGS",
        AccountType::Business => "BUSINESS",
        AccountType::Investment => "INVESTMENT",
    }
}

fn channel(value: Channel) -> &'static str {
    match value {
        Channel::Unknown => "UNKNOWN",
        Channel::Branch => "BRANCH",
        Channel::Atm => "ATM",
        Channel::Online => "ONLINE",
        Channel::Api => "API",
    }
}

fn bad_field(message: String) -> Rejected {
    Rejected {
        class: "bad-field",
        message,
    }
}

impl Projected {
    /// Checks what the tables cannot store (a version below 1, a time outside
    /// `DateTime`'s 1970–2106, an empty account id) and flattens the event.
    pub fn from_event(sourced: SourcedEvent) -> Result<Self, Rejected> {
        let SourcedEvent {
            partition,
            offset,
            event,
        } = sourced;
        let version = checked_version(&event)?;
        let mut row = Projected {
            partition,
            offset,
            account_id: String::new(),
            version,
            event_id: String::new(),
            event_type: "",
            occurred_at_ms: event.metadata().occurred_at,
            opened: None,
            currency: String::new(),
            amount_minor: 0,
            fee_minor: 0,
            balance_delta_minor: 0,
            balance_after_minor: None,
            counterparty_account_id: String::new(),
            transfer_id: String::new(),
            reference: String::new(),
            channel: "",
            reason_code: String::new(),
            reason: String::new(),
            command_id: String::new(),
            correlation_id: String::new(),
            causation_id: String::new(),
        };
        let metadata = row.fill(event);
        row.account_id = metadata.account_id;
        row.event_id = metadata.event_id;
        row.command_id = metadata.command_id;
        row.correlation_id = metadata.correlation_id;
        row.causation_id = metadata.causation_id;
        Ok(row)
    }

    /// Sets the event's own columns; its metadata, for the columns every event has.
    fn fill(&mut self, event: EventRecord) -> EventMetadata {
        let row = self;
        match event {
            EventRecord::AccountOpened(e) => {
                row.event_type = "AccountOpened";
                row.opened = Some((e.owner_id, account_type(e.account_type)));
                row.currency = e.currency;
                row.amount_minor = e.initial_deposit_minor;
                row.balance_delta_minor = e.balance_after_minor;
                row.balance_after_minor = Some(e.balance_after_minor);
                e.metadata
            }
            EventRecord::MoneyDeposited(e) => {
                row.event_type = "MoneyDeposited";
                row.currency = e.currency;
                row.amount_minor = e.amount_minor;
                row.balance_delta_minor = e.amount_minor;
                row.balance_after_minor = Some(e.balance_after_minor);
                row.reference = e.reference.unwrap_or_default();
                e.metadata
            }
            EventRecord::MoneyWithdrawn(e) => {
                row.event_type = "MoneyWithdrawn";
                row.currency = e.currency;
                row.amount_minor = e.amount_minor;
                row.fee_minor = e.fee_minor;
                row.balance_delta_minor = -(e.amount_minor.saturating_add(e.fee_minor));
                row.balance_after_minor = Some(e.balance_after_minor);
                row.reference = e.reference.unwrap_or_default();
                row.channel = channel(e.channel);
                e.metadata
            }
            EventRecord::TransferDebited(e) => {
                row.event_type = "TransferDebited";
                row.currency = e.currency;
                row.amount_minor = e.amount_minor;
                row.fee_minor = e.fee_minor;
                row.balance_delta_minor = -(e.amount_minor.saturating_add(e.fee_minor));
                row.balance_after_minor = Some(e.balance_after_minor);
                row.counterparty_account_id = e.to_account_id;
                row.transfer_id = e.transfer_id;
                row.reference = e.reference.unwrap_or_default();
                e.metadata
            }
            EventRecord::TransferCredited(e) => {
                row.event_type = "TransferCredited";
                row.currency = e.currency;
                row.amount_minor = e.amount_minor;
                row.balance_delta_minor = e.amount_minor;
                row.balance_after_minor = Some(e.balance_after_minor);
                row.counterparty_account_id = e.from_account_id;
                row.transfer_id = e.transfer_id;
                row.reference = e.reference.unwrap_or_default();
                e.metadata
            }
            EventRecord::TransferRefunded(e) => {
                row.event_type = "TransferRefunded";
                row.currency = e.currency;
                row.amount_minor = e.amount_minor;
                row.fee_minor = e.fee_minor;
                row.balance_delta_minor = e.amount_minor.saturating_add(e.fee_minor);
                row.balance_after_minor = Some(e.balance_after_minor);
                row.counterparty_account_id = e.to_account_id;
                row.transfer_id = e.transfer_id;
                row.reason_code = e.reason_code;
                row.reason = e.reason;
                e.metadata
            }
            EventRecord::AccountClosed(e) => {
                row.event_type = "AccountClosed";
                row.reason = e.reason.unwrap_or_default();
                e.metadata
            }
        }
    }
}

/// The event's version, once the tables can store the event.
fn checked_version(event: &EventRecord) -> Result<u64, Rejected> {
    let meta = event.metadata();
    if meta.account_id.is_empty() {
        return Err(bad_field("account_id is empty".to_owned()));
    }
    let version = u64::try_from(meta.version)
        .ok()
        .filter(|v| *v >= 1)
        .ok_or_else(|| bad_field(format!("version {} is below 1", meta.version)))?;
    if !(0..=i64::from(u32::MAX) * 1_000).contains(&meta.occurred_at) {
        return Err(bad_field(format!(
            "occurred_at {} ms is outside 1970-2106",
            meta.occurred_at
        )));
    }
    Ok(version)
}

/// An account as `account_balances` holds it; also how the sink remembers it.
#[derive(Debug, Clone, PartialEq, Eq, clickhouse::Row, Serialize, Deserialize)]
pub struct BalanceRow {
    pub account_id: String,
    pub owner_id: String,
    pub account_type: String,
    pub currency: String,
    pub status: String,
    pub balance_minor: i64,
    pub version: u64,
    pub opened_at: u32,
    pub last_activity_at: u32,
    pub last_activity_at_ms: i64,
    pub projected_at: u32,
}

impl BalanceRow {
    /// The state of an account nothing is known about (its `AccountOpened` was
    /// never projected): owner and type stay empty.
    pub fn unknown(account_id: &str) -> Self {
        Self {
            account_id: account_id.to_owned(),
            owner_id: String::new(),
            account_type: String::new(),
            currency: String::new(),
            status: "OPEN".to_owned(),
            balance_minor: 0,
            version: 0,
            opened_at: 0,
            last_activity_at: 0,
            last_activity_at_ms: 0,
            projected_at: 0,
        }
    }

    /// Folds `event` in (an event that moves the account forward).
    pub fn apply(&mut self, event: &Projected) {
        if let Some((owner_id, account_type)) = &event.opened {
            self.owner_id.clone_from(owner_id);
            self.account_type = (*account_type).to_owned();
            self.opened_at = epoch_seconds(event.occurred_at_ms);
            self.status = "OPEN".to_owned();
        }
        if self.currency.is_empty() && !event.currency.is_empty() {
            self.currency.clone_from(&event.currency);
        }
        if let Some(balance) = event.balance_after_minor {
            self.balance_minor = balance;
        }
        if event.event_type == "AccountClosed" {
            self.status = "CLOSED".to_owned();
        }
        self.version = event.version;
        self.last_activity_at_ms = event.occurred_at_ms;
        self.last_activity_at = epoch_seconds(event.occurred_at_ms);
    }
}

/// One row of `account_events`, borrowing from the batch and the account state.
#[derive(Debug, clickhouse::Row, Serialize)]
pub struct EventRow<'a> {
    pub account_id: &'a str,
    pub version: u64,
    pub event_id: &'a str,
    pub event_type: &'a str,
    pub occurred_at: u32,
    pub occurred_at_ms: i64,
    pub owner_id: &'a str,
    pub account_type: &'a str,
    pub currency: &'a str,
    pub amount_minor: i64,
    pub fee_minor: i64,
    pub balance_delta_minor: i64,
    pub balance_after_minor: i64,
    pub counterparty_account_id: &'a str,
    pub transfer_id: &'a str,
    pub reference: &'a str,
    pub channel: &'a str,
    pub reason_code: &'a str,
    pub reason: &'a str,
    pub command_id: &'a str,
    pub correlation_id: &'a str,
    pub causation_id: &'a str,
    pub source_partition: i32,
    pub source_offset: i64,
    pub projected_at: u32,
}

impl<'a> EventRow<'a> {
    /// The row of `event`, with the account's owner, type and currency from
    /// `account` (its state after the event, or its latest for a duplicate).
    pub fn new(event: &'a Projected, account: &'a BalanceRow, projected_at: u32) -> Self {
        let currency = if event.currency.is_empty() {
            &account.currency
        } else {
            &event.currency
        };
        Self {
            account_id: &event.account_id,
            version: event.version,
            event_id: &event.event_id,
            event_type: event.event_type,
            occurred_at: epoch_seconds(event.occurred_at_ms),
            occurred_at_ms: event.occurred_at_ms,
            owner_id: &account.owner_id,
            account_type: &account.account_type,
            currency,
            amount_minor: event.amount_minor,
            fee_minor: event.fee_minor,
            balance_delta_minor: event.balance_delta_minor,
            balance_after_minor: event.balance_after_minor.unwrap_or(account.balance_minor),
            counterparty_account_id: &event.counterparty_account_id,
            transfer_id: &event.transfer_id,
            reference: &event.reference,
            channel: event.channel,
            reason_code: &event.reason_code,
            reason: &event.reason,
            command_id: &event.command_id,
            correlation_id: &event.correlation_id,
            causation_id: &event.causation_id,
            source_partition: event.partition,
            source_offset: event.offset,
            projected_at,
        }
    }
}

/// One row of `projection_checkpoints`.
#[derive(Debug, Clone, PartialEq, Eq, clickhouse::Row, Serialize, Deserialize)]
pub struct CheckpointRow {
    pub projection: String,
    pub topic: String,
    pub kafka_partition: i32,
    pub next_offset: u64,
    pub last_event_at: u32,
    pub last_event_at_ms: i64,
    pub updated_at: u32,
    pub updated_at_ms: i64,
}

// Amounts in minor units read best grouped as units and cents: 100_00 is 100.00.
#[allow(clippy::inconsistent_digit_grouping)]
#[cfg(test)]
mod tests {
    use ledgerstream_schemas::records::{
        AccountClosed, AccountOpened, EventMetadata, MoneyWithdrawn, TransferRefunded,
    };

    use super::*;

    fn meta(version: i64) -> EventMetadata {
        EventMetadata {
            event_id: format!("e{version}"),
            account_id: "acc-1".to_owned(),
            version,
            occurred_at: 1_700_000_000_123,
            command_id: "c".to_owned(),
            correlation_id: "r".to_owned(),
            causation_id: "s".to_owned(),
        }
    }

    fn sourced(event: impl Into<EventRecord>) -> SourcedEvent {
        SourcedEvent {
            partition: 2,
            offset: 40,
            event: event.into(),
        }
    }

    fn opened() -> Projected {
        Projected::from_event(sourced(AccountOpened {
            metadata: meta(1),
            owner_id: "owner-1".to_owned(),
            account_type: AccountType::Savings,
            currency: "EUR".to_owned(),
            initial_deposit_minor: 100_00,
            balance_after_minor: 100_00,
        }))
        .unwrap()
    }

    #[test]
    fn a_withdrawal_takes_amount_and_fee_from_the_balance() {
        let event = Projected::from_event(sourced(MoneyWithdrawn {
            metadata: meta(2),
            amount_minor: 1_500_00,
            currency: "EUR".to_owned(),
            fee_minor: 5_00,
            balance_after_minor: 495_00,
            reference: Some("rent".to_owned()),
            channel: Channel::Atm,
        }))
        .unwrap();
        assert_eq!(
            (event.event_type, event.balance_delta_minor, event.channel),
            ("MoneyWithdrawn", -1_505_00, "ATM")
        );
        assert_eq!(
            (
                event.reference.as_str(),
                event.version,
                event.partition,
                event.offset
            ),
            ("rent", 2, 2, 40)
        );
    }

    #[test]
    fn a_refund_gives_amount_and_fee_back() {
        let event = Projected::from_event(sourced(TransferRefunded {
            metadata: meta(4),
            transfer_id: "t".to_owned(),
            to_account_id: "acc-2".to_owned(),
            amount_minor: 5_00,
            currency: "EUR".to_owned(),
            fee_minor: 2_00,
            balance_after_minor: 100_00,
            reason_code: "ACCOUNT_NOT_FOUND".to_owned(),
            reason: "no such account".to_owned(),
        }))
        .unwrap();
        assert_eq!(
            (
                event.balance_delta_minor,
                event.counterparty_account_id.as_str()
            ),
            (7_00, "acc-2")
        );
    }

    #[test]
    fn the_state_follows_open_and_close_and_rows_carry_owner_and_type() {
        let opened = opened();
        let mut state = BalanceRow::unknown("acc-1");
        state.apply(&opened);
        assert_eq!(
            (
                state.owner_id.as_str(),
                state.account_type.as_str(),
                state.currency.as_str()
            ),
            ("owner-1", "SAVINGS", "EUR")
        );
        assert_eq!(
            (state.balance_minor, state.version, state.opened_at),
            (100_00, 1, 1_700_000_000)
        );
        let closed = Projected::from_event(sourced(AccountClosed {
            metadata: meta(2),
            reason: None,
        }))
        .unwrap();
        state.apply(&closed);
        assert_eq!(
            (state.status.as_str(), state.balance_minor, state.version),
            ("CLOSED", 100_00, 2)
        );
        let row = EventRow::new(&closed, &state, 7);
        assert_eq!(
            (row.currency, row.balance_after_minor, row.account_type),
            ("EUR", 100_00, "SAVINGS")
        );
        assert_eq!(row.occurred_at_ms, 1_700_000_000_123);
    }

    #[test]
    fn what_the_tables_cannot_hold_is_rejected() {
        let mut zero = meta(0);
        let rejected = Projected::from_event(sourced(AccountClosed {
            metadata: zero.clone(),
            reason: None,
        }))
        .unwrap_err();
        assert_eq!(rejected.class, "bad-field");
        zero.version = 3;
        zero.occurred_at = -1;
        assert!(
            Projected::from_event(sourced(AccountClosed {
                metadata: zero.clone(),
                reason: None
            }))
            .is_err()
        );
        zero.occurred_at = 1;
        zero.account_id = String::new();
        assert!(
            Projected::from_event(sourced(AccountClosed {
                metadata: zero,
                reason: None
            }))
            .is_err()
        );
    }

    #[test]
    fn epoch_seconds_clamp_to_the_datetime_range() {
        assert_eq!(epoch_seconds(1_700_000_000_999), 1_700_000_000);
        assert_eq!(epoch_seconds(-5), 0);
        assert_eq!(epoch_seconds(i64::MAX), u32::MAX);
    }
}
