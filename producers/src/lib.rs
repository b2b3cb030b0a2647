//! Typed clients that publish commands to `account-commands`.
//!
//! ```text
//!  commands::deposit(..) ──▶ CommandSender::send ──▶ account-commands (key: account id)
//! ```
//!
//! Commands are encoded in the Confluent wire format with the ids the Schema
//! Registry holds for their subjects, and keyed by account id with the murmur2
//! partitioner, as Java clients do, so that every producer of one pipeline sends an
//! account's commands to the same partition.

pub mod commands;
mod sender;

pub use sender::{CommandSender, SendError, Sent};
