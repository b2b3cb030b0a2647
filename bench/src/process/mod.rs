//! `ledgerstream-bench process`: commands per second through the processor's full
//! path on the configured broker, in a steady window after a warm-up, with the
//! CPU each part of the work costs; beside it a raw consume→produce loop over the
//! same records and, with `--peer kafka-streams`, the Kafka Streams peer doing the
//! same work on the same broker.
//!
//! ```text
//!  preload commands ─▶ raw loop (the broker's ceiling) ─▶ processor, watched ─▶ peer
//!                                                          │
//!                          watch: committed offsets every 100 ms, per-thread CPU
//!                          of this process (/proc/self/task) and the broker's CPU
//! ```

mod peer;
mod run;
mod threads;
mod watch;

pub use run::{Args, run};
