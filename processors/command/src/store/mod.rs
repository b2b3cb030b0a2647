//! The command processor's state store: one embedded database per assigned
//! partition of `account-events`, holding each account's folded
//! [`AccountState`](ledgerstream_domain::AccountState)
//! and the partition's [`Checkpoint`].
//!
//! ```text
//! account-commands[p] ─► processor ─► get_account (cache misses)
//!                            │
//!                            ├─► account-events[p], account-command-results[p]
//!                            ▼
//!                        write_batch(states of the batch, checkpoint)   one atomic, synced batch
//!                            │
//!                            ▼
//!                   <dir>/partition-<p>/   (a fjall keyspace and a lock file)
//! ```
//!
//! The store is a cache of the event log, never the truth: whatever it holds can be
//! rebuilt by folding `account-events[p]` from the start. So every way it can be
//! wrong — a damaged file, a layout written by another build
//! ([`StoreError::IncompatibleLayout`]), a restore cut short (no checkpoint) —
//! has one answer: [`PartitionStore::wipe`] and rebuild. [`StoreError::needs_rebuild`]
//! says which errors those are.
//!
//! # Durability
//!
//! [`PartitionStore::write_batch`] returns once fjall has appended the batch to its
//! journal and `fdatasync`ed it: the accounts and the checkpoint survive a process
//! crash (`kill -9`) and a power cut, together or not at all. Only then may the
//! caller commit the Kafka transaction (or offsets) that depends on them.
//! Damage to the journal can roll the store back to an earlier batch, accounts and
//! checkpoint together; the processor then folds the log again from that
//! checkpoint. Measurements, and why fjall: `processors/command/STORE.md`.
//!
//! # Blocking
//!
//! Every method blocks on disk I/O, `write_batch` for an `fdatasync` (a few
//! milliseconds, more on a busy disk). The store is `Send + Sync`: async code
//! shares it in an `Arc` and calls it inside `tokio::task::spawn_blocking`, never on
//! a runtime thread.

mod checkpoint;
mod codec;
mod error;
mod partition;

pub use checkpoint::{Checkpoint, CheckpointError, Log};
pub use error::StoreError;
pub use partition::PartitionStore;
