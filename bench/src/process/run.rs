//! The run: preload, raw loop, the processor watched through a steady window,
//! and the peer when asked for.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use cpu_time::ProcessTime;
use ledgerstream_infra::Endpoints;
use ledgerstream_processor::{Processor, ProcessorConfig};
use ledgerstream_producers::commands;
use ledgerstream_runtime::kafka::KafkaSettings;
use ledgerstream_runtime::kafka::probe::probe_broker;
use ledgerstream_runtime::settings::registry_from_env;
use ledgerstream_runtime::topics::{self, Admin, TopicNames, TopicsConfig};
use ledgerstream_schemas::client::RegistryClient;
use ledgerstream_schemas::codec::Codec;
use ledgerstream_schemas::records::{AccountType, CommandRecord};
use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, Producer};

use super::peer::{self, PeerRun};
use super::threads::{Threads, listener_pid};
use super::watch::{WATCH_THREAD, Watched, Watcher};
use crate::measure::{Run, load_average, producer, send};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Deposits to process, after one OpenAccount per account. For a steady
    /// window of 60 s or more at 25,000 commands/s: --commands 1600000.
    #[arg(long, value_name = "N", default_value_t = 200_000)]
    commands: usize,
    /// Accounts the commands spread over (deposits round robin).
    #[arg(long, value_name = "N", default_value_t = 1_000)]
    accounts: usize,
    /// Partitions of the benchmark's topics.
    #[arg(long, value_name = "N", default_value_t = 3)]
    partitions: i32,
    /// A processor batch closes after this many commands ...
    #[arg(long, value_name = "N", default_value_t = ProcessorConfig::new("").batch_commands)]
    batch_commands: usize,
    /// ... or this many milliseconds after its first (also the peer's commit
    /// interval) ...
    #[arg(long, value_name = "MS", default_value_t = ProcessorConfig::new("").batch_millis)]
    batch_millis: u64,
    /// ... or when no further command arrives within this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = ProcessorConfig::new("").batch_idle_millis)]
    batch_idle_millis: u64,
    /// How often the processor writes its state stores.
    #[arg(long, value_name = "MS", default_value_t = ProcessorConfig::new("").store_write_millis)]
    store_write_millis: u64,
    /// Seconds after the first commit before the steady window opens (start-up,
    /// group join, the first batches).
    #[arg(long, value_name = "S", default_value_t = 10)]
    warmup_seconds: u64,
    /// Skip the raw consume→produce loop.
    #[arg(long)]
    no_raw: bool,
    /// Then run this peer on the same broker with the same workload and print
    /// the ratio: `kafka-streams` (bench/peer-kafka-streams, Java 17+ and Maven).
    #[arg(long, value_enum, value_name = "PEER")]
    peer: Option<PeerKind>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PeerKind {
    KafkaStreams,
}

/// Runs the benchmark.
pub async fn run(args: Args) -> anyhow::Result<()> {
    if args.partitions < 1 || args.accounts < 1 || args.commands < 1 {
        bail!("--partitions, --accounts and --commands must be at least 1");
    }
    let Args {
        commands: count,
        accounts,
        partitions,
        batch_commands,
        batch_millis,
        batch_idle_millis,
        store_write_millis,
        warmup_seconds,
        ..
    } = args;
    let endpoints = Endpoints::from_env();
    probe_broker(&endpoints.broker).await?;
    let brokers = endpoints.broker.address.clone();
    let broker_pid = brokers
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .and_then(listener_pid);
    let suffix = format!("-bench-{}", crate::setup::run_id());
    let names = TopicNames::with_suffix(&suffix);
    let admin = Admin::connect(&brokers)?;
    let layout = TopicsConfig {
        partitions,
        ..TopicsConfig::default()
    };
    topics::create(&admin, &layout.specs_named(&names)?)
        .await?
        .into_result()?;
    let scratch_spec = layout.specs_named(&TopicNames::with_suffix(&format!("-raw{suffix}")))?;
    topics::create(&admin, &scratch_spec).await?;
    let scratch = scratch_spec
        .first()
        .map(|s| s.name.clone())
        .context("the raw loop's topic")?;

    let registry = RegistryClient::new(registry_from_env()?)?;
    let (codec, decoder) =
        crate::setup::codec(&registry, &crate::setup::pipeline_topics(&names)).await?;

    eprintln!(
        "writing {accounts} opens and {count} deposits to {} ...",
        names.commands
    );
    let mut records: Vec<CommandRecord> = (0..accounts)
        .map(|i| {
            commands::open_account(
                &format!("bench-{i}"),
                &format!("owner-{i}"),
                AccountType::Checking,
                100_000,
                "USD",
            )
        })
        .collect();
    records.extend(
        (0..count).map(|i| commands::deposit(&format!("bench-{}", i % accounts), 1_00, "USD")),
    );
    let total = records.len();
    let (started, cpu) = (Instant::now(), ProcessTime::now());
    let payload_bytes = {
        let codec = Arc::clone(&codec);
        let (brokers, topic) = (brokers.clone(), names.commands.clone());
        tokio::task::spawn_blocking(move || produce_all(&brokers, &topic, &codec, &records))
            .await??
    };
    let produced = Run {
        records: total,
        wall: started.elapsed(),
        cpu: cpu.elapsed(),
    };

    let raw = if args.no_raw {
        None
    } else {
        eprintln!("raw consume→produce of the same {total} records ...");
        let (brokers, from, to) = (brokers.clone(), names.commands.clone(), scratch.clone());
        Some(tokio::task::spawn_blocking(move || raw_copy(&brokers, &from, &to, total)).await??)
    };

    eprintln!("processor ...");
    let state = std::env::temp_dir().join(format!("ledgerstream{suffix}"));
    let mut config = ProcessorConfig::new(brokers.clone());
    config.topic_suffix = suffix.clone();
    config.group = format!("processor{suffix}");
    config.state_dir = state.clone();
    config.batch_commands = batch_commands;
    config.batch_millis = batch_millis;
    config.batch_idle_millis = batch_idle_millis;
    config.store_write_millis = store_write_millis;
    config.listen = "127.0.0.1:0".parse()?;
    config.validate()?;
    let watcher = Watcher::connect(&brokers, &config.group, &names.commands, partitions)?;
    // Every thread started from here on, but the watcher's, is the processor's.
    let before_start = Threads::now();
    let stop = Arc::new(AtomicBool::new(false));
    let processing = {
        let stop = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("processor".into())
            .spawn(move || Processor::run_embedded(config, decoder, stop))?
    };
    let warmup = Duration::from_secs(warmup_seconds);
    let watched = std::thread::Builder::new()
        .name(WATCH_THREAD.into())
        .spawn(move || watcher.watch(total, warmup, broker_pid, Duration::from_secs(1_800)))?
        .join()
        .map_err(|_| anyhow::anyhow!("the watching thread panicked"))?;
    stop.store(true, Ordering::Release);
    let processed = processing
        .join()
        .map_err(|_| anyhow::anyhow!("the processor's thread panicked"))?;
    let _ = std::fs::remove_dir_all(&state);
    processed?;
    let watched = watched?;

    println!("broker        {brokers} (partitions {partitions}, topics *{suffix})");
    println!(
        "workload      {total} commands ({accounts} opens, then {count} deposits round robin), \
         {payload_bytes} bytes on average"
    );
    println!(
        "processor     Kafka transactions (its only mode); a batch closes at {batch_commands} \
         commands, {batch_millis} ms, or {batch_idle_millis} ms without a further command; \
         stores written every {store_write_millis} ms"
    );
    println!(
        "produce only  {:>9.0} records/s  {:>6.1} µs CPU per record   (encode + produce + flush)",
        produced.per_second(),
        produced.cpu_micros_per_record()
    );
    if let Some(raw) = raw {
        println!(
            "raw           {:>9.0} records/s  {:>6.1} µs CPU per record   (consume + produce + flush, \
             no decoding; this whole process)",
            raw.per_second(),
            raw.cpu_micros_per_record()
        );
    }
    let steady = report(&watched, &before_start, warmup_seconds, broker_pid)?;
    // Millions of records each: they would fill the broker's disk run after run.
    let raw_names = TopicNames::with_suffix(&format!("-raw{suffix}"));
    let all: Vec<&str> = names.all().into_iter().chain(raw_names.all()).collect();
    if let Err(error) = topics::delete(&admin, &all).await {
        eprintln!("deleting the benchmark's topics failed: {error}");
    }
    if let Some(PeerKind::KafkaStreams) = args.peer {
        eprintln!("the Kafka Streams peer, same workload, same broker ...");
        let figures = peer::run(PeerRun {
            commands: count,
            accounts,
            partitions,
            warmup_seconds,
            commit_interval_millis: batch_millis,
        })?;
        println!(
            "ratio         processor {steady:.0} / peer {:.0} commands/s = {:.2}× (goal: ≥ 2×)",
            figures.steady,
            steady / figures.steady
        );
    }
    Ok(())
}

/// Prints the processor's figures; its steady rate.
fn report(
    watched: &Watched,
    before_start: &Threads,
    warmup_seconds: u64,
    broker_pid: Option<u32>,
) -> anyhow::Result<f64> {
    let Watched { first, warm, end } = watched;
    let overall = end.at.duration_since(first.at).as_secs_f64();
    let overall_line = format!(
        "{:>9.0} commands/s from the first commit to the last ({overall:.1} s)",
        (end.committed - first.committed) as f64 / overall.max(1e-9)
    );
    let Some(warm) = warm else {
        println!("overall       {overall_line}");
        bail!("the run ended within the {warmup_seconds} s warm-up: raise --commands");
    };
    let seconds = end.at.duration_since(warm.at).as_secs_f64();
    let commands = end.committed - warm.committed;
    let steady = commands as f64 / seconds.max(1e-9);
    println!(
        "steady        {steady:>9.0} commands/s over {seconds:.1} s after a {warmup_seconds} s \
         warm-up ({commands} commands)"
    );
    println!("overall       {overall_line}");
    let spent = warm.threads.spent_by_new(&end.threads, before_start);
    let per_command = |cpu: Duration| cpu.as_secs_f64() * 1e6 / commands.max(1) as f64;
    let cores = |cpu: Duration| cpu.as_secs_f64() / seconds.max(1e-9);
    let (mut own, mut kafka) = (BTreeMap::new(), BTreeMap::new());
    for (name, cpu) in spent {
        if name == WATCH_THREAD {
            continue;
        }
        let side = if name.starts_with("rdk:") {
            &mut kafka
        } else {
            &mut own
        };
        *side.entry(name).or_insert(Duration::ZERO) += cpu;
    }
    let line = |what: &str, threads: &BTreeMap<String, Duration>| {
        let sum: Duration = threads.values().sum();
        let mut parts: Vec<_> = threads.iter().filter(|(_, cpu)| !cpu.is_zero()).collect();
        parts.sort_by(|a, b| b.1.cmp(a.1));
        let parts: Vec<String> = parts
            .iter()
            .map(|(name, cpu)| format!("{name} {:.1}", per_command(**cpu)))
            .collect();
        println!(
            "{what:<13} {:>9.1} µs per command ({:.2} cores): {}",
            per_command(sum),
            cores(sum),
            parts.join(", ")
        );
    };
    line("CPU own", &own);
    line("CPU librdkafka", &kafka);
    match (warm.broker_cpu, end.broker_cpu) {
        (Some(start), Some(stop)) => {
            let cpu = stop.saturating_sub(start);
            println!(
                "CPU broker    {:>9.1} µs per command ({:.2} cores; pid {})",
                per_command(cpu),
                cores(cpu),
                broker_pid.unwrap_or_default()
            );
        }
        _ => println!("CPU broker    not seen (not a process of this user on this machine)"),
    }
    println!(
        "load          {} at the window's start, {} at its end; now {}",
        warm.load,
        end.load,
        load_average()
    );
    Ok(steady)
}

fn produce_all(
    brokers: &str,
    topic: &str,
    codec: &Codec,
    records: &[CommandRecord],
) -> anyhow::Result<usize> {
    let producer = producer(brokers, 5, "none")?;
    let mut bytes = 0;
    for record in records {
        let payload = codec.encode(record)?;
        bytes += payload.len();
        send(
            &producer,
            BaseRecord::to(topic)
                .key(record.account_id().as_bytes())
                .payload(&payload),
        )?;
    }
    producer.flush(Duration::from_secs(120))?;
    Ok(bytes / records.len().max(1))
}

fn raw_copy(brokers: &str, from: &str, to: &str, total: usize) -> anyhow::Result<Run> {
    // The broker's baseline, not the pipeline's reader: a plain subscriber with
    // librdkafka's defaults (no read_committed, offsets stored as read), whose
    // consumer state is committed at the end.
    let consumer: BaseConsumer = KafkaSettings::new(brokers)
        .client()
        .set("group.id", format!("raw-{to}"))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()?;
    consumer.subscribe(&[from])?;
    let producer = producer(brokers, 5, "none")?;
    let (started, cpu) = (Instant::now(), ProcessTime::now());
    let mut copied = 0;
    let deadline = Instant::now() + Duration::from_secs(600);
    while copied < total && Instant::now() < deadline {
        let Some(message) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let message = message?;
        let mut record = BaseRecord::to(to).payload(message.payload().unwrap_or_default());
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        send(&producer, record)?;
        copied += 1;
    }
    producer.flush(Duration::from_secs(120))?;
    consumer.commit_consumer_state(rdkafka::consumer::CommitMode::Sync)?;
    Ok(Run {
        records: copied,
        wall: started.elapsed(),
        cpu: cpu.elapsed(),
    })
}
