use serde::{Deserialize, Serialize};

use crate::codec::binary::{binary_enum, binary_record};

/// The envelope every event carries (`ledgerstream.account.EventMetadata`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMetadata {
    pub event_id: String,
    pub account_id: String,
    /// The account's version after this event: 1 for `AccountOpened`.
    pub version: i64,
    /// Epoch milliseconds, UTC.
    pub occurred_at: i64,
    pub command_id: String,
    pub correlation_id: String,
    pub causation_id: String,
}

/// `ledgerstream.account.AccountType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AccountType {
    Checking,
    Savings,
    Business,
    Investment,
}

/// `ledgerstream.account.Channel`: where a withdrawal was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Channel {
    /// Not recorded (every `MoneyWithdrawn` v1 reads as this).
    #[default]
    Unknown,
    Branch,
    Atm,
    Online,
    Api,
}

// In the order of the latest schemas' fields and symbols.
binary_record!(EventMetadata {
    event_id,
    account_id,
    version,
    occurred_at,
    command_id,
    correlation_id,
    causation_id
});
binary_enum!(AccountType [Checking, Savings, Business, Investment]);
binary_enum!(Channel [Unknown, Branch, Atm, Online, Api]);
