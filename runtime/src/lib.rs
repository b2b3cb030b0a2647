//! What every long-running ledgerstream component runs on, whatever it computes:
//! the command processor, the projections, the lag exporter and the tools.
//!
//! # Layout
//!
//! ```text
//!  settings ──▶ a component's config validated at start (ConfigError names the field)
//!  topics ────▶ account-commands, -events, -command-results, -dead-letters:
//!               their specs, created or checked before anything reads them
//!  component ──poll──▶ process ──▶ write ──▶ commit
//!      │                  └─ a record that can never be processed ─▶ account-dead-letters
//!      └─ telemetry: /metrics and /health, every metric registered once
//! ```
//!
//! - [`kafka`]: the settings of every kind of Kafka client, built once; the
//!   millisecond-step producer flush; readers of partitions to their end.
//! - [`dead_letters`]: the dead-letter record and its headers, the producer of
//!   the components outside a transaction, reading refused records back.
//! - [`decoder`]: records decoded on a component's own thread, fetching unknown
//!   writer schemas from the registry.
//! - [`settings`]: what every component's settings share.
//! - [`topics`]: the pipeline's topics, their names, specs and partitioner.
//! - [`supervise`]: one restart loop for every long-running component.
//! - [`telemetry`]: metric registration and the `/metrics` + `/health` server.
//! - [`clock`]: the wall clock, in epoch milliseconds.

pub mod clock;
pub mod dead_letters;
pub mod decoder;
pub mod kafka;
pub mod settings;
pub mod supervise;
pub mod telemetry;
pub mod topics;
