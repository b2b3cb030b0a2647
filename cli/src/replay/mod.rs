//! `ledgerstream replay`: read models and state stores built again from the
//! event log, which is kept forever and is the only truth.
//!
//! - `replay clickhouse` ([`clickhouse`]): the ClickHouse tables rebuilt into a
//!   new versioned set beside the live one, then switched in with one `RENAME`
//!   (`EXCHANGE TABLES` on current ClickHouse;
//!   `ledgerstream_projections::clickhouse::switch`), the events that arrived
//!   meanwhile written after it (`::tail`); every step recorded in a journal
//!   (`::journal`) so a second run resumes.
//! - `replay state` ([`state`]): a processor's per-partition stores folded from
//!   the log (`ledgerstream_processor::rebuild`), for the processor to start on
//!   without folding it itself.
//!
//! - `replay history` ([`history`]): the history index rebuilt into a new
//!   concrete index beside the live one, then the alias swapped to it.
//!
//! All show a progress bar ([`progress`]) from the positions against the log's
//! end (`ledgerstream_projections::rebuild::positions`); `--throttle`
//! (`::rebuild::throttle`) paces the replay. `ledgerstream-bench replay-state`
//! measures the state fold apart from the broker.

pub mod clickhouse;
pub mod history;
pub mod progress;
pub mod state;

use std::sync::Arc;

use anyhow::Context;

use ledgerstream_projections::rebuild::throttle::Throttled;
use ledgerstream_projections::retry::Classify;
use ledgerstream_runtime::decoder::Decoder;
use ledgerstream_runtime::settings::registry_from_env;
use ledgerstream_runtime::supervise::{Restartable, supervise};
use ledgerstream_schemas::catalog::Kind;
use ledgerstream_schemas::client::RegistryClient;
use ledgerstream_schemas::codec::{Codec, Setup};
use tracing::warn;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, clap::Subcommand)]
enum What {
    /// Rebuild the ClickHouse tables from offset zero into a new table set
    /// (`--into v2`) while the live set keeps serving, then switch readers to
    /// it in one RENAME. Run again to resume after an interruption.
    Clickhouse(clickhouse::Args),
    /// Rebuild a processor's state stores from account-events, so that it
    /// starts without folding the log. The processor must be stopped.
    State(state::Args),
    /// Rebuild the history index from offset zero into a new index
    /// (`--into v2`) while the live one keeps serving the alias, then swap the
    /// alias in one atomic request. Run again to resume after an interruption.
    History(history::Args),
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    match args.what {
        What::Clickhouse(args) => clickhouse::run(args).await,
        What::State(args) => state::run(args).await,
        What::History(args) => history::run(args).await,
    }
}

/// A decoder of `topic`'s events, its writer schemas looked up in the registry.
pub(crate) async fn events_decoder(topic: &str) -> anyhow::Result<Decoder> {
    let registry = RegistryClient::new(registry_from_env()?)?;
    let codec = Codec::connect(&registry, &[(Kind::Events, topic)], Setup::LookUp)
        .await
        .with_context(|| format!("looking up the schemas of {topic}"))?;
    Ok(Decoder {
        codec: Arc::new(codec),
        registry,
        runtime: tokio::runtime::Handle::current(),
    })
}

/// Runs a replay's projection on `first`, starting it again after a failure a
/// restart may fix: `connect` (`what`, named in errors) makes a new sink, which
/// resumes from the replayed set's checkpoints.
async fn keep_running<S, E, F>(
    what: &'static str,
    first: S,
    parts: ledgerstream_projections::RunnerParts,
    throttle: Option<u32>,
    connect: impl Fn() -> F,
) -> anyhow::Result<()>
where
    S: ledgerstream_projections::Sink,
    E: Classify,
    F: Future<Output = Result<S, E>>,
{
    let mut first = Some(first);
    let outcome = supervise(
        &parts.stop,
        || {
            let (ready, connecting) = (first.take(), connect());
            let sink = async move {
                let sink = match ready {
                    Some(sink) => sink,
                    None => connecting.await?,
                };
                Ok::<_, E>(Throttled::new(sink, throttle))
            };
            ledgerstream_projections::connect_and_run(what, sink, parts.clone())
        },
        |error, pause| {
            let pause_secs = pause.as_secs();
            warn!(%error, pause_secs, "the replay's projection failed; starting it again");
        },
    )
    .await;
    match outcome {
        Ok(()) => Ok(()),
        // Failing while asked to stop: it stops, as asked.
        Err(error) if error.is_restartable() => Ok(()),
        Err(error) => Err(anyhow::anyhow!(error).context("the replay's projection failed")),
    }
}
