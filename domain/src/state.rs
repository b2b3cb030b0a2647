//! The account's state: everything a decision needs to know, built only by
//! folding the account's events (`evolve.rs`).

use std::collections::BTreeMap;

use super::{
    AccountEvent, AccountId, AccountType, CommandId, Currency, Outcome, OwnerId, RecentCommands,
    Refusal, Rejection, TransferId,
};

/// How many recent command ids an account remembers when nothing else is said.
pub const DEFAULT_IDEMPOTENCY_WINDOW: usize = 1_000;

/// One account as its events tell it: not opened yet (version 0), open, or closed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AccountState {
    pub(super) version: u64,
    pub(super) account: Option<Account>,
    pub(super) recent: RecentCommands,
}

impl AccountState {
    /// An account that has not been opened, remembering the last
    /// `idempotency_window` applied command ids (0 turns the check off).
    pub fn new(idempotency_window: usize) -> Self {
        Self {
            version: 0,
            account: None,
            recent: RecentCommands::new(idempotency_window),
        }
    }

    /// The state after `events`, in log order.
    pub fn replay<'a>(
        idempotency_window: usize,
        events: impl IntoIterator<Item = &'a AccountEvent>,
    ) -> Self {
        let mut state = Self::new(idempotency_window);
        for event in events {
            state.apply(event);
        }
        state
    }

    /// The version of the last event applied; 0 before the account is opened.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The account, once opened (closed accounts included).
    pub fn account(&self) -> Option<&Account> {
        self.account.as_ref()
    }

    /// The window of recently applied commands.
    pub fn recent_commands(&self) -> &RecentCommands {
        &self.recent
    }

    /// What an earlier command with this id came to, if it is still in a window:
    /// what the processor answers when a command repeats.
    pub fn outcome_of(&self, command: CommandId) -> Option<Outcome> {
        self.recent.outcome(command)
    }

    /// Remembers that `command` was rejected for `rejection`, so that it is
    /// answered the same way if it comes again.
    pub fn reject(&mut self, command: CommandId, rejection: &Rejection) {
        self.remember_refusal(
            command,
            Refusal {
                code: rejection.code().to_owned(),
                message: rejection.to_string(),
            },
        );
    }

    /// Remembers a rejection as it was answered (read back from a result).
    pub fn remember_refusal(&mut self, command: CommandId, refusal: Refusal) {
        self.recent.record_rejection(command, refusal);
    }
}

impl Default for AccountState {
    fn default() -> Self {
        Self::new(DEFAULT_IDEMPOTENCY_WINDOW)
    }
}

/// An opened account.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Account {
    pub(super) id: AccountId,
    pub(super) owner_id: OwnerId,
    pub(super) account_type: AccountType,
    pub(super) currency: Currency,
    pub(super) balance_minor: i64,
    pub(super) status: AccountStatus,
    pub(super) transfers: BTreeMap<TransferId, TransferLeg>,
    pub(super) refundable_minor: i64,
}

impl Account {
    pub fn id(&self) -> &AccountId {
        &self.id
    }

    pub fn owner_id(&self) -> &OwnerId {
        &self.owner_id
    }

    pub fn account_type(&self) -> AccountType {
        self.account_type
    }

    pub fn currency(&self) -> &Currency {
        &self.currency
    }

    pub fn balance_minor(&self) -> i64 {
        self.balance_minor
    }

    pub fn status(&self) -> AccountStatus {
        self.status
    }

    /// The most that refunds may still bring back: amount plus fee of every transfer
    /// debited here and not refunded (whether or not its credit succeeded, which
    /// this account never learns).
    ///
    /// Deposits and credits keep `balance + refundable` within `i64`, so a refund,
    /// which must never be rejected, can never overflow the balance.
    pub fn refundable_minor(&self) -> i64 {
        self.refundable_minor
    }

    /// This account's leg of a transfer, if it took part in it.
    pub fn transfer(&self, transfer_id: TransferId) -> Option<&TransferLeg> {
        self.transfers.get(&transfer_id)
    }
}

/// Whether an account accepts commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AccountStatus {
    /// Accepts every command the rules allow.
    Open,
    /// Accepts nothing but refunds of its own transfers. Final.
    Closed,
}

/// An account's part in one transfer.
///
/// Every transfer an account took part in stays here for the account's lifetime:
/// the source never learns that a credit succeeded, so it cannot tell when a
/// refund is no longer possible. That costs one small entry per transfer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TransferLeg {
    /// This account was debited; the amount and fee are owed back if the credit leg
    /// is rejected.
    Debited {
        to_account_id: AccountId,
        amount_minor: i64,
        fee_minor: i64,
        /// Whether the refund happened (it happens at most once).
        refunded: bool,
    },
    /// This account was credited.
    Credited {
        from_account_id: AccountId,
        amount_minor: i64,
    },
}
