//! `ledgerstream.account.events.*`: facts about an account, in the past tense.

use serde::{Deserialize, Serialize};

use super::common::{AccountType, Channel, EventMetadata};
use super::union::{record_union, records};
use crate::catalog::Kind;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountOpened {
    pub metadata: EventMetadata,
    pub owner_id: String,
    pub account_type: AccountType,
    pub currency: String,
    pub initial_deposit_minor: i64,
    pub balance_after_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoneyDeposited {
    pub metadata: EventMetadata,
    pub amount_minor: i64,
    pub currency: String,
    pub balance_after_minor: i64,
    pub reference: Option<String>,
}

/// v2 of the record; v1 (without `channel`) reads as [`Channel::Unknown`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoneyWithdrawn {
    pub metadata: EventMetadata,
    pub amount_minor: i64,
    pub currency: String,
    pub fee_minor: i64,
    pub balance_after_minor: i64,
    pub reference: Option<String>,
    #[serde(default)]
    pub channel: Channel,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferDebited {
    pub metadata: EventMetadata,
    pub transfer_id: String,
    pub to_account_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub fee_minor: i64,
    pub balance_after_minor: i64,
    pub reference: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferCredited {
    pub metadata: EventMetadata,
    pub transfer_id: String,
    pub from_account_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub balance_after_minor: i64,
    pub reference: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferRefunded {
    pub metadata: EventMetadata,
    pub transfer_id: String,
    pub to_account_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub fee_minor: i64,
    pub balance_after_minor: i64,
    pub reason_code: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountClosed {
    pub metadata: EventMetadata,
    pub reason: Option<String>,
}

records!(
    Kind::Events,
    "ledgerstream.account.events",
    [
        AccountOpened {
            metadata,
            owner_id,
            account_type,
            currency,
            initial_deposit_minor,
            balance_after_minor
        },
        MoneyDeposited {
            metadata,
            amount_minor,
            currency,
            balance_after_minor,
            reference
        },
        MoneyWithdrawn {
            metadata,
            amount_minor,
            currency,
            fee_minor,
            balance_after_minor,
            reference,
            channel
        },
        TransferDebited {
            metadata,
            transfer_id,
            to_account_id,
            amount_minor,
            currency,
            fee_minor,
            balance_after_minor,
            reference
        },
        TransferCredited {
            metadata,
            transfer_id,
            from_account_id,
            amount_minor,
            currency,
            balance_after_minor,
            reference
        },
        TransferRefunded {
            metadata,
            transfer_id,
            to_account_id,
            amount_minor,
            currency,
            fee_minor,
            balance_after_minor,
            reason_code,
            reason
        },
        AccountClosed { metadata, reason },
    ]
);

record_union!(
    /// Any record of `account-events`.
    EventRecord,
    Kind::Events,
    [
        AccountOpened,
        MoneyDeposited,
        MoneyWithdrawn,
        TransferDebited,
        TransferCredited,
        TransferRefunded,
        AccountClosed
    ]
);

impl EventRecord {
    /// The envelope of the event inside.
    pub fn metadata(&self) -> &EventMetadata {
        match self {
            EventRecord::AccountOpened(e) => &e.metadata,
            EventRecord::MoneyDeposited(e) => &e.metadata,
            EventRecord::MoneyWithdrawn(e) => &e.metadata,
            EventRecord::TransferDebited(e) => &e.metadata,
            EventRecord::TransferCredited(e) => &e.metadata,
            EventRecord::TransferRefunded(e) => &e.metadata,
            EventRecord::AccountClosed(e) => &e.metadata,
        }
    }
}
