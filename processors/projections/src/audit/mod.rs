//! The audit: every read model compared with the log it was made from
//! (`ledgerstream audit`), and repaired where it differs.
//!
//! ```text
//!  account-events ──▶ truth (each account's events, read by a reader of its own)
//!                        │
//!  clickhouse::audit ────┼──▶ compare ──▶ report (checked, divergent, examples)
//!  history::audit ───────┘        └──▶ repair (the divergent accounts, from the log) ──▶ audit again
//! ```
//!
//! "Consistent" means: for each account, everything a read model holds is
//! what the log's events make of it (the rows and documents the projector
//! writes, its state, its statement chain, each event once), and it holds
//! every event its checkpoints say it has written. What it has not written
//! yet is lag, never drift ([`run`] says how the order of the reads makes
//! sure).
//!
//! Files: [`truth`] (the log read back), [`check`] (what an audited read model
//! offers), [`run`] (a pass: select, compare, read on, report; the repair),
//! [`serve`] (the continuous auditor: the log followed, a bounded rate, the
//! SLO probes), [`metrics`].
//! Each read model's comparison and repair live in its folder:
//! `clickhouse/audit.rs`, `history/audit.rs`.

pub mod check;
pub mod metrics;
pub mod run;
pub mod serve;
pub mod truth;

pub use check::{Finding, ReadModel, Subject, Verdict};
pub use metrics::AuditMetrics;
pub use run::{Report, Request, Selection, Truth};
pub use truth::Log;
