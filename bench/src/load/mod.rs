//! `ledgerstream-bench load`: opens N accounts, then sends a mix of commands at a target
//! rate for a while — a share of them invalid on purpose — and measures how long
//! each takes from being queued to its result being read.
//!
//! ```text
//!  plan (accounts, mix, invalid share) ─▶ CommandClient::submit ─▶ account-commands
//!       ▲                                     │ (one task per command)
//!       └── settle (balances, counts) ◀── result or timeout ◀── account-command-results
//!  stats ─▶ status line (stderr, every second) ─▶ summary (stdout, human or JSON)
//! ```

mod plan;
mod run;
mod stats;

pub use run::{Args, run};
