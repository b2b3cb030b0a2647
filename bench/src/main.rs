//! `ledgerstream-bench`: the pipeline measured against the configured services,
//! and the load generator. Not part of the product binary: every subcommand
//! prints its figures (and the machine's load) for BENCHMARKS.md.
//!
//! # Layout
//!
//! ```text
//!  process ────────────▶ processor (steady commands/s, CPU per thread) vs raw loop, peer
//!  project-clickhouse ─▶ ClickHouse sink, projection replay, command → visible
//!  project-history ────▶ history sink, command → searchable
//!  query / query-history ▶ read latency percentiles
//!  replay-state ───────▶ the state rebuild's fold, and the command on a topic
//!  load ───────────────▶ a mix of commands at a rate: outcomes and latency
//!        ├── measure: runs, CPU time, percentiles, the machine's load
//!        └── setup: a run's id and topics, the schemas, the processor in process
//! ```

mod load;
mod measure;
mod process;
mod project_clickhouse;
mod project_history;
mod query_account;
mod query_history;
mod replay_state;
mod setup;

use clap::{Parser, Subcommand};
use ledgerstream::exit::Exit;

/// The allocator `ledgerstream` ships with, so that what runs in process here
/// (the processor, the sinks, the folds) is measured as it runs there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Measure the pipeline against the configured services and print the figures.
#[derive(Debug, Parser)]
#[command(name = "ledgerstream-bench", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, Subcommand)]
enum What {
    /// The command processor in a steady window after a warm-up, its CPU per
    /// thread, beside the raw consume→produce rate of the broker and, with
    /// --peer, a Kafka Streams peer doing the same work.
    Process(process::Args),
    /// Events per second into ClickHouse (the sink alone, and a replay through
    /// the projection), and command → visible latency with a processor.
    ProjectClickhouse(project_clickhouse::Args),
    /// Events per second into the history index (the sink alone), and command →
    /// searchable latency with a processor.
    ProjectHistory(project_history::Args),
    /// `query account --min-version V` latency when the version is there
    /// (p50/p90/p99), in-process and, with --spawn, as a whole command.
    Query(query_account::Args),
    /// `replay state`'s fold from memory (decode, account states, stores),
    /// and with --kafka-events the command on a topic: the broker's rate apart.
    ReplayState(replay_state::Args),
    /// `query history` page latency (p50/p90/p99): the first page and pages
    /// further down with search_after.
    QueryHistory(query_history::Args),
    /// Send a mix of commands at a target rate (a share invalid on purpose) and
    /// report accepted, rejected by reason, and command → result latency.
    Load(load::Args),
}

fn main() -> std::process::ExitCode {
    ledgerstream::logging::init();
    let run = || -> anyhow::Result<()> {
        let cli = Cli::parse();
        // As `ledgerstream`: one Kafka security config for every client.
        ledgerstream_runtime::kafka::KafkaSecurity::from_env()?.install()?;
        tokio::runtime::Runtime::new()?.block_on(async {
            match cli.what {
                What::Process(args) => process::run(args).await,
                What::ProjectClickhouse(args) => project_clickhouse::run(args).await,
                What::ProjectHistory(args) => project_history::run(args).await,
                What::Query(args) => query_account::run(args).await,
                What::ReplayState(args) => replay_state::run(args).await,
                What::QueryHistory(args) => query_history::run(args).await,
                What::Load(args) => load::run(args).await,
            }
        })
    };
    Exit::of(run())
}
