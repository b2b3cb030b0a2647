//! `ledgerstream.account.commands.*`: what senders ask of an account.
//!
//! Every command starts with the same six fields: `command_id` (the idempotency key),
//! `account_id` (the Kafka key), `expected_version`, `issued_at` (epoch ms),
//! `correlation_id` and `causation_id`.

use serde::{Deserialize, Serialize};

use super::common::{AccountType, Channel};
use super::union::{record_union, records};
use crate::catalog::Kind;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenAccount {
    pub command_id: String,
    pub account_id: String,
    pub expected_version: Option<i64>,
    pub issued_at: i64,
    pub correlation_id: String,
    pub causation_id: Option<String>,
    pub owner_id: String,
    pub account_type: AccountType,
    pub initial_deposit_minor: i64,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepositMoney {
    pub command_id: String,
    pub account_id: String,
    pub expected_version: Option<i64>,
    pub issued_at: i64,
    pub correlation_id: String,
    pub causation_id: Option<String>,
    pub amount_minor: i64,
    pub currency: String,
    pub reference: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WithdrawMoney {
    pub command_id: String,
    pub account_id: String,
    pub expected_version: Option<i64>,
    pub issued_at: i64,
    pub correlation_id: String,
    pub causation_id: Option<String>,
    pub amount_minor: i64,
    pub currency: String,
    pub reference: Option<String>,
    #[serde(default)]
    pub channel: Channel,
}

/// The debit leg of a transfer, sent to the source account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DebitTransfer {
    pub command_id: String,
    pub account_id: String,
    pub expected_version: Option<i64>,
    pub issued_at: i64,
    pub correlation_id: String,
    pub causation_id: Option<String>,
    pub transfer_id: String,
    pub to_account_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub reference: Option<String>,
}

/// The credit leg of a transfer, sent by the processor to the target account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditTransfer {
    pub command_id: String,
    pub account_id: String,
    pub expected_version: Option<i64>,
    pub issued_at: i64,
    pub correlation_id: String,
    pub causation_id: Option<String>,
    pub transfer_id: String,
    pub from_account_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub reference: Option<String>,
}

/// Gives a debited transfer back to its source after the credit leg failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundTransfer {
    pub command_id: String,
    pub account_id: String,
    pub expected_version: Option<i64>,
    pub issued_at: i64,
    pub correlation_id: String,
    pub causation_id: Option<String>,
    pub transfer_id: String,
    pub to_account_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub fee_minor: i64,
    pub reason_code: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloseAccount {
    pub command_id: String,
    pub account_id: String,
    pub expected_version: Option<i64>,
    pub issued_at: i64,
    pub correlation_id: String,
    pub causation_id: Option<String>,
    pub reason: Option<String>,
}

records!(
    Kind::Commands,
    "ledgerstream.account.commands",
    [
        OpenAccount {
            command_id,
            account_id,
            expected_version,
            issued_at,
            correlation_id,
            causation_id,
            owner_id,
            account_type,
            initial_deposit_minor,
            currency
        },
        DepositMoney {
            command_id,
            account_id,
            expected_version,
            issued_at,
            correlation_id,
            causation_id,
            amount_minor,
            currency,
            reference
        },
        WithdrawMoney {
            command_id,
            account_id,
            expected_version,
            issued_at,
            correlation_id,
            causation_id,
            amount_minor,
            currency,
            reference,
            channel
        },
        DebitTransfer {
            command_id,
            account_id,
            expected_version,
            issued_at,
            correlation_id,
            causation_id,
            transfer_id,
            to_account_id,
            amount_minor,
            currency,
            reference
        },
        CreditTransfer {
            command_id,
            account_id,
            expected_version,
            issued_at,
            correlation_id,
            causation_id,
            transfer_id,
            from_account_id,
            amount_minor,
            currency,
            reference
        },
        RefundTransfer {
            command_id,
            account_id,
            expected_version,
            issued_at,
            correlation_id,
            causation_id,
            transfer_id,
            to_account_id,
            amount_minor,
            currency,
            fee_minor,
            reason_code,
            reason
        },
        CloseAccount {
            command_id,
            account_id,
            expected_version,
            issued_at,
            correlation_id,
            causation_id,
            reason
        },
    ]
);

record_union!(
    /// Any record of `account-commands`.
    CommandRecord,
    Kind::Commands,
    [OpenAccount, DepositMoney, WithdrawMoney, DebitTransfer, CreditTransfer, RefundTransfer, CloseAccount]
);

impl CommandRecord {
    /// The command's idempotency key.
    pub fn command_id(&self) -> &str {
        match self {
            CommandRecord::OpenAccount(c) => &c.command_id,
            CommandRecord::DepositMoney(c) => &c.command_id,
            CommandRecord::WithdrawMoney(c) => &c.command_id,
            CommandRecord::DebitTransfer(c) => &c.command_id,
            CommandRecord::CreditTransfer(c) => &c.command_id,
            CommandRecord::RefundTransfer(c) => &c.command_id,
            CommandRecord::CloseAccount(c) => &c.command_id,
        }
    }

    /// The account the command is for: the Kafka key.
    pub fn account_id(&self) -> &str {
        match self {
            CommandRecord::OpenAccount(c) => &c.account_id,
            CommandRecord::DepositMoney(c) => &c.account_id,
            CommandRecord::WithdrawMoney(c) => &c.account_id,
            CommandRecord::DebitTransfer(c) => &c.account_id,
            CommandRecord::CreditTransfer(c) => &c.account_id,
            CommandRecord::RefundTransfer(c) => &c.account_id,
            CommandRecord::CloseAccount(c) => &c.account_id,
        }
    }
}
