//! Business rejections: the sender's problem, reported back as `CommandRejected`.
//! They are values a decision returns, not technical failures: nothing is retried
//! and nothing is written to the event log.

use super::{AccountId, Currency, OwnerId};

/// Why a command was rejected. One variant per reason code in `schemas/README.md`
/// but the two the processor answers before any decision (`WRONG_PARTITION`,
/// `FIELD_TOO_LONG`); [`code`](Self::code) is the `reason_code`, `to_string()`
/// the `message`.
///
/// Every variant is handled the same way by the processor: publish
/// `CommandRejected`, write no event, move on. The per-variant docs say what the
/// sender can do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The account has not been opened. Open it first, or check the id. A rejected
    /// `CreditTransfer` is refunded to its source.
    #[error("account {0} has not been opened")]
    AccountNotFound(AccountId),

    /// `OpenAccount` for an id that already exists. Pick another id.
    #[error("account {0} already exists")]
    AccountAlreadyExists(AccountId),

    /// The account is closed and accepts nothing more (refunds of its own transfers
    /// aside). Final.
    #[error("account {0} is closed")]
    AccountClosed(AccountId),

    /// The owner already has the maximum number of open accounts. Close one first.
    #[error("owner {owner_id} already has {open} open accounts; the limit is {limit}")]
    OwnerAccountLimit {
        owner_id: OwnerId,
        open: u32,
        limit: u32,
    },

    /// `OpenAccount` with less than the minimum initial deposit. Deposit more.
    #[error("an initial deposit of {deposit_minor} is below the minimum of {minimum_minor}")]
    InitialDepositTooLow {
        deposit_minor: i64,
        minimum_minor: i64,
    },

    /// An amount that is zero or negative, so large that a sum would overflow, or a
    /// refund that does not match a transfer this account debited. Fix the amount.
    #[error("invalid amount {amount_minor}: {problem}")]
    InvalidAmount {
        amount_minor: i64,
        problem: &'static str,
    },

    /// The command's currency is not the account's. Convert first.
    #[error("currency {actual} does not match the account's currency {expected}")]
    CurrencyMismatch {
        expected: Currency,
        actual: Currency,
    },

    /// The balance does not cover the amount plus the fee. Ask for less.
    #[error("balance {balance_minor} does not cover {needed_minor} (amount plus fee)")]
    InsufficientFunds {
        balance_minor: i64,
        needed_minor: i64,
    },

    /// A transfer to the account it comes from. Pick another target.
    #[error("account {0} cannot transfer to itself")]
    SameAccountTransfer(AccountId),

    /// `CloseAccount` while money is left. Withdraw or transfer it out first.
    #[error("account still holds {balance_minor}; only an empty account can be closed")]
    NonzeroBalance { balance_minor: i64 },

    /// `expected_version` is not the account's version: someone else changed it
    /// since the sender last read it. Read again and decide again.
    #[error("expected version {expected}, but the account is at version {actual}")]
    VersionConflict { expected: u64, actual: u64 },
}

impl Rejection {
    /// The `reason_code` of `CommandRejected`, as listed in `schemas/README.md`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::AccountNotFound(_) => "ACCOUNT_NOT_FOUND",
            Self::AccountAlreadyExists(_) => "ACCOUNT_ALREADY_EXISTS",
            Self::AccountClosed(_) => "ACCOUNT_CLOSED",
            Self::OwnerAccountLimit { .. } => "OWNER_ACCOUNT_LIMIT",
            Self::InitialDepositTooLow { .. } => "INITIAL_DEPOSIT_TOO_LOW",
            Self::InvalidAmount { .. } => "INVALID_AMOUNT",
            Self::CurrencyMismatch { .. } => "CURRENCY_MISMATCH",
            Self::InsufficientFunds { .. } => "INSUFFICIENT_FUNDS",
            Self::SameAccountTransfer(_) => "SAME_ACCOUNT_TRANSFER",
            Self::NonzeroBalance { .. } => "NONZERO_BALANCE",
            Self::VersionConflict { .. } => "VERSION_CONFLICT",
        }
    }
}
