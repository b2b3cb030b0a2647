//! `ledgerstream-bench project-history`: documents per second into the history
//! index, and command → searchable latency, on the configured services.
//!
//! 1. **Sink**: a consistent synthetic log (the ClickHouse benchmark's: opens,
//!    deposits, withdrawals, transfers over `--accounts` accounts) is encoded,
//!    then decoded and written by the history sink straight from memory, in
//!    batches of `--batch-rows`, each with its checkpoint — the search side alone.
//! 2. **Live** (unless `--live-seconds 0`): a processor and the history
//!    projection on fresh topics; deposits sent at `--live-rate` a second; each
//!    one's latency from send to its document answering a search (polled every
//!    20 ms, so figures carry up to ~20 ms of polling).
//!
//! Every index is deleted at the end, and the live phase's topics once it is done
//! (`--keep` keeps both).

// Amounts in minor units read best grouped as units and cents: 1_000_00 is 1,000.00.
#![allow(clippy::inconsistent_digit_grouping)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use cpu_time::ProcessTime;
use ledgerstream_infra::{Endpoints, probe};
use ledgerstream_producers::{CommandSender, commands};
use ledgerstream_projections::checkpoint::Checkpoint;
use ledgerstream_projections::history::{self, HistoryConfig, HistorySink, template};
use ledgerstream_projections::{
    self, HealthBoard, ProjectionConfig, ProjectionMetrics, RunnerParts, Sink, SourcedEvent,
};
use ledgerstream_runtime::decoder::Decoder;
use ledgerstream_runtime::kafka::probe::probe_broker;
use ledgerstream_runtime::settings::registry_from_env;
use ledgerstream_runtime::topics::{self, Admin, TopicNames};
use ledgerstream_schemas::catalog::Kind;
use ledgerstream_schemas::client::RegistryClient;
use ledgerstream_schemas::codec::Setup;
use ledgerstream_schemas::records::EventRecord;

use crate::measure::{self, Latencies, Run, load_average};
use crate::setup;

/// Flags of `ledgerstream-bench project-history`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Events in the synthetic log of the sink phase.
    #[arg(long, value_name = "N", default_value_t = 200_000)]
    events: usize,
    /// Accounts the events spread over.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    accounts: usize,
    /// Events per batch in the sink phase.
    #[arg(long, value_name = "N", default_value_t = 50_000)]
    batch_rows: usize,
    /// Documents per bulk request.
    #[arg(long, value_name = "N", default_value_t = history::config::DEFAULT_BULK_DOCUMENTS)]
    bulk_documents: usize,
    /// Bulk requests of a batch in flight at once.
    #[arg(long, value_name = "N", default_value_t = history::config::DEFAULT_BULK_CONCURRENCY)]
    bulk_concurrency: usize,
    /// Partitions of the live phase's topics.
    #[arg(long, value_name = "N", default_value_t = 3)]
    partitions: i32,
    /// Seconds of live load (0: no live phase).
    #[arg(long, value_name = "S", default_value_t = 30)]
    live_seconds: u64,
    /// Deposits per second in the live phase.
    #[arg(long, value_name = "N", default_value_t = 200)]
    live_rate: u64,
    /// Time limit of a batch in the live phase, milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 100)]
    live_batch_millis: u64,
    /// Keep the benchmark's indices and topics.
    #[arg(long)]
    keep: bool,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let endpoints = Endpoints::from_env();
    probe_broker(&endpoints.broker).await?;
    probe::probe(&endpoints.search).await?;
    let brokers = endpoints.broker.address.clone();
    let id = setup::run_id();
    let suffix = format!("-bench-{id}");
    let names = TopicNames::with_suffix(&suffix);
    let registry = RegistryClient::new(registry_from_env()?)?;
    let (codec, decoder) =
        setup::codec(&registry, &[(Kind::Events, names.events.as_str())]).await?;
    let server = server_version(&endpoints.search.address).await;

    // One alias per phase: each reads its own index.
    let phase = |name: &str| -> anyhow::Result<HistoryConfig> {
        let mut config = HistoryConfig::new(endpoints.search.address.clone());
        config.index = format!("bench-history-{id}-{name}");
        config.checkpoint_index = format!("bench-checkpoints-{id}");
        config.bulk_documents = args.bulk_documents;
        config.bulk_concurrency = args.bulk_concurrency;
        config.validate()?;
        Ok(config)
    };
    let mut cleanup = Cleanup {
        configs: Vec::new(),
        keep: args.keep,
    };

    eprintln!(
        "sink: {} events over {} accounts, decoded and written from memory ...",
        args.events, args.accounts
    );
    let log = crate::project_clickhouse::synthetic_log(args.events, args.accounts);
    let payloads: Vec<Vec<u8>> = log
        .iter()
        .map(|event| codec.encode(event))
        .collect::<Result<_, _>>()?;
    let bytes = payloads.iter().map(Vec::len).sum::<usize>() / payloads.len().max(1);
    let load_before = load_average();
    let config = phase("sink")?;
    cleanup.configs.push(config.clone());
    let (sink_run, documents) = sink_only(&config, &decoder, &payloads, args.batch_rows).await?;

    let live = if args.live_seconds > 0 {
        eprintln!(
            "live: processor and projection, {} deposits/s for {} s ...",
            args.live_rate, args.live_seconds
        );
        let config = phase("live")?;
        cleanup.configs.push(config.clone());
        Some(
            live(
                &args,
                &config,
                &brokers,
                &registry,
                &format!("{suffix}-live"),
            )
            .await?,
        )
    } else {
        None
    };
    let load_after = load_average();
    drop(cleanup);

    println!(
        "services      broker {brokers}, search {} ({server}), indices bench-history-{id}-*",
        endpoints.search.address
    );
    println!(
        "log           {} events, {} accounts, {bytes} bytes per event on average; {documents} documents",
        log.len(),
        args.accounts
    );
    println!("load average  {load_before} at the start, {load_after} at the end (2 vCPUs, shared)");
    println!(
        "sink          {:>9.0} events/s  {:>5.1} µs CPU per event in this process  (decode + documents + bulk with refresh=wait_for + checkpoints; batches of {}, bulk requests of {} x{})",
        sink_run.per_second(),
        sink_run.cpu_micros_per_record(),
        args.batch_rows,
        args.bulk_documents,
        args.bulk_concurrency
    );
    if let Some(live) = live {
        let latencies = &live.commands;
        println!(
            "live          command → searchable: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms over {} deposits at {}/s (sent at {:.0}/s; batch limit {} ms)",
            latencies.ms(0.50),
            latencies.ms(0.99),
            latencies.ms(1.0),
            latencies.count(),
            args.live_rate,
            live.achieved_rate,
            args.live_batch_millis
        );
        println!(
            "live          event → searchable (the projection alone, its end-to-end histogram over every event): mean {:.0} ms, p99 ≤ {:.0} ms",
            live.events_mean_ms, live.events_p99_bound_ms
        );
    }
    Ok(())
}

/// Deletes the benchmark's indices when it ends, however it ends (unless
/// `--keep`).
struct Cleanup {
    configs: Vec<HistoryConfig>,
    keep: bool,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        let configs = std::mem::take(&mut self.configs);
        // On a thread of its own, with its own runtime: this may run while the
        // benchmark's runtime is unwinding.
        let deleted = std::thread::spawn(move || -> anyhow::Result<()> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            for config in &configs {
                let client = history::client(config)?;
                runtime.block_on(template::delete_all(&client, &config.indices()))?;
            }
            Ok(())
        })
        .join();
        if !matches!(deleted, Ok(Ok(()))) {
            eprintln!("deleting the benchmark's indices failed: {deleted:?}");
        }
    }
}

/// The search engine and its version, as it tells them.
async fn server_version(url: &str) -> String {
    let detected = async {
        let client = history::client(&HistoryConfig::new(url))?;
        anyhow::Ok(history::engine::detect(&client).await?.to_string())
    };
    detected
        .await
        .unwrap_or_else(|error| format!("engine unknown: {error}"))
}

/// The sink alone: decode, add, write, checkpoint — from memory. The documents
/// written are returned with the run.
async fn sink_only(
    config: &HistoryConfig,
    decoder: &Decoder,
    payloads: &[Vec<u8>],
    batch_rows: usize,
) -> anyhow::Result<(Run, u64)> {
    let (mut sink, _) = HistorySink::connect(config, ProjectionMetrics::new()).await?;
    let mut documents = 0;
    let (started, cpu) = (Instant::now(), ProcessTime::now());
    for (index, chunk) in payloads.chunks(batch_rows).enumerate() {
        let mut batch = Default::default();
        for (offset, payload) in chunk.iter().enumerate() {
            let event: EventRecord = decoder.codec.decode(payload)?;
            let offset = (index * batch_rows + offset) as i64;
            let sourced = SourcedEvent {
                partition: 0,
                offset,
                event,
            };
            if let Err(rejected) = sink.add(&mut batch, sourced) {
                bail!("the synthetic log was rejected: {rejected}");
            }
        }
        let written = sink.write(&batch).await?;
        if !written.refused.is_empty() {
            bail!("the server refused documents: {:?}", written.refused);
        }
        documents += written.rows.iter().map(|(_, n)| n).sum::<u64>();
        let checkpoint =
            Checkpoint::start(0).advance(((index + 1) * batch_rows) as i64, None, 0)?;
        sink.save_checkpoints("bench", &[checkpoint]).await?;
    }
    let run = Run {
        records: payloads.len(),
        wall: started.elapsed(),
        cpu: cpu.elapsed(),
    };
    Ok((run, documents))
}

/// What the live phase measured.
struct Live {
    /// Deposits sent per second: the rate asked for, unless the sender fell
    /// behind it.
    achieved_rate: f64,
    /// From sending each deposit to its document answering a search.
    commands: Latencies,
    /// The projection's own view: from each event's time to its batch being
    /// searchable (its end-to-end histogram): mean, and the bucket bound below
    /// which 99 % fall.
    events_mean_ms: f64,
    events_p99_bound_ms: f64,
}

/// The mean and the 99 % bucket bound of the histogram `name` of `metrics` (one
/// projection), in milliseconds.
fn histogram_ms(metrics: &ProjectionMetrics, name: &str) -> (f64, f64) {
    let families = metrics.registry.gather();
    let Some(metric) = families
        .iter()
        .filter(|family| family.name() == name)
        .flat_map(|family| family.get_metric())
        .next()
    else {
        return (f64::NAN, f64::NAN);
    };
    let histogram = metric.get_histogram();
    let count = histogram.get_sample_count();
    let mean = histogram.get_sample_sum() / count.max(1) as f64 * 1_000.0;
    let wanted = (count as f64 * 0.99).ceil() as u64;
    let bound = histogram
        .get_bucket()
        .iter()
        .find(|b| b.cumulative_count() >= wanted)
        .map_or(f64::INFINITY, |b| b.upper_bound() * 1_000.0);
    (mean, bound)
}

/// A processor and the history projection on fresh topics; deposits at a
/// steady rate.
async fn live(
    args: &Args,
    config: &HistoryConfig,
    brokers: &str,
    registry: &RegistryClient,
    suffix: &str,
) -> anyhow::Result<Live> {
    let names = TopicNames::with_suffix(suffix);
    let admin = Admin::connect(brokers)?;
    setup::create_topics(&admin, &names, args.partitions).await?;
    let (_, decoder) = setup::codec(registry, &setup::pipeline_topics(&names)).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let processor = setup::EmbeddedProcessor::start(brokers, suffix, decoder.clone());

    let (sink, _) = HistorySink::connect(config, ProjectionMetrics::new()).await?;
    let mut runner = ProjectionConfig::new(brokers.to_owned(), format!("projection{suffix}"));
    runner.topic_suffix = suffix.to_owned();
    runner.batch_millis = args.live_batch_millis;
    let metrics = ProjectionMetrics::new();
    let parts = RunnerParts {
        config: runner,
        decoder,
        metrics: metrics.clone(),
        health: HealthBoard::default().add("history"),
        stop: Arc::clone(&stop),
    };
    let projecting =
        tokio::task::spawn_blocking(move || ledgerstream_projections::run(sink, parts));

    let client = history::client(config)?;
    let alias = config.indices().alias;
    let sender = CommandSender::connect(brokers, registry, &names.commands, Setup::LookUp).await?;
    let accounts = 100;
    setup::open_live_accounts(&sender, accounts).await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while count(&client, &alias).await? < accounts as u64 {
        if Instant::now() > deadline {
            bail!("the opened accounts did not become searchable within 120 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let sent_at: Arc<std::sync::Mutex<HashMap<String, Instant>>> = Arc::default();
    let total = (args.live_seconds * args.live_rate) as usize;
    // Each send waits for the broker's acknowledgement (a few ms, more than a
    // deposit's share of a second at 1,000/s): sends overlap, one task each.
    let sending = {
        let (sent_at, sender) = (Arc::clone(&sent_at), Arc::new(sender));
        let rate = args.live_rate.max(1);
        tokio::spawn(async move {
            let started = Instant::now();
            let mut sends = Vec::with_capacity(total);
            for n in 0..total {
                let due = started + Duration::from_secs_f64(n as f64 / rate as f64);
                tokio::time::sleep_until(due.into()).await;
                let deposit = commands::deposit(&format!("live-{}", n % accounts), 1_00, "USD");
                sent_at
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(deposit.command_id().to_owned(), Instant::now());
                let sender = Arc::clone(&sender);
                sends.push(tokio::spawn(async move { sender.send(&deposit).await }));
            }
            let queued = started.elapsed();
            for send in sends {
                send.await??;
            }
            anyhow::Ok(queued)
        })
    };

    // Poll for the deposits sent and not seen yet, by command id.
    let mut seen: HashMap<String, Instant> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(args.live_seconds + 120);
    while seen.len() < total && Instant::now() < deadline {
        let pending: Vec<String> = sent_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .filter(|id| !seen.contains_key(*id))
            .cloned()
            .collect();
        if !pending.is_empty() {
            let now = Instant::now();
            for id in found(&client, &alias, &pending).await? {
                seen.entry(id).or_insert(now);
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let queued = sending.await??;
    processor.stop().await?;
    stop.store(true, Ordering::Release);
    projecting.await??;
    if !args.keep {
        topics::delete(&admin, &names.all()).await?;
    }

    let sent_at = sent_at.lock().unwrap_or_else(|p| p.into_inner());
    let latencies = measure::latencies(&seen, &sent_at);
    if latencies.count() < total as u64 {
        bail!(
            "only {} of {total} deposits became searchable",
            latencies.count()
        );
    }
    let (events_mean_ms, events_p99_bound_ms) =
        histogram_ms(&metrics, "ledgerstream_projection_end_to_end_seconds");
    Ok(Live {
        achieved_rate: total as f64 / queued.as_secs_f64().max(f64::EPSILON),
        commands: latencies,
        events_mean_ms,
        events_p99_bound_ms,
    })
}

/// Documents behind `alias`.
async fn count(client: &elasticsearch::Elasticsearch, alias: &str) -> anyhow::Result<u64> {
    let response = client
        .count(elasticsearch::CountParts::Index(&[alias]))
        .send()
        .await?;
    let answer: serde_json::Value = response.json().await?;
    Ok(answer["count"].as_u64().unwrap_or(0))
}

/// Which of the command ids `ids` have a document behind `alias`. One search
/// per 5,000 ids: a search returns at most 10,000 hits (`index.max_result_window`).
async fn found(
    client: &elasticsearch::Elasticsearch,
    alias: &str,
    ids: &[String],
) -> anyhow::Result<Vec<String>> {
    let mut found = Vec::new();
    for chunk in ids.chunks(5_000) {
        let during = "searching for the deposits sent";
        let response = client
            .search(elasticsearch::SearchParts::Index(&[alias]))
            .body(serde_json::json!({
                "size": chunk.len(),
                "_source": ["command_id"],
                "query": { "terms": { "command_id": chunk } },
            }))
            .send()
            .await?;
        let answer = history::retry::read_answer(during, response).await?;
        let hits = answer["hits"]["hits"]
            .as_array()
            .map_or(&[][..], Vec::as_slice);
        found.extend(
            hits.iter()
                .filter_map(|hit| hit["_source"]["command_id"].as_str().map(str::to_owned)),
        );
    }
    Ok(found)
}
