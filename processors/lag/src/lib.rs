//! Consumer-group lag: how far each group's committed offsets are behind the log
//! end, in messages and in seconds, whether that is shrinking, when it reaches zero,
//! and whether the group is stalled.
//!
//! # Layout
//!
//! ```text
//!  broker ─ ListGroups, Metadata, OffsetFetch, ListOffsets ─▶ sample ─┐ per group and partition:
//!  broker ─ one record at each committed offset ──────────▶ seconds ─┤ committed, log end, lag
//!                                                                    ▼
//!                        trend (falling / rising / flat, ETA, stalled) ◀─ monitor: samples over time
//!                                                                    │
//!                        view (`ledgerstream lag`)  ◀─── report ─────┴──▶ metrics ─▶ exporter (`--serve`)
//! ```
//!
//! A [`Watcher`] runs one round at a time: [`sample`] (blocking Kafka calls, on a
//! blocking thread), then [`monitor`], which keeps a [`trend`] per partition and
//! per group. The report it returns is drawn by [`view`] or exported by
//! [`metrics`] and [`exporter`].

pub mod config;
mod error;
pub mod exporter;
mod groups;
pub mod metrics;
pub mod monitor;
pub mod sample;
pub mod seconds;
pub mod trend;
pub mod view;
mod watch;

pub use config::LagConfig;
pub use error::LagError;
pub use exporter::ExporterHealth;
pub use groups::Group;
pub use metrics::LagMetrics;
pub use monitor::{GroupReport, PartitionReport, Report};
pub use view::ViewOptions;
pub use watch::Watcher;
