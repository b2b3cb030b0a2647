//! Commands: what a sender asks an account to do. They mirror the records under
//! `schemas/avro/commands/` field for field, with one addition: `OpenAccount`
//! carries the owner snapshot the caller looked up (see [`OwnerSnapshot`]).

use super::{AccountId, CommandId, Currency, OwnerId, OwnerSnapshot, Timestamp, TransferId};

/// A command for one account: the envelope every command carries, and what it asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountCommand {
    pub metadata: CommandMetadata,
    pub body: CommandBody,
}

/// The fields every command carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandMetadata {
    /// Idempotency key: a command sent twice with this id is applied once.
    pub command_id: CommandId,
    /// The account (aggregate) the command is for; the Kafka key.
    pub account_id: AccountId,
    /// When set, the command is rejected unless the account is at this version.
    /// For `OpenAccount`, `Some(0)` means "the account must not exist yet".
    pub expected_version: Option<u64>,
    /// When the sender issued the command.
    pub issued_at: Timestamp,
    /// Ties together every command, event and result of one business operation.
    pub correlation_id: String,
    /// The id of the command or event that caused this command, if any.
    pub causation_id: Option<String>,
}

/// What a command asks, one variant per command record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandBody {
    OpenAccount(OpenAccount),
    DepositMoney(DepositMoney),
    WithdrawMoney(WithdrawMoney),
    DebitTransfer(DebitTransfer),
    CreditTransfer(CreditTransfer),
    RefundTransfer(RefundTransfer),
    CloseAccount(CloseAccount),
}

impl CommandBody {
    /// The command's record name, for logs and metric labels.
    pub fn name(&self) -> &'static str {
        match self {
            Self::OpenAccount(_) => "OpenAccount",
            Self::DepositMoney(_) => "DepositMoney",
            Self::WithdrawMoney(_) => "WithdrawMoney",
            Self::DebitTransfer(_) => "DebitTransfer",
            Self::CreditTransfer(_) => "CreditTransfer",
            Self::RefundTransfer(_) => "RefundTransfer",
            Self::CloseAccount(_) => "CloseAccount",
        }
    }
}

/// The kind of account; it decides the withdrawal fee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum AccountType {
    Checking,
    Savings,
    Business,
    Investment,
}

/// Where a withdrawal is made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Channel {
    #[default]
    Unknown,
    Branch,
    Atm,
    Online,
    Api,
}

/// Open a new account with an initial deposit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAccount {
    pub owner_id: OwnerId,
    pub account_type: AccountType,
    /// At least 100.00.
    pub initial_deposit_minor: i64,
    /// The account's currency, for good.
    pub currency: Currency,
    /// Not on the wire: the owner's open accounts as the caller's owner view knows
    /// them, looked up before deciding (see the module doc on the owner limit).
    pub owner: OwnerSnapshot,
}

/// Put money into an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepositMoney {
    pub amount_minor: i64,
    pub currency: Currency,
    pub reference: Option<String>,
}

/// Take money out of an account; a fee may apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WithdrawMoney {
    pub amount_minor: i64,
    pub currency: Currency,
    pub reference: Option<String>,
    pub channel: Channel,
}

/// The debit leg of a transfer, sent by the customer to the source account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebitTransfer {
    pub transfer_id: TransferId,
    pub to_account_id: AccountId,
    pub amount_minor: i64,
    pub currency: Currency,
    pub reference: Option<String>,
}

/// The credit leg of a transfer, sent by the processor to the target account once
/// the source was debited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditTransfer {
    pub transfer_id: TransferId,
    pub from_account_id: AccountId,
    pub amount_minor: i64,
    pub currency: Currency,
    pub reference: Option<String>,
}

/// Give a debited transfer back to its source after the credit leg was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundTransfer {
    pub transfer_id: TransferId,
    /// The account that could not be credited.
    pub to_account_id: AccountId,
    pub amount_minor: i64,
    pub currency: Currency,
    /// The transfer fee to give back.
    pub fee_minor: i64,
    /// Why the credit leg was rejected: its rejection code.
    pub reason_code: String,
    /// Why the credit leg was rejected, for people.
    pub reason: String,
}

/// Close an account; only possible at a zero balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseAccount {
    pub reason: Option<String>,
}
