//! The commands of the `ledgerstream` binary, one module per subcommand: each
//! parses its flags, reads the environment and calls into the library crates.
//! `ledgerstream-bench` reuses their flag groups and exit codes.
//!
//! # Layout
//!
//! ```text
//!  main ──▶ process ──────▶ ledgerstream-processor       (runtime::supervise keeps it up)
//!       ──▶ project ──────▶ ledgerstream-projections     (one runner per read model)
//!       ──▶ query, replay ▶ ledgerstream-projections::{clickhouse, history}::{read, switch, ...}
//!                           ledgerstream-processor::rebuild (replay state)
//!       ──▶ produce ──────▶ ledgerstream-producers
//!       ──▶ lag ──────────▶ ledgerstream-lag
//!       ──▶ audit ────────▶ ledgerstream-projections::{audit, clickhouse::audit, history::audit}
//!       ──▶ registry ─────▶ ledgerstream-registry
//!       ──▶ schemas, topics, services ▶ ledgerstream-schemas, -runtime, -infra
//!  exit (exit codes), logging, signals: what every subcommand shares
//! ```

pub mod audit;
pub mod exit;
pub mod lag;
pub mod logging;
pub mod process;
pub mod produce;
pub mod project;
pub mod query;
pub mod registry;
pub mod replay;
pub mod schemas;
pub mod services;
pub mod signals;
pub mod topics;
