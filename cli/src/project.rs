//! `ledgerstream project`: the projections of `account-events`, each in its own
//! consumer group, on a thread of its own, in one process.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, bail};
use ledgerstream_infra::{Endpoints, probe};
use ledgerstream_projections::clickhouse::{self, ClickHouseConfig, ClickHouseSink};
use ledgerstream_projections::history::{self, HistoryConfig, HistorySink};
use ledgerstream_projections::retry::Classify;
use ledgerstream_projections::{
    self, HealthBoard, ProjectionConfig, ProjectionHealth, ProjectionMetrics, RunnerParts,
};
use ledgerstream_runtime::decoder::Decoder;
use ledgerstream_runtime::kafka::probe::probe_broker;
use ledgerstream_runtime::settings::registry_from_env;
use ledgerstream_runtime::supervise::{Restartable, supervise};
use ledgerstream_runtime::topics::{Admin, TopicsConfig};
use ledgerstream_schemas::catalog::Kind;
use ledgerstream_schemas::client::RegistryClient;
use ledgerstream_schemas::codec::{Codec, Setup};
use tracing::{error, info, warn};

/// A read model `ledgerstream project` can keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Projection {
    /// Analytics in ClickHouse: account_events, account_balances and the daily
    /// statistics views (docs/clickhouse.md).
    Clickhouse,
    /// Transaction history in search: one document per money movement in the
    /// index behind the alias transaction-history (docs/history.md).
    History,
}

impl Projection {
    fn name(self) -> &'static str {
        match self {
            Projection::Clickhouse => clickhouse::NAME,
            Projection::History => history::NAME,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The projections to run, each in its own consumer group.
    #[arg(value_enum, required = true, num_args = 1..)]
    projections: Vec<Projection>,
    /// Appended to every topic name (`account-events<SUFFIX>`), as for
    /// `ledgerstream process --topic-suffix`.
    #[arg(long, value_name = "SUFFIX", default_value = "")]
    topic_suffix: String,
    /// Appended to every ClickHouse table name as `<table>_<SUFFIX>`
    /// (`v1`: `account_events_v1`, ...): a table set of its own, e.g. for a
    /// replay. Letters, digits and `_`.
    #[arg(long, value_name = "SUFFIX", default_value = "")]
    table_suffix: String,
    /// Consumer group prefix: each projection reads in group `<GROUP>-<projection>`,
    /// the ClickHouse one with `-<table suffix>` appended when there is one (a new
    /// table set starts from the beginning of the log), the history one with
    /// `-<index suffix>` (`<GROUP>-history-v1`).
    #[arg(long, value_name = "GROUP", default_value = "ledgerstream-projection")]
    group: String,
    /// Write a batch after this many events ...
    #[arg(long, value_name = "N", default_value_t = 50_000)]
    batch_rows: usize,
    /// ... or this many milliseconds after its first event, whichever comes first.
    #[arg(long, value_name = "MS", default_value_t = 250)]
    batch_millis: u64,
    /// Where /metrics and /health are served (0.0.0.0:9602 in a container).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9602")]
    listen: SocketAddr,
    /// ClickHouse database of the tables.
    #[arg(long, value_name = "NAME", default_value = "default")]
    clickhouse_database: String,
    /// ClickHouse user; its password is read from LEDGERSTREAM_CLICKHOUSE_PASSWORD,
    /// and an https:// URL's private CA from LEDGERSTREAM_CLICKHOUSE_CA_FILE.
    #[arg(long, value_name = "USER", env = "LEDGERSTREAM_CLICKHOUSE_USER")]
    clickhouse_user: Option<String>,
    /// Send inserts to ClickHouse uncompressed (LZ4 by default): on loopback it
    /// saves CPU on both ends.
    #[arg(long)]
    clickhouse_no_compression: bool,
    /// The history index written is `<HISTORY_INDEX>-<SUFFIX>`
    /// (`transaction-history-v1`), read through the alias `<HISTORY_INDEX>`: a
    /// replay writes `--index-suffix v2` beside it, and readers move when the
    /// alias is swapped. Lower case.
    #[arg(long, value_name = "SUFFIX", default_value = "v1")]
    index_suffix: String,
    /// The history alias, which is also its index template's name and the
    /// prefix of its indices.
    #[arg(long, value_name = "NAME", default_value = "transaction-history")]
    history_index: String,
    /// The index of the history projection's checkpoints.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "ledgerstream-projection-checkpoints"
    )]
    history_checkpoint_index: String,
    /// Documents per bulk request to the search server.
    #[arg(long, value_name = "N", default_value_t = history::config::DEFAULT_BULK_DOCUMENTS)]
    history_bulk_documents: usize,
    /// Bulk requests to the search server in flight at once.
    #[arg(long, value_name = "N", default_value_t = history::config::DEFAULT_BULK_CONCURRENCY)]
    history_bulk_concurrency: usize,
    /// Search server user (basic authentication); its password is read from
    /// LEDGERSTREAM_SEARCH_PASSWORD; an https:// URL's private CA from
    /// LEDGERSTREAM_SEARCH_CA_FILE.
    #[arg(long, value_name = "USER", env = "LEDGERSTREAM_SEARCH_USER")]
    search_user: Option<String>,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let endpoints = Endpoints::from_env();
    let mut projections = args.projections.clone();
    projections.sort();
    projections.dedup();

    let mut base = ProjectionConfig::new(endpoints.broker.address.clone(), args.group.clone());
    base.topic_suffix = args.topic_suffix.clone();
    base.batch_rows = args.batch_rows;
    base.batch_millis = args.batch_millis;
    base.validate()?;
    let mut clickhouse_config = ClickHouseConfig::new(endpoints.clickhouse.address.clone());
    clickhouse_config.database = args.clickhouse_database.clone();
    clickhouse_config.table_suffix = args.table_suffix.clone();
    clickhouse_config.user = args.clickhouse_user.clone();
    clickhouse_config.set_password(std::env::var("LEDGERSTREAM_CLICKHOUSE_PASSWORD").ok());
    clickhouse_config.set_ca_file(std::env::var("LEDGERSTREAM_CLICKHOUSE_CA_FILE").ok());
    clickhouse_config.compression = !args.clickhouse_no_compression;
    clickhouse_config.validate()?;
    let mut history_config = HistoryConfig::new(endpoints.search.address.clone());
    history_config.index = args.history_index.clone();
    history_config.index_suffix = args.index_suffix.clone();
    history_config.checkpoint_index = args.history_checkpoint_index.clone();
    history_config.bulk_documents = args.history_bulk_documents;
    history_config.bulk_concurrency = args.history_bulk_concurrency;
    history_config.user = args.search_user.clone();
    history_config.set_password(std::env::var("LEDGERSTREAM_SEARCH_PASSWORD").ok());
    history_config.set_ca_file(std::env::var("LEDGERSTREAM_SEARCH_CA_FILE").ok());
    history_config.validate()?;

    probe_broker(&endpoints.broker).await?;
    if projections.contains(&Projection::Clickhouse) {
        probe::probe(&endpoints.clickhouse).await?;
    }
    if projections.contains(&Projection::History) {
        probe::probe(&endpoints.search).await?;
    }
    let names = base.topics();
    let admin = Admin::connect(&base.brokers)?;
    let found = admin
        .describe(&TopicsConfig::default().specs_named(&names)?)
        .await?;
    for topic in [&names.events, &names.dead_letters] {
        if !found.contains_key(topic) {
            bail!(
                "topic {topic} does not exist; create the topics with `ledgerstream topics create`"
            );
        }
    }
    let registry = RegistryClient::new(registry_from_env()?)?;
    let codec = Codec::connect(
        &registry,
        &[(Kind::Events, names.events.as_str())],
        Setup::LookUp,
    )
    .await
    .context("looking up the schemas of account-events")?;
    let decoder = Decoder {
        codec: Arc::new(codec),
        registry,
        runtime: tokio::runtime::Handle::current(),
    };

    let metrics = ProjectionMetrics::new();
    let board = HealthBoard::default();
    let stop = Arc::new(AtomicBool::new(false));
    let (stopped_tx, stopped_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(ledgerstream_projections::serve(
        args.listen,
        metrics.registry.clone(),
        board.clone(),
        async {
            let _ = stopped_rx.await;
        },
    ));
    crate::signals::stop_on_signal(Arc::clone(&stop), "finishing the open batches");

    let mut tasks = Vec::new();
    for which in projections {
        let mut config = base.clone();
        config.group = format!("{}-{}", args.group, which.name());
        let mut parts = RunnerParts {
            config,
            decoder: decoder.clone(),
            metrics: metrics.clone(),
            health: board.add(which.name()),
            stop: Arc::clone(&stop),
        };
        let task = match which {
            Projection::Clickhouse => {
                if !args.table_suffix.is_empty() {
                    parts.config.group = format!("{}-{}", parts.config.group, args.table_suffix);
                }
                info!(
                    listen = %args.listen,
                    group = %parts.config.group,
                    tables = ?clickhouse_config.tables().all(),
                    "clickhouse projection starting"
                );
                let (config, metrics) = (clickhouse_config.clone(), parts.metrics.clone());
                let connect = move || {
                    let (config, metrics) = (config.clone(), metrics.clone());
                    async move {
                        let (sink, applied) = ClickHouseSink::connect(&config, metrics).await?;
                        info!(?applied, "clickhouse migrations up to date");
                        Ok::<_, clickhouse::ClickHouseError>(sink)
                    }
                };
                tokio::spawn(keep_running(
                    "applying the ClickHouse migrations",
                    parts,
                    connect,
                ))
            }
            Projection::History => {
                parts.config.group = format!("{}-{}", parts.config.group, args.index_suffix);
                let indices = history_config.indices();
                info!(
                    listen = %args.listen,
                    group = %parts.config.group,
                    index = %indices.concrete,
                    alias = %indices.alias,
                    "history projection starting"
                );
                let (config, metrics) = (history_config.clone(), parts.metrics.clone());
                let connect = move || {
                    let (config, metrics) = (config.clone(), metrics.clone());
                    async move {
                        let (sink, prepared) = HistorySink::connect(&config, metrics).await?;
                        info!(
                            index = %sink.indices().concrete,
                            created = prepared.created,
                            alias_points_at = ?prepared.alias_targets,
                            added_fields = ?prepared.added_fields,
                            "history index ready"
                        );
                        Ok::<_, history::HistoryError>(sink)
                    }
                };
                tokio::spawn(keep_running("setting up the history index", parts, connect))
            }
        };
        tasks.push(task);
    }

    let mut outcome = Ok(());
    for task in tasks {
        let result = task
            .await
            .context("a projection task panicked")
            .and_then(|r| r);
        if let Err(error) = result {
            // One projection failed for good: the others stop too, cleanly.
            stop.store(true, Ordering::Release);
            error!(error = %format!("{error:#}"), "projection failed");
            if outcome.is_ok() {
                outcome = Err(error);
            }
        }
    }
    let _ = stopped_tx.send(());
    if let Ok(Err(error)) = server.await {
        error!(%error, "metrics endpoint failed");
    }
    outcome
}

/// Runs the projection of the sink `connect` sets up (`what`), starting it again
/// after a failure that a restart may fix (it resumes from its checkpoints).
async fn keep_running<S, E, F>(
    what: &'static str,
    parts: RunnerParts,
    connect: impl Fn() -> F,
) -> anyhow::Result<()>
where
    S: ledgerstream_projections::Sink,
    E: Classify,
    F: Future<Output = Result<S, E>>,
{
    let health: Arc<ProjectionHealth> = Arc::clone(&parts.health);
    let outcome = supervise(
        &parts.stop,
        || {
            health.set(false, what);
            ledgerstream_projections::connect_and_run(what, connect(), parts.clone())
        },
        |error, pause| {
            let pause_secs = pause.as_secs();
            warn!(%error, what, pause_secs, "projection failed; starting it again");
            health.set(false, format!("restarting after: {error}"));
        },
    )
    .await;
    match outcome {
        Ok(()) => Ok(()),
        // Failing while asked to stop: it stops, as asked.
        Err(error) if error.is_restartable() => Ok(()),
        Err(error) => Err(anyhow::anyhow!(error)),
    }
}
