//! Typed clients that publish commands to `account-commands` and await their
//! results on `account-command-results`.
//!
//! # Layout
//!
//! ```text
//!  commands::deposit(..) ─▶ CommandClient::send ─▶ account-commands (key: account id)
//!                                 ▲                       │
//!                                 │                command processor
//!                                 │                       ▼
//!      CommandResult ◀── results reader ◀── account-command-results (by command id)
//! ```
//!
//! [`CommandClient`] sends a command and resolves to its result — accepted with the
//! account's new version and where its events are, or rejected with the reason —
//! matched by command id, within a timeout ([`client`] explains how results are
//! read). [`CommandSender`] only sends. Commands are encoded in the Confluent wire
//! format with the ids the Schema Registry holds for their subjects, and keyed by
//! account id with the murmur2 partitioner, as Java clients do, so that every
//! producer of one pipeline sends an account's commands to the same partition.
//!
//! [`amount`] turns `12.50` into minor units and back; [`check`] refuses, before
//! sending, a command the processor could not answer.
//!
//! Its Kafka clients reach the brokers as the process's installed
//! `ledgerstream_runtime::kafka::KafkaSecurity` says (TLS, SASL): call
//! `KafkaSecurity::from_env()?.install()?` once at start; without it they use PLAINTEXT.

pub mod amount;
pub mod check;
pub mod client;
pub mod commands;
mod sender;

pub use check::InvalidCommand;
pub use client::{
    ClientError, CommandClient, CommandClientConfig, CommandResult, EventOffsets, Outcome,
    Submitted,
};
pub use sender::{CommandSender, SendError, Sent};
