//! `ledgerstream process`: the command processor.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use ledgerstream_infra::Endpoints;
use ledgerstream_processor::{
    Health, Instance, Metrics, ProcessError, Processor, ProcessorConfig, serve,
};
use ledgerstream_runtime::decoder::Decoder;
use ledgerstream_runtime::kafka::probe::probe_broker;
use ledgerstream_runtime::settings::registry_from_env;
use ledgerstream_runtime::supervise::{on_own_thread, supervise};
use ledgerstream_runtime::topics::{self, Admin, TopicsConfig};
use ledgerstream_schemas::catalog::Kind;
use ledgerstream_schemas::client::RegistryClient;
use ledgerstream_schemas::codec::{Codec, Setup};
use tracing::{error, info, warn};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Close a batch after this many commands ...
    #[arg(long, value_name = "N", default_value_t = 5_000)]
    batch_commands: usize,
    /// ... or this many milliseconds after its first command ...
    #[arg(long, value_name = "MS", default_value_t = 50)]
    batch_millis: u64,
    /// ... or when no further command arrives within this many milliseconds (at a
    /// low rate, batches close as soon as the waiting commands are decided).
    #[arg(long, value_name = "MS", default_value_t = 2)]
    batch_idle_millis: u64,
    /// How long the broker may hold a fetch of commands while it has none. It
    /// answers as soon as a command arrives: this bounds idle round trips.
    #[arg(long, value_name = "MS", default_value_t = 500)]
    fetch_wait_millis: u64,
    /// Folder of the per-partition state stores.
    #[arg(long, value_name = "DIR", default_value = ".ledgerstream/state")]
    state_dir: PathBuf,
    /// How often the accounts changed since the last write are written to the
    /// state stores (0: after every batch). The stores trail the committed log:
    /// a restart folds the events committed since the last write.
    #[arg(long, value_name = "MS", default_value_t = 5_000)]
    store_write_millis: u64,
    /// Where /metrics and /health are served (0.0.0.0:9601 in a container).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9601")]
    listen: SocketAddr,
    /// Consumer group shared by every processor of this pipeline.
    #[arg(long, default_value = "ledgerstream-processor")]
    group: String,
    /// How many recent command ids each account remembers for deduplication.
    #[arg(long, value_name = "N", default_value_t = 1_000)]
    idempotency_window: usize,
    /// Transactional id prefix; the name kept in the state folder is appended, so
    /// a processor started again on the same folder fences its predecessor.
    #[arg(long, default_value = "ledgerstream-processor")]
    transactional_id: String,
    /// How long a transaction may stay open before the broker aborts it: the
    /// longest a crashed processor's open batch holds back downstream readers.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    transaction_timeout_millis: u64,
    /// Appended to every topic name, to run several pipelines on one cluster.
    #[arg(long, value_name = "SUFFIX", default_value = "")]
    topic_suffix: String,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let endpoints = Endpoints::from_env();
    let mut config = ProcessorConfig::new(endpoints.broker.address.clone());
    config.batch_commands = args.batch_commands;
    config.batch_millis = args.batch_millis;
    config.batch_idle_millis = args.batch_idle_millis;
    config.fetch_wait_millis = args.fetch_wait_millis;
    config.state_dir = args.state_dir;
    config.store_write_millis = args.store_write_millis;
    config.listen = args.listen;
    config.group = args.group;
    config.idempotency_window = args.idempotency_window;
    config.transactional_id = args.transactional_id;
    config.transaction_timeout_millis = args.transaction_timeout_millis;
    config.topic_suffix = args.topic_suffix;
    config.validate()?;

    probe_broker(&endpoints.broker).await?;
    let admin = Admin::connect(&config.brokers)?;
    let names = config.topics();
    // Any partition count works, as long as commands, events and results share it:
    // the commands topic sets it.
    let defaults = TopicsConfig::default();
    let found = admin.describe(&defaults.specs_named(&names)?).await?;
    let partitions = found
        .get(&names.commands)
        .map_or(defaults.partitions, |t| t.partitions);
    let layout = TopicsConfig {
        partitions,
        ..defaults
    };
    topics::check(&admin, &layout.specs_named(&names)?)
        .await
        .context(
            "the topics are not as the processor needs them; run `ledgerstream topics create`",
        )?;
    let registry = RegistryClient::new(registry_from_env()?)?;
    // Processors only read the registry: the schemas must be registered already.
    let written = [
        (Kind::Commands, names.commands.as_str()),
        (Kind::Events, names.events.as_str()),
        (Kind::Results, names.results.as_str()),
    ];
    let codec = Codec::connect(&registry, &written, Setup::LookUp)
        .await
        .context("looking up the schemas the processor writes")?;
    let decoder = Decoder {
        codec: Arc::new(codec),
        registry,
        runtime: tokio::runtime::Handle::current(),
    };

    // Held until the process exits: no other processor writes with this id.
    let instance = Instance::open(&config.state_dir)?;
    let transactional_id = instance.transactional_id(&config.transactional_id);

    let metrics = Metrics::new();
    let health = Arc::new(Health::default());
    let stop = Arc::new(AtomicBool::new(false));
    let (stopped_tx, stopped_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(
        config.listen,
        metrics.clone(),
        Arc::clone(&health),
        async {
            let _ = stopped_rx.await;
        },
    ));
    crate::signals::stop_on_signal(Arc::clone(&stop), "finishing the open batch");
    info!(listen = %config.listen, group = %config.group, transactional_id, "processor starting");

    let outcome = supervise(
        &stop,
        || {
            let (config, transactional_id, decoder, metrics, health, stop) = (
                config.clone(),
                transactional_id.clone(),
                decoder.clone(),
                metrics.clone(),
                Arc::clone(&health),
                Arc::clone(&stop),
            );
            on_own_thread(move || {
                Processor::start(config, &transactional_id, decoder, metrics, health, stop)?.run()
            })
        },
        |error, pause| {
            metrics.restarts.inc();
            let pause_secs = pause.as_secs();
            warn!(%error, pause_secs, "processor failed; starting it again");
        },
    )
    .await;
    let _ = stopped_tx.send(());
    if let Ok(Err(error)) = server.await {
        error!(%error, "metrics endpoint failed");
    }
    outcome.map_err(|error: ProcessError| anyhow::anyhow!(error))
}
