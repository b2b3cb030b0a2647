//! `ledgerstream produce`: send commands — one from flags or `--json`, many from
//! JSON lines — and, with `--wait`, print each one's result.
//!
//! ```text
//!  flags | --json | JSON lines ─▶ input (Request ─▶ checked record) ─▶ CommandClient::submit
//!                                                                        │ account-commands
//!  stdout ◀── output (one line per command, input order) ◀── result ◀── account-command-results
//! ```
//!
//! The exit code tells scripts what happened (`crate::exit`).

mod input;
mod output;
mod run;

pub use run::{Args, run};
