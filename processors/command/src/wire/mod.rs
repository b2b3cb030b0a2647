//! The one place where the domain types meet the wire records of `schemas/`.
//!
//! ```text
//! account-commands ─► CommandRecord ─► command_from_record ─┬─ Err(WireError) ─► dead-letter topic
//!                                        (+ owner snapshot)  └─ Ok(AccountCommand) ─► decide
//! decide ─┬─ Ok(events) ─► event_to_record ─► account-events
//!         │                 credit_for(TransferDebited) ─► account-commands (target)
//!         │                 accepted(..) ─► account-command-results
//!         └─ Err(rejection) ─► rejected(..) ─► account-command-results
//!                           refund_for(CreditTransfer) ─► account-commands (source)
//! account-events ─► EventRecord ─► event_from_record ─► AccountState (catch-up, restore)
//! ```
//!
//! # Dead letter or rejection
//!
//! A record is a **dead letter** ([`WireError`]) when the domain cannot hold it at
//! all: it names nothing the domain could answer to, or it could start a transfer
//! that can never finish. That is, and only is:
//!
//! - a `command_id`, `transfer_id` (or, in events, `event_id`) that is not a UUID in
//!   canonical form;
//! - an empty `account_id`, `to_account_id`, `from_account_id` or `owner_id` (an
//!   empty target would take a debit whose credit, keyed by "", can never be
//!   decided, nor refunded);
//! - a `currency` not shaped like an ISO 4217 code (three capital letters);
//! - a negative `expected_version`, or an event `version` below 1.
//!
//! Everything else reaches `decide`, and a broken rule comes back as
//! `CommandRejected` with its reason code: amounts that are zero or negative
//! (`INVALID_AMOUNT`), a currency the account does not hold (`CURRENCY_MISMATCH`),
//! a transfer to the same account, a stale `expected_version`, a refund whose fee
//! does not match the debit. The sender is told about those; a dead letter instead
//! goes to the dead-letter topic with the record, field and problem in its headers,
//! since it carries no id the sender would recognise an answer by. Correlation and
//! causation ids, references and reasons are free-form and taken as they come.
//!
//! Account types and channels are Avro enums: an unknown symbol fails in the
//! decoder, before this module, and is a dead letter there.
//!
//! # The owner snapshot
//!
//! `OpenAccount` is decided against the owner's open-account count, which is not on
//! the wire. [`command_from_record`] asks the caller for it (a lookup closure called
//! with the record's owner id) instead of filling in a placeholder that a caller
//! could forget to replace, which would switch the limit off.
//!
//! # Transfer follow-ups
//!
//! The processor sends the credit and refund legs of a transfer itself
//! ([`credit_for`], [`refund_for`]). Their command ids are UUID v5 of the transfer
//! id and the step's name (`credit`, `refund`), see [`follow_up_id`]; their time is
//! taken from what caused them, never from a clock. Built again after a crash, a
//! follow-up is the same record, and the receiving account drops it as a repeat.
//!
//! `CreditTransfer` does not carry the fee that `TransferDebited` took, and the
//! source refunds only a `RefundTransfer` whose fee matches its debit. The refund's
//! fee is therefore worked out again from the amount with the transfer fee schedule
//! ([`policy::transfer_fee`](ledgerstream_domain::policy::transfer_fee)). A change to that
//! schedule must leave the credits in flight at the time refundable: either add the
//! fee to `CreditTransfer` (a new schema version) or let the source refund the fee
//! it recorded.

mod commands;
mod error;
mod events;
mod fields;
mod follow_up;
pub mod limits;
mod results;

#[cfg(test)]
mod tests;

pub use commands::{command_from_record, command_to_record};
pub use error::WireError;
pub use events::{event_from_record, event_to_record};
pub use follow_up::{FollowUp, credit_for, follow_up_id, refund_for};
pub use results::{FIELD_TOO_LONG, WRONG_PARTITION, accepted, rejected, rejected_as};
