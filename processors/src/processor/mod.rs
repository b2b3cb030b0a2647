//! The command processor: `account-commands` in, `account-events` and
//! `account-command-results` out, each command's effect written exactly once.
//!
//! Per assigned partition p, the processor owns commands p, events p and results p
//! (co-partitioned topics) and a local state store. Before it processes commands p,
//! its state has folded every event of events p ([`restore`]); each batch then goes
//! decide → events → results → offsets → store ([`run`]).
//!
//! # Exactly once, without transactions
//!
//! Brokers without transactions (tansu 0.6) get the idempotent mode. A command that
//! is processed again — after a crash between writing its records and committing
//! its offset, or a rebalance in between — never writes anything twice:
//!
//! - its events are in the log, so the restored state already holds them, and its
//!   command id is in the account's idempotency window: the command repeats its
//!   outcome with no new event;
//! - its result, if written, was read back from results p, and is repeated as it is;
//! - a transfer's credit whose debit was not committed is sent again with the same
//!   deterministic command id, which the target drops if it has seen it; a credit
//!   the target rejected stays rejected, so it is never applied after its refund.
//!
//! What this mode cannot do is fence a zombie: a process that stalls past its
//! session timeout while its partitions move on, and then writes. Transactional
//! mode fences it (the transactional id); idempotent mode relies on the stalled
//! process being dead or having flushed before the next owner restores.

pub mod config;
pub mod dead_letter;
mod decoder;
pub mod http;
mod kafka;
pub mod metrics;
mod owners;
mod partition;
mod restore;
mod run;

pub use config::{ConfigError, Mode, ProcessorConfig};
pub use decoder::Decoder;
pub use http::{Health, serve};
pub use kafka::flush;
pub use metrics::Metrics;
pub use partition::headers;
pub use run::{ProcessError, Processor};
