//! The command processor: `account-commands` in, `account-events` and
//! `account-command-results` out, each command's effect written exactly once.
//!
//! Per assigned partition p, the processor owns commands p, events p and results p
//! (co-partitioned topics) and a local state store.
//!
//! # Layout
//!
//! ```text
//!  account-commands[p] ──▶ run (poll, one batch at a time) ──▶ batch (decode via wire/,
//!        │                    │                                  decide with the domain)
//!        │                    ├──▶ kafka: events, results, follow-ups, dead letters and
//!        │                    │    the offsets, in one transaction ──▶ commit
//!        │                    └──▶ store/ (per-partition fjall store), after a commit,
//!        │                         every store_write_millis
//!  account-events[p] ──▶ restore (fold what the store lacks) ── before commands p
//!  account-events ─────▶ owners (accounts per owner, for OpenAccount)
//!  rebuild: the stores folded from the log (`replay state`) · http: /metrics, /health
//! ```
//!
//! Before it processes commands p,
//! its state has folded every committed event of events p ([`restore`]); each
//! batch then goes decide → events → results → offsets → commit, and the
//! accounts changed since the stores' last write go to them every
//! `store_write_millis` after a commit ([`run`], [`batch`]).
//!
//! # Exactly once, through Kafka transactions
//!
//! A batch's events, results, follow-up commands (a transfer's credit or refund),
//! dead letters and consumed offsets are one Kafka transaction: all of them become
//! visible to `read_committed` readers, or none. A command is therefore decided
//! once per committed offset, whatever crashes in between:
//!
//! - a crash or a failed batch before the commit aborts the transaction (at once
//!   by the next producer of the same transactional id, see [`instance`], or by the
//!   broker at the transaction timeout); the store, written only after a commit,
//!   never holds the aborted batch; the batch's commands are decided again from the
//!   committed state;
//! - a rebalance aborts the open batch in the revoke callback; the partitions' next
//!   owner restores from the committed log and decides those commands again;
//! - a zombie — an instance that stalled past its session timeout while its
//!   partitions moved on — cannot commit: its offsets go into the transaction with
//!   its old group generation, which the group coordinator refuses (KIP-447), and
//!   a transaction the broker aborted on timeout fences its producer.
//!
//! The store trails the committed log: after a crash it holds the last batch it
//! saw committed, and the restore folds the events committed since.

mod batch;
mod command;
pub mod config;
pub mod http;
pub mod instance;
mod kafka;
pub mod metrics;
mod owners;
mod partition;
pub mod rebuild;
mod restore;
mod run;
pub mod store;
pub mod wire;

pub use config::ProcessorConfig;
pub use http::{Health, serve};
pub use instance::{Instance, InstanceError};
pub use metrics::Metrics;
pub use run::{ProcessError, Processor};
