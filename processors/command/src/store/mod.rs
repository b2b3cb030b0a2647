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
//!                        write_batch(changed states, checkpoint)   one atomic batch, after the commit
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
//! The store trails the committed log: the processor writes it only after a Kafka
//! transaction committed, so it never holds an aborted batch.
//! [`PartitionStore::write_batch`] returns once fjall has appended the accounts and
//! the checkpoint to its journal and handed it to the operating system, without
//! `fdatasync`: they survive a process crash (`kill -9`), together or not at all;
//! a power cut may take the last batches back, accounts and checkpoint together,
//! and the processor folds the events committed since the checkpoint that
//! survived. Damage to the journal does the same. Measurements, and why fjall:
//! `processors/command/STORE.md`.
//!
//! # Blocking
//!
//! Every method blocks on disk I/O (`clear` for an `fdatasync`: a few
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
