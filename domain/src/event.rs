//! Events: facts about one account, in the past tense. They mirror the records
//! under `schemas/avro/events/` field for field; a published event never changes
//! meaning.

use super::TransferId;
use super::{AccountId, AccountType, Channel, CommandId, Currency, EventId, OwnerId, Timestamp};

/// One fact about one account: the envelope every event carries, and what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountEvent {
    pub metadata: EventMetadata,
    pub body: EventBody,
}

/// The envelope every event carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventMetadata {
    /// Derived from `(account_id, command_id, index)`: see [`EventId::derive`].
    pub event_id: EventId,
    /// The account (aggregate) this event belongs to; the Kafka key.
    pub account_id: AccountId,
    /// The account's version after this event: 1 for `AccountOpened`, then +1 per event.
    pub version: u64,
    /// When the event was decided: the `now` of the decision, never a clock read.
    pub occurred_at: Timestamp,
    /// The command that produced this event.
    pub command_id: CommandId,
    /// Copied from the command.
    pub correlation_id: String,
    /// The id of the command that caused this event: its `command_id`, as text.
    pub causation_id: String,
}

/// What happened, one variant per event record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventBody {
    AccountOpened(AccountOpened),
    MoneyDeposited(MoneyDeposited),
    MoneyWithdrawn(MoneyWithdrawn),
    TransferDebited(TransferDebited),
    TransferCredited(TransferCredited),
    TransferRefunded(TransferRefunded),
    AccountClosed(AccountClosed),
}

impl EventBody {
    /// The event's record name, for logs and metric labels.
    pub fn name(&self) -> &'static str {
        match self {
            Self::AccountOpened(_) => "AccountOpened",
            Self::MoneyDeposited(_) => "MoneyDeposited",
            Self::MoneyWithdrawn(_) => "MoneyWithdrawn",
            Self::TransferDebited(_) => "TransferDebited",
            Self::TransferCredited(_) => "TransferCredited",
            Self::TransferRefunded(_) => "TransferRefunded",
            Self::AccountClosed(_) => "AccountClosed",
        }
    }

    /// The balance after the event, for the events that move money.
    pub fn balance_after_minor(&self) -> Option<i64> {
        match self {
            Self::AccountOpened(e) => Some(e.balance_after_minor),
            Self::MoneyDeposited(e) => Some(e.balance_after_minor),
            Self::MoneyWithdrawn(e) => Some(e.balance_after_minor),
            Self::TransferDebited(e) => Some(e.balance_after_minor),
            Self::TransferCredited(e) => Some(e.balance_after_minor),
            Self::TransferRefunded(e) => Some(e.balance_after_minor),
            Self::AccountClosed(_) => None,
        }
    }
}

/// An account was opened with its initial deposit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountOpened {
    pub owner_id: OwnerId,
    pub account_type: AccountType,
    pub currency: Currency,
    pub initial_deposit_minor: i64,
    pub balance_after_minor: i64,
}

/// Money was put into an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoneyDeposited {
    pub amount_minor: i64,
    pub currency: Currency,
    pub balance_after_minor: i64,
    pub reference: Option<String>,
}

/// Money was taken out of an account; the fee was charged on top.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoneyWithdrawn {
    pub amount_minor: i64,
    pub currency: Currency,
    /// 0 when none.
    pub fee_minor: i64,
    pub balance_after_minor: i64,
    pub reference: Option<String>,
    pub channel: Channel,
}

/// The source account of a transfer was debited the amount plus the fee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferDebited {
    pub transfer_id: TransferId,
    pub to_account_id: AccountId,
    pub amount_minor: i64,
    pub currency: Currency,
    pub fee_minor: i64,
    pub balance_after_minor: i64,
    pub reference: Option<String>,
}

/// The target account of a transfer was credited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferCredited {
    pub transfer_id: TransferId,
    pub from_account_id: AccountId,
    pub amount_minor: i64,
    pub currency: Currency,
    pub balance_after_minor: i64,
    pub reference: Option<String>,
}

/// A transfer whose credit leg was rejected was given back to its source, fee
/// included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferRefunded {
    pub transfer_id: TransferId,
    /// The account that could not be credited.
    pub to_account_id: AccountId,
    pub amount_minor: i64,
    pub currency: Currency,
    pub fee_minor: i64,
    pub balance_after_minor: i64,
    /// Why the credit leg was rejected: its rejection code.
    pub reason_code: String,
    pub reason: String,
}

/// An account at zero balance was closed; it accepts nothing more (refunds aside).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountClosed {
    pub reason: Option<String>,
}
