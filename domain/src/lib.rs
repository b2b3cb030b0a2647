//! The Account aggregate: the business rules of ledgerstream, pure and synchronous.
//! No I/O, no clock, no Kafka, no Avro: the processor around it does those.
//!
//! # Layout
//!
//! ```text
//! account-commands ─► processor ─► AccountState (replayed from account-events, cached)
//!  (key: account id)      │        + OwnerSnapshot, for OpenAccount only
//!                         ▼
//!                      decide(&state, &command, DecisionContext { now })
//!                         ├─ Ok(events)  ─► account-events, then evolve(state, &event)
//!                         └─ Err(reject) ─► account-command-results (CommandRejected)
//! ```
//!
//! One file per concern: the commands (`command.rs`) and the events they become
//! (`event.rs`), the state an account folds to (`state.rs`, its idempotency
//! window in `idempotency.rs`), the owner's open-account count (`owner.rs`), fees
//! and limits (`policy.rs`), ids, money and time (`ids.rs`, `money.rs`,
//! `time.rs`). `testing.rs` is the given/when/then harness; `tests/` holds a
//! file of rules per command.
//!
//! The wire records in `schemas/` convert to and from [`AccountCommand`] and
//! [`AccountEvent`] in the processors crate (`wire/`); these types mirror them
//! field for field (money is `i64` minor units next to a [`Currency`]) so that
//! the conversion stays a copy.
//!
//! # Rules
//!
//! | command | accepted when | event | rejected with |
//! |---|---|---|---|
//! | `OpenAccount` | the id is unused; initial deposit ≥ 100.00; the owner has fewer than 5 open accounts | `AccountOpened` (version 1) | `ACCOUNT_ALREADY_EXISTS`, `INVALID_AMOUNT` (≤ 0), `INITIAL_DEPOSIT_TOO_LOW`, `OWNER_ACCOUNT_LIMIT` |
//! | `DepositMoney` | amount > 0; the account's currency | `MoneyDeposited` | `INVALID_AMOUNT`, `CURRENCY_MISMATCH` |
//! | `WithdrawMoney` | amount > 0; the account's currency; balance ≥ amount + fee | `MoneyWithdrawn` (with the fee and the command's channel) | `INVALID_AMOUNT`, `CURRENCY_MISMATCH`, `INSUFFICIENT_FUNDS` |
//! | `DebitTransfer` (source) | target ≠ source; amount > 0; the account's currency; balance ≥ amount + fee | `TransferDebited` | `SAME_ACCOUNT_TRANSFER`, `INVALID_AMOUNT`, `CURRENCY_MISMATCH`, `INSUFFICIENT_FUNDS` |
//! | `CreditTransfer` (target) | the account exists and is open; source ≠ target; amount > 0; the account's currency | `TransferCredited` | `ACCOUNT_NOT_FOUND`, `ACCOUNT_CLOSED`, `SAME_ACCOUNT_TRANSFER`, `INVALID_AMOUNT`, `CURRENCY_MISMATCH`: the processor then refunds the source |
//! | `RefundTransfer` (source) | this account debited the transfer and the refund matches it (target, amount, fee, currency); also on a closed account | `TransferRefunded` (amount + fee back) | `INVALID_AMOUNT` (no such debit, or not matching), `CURRENCY_MISMATCH` |
//! | `CloseAccount` | balance is exactly 0 | `AccountClosed` | `NONZERO_BALANCE` |
//!
//! | fee | amount | fee |
//! |---|---|---|
//! | withdrawal, `SAVINGS` | > 1,000.00 | 5.00 |
//! | withdrawal, any other case | | 0 |
//! | transfer (paid by the source) | ≤ 10,000.00 | 2.00 |
//! | transfer (paid by the source) | > 10,000.00 | 10.00 |
//!
//! Before those, every command goes through the same checks, in this order; the
//! first one that fails is the answer:
//!
//! 1. **Repeated command id**: a command id in the account's idempotency window
//!    was decided before; the answer is no events, and
//!    [`AccountState::outcome_of`] gives its first outcome — the version it left
//!    the account at, or the rejection it got.
//! 2. **Existence**: any command but `OpenAccount` on an account never opened is
//!    `ACCOUNT_NOT_FOUND`.
//! 3. **`expected_version`**: when set and not the account's version,
//!    `VERSION_CONFLICT`. An account not opened yet is at version 0, so
//!    `OpenAccount` with `Some(0)` means "must not exist yet".
//! 4. **Status**: a closed account answers `ACCOUNT_CLOSED` to everything except
//!    `RefundTransfer`, `OpenAccount` (`ACCOUNT_ALREADY_EXISTS`, whatever the
//!    status) and a command for a transfer it already took part in (no events).
//!
//! Money arithmetic is checked: a sum that would overflow `i64` is
//! `INVALID_AMOUNT`, never a panic. A refund must never be rejected, so deposits
//! and credits also leave room in the balance for every refund the account may
//! still receive ([`Account::refundable_minor`]): an amount that would crowd one
//! out is `INVALID_AMOUNT` too. Only amounts near `i64::MAX` ever meet this.
//!
//! # Versions, ids and time
//!
//! `AccountOpened` is version 1 and each event adds 1. An event's id is a UUID v5
//! of `(account id, command id, index of the event within the command)`
//! ([`EventId::derive`]) and its `occurred_at` is the `now` passed in
//! [`DecisionContext`], so deciding the same command on the same state again (after
//! a crash, before the offset was committed) yields the very same events, and
//! consumers that key on the event id drop the copy.
//!
//! # Idempotency
//!
//! The state remembers the last N command ids that produced events, each with the
//! version it left the account at, and the last N it rejected, each with the
//! reason ([`AccountState::reject`]); N is given to [`AccountState::new`]. A command
//! id therefore has one outcome: sent again, a rejected command is rejected again
//! with the same reason even if it would pass now. The applied window is rebuilt by
//! replaying the events, since every event names its command; the rejected one by
//! replaying the rejections, which the processor reads back from its results.
//!
//! Transfers are also idempotent by transfer id, independently of the window: an
//! account debits, credits or refunds a given transfer at most once, and a later
//! command for the same transfer id answers with no events.
//!
//! # Transfers
//!
//! A transfer touches two accounts, usually on two partitions, so it is two
//! decisions joined by the processor:
//!
//! 1. `DebitTransfer` on the source: `TransferDebited` takes amount + fee.
//! 2. The processor turns `TransferDebited` into `CreditTransfer` on the target.
//! 3. `TransferCredited`, or a rejection, which the processor turns into
//!    `RefundTransfer` on the source, carrying the rejection's code and message.
//! 4. `TransferRefunded` gives amount + fee back.
//!
//! Between 1 and 3 the amount is in flight: the sum of all balances, plus the fees
//! collected, plus the amounts in flight, always equals the money deposited minus
//! the money withdrawn (the property test in `tests/conservation.rs` checks that).
//!
//! Refunds are money the system owes, so a refund is applied even when the source
//! was closed in the meantime (it may have been emptied by the very transfer); it is
//! applied only if this account debited that transfer with the same target,
//! amount, fee and currency, and only once. The money then sits on a closed account
//! that nothing can move it out of: no command for that exists yet.
//!
//! The processor must write a credit's rejection and the refund it causes in the
//! same transaction as the command's offset. A rejection leaves nothing in the
//! target's state, so a `CreditTransfer` delivered again after its refund was
//! committed would be decided again, and could now succeed.
//!
//! # The owner limit
//!
//! An owner may have at most 5 open accounts, but the processor is partitioned by
//! account id: an owner's accounts live on different partitions, and no single
//! account's state knows about the others. So `OpenAccount` is decided against two
//! things: the account's own state (it must not exist) and an [`OwnerSnapshot`],
//! the owner's open-account count, which the caller looks up before deciding and
//! puts into the command.
//!
//! The snapshot comes from an [`OwnerState`], keyed by owner id, which is nothing
//! but a fold of account events: `AccountOpened` takes a slot, `AccountClosed`
//! gives it back (only closing frees a slot; closing needs a zero balance, and a
//! refund landing on a closed account later does not take the slot again). Folding
//! the same event twice changes nothing.
//!
//! How consistent the limit is depends on where the caller keeps those views:
//!
//! - **A view fed by all partitions of `account-events`** (each processor reads
//!   every partition into an owner table, or a projection re-keys the events by
//!   owner id into a compacted topic). Simple, and exact for opens decided one
//!   after another. But two opens for the same owner decided on different
//!   partitions within the view's lag both see 4 and both pass: the owner ends up
//!   with 6. The overshoot is bounded by how many partitions open accounts for one
//!   owner at the same moment, and is visible in the view (a count above 5) for
//!   alerting. A processor must also fold its own new `AccountOpened` into its view
//!   before deciding the next command, or two opens in one batch slip through.
//! - **A view fed only by the processor's own partitions** counts only the
//!   accounts that hash to them: the limit is then not enforced at all. Not an
//!   option.
//! - **Strict**: route the open through the owner first. An owner-keyed topic and
//!   an Owner aggregate reserve a slot, serialised per owner; the account then
//!   opens with that reservation as its snapshot, and a rejected open or a later
//!   `AccountClosed` releases the slot. Exact, at the cost of another hop and a
//!   compensation step.
//!
//! The decision itself is the same pure function in every case, so the choice
//! can change without touching the rules. The first option is the intended start.

// Amounts in minor units read best grouped as units and cents: 1_000_00 is 1,000.00.
#![allow(clippy::inconsistent_digit_grouping)]

mod command;
mod decide;
mod event;
mod evolve;
mod idempotency;
mod ids;
mod money;
mod owner;
pub mod policy;
mod rejection;
mod state;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod time;

#[cfg(test)]
mod tests;

pub use command::{
    AccountCommand, AccountType, Channel, CloseAccount, CommandBody, CommandMetadata,
    CreditTransfer, DebitTransfer, DepositMoney, OpenAccount, RefundTransfer, WithdrawMoney,
};
pub use decide::{DecisionContext, decide};
pub use event::{
    AccountClosed, AccountEvent, AccountOpened, EventBody, EventMetadata, MoneyDeposited,
    MoneyWithdrawn, TransferCredited, TransferDebited, TransferRefunded,
};
pub use evolve::evolve;
pub use idempotency::{Outcome, RecentCommands, Refusal};
pub use ids::{AccountId, CommandId, EventId, OwnerId, TransferId};
pub use money::Currency;
pub use owner::{OwnerSnapshot, OwnerState, evolve_owner};
pub use rejection::Rejection;
pub use state::{Account, AccountState, AccountStatus, DEFAULT_IDEMPOTENCY_WINDOW, TransferLeg};
pub use time::Timestamp;
