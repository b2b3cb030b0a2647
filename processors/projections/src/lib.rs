//! Projections: `account-events` into read models, each in its own consumer group,
//! and everything else about each read model: how it is read and how it is rebuilt.
//!
//! # Layout
//!
//! ```text
//!  account-events ──▶ runner (one per projection: own group, read_committed, own thread)
//!                       │  decode ─▶ Sink::add ─▶ batch ─▶ Sink::write ─▶ checkpoints ─▶ commit
//!                       └─ undecodable or rejected records ─▶ account-dead-letters
//!
//!  clickhouse/  config · sink · rows · schema (migrations) · retry
//!               read (query account, read your writes) · switch, journal, tail (rebuild)
//!  history/     config · sink · documents · template · retry · alias (names on the server)
//!               read (query history, read your writes)
//!  rebuild/     what every rebuild shares: the log's positions, the throttle
//!  audit/       every read model compared with the log, and repaired
//!               (each read model's own comparison: clickhouse/audit.rs, history/audit.rs)
//! ```
//!
//! Every projection has the same shape, so a reader of one finds the way in all:
//! the framework here ([`runner`], [`config`], [`checkpoint`], [`gaps`],
//! [`retry`], [`metrics`], [`health`], and the dead letters of
//! `ledgerstream_runtime::dead_letters`) drives a [`sink::Sink`]
//! that lives in a folder of its own with the same files — `mod.rs`, `config.rs`
//! (settings), `sink.rs` (the `Sink` impl), `retry.rs` (which of its failures are
//! retried), its schema, and its integration test in
//! `tests/tests/projection_<name>.rs`. [`clickhouse`] is the first, [`history`]
//! the second.
//!
//! The guarantees every sink relies on, and gives:
//!
//! - offsets are committed only after the batch they cover is durable in the
//!   sink, and after its checkpoint; a crash anywhere replays from the last
//!   checkpoint, so events are written at least once;
//! - writing an event again changes nothing (ClickHouse collapses rows by
//!   account and version, the history index keys documents by event id with
//!   external versions), so at-least-once writes give exact read models;
//! - a record that can never be written goes to the dead-letter topic with the
//!   processor's headers, and the projection goes on;
//! - per account, a version gap or a duplicate is counted and logged, never
//!   fatal.
//!
//! Several projections can run in one process (`ledgerstream project clickhouse
//! history`): each has its runner and group; [`metrics`] and [`health`] are shared.

pub mod audit;
pub mod checkpoint;
pub mod clickhouse;
pub mod config;
pub mod gaps;
pub mod health;
pub mod history;
pub mod metrics;
pub mod rebuild;
pub mod retry;
pub mod runner;
pub mod sink;

pub use config::ProjectionConfig;
pub use health::{HealthBoard, ProjectionHealth, serve};
pub use metrics::ProjectionMetrics;
pub use runner::{ProjectionError, RunnerParts, connect_and_run, run};
pub use sink::{Refused, Rejected, Sink, SourcedEvent, Written};
