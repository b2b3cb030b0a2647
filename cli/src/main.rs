//! `ledgerstream`: one binary, a subcommand per capability of the pipeline.
//!
//! # Data flow
//!
//! ```text
//!  producers ──▶ account-commands ──▶ command processor ──▶ account-events ──┬─▶ ClickHouse projection
//!                (keyed by account)   (state store per      (the log, kept   ├─▶ history projection
//!                                      partition, Kafka      forever)        └─▶ checkpoints + lag
//!                                      transactions)  ──▶ account-command-results ──▶ producers (--wait)
//! ```
//!
//! Every record on those topics is Avro in the Confluent wire format, its schema in
//! the Schema Registry. Subcommands are thin: they parse flags, read the environment
//! (see `ledgerstream_infra::Endpoints`; the Kafka security settings,
//! `ledgerstream_runtime::kafka::KafkaSecurity`, are read once here for all of
//! them) and call into the library crates. The benchmarks and the load generator
//! are another binary, `ledgerstream-bench`.

use clap::{Parser, Subcommand};
use ledgerstream::exit::Exit;
use ledgerstream::{
    audit, lag, process, produce, project, query, registry, replay, schemas, services, topics,
};
use ledgerstream_runtime::kafka::KafkaSecurity;

/// mimalloc rather than glibc's malloc: a replay into ClickHouse spent a third
/// of its CPU in glibc's malloc and free (BENCHMARKS.md, "Replay and rebuild").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Kafka-native CQRS / event-sourcing pipeline for event-sourced systems on Kafka.
#[derive(Debug, Parser)]
#[command(name = "ledgerstream", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check that every service the pipeline needs answers (broker, registry,
    /// ClickHouse, history search, Prometheus).
    Services(services::Args),
    /// Serve the Confluent-compatible Schema Registry, schemas kept in a Kafka topic.
    Registry(registry::Args),
    /// Check schema evolution (the compatibility gate), register or list schemas.
    Schemas(schemas::Args),
    /// Create the pipeline's topics, or check that they are as it needs them.
    Topics(topics::Args),
    /// Run the command processor: commands in, events and results out, exactly once.
    Process(process::Args),
    /// Send commands (from flags, --json or JSON lines) and, with --wait, print
    /// each one's result; the exit code says whether any was rejected.
    Produce(produce::Args),
    /// Run projections of account-events (`clickhouse`, `history`), each in its own consumer
    /// group, committing offsets only after their writes are durable.
    Project(project::Args),
    /// Rebuild a read model (`clickhouse`, into a new table set, then switched
    /// in) or a processor's state stores (`state`) from the event log.
    Replay(replay::Args),
    /// Read the read models (`account` from ClickHouse, `history` from
    /// search), optionally waiting until they show a given version (read your
    /// writes).
    Query(query::Args),
    /// Watch consumer-group lag (messages, seconds, trend, ETA, stalled groups):
    /// a live view, one table (`--once`), or Prometheus metrics (`--serve`).
    Lag(lag::Args),
    /// Compare each read model (`clickhouse`, `history`) with the event log,
    /// account by account, up to what its checkpoints say it has written;
    /// --repair writes the divergent accounts again. Exits with 7 on divergence.
    Audit(audit::Args),
}

fn main() -> std::process::ExitCode {
    ledgerstream::logging::init();
    Exit::of(run())
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Read and checked once; every Kafka client of the process shares it.
    let security = KafkaSecurity::from_env()?.install()?;
    tracing::debug!(kafka_security = %security.describe(), "kafka security settings");
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        match cli.command {
            Command::Services(args) => services::run(args).await,
            Command::Registry(args) => registry::run(args).await,
            Command::Schemas(args) => schemas::run(args).await,
            Command::Topics(args) => topics::run(args).await,
            Command::Lag(args) => lag::run(args).await,
            Command::Process(args) => process::run(args).await,
            Command::Produce(args) => produce::run(args).await,
            Command::Project(args) => project::run(args).await,
            Command::Replay(args) => replay::run(args).await,
            Command::Query(args) => query::run(args).await,
            Command::Audit(args) => audit::run(args).await,
        }
    })
}
