//! `ledgerstream-bench project-clickhouse`: events per second into ClickHouse, and
//! command → visible latency, on the configured services.
//!
//! 1. A consistent synthetic log (opens, deposits, withdrawals, transfers over
//!    `--accounts` accounts) is produced to a fresh `account-events-bench-…`.
//! 2. **Sink**: the same records decoded and written by the ClickHouse sink
//!    straight from memory — the ClickHouse side alone.
//! 3. **Replay**: the projection runner reads the topic from the start in a fresh
//!    group into a fresh table set, until every checkpoint reaches the end.
//! 4. **Live** (unless `--live-seconds 0`): a processor and the projection on
//!    fresh topics; deposits sent at `--live-rate` a second; each one's latency
//!    from send to its event being visible to a ClickHouse query (polled every
//!    20 ms, so figures carry up to ~20 ms of polling).
//!
//! Every table set and topic is dropped at the end (`--keep` keeps them).

// Amounts in minor units read best grouped as units and cents: 1_000_00 is 1,000.00.
#![allow(clippy::inconsistent_digit_grouping)]

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use cpu_time::ProcessTime;
use ledgerstream_domain::{self as domain, policy};
use ledgerstream_infra::{Endpoints, probe};
use ledgerstream_producers::{CommandSender, commands};
use ledgerstream_projections::clickhouse::{ClickHouseConfig, ClickHouseSink, Tables, schema};
use ledgerstream_projections::{
    self, HealthBoard, ProjectionConfig, ProjectionMetrics, RunnerParts, Sink, SourcedEvent,
};
use ledgerstream_runtime::decoder::Decoder;
use ledgerstream_runtime::kafka::KafkaSettings;
use ledgerstream_runtime::kafka::probe::probe_broker;
use ledgerstream_runtime::settings::registry_from_env;
use ledgerstream_runtime::topics::{self, Admin, TopicNames};
use ledgerstream_schemas::client::RegistryClient;
use ledgerstream_schemas::codec::Setup;
use ledgerstream_schemas::records::{
    AccountOpened, AccountType, Channel, EventMetadata, EventRecord, MoneyDeposited,
    MoneyWithdrawn, TransferCredited, TransferDebited,
};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use crate::measure::{self, Latencies, Run, load_average, producer, send};
use crate::setup;

/// Flags of `ledgerstream-bench project-clickhouse`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Events in the synthetic log.
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    events: usize,
    /// Of those, how many go through Kafka for the raw read and the replay (the
    /// first N of the log; all by default).
    #[arg(long, value_name = "N")]
    replay_events: Option<usize>,
    /// Accounts the events spread over.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    accounts: usize,
    /// Partitions of the benchmark's topics.
    #[arg(long, value_name = "N", default_value_t = 3)]
    partitions: i32,
    /// Events per batch (sink and replay).
    #[arg(long, value_name = "N", default_value_t = 50_000)]
    batch_rows: usize,
    /// Seconds of live load (0: no live phase).
    #[arg(long, value_name = "S", default_value_t = 30)]
    live_seconds: u64,
    /// Deposits per second in the live phase.
    #[arg(long, value_name = "N", default_value_t = 200)]
    live_rate: u64,
    /// Time limit of a batch in the live phase, milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 100)]
    live_batch_millis: u64,
    /// The projection's `fetch.wait.max.ms` (its default: 100).
    #[arg(long, value_name = "MS")]
    fetch_wait_millis: Option<u64>,
    /// Send inserts uncompressed.
    #[arg(long)]
    no_compression: bool,
    /// Keep the benchmark's ClickHouse tables and Kafka topics.
    #[arg(long)]
    keep: bool,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let endpoints = Endpoints::from_env();
    probe_broker(&endpoints.broker).await?;
    probe::probe(&endpoints.clickhouse).await?;
    let brokers = endpoints.broker.address.clone();
    let id = setup::run_id();
    let suffix = format!("-bench-{id}");
    let names = TopicNames::with_suffix(&suffix);
    let admin = Admin::connect(&brokers)?;
    setup::create_topics(&admin, &names, args.partitions).await?;
    let registry = RegistryClient::new(registry_from_env()?)?;
    let (codec, decoder) = setup::codec(&registry, &setup::pipeline_topics(&names)).await?;
    let server = clickhouse_version(&endpoints.clickhouse.address)
        .await
        .unwrap_or_else(|_| "unknown".to_owned());

    eprintln!(
        "producing {} events over {} accounts to {} ...",
        args.events, args.accounts, names.events
    );
    let log = synthetic_log(args.events, args.accounts);
    let payloads: Vec<(String, Vec<u8>)> = log
        .iter()
        .map(|event| Ok((event.metadata().account_id.clone(), codec.encode(event)?)))
        .collect::<anyhow::Result<_>>()?;
    let bytes = payloads.iter().map(|(_, p)| p.len()).sum::<usize>() / payloads.len().max(1);
    let replayed = args
        .replay_events
        .unwrap_or(payloads.len())
        .min(payloads.len());
    let load_before = load_average();
    let produced = {
        let (brokers, topic) = (brokers.clone(), names.events.clone());
        let payloads = payloads[..replayed].to_vec();
        tokio::task::spawn_blocking(move || produce_all(&brokers, &topic, &payloads)).await??
    };

    {
        let (brokers, topic, partitions) = (brokers.clone(), names.events.clone(), args.partitions);
        tokio::task::spawn_blocking(move || {
            wait_for_watermarks(&brokers, &topic, partitions, replayed as i64)
        })
        .await??;
    }

    let mut clickhouse = ClickHouseConfig::new(endpoints.clickhouse.address.clone());
    clickhouse.compression = !args.no_compression;
    let mut table_sets = Cleanup {
        client: ledgerstream_projections::clickhouse::client(&clickhouse),
        sets: Vec::new(),
        admin: admin.clone(),
        topics: names.all().map(str::to_owned).to_vec(),
        keep: args.keep,
    };

    eprintln!("sink: decode and write from memory ...");
    clickhouse.table_suffix = format!("bench_{id}_sink");
    table_sets.sets.push(clickhouse.tables());
    let sink_run = sink_only(&clickhouse, &decoder, &payloads, args.batch_rows).await?;

    eprintln!(
        "raw: read {} from the start, nothing else ...",
        names.events
    );
    let raw = {
        let mut config = ProjectionConfig::new(brokers.clone(), format!("bench-raw{suffix}"));
        config.topic_suffix = suffix.clone();
        let (topic, partitions) = (names.events.clone(), args.partitions);
        tokio::task::spawn_blocking(move || raw_read(&config, &topic, partitions)).await??
    };

    eprintln!(
        "replay: the projection from the start of {} ...",
        names.events
    );
    clickhouse.table_suffix = format!("bench_{id}_replay");
    table_sets.sets.push(clickhouse.tables());
    let mut config = ProjectionConfig::new(brokers.clone(), format!("bench-projection{suffix}"));
    config.topic_suffix = suffix.clone();
    config.batch_rows = args.batch_rows;
    config.batch_millis = 1_000;
    if let Some(wait) = args.fetch_wait_millis {
        config.fetch_wait_millis = wait;
    }
    let replay = replay(
        &clickhouse,
        config,
        &decoder,
        &brokers,
        &names.events,
        args.partitions,
    )
    .await?;
    let client = ledgerstream_projections::clickhouse::client(&clickhouse);
    let visible: u64 = client
        .query(&format!(
            "SELECT count() FROM {} FINAL",
            clickhouse.tables().events
        ))
        .fetch_one()
        .await?;

    let live = if args.live_seconds > 0 {
        eprintln!(
            "live: processor and projection, {} deposits/s for {} s ...",
            args.live_rate, args.live_seconds
        );
        clickhouse.table_suffix = format!("bench_{id}_live");
        table_sets.sets.push(clickhouse.tables());
        let live_names = TopicNames::with_suffix(&format!("{suffix}-live"));
        table_sets
            .topics
            .extend(live_names.all().map(str::to_owned));
        Some(
            live(
                &args,
                &clickhouse,
                &brokers,
                &registry,
                &format!("{suffix}-live"),
            )
            .await?,
        )
    } else {
        None
    };

    drop(table_sets);

    println!(
        "services      broker {brokers}, ClickHouse {} (server {server}), topics *{suffix}",
        endpoints.clickhouse.address
    );
    println!(
        "log           {} events, {} accounts, {} partitions, {bytes} bytes per event on average; {replayed} produced to Kafka at {:.0} events/s",
        log.len(),
        args.accounts,
        args.partitions,
        produced.per_second()
    );
    println!(
        "load average  {load_before} at the start, {} at the end (2 vCPUs, shared)",
        load_average()
    );
    println!(
        "sink          {:>9.0} events/s  {:>5.1} µs CPU per event  (decode + rows + inserts into account_events and account_balances + checkpoints; batches of {})",
        sink_run.per_second(),
        sink_run.cpu_micros_per_record(),
        args.batch_rows
    );
    println!(
        "raw read      {:>9.0} events/s  {:>5.1} µs CPU per event  (the broker's ceiling: the projection's consumer settings, no decoding, no writes)",
        raw.per_second(),
        raw.cpu_micros_per_record()
    );
    println!(
        "replay        {:>9.0} events/s  {:>5.1} µs CPU per event  (Kafka read_committed → decode → ClickHouse → checkpoint → commit, from assignment to the last checkpoint; {:.1} s, group join {:.1} s before)",
        replay.run.per_second(),
        replay.run.cpu_micros_per_record(),
        replay.run.wall.as_secs_f64(),
        replay.join.as_secs_f64()
    );
    if visible as usize != replayed {
        bail!("replay: {visible} rows in account_events FINAL, {replayed} events in the log");
    }
    if let Some(live) = live {
        let (all, projection) = (&live.commands, &live.events);
        println!(
            "live          command → visible: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms over {} deposits at {}/s (batch limit {} ms)",
            all.ms(0.50),
            all.ms(0.99),
            all.ms(1.0),
            all.count(),
            args.live_rate,
            args.live_batch_millis
        );
        println!(
            "live          event → visible (the projection alone): p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms over as many events at the same rate",
            projection.ms(0.50),
            projection.ms(0.99),
            projection.ms(1.0)
        );
    }
    Ok(())
}

/// Drops the benchmark's table sets and topics when it ends, however it ends
/// (unless `--keep`).
struct Cleanup {
    client: ledgerstream_projections::clickhouse::Client,
    sets: Vec<Tables>,
    admin: Admin,
    topics: Vec<String>,
    keep: bool,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        let (client, sets) = (self.client.clone(), std::mem::take(&mut self.sets));
        let (admin, names) = (self.admin.clone(), std::mem::take(&mut self.topics));
        // On a thread of its own, with its own runtime: this may run while the
        // benchmark's runtime is unwinding.
        let dropped = std::thread::spawn(move || -> anyhow::Result<()> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            for tables in &sets {
                runtime.block_on(schema::drop_all(&client, tables))?;
            }
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            runtime.block_on(topics::delete(&admin, &names))?;
            Ok(())
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("dropping the benchmark's tables and topics failed: {dropped:?}");
        }
    }
}

async fn clickhouse_version(url: &str) -> anyhow::Result<String> {
    let client = ledgerstream_projections::clickhouse::client(&ClickHouseConfig::new(url));
    Ok(client
        .query("SELECT version()")
        .fetch_one::<String>()
        .await?)
}

/// A log the processor could have written: every account opened first, then
/// deposits, withdrawals that the balance covers, and transfers (debit and
/// credit), with contiguous versions and consistent balances.
pub(crate) fn synthetic_log(events: usize, accounts: usize) -> Vec<EventRecord> {
    let accounts = accounts.max(2);
    let mut seed: u64 = 0xB0A7_5EED;
    let mut next = move |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let start = 1_763_700_000_000_i64;
    let mut balances = vec![0_i64; accounts];
    let mut versions = vec![0_i64; accounts];
    let mut log = Vec::with_capacity(events);
    let meta = |account: usize, versions: &mut Vec<i64>, at: usize| {
        versions[account] += 1;
        EventMetadata {
            event_id: uuid::Uuid::new_v4().to_string(),
            account_id: format!("bench-{account}"),
            version: versions[account],
            occurred_at: start + at as i64,
            command_id: uuid::Uuid::new_v4().to_string(),
            correlation_id: uuid::Uuid::new_v4().to_string(),
            causation_id: uuid::Uuid::new_v4().to_string(),
        }
    };
    let kinds = [
        (AccountType::Checking, domain::AccountType::Checking),
        (AccountType::Savings, domain::AccountType::Savings),
        (AccountType::Business, domain::AccountType::Business),
    ];
    for account in 0..accounts.min(events) {
        balances[account] = 1_000_00;
        let metadata = meta(account, &mut versions, log.len());
        log.push(
            AccountOpened {
                metadata,
                owner_id: format!("owner-{}", account / 3),
                account_type: kinds[account % 3].0,
                currency: "USD".to_owned(),
                initial_deposit_minor: 1_000_00,
                balance_after_minor: 1_000_00,
            }
            .into(),
        );
    }
    while log.len() < events {
        let account = next(accounts as u64) as usize;
        let amount = (next(500) as i64 + 1) * 100;
        let at = log.len();
        let withdrawal_fee = policy::withdrawal_fee(kinds[account % 3].1, amount);
        let transfer_fee = policy::transfer_fee(amount);
        match next(10) {
            0..=4 => {
                balances[account] += amount;
                let metadata = meta(account, &mut versions, at);
                log.push(
                    MoneyDeposited {
                        metadata,
                        amount_minor: amount,
                        currency: "USD".to_owned(),
                        balance_after_minor: balances[account],
                        reference: None,
                    }
                    .into(),
                );
            }
            5..=7 if balances[account] >= amount + withdrawal_fee => {
                balances[account] -= amount + withdrawal_fee;
                let metadata = meta(account, &mut versions, at);
                log.push(
                    MoneyWithdrawn {
                        metadata,
                        amount_minor: amount,
                        currency: "USD".to_owned(),
                        fee_minor: withdrawal_fee,
                        balance_after_minor: balances[account],
                        reference: Some("bench".to_owned()),
                        channel: Channel::Api,
                    }
                    .into(),
                );
            }
            _ if balances[account] >= amount + transfer_fee && log.len() + 2 <= events => {
                let to = (account + 1 + next(accounts as u64 - 1) as usize) % accounts;
                let transfer_id = uuid::Uuid::new_v4().to_string();
                balances[account] -= amount + transfer_fee;
                let metadata = meta(account, &mut versions, at);
                log.push(
                    TransferDebited {
                        metadata,
                        transfer_id: transfer_id.clone(),
                        to_account_id: format!("bench-{to}"),
                        amount_minor: amount,
                        currency: "USD".to_owned(),
                        fee_minor: transfer_fee,
                        balance_after_minor: balances[account],
                        reference: None,
                    }
                    .into(),
                );
                balances[to] += amount;
                let metadata = meta(to, &mut versions, at + 1);
                log.push(
                    TransferCredited {
                        metadata,
                        transfer_id,
                        from_account_id: format!("bench-{account}"),
                        amount_minor: amount,
                        currency: "USD".to_owned(),
                        balance_after_minor: balances[to],
                        reference: None,
                    }
                    .into(),
                );
            }
            _ => {}
        }
    }
    log
}

fn produce_all(brokers: &str, topic: &str, payloads: &[(String, Vec<u8>)]) -> anyhow::Result<Run> {
    let producer = producer(brokers, 20, "lz4")?;
    let (started, cpu) = (Instant::now(), ProcessTime::now());
    for (key, payload) in payloads {
        send(
            &producer,
            BaseRecord::to(topic)
                .key(key.as_bytes())
                .payload(payload.as_slice()),
        )?;
    }
    producer.flush(Duration::from_secs(300))?;
    Ok(Run {
        records: payloads.len(),
        wall: started.elapsed(),
        cpu: cpu.elapsed(),
    })
}

/// The sink alone: decode, add, write, checkpoint — from memory.
async fn sink_only(
    config: &ClickHouseConfig,
    decoder: &Decoder,
    payloads: &[(String, Vec<u8>)],
    batch_rows: usize,
) -> anyhow::Result<Run> {
    let (mut sink, _) = ClickHouseSink::connect(config, ProjectionMetrics::new()).await?;
    let (started, cpu) = (Instant::now(), ProcessTime::now());
    for (index, chunk) in payloads.chunks(batch_rows).enumerate() {
        let mut batch = Default::default();
        for (offset, (_, payload)) in chunk.iter().enumerate() {
            let event: EventRecord = decoder.codec.decode(payload)?;
            let offset = (index * batch_rows + offset) as i64;
            if let Err(rejected) = sink.add(
                &mut batch,
                SourcedEvent {
                    partition: 0,
                    offset,
                    event,
                },
            ) {
                bail!("the synthetic log was rejected: {rejected}");
            }
        }
        sink.write(&batch).await?;
        let checkpoint = ledgerstream_projections::checkpoint::Checkpoint {
            partition: 0,
            next_offset: ((index + 1) * batch_rows) as i64,
            last_event_at_ms: 0,
            updated_at_ms: 0,
        };
        sink.save_checkpoints("bench", &[checkpoint]).await?;
    }
    Ok(Run {
        records: payloads.len(),
        wall: started.elapsed(),
        cpu: cpu.elapsed(),
    })
}

struct Replay {
    run: Run,
    join: Duration,
}

/// The runner from the start of `topic` until every checkpoint is at the end.
async fn replay(
    clickhouse: &ClickHouseConfig,
    config: ProjectionConfig,
    decoder: &Decoder,
    brokers: &str,
    topic: &str,
    partitions: i32,
) -> anyhow::Result<Replay> {
    let ends = {
        let (brokers, topic) = (brokers.to_owned(), topic.to_owned());
        tokio::task::spawn_blocking(move || high_watermarks(&brokers, &topic, partitions)).await??
    };
    let total: i64 = ends.values().sum();
    let metrics = ProjectionMetrics::new();
    let board = HealthBoard::default();
    let stop = Arc::new(AtomicBool::new(false));
    let (sink, _) = ClickHouseSink::connect(clickhouse, metrics.clone()).await?;
    let parts = RunnerParts {
        config,
        decoder: decoder.clone(),
        metrics: metrics.clone(),
        health: board.add("clickhouse"),
        stop: Arc::clone(&stop),
    };
    let started = Instant::now();
    let running = tokio::task::spawn_blocking(move || ledgerstream_projections::run(sink, parts));
    let assigned = loop {
        if metrics
            .assigned_partitions
            .with_label_values(&["clickhouse"])
            .get()
            >= i64::from(partitions)
        {
            break Instant::now();
        }
        if running.is_finished() || started.elapsed() > Duration::from_secs(120) {
            bail!("the projection got no assignment within 120 s");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let cpu = ProcessTime::now();
    loop {
        let done = ends.iter().all(|(partition, end)| {
            metrics
                .checkpoint_offset
                .with_label_values(&["clickhouse", &partition.to_string()])
                .get()
                >= *end
        });
        if done {
            break;
        }
        if running.is_finished() || assigned.elapsed() > Duration::from_secs(600) {
            bail!("the replay did not reach the end of {topic}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let run = Run {
        records: total as usize,
        wall: assigned.elapsed(),
        cpu: cpu.elapsed(),
    };
    stop.store(true, Ordering::Release);
    running.await??;
    Ok(Replay {
        run,
        join: assigned - started,
    })
}

/// Reads every record of `topic` with the projection's consumer settings, and
/// nothing else: how fast the broker hands the log out.
fn raw_read(config: &ProjectionConfig, topic: &str, partitions: i32) -> anyhow::Result<Run> {
    let ends = high_watermarks(&config.brokers, topic, partitions)?;
    let total: i64 = ends.values().sum();
    let consumer: BaseConsumer =
        ledgerstream_projections::runner::consumer_config(config).create()?;
    let mut list = rdkafka::TopicPartitionList::new();
    for partition in 0..partitions {
        list.add_partition_offset(topic, partition, rdkafka::Offset::Beginning)?;
    }
    consumer.assign(&list)?;
    let (started, cpu) = (Instant::now(), ProcessTime::now());
    let mut read = 0;
    while read < total && started.elapsed() < Duration::from_secs(900) {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(_)) => read += 1,
            Some(Err(error)) => return Err(error.into()),
            None => {}
        }
    }
    Ok(Run {
        records: read as usize,
        wall: started.elapsed(),
        cpu: cpu.elapsed(),
    })
}

/// Waits until the high watermarks of `topic` add up to `expected` records (a
/// busy broker may show records a moment after it acknowledged them).
fn wait_for_watermarks(
    brokers: &str,
    topic: &str,
    partitions: i32,
    expected: i64,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let total: i64 = high_watermarks(brokers, topic, partitions)?.values().sum();
        if total >= expected {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{topic} shows {total} of the {expected} records produced after 120 s");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn high_watermarks(
    brokers: &str,
    topic: &str,
    partitions: i32,
) -> anyhow::Result<BTreeMap<i32, i64>> {
    let consumer: BaseConsumer = KafkaSettings::new(brokers).positions().create()?;
    let mut ends = BTreeMap::new();
    for partition in 0..partitions {
        let (_, high) = consumer.fetch_watermarks(topic, partition, Duration::from_secs(10))?;
        ends.insert(partition, high);
    }
    Ok(ends)
}

struct Live {
    /// From sending each deposit command to its event answering a query
    /// (processor and projection).
    commands: Latencies,
    /// From writing each event to the log to it answering a query (the
    /// projection alone).
    events: Latencies,
}

/// A processor and the projection on fresh topics; deposits at a steady rate.
async fn live(
    args: &Args,
    clickhouse: &ClickHouseConfig,
    brokers: &str,
    registry: &RegistryClient,
    suffix: &str,
) -> anyhow::Result<Live> {
    let names = TopicNames::with_suffix(suffix);
    let admin = Admin::connect(brokers)?;
    setup::create_topics(&admin, &names, args.partitions).await?;
    let (codec, decoder) = setup::codec(registry, &setup::pipeline_topics(&names)).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let processor = setup::EmbeddedProcessor::start(brokers, suffix, decoder.clone());

    let metrics = ProjectionMetrics::new();
    let (sink, _) = ClickHouseSink::connect(clickhouse, metrics.clone()).await?;
    let mut config = ProjectionConfig::new(brokers.to_owned(), format!("projection{suffix}"));
    config.topic_suffix = suffix.to_owned();
    config.batch_millis = args.live_batch_millis;
    if let Some(wait) = args.fetch_wait_millis {
        config.fetch_wait_millis = wait;
    }
    let parts = RunnerParts {
        config,
        decoder,
        metrics: metrics.clone(),
        health: HealthBoard::default().add("clickhouse"),
        stop: Arc::clone(&stop),
    };
    let projecting =
        tokio::task::spawn_blocking(move || ledgerstream_projections::run(sink, parts));

    let sender = CommandSender::connect(brokers, registry, &names.commands, Setup::LookUp).await?;
    let accounts = 100;
    setup::open_live_accounts(&sender, accounts).await?;
    let tables: Tables = clickhouse.tables();
    let client = ledgerstream_projections::clickhouse::client(clickhouse);
    let count_opened = format!(
        "SELECT count() FROM {} WHERE event_type = 'AccountOpened'",
        tables.events
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    while client.query(&count_opened).fetch_one::<u64>().await? < accounts as u64 {
        if Instant::now() > deadline {
            bail!("the opened accounts did not become visible within 120 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Poll for deposits while they are sent.
    let sent_at: Arc<std::sync::Mutex<HashMap<String, Instant>>> = Arc::default();
    let total = (args.live_seconds * args.live_rate) as usize;
    let sending = {
        let sent_at = Arc::clone(&sent_at);
        let rate = args.live_rate.max(1);
        tokio::spawn(async move {
            let started = Instant::now();
            for n in 0..total {
                let due = started + Duration::from_secs_f64(n as f64 / rate as f64);
                tokio::time::sleep_until(due.into()).await;
                let deposit = commands::deposit(&format!("live-{}", n % accounts), 1_00, "USD");
                sent_at
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(deposit.command_id().to_owned(), Instant::now());
                sender.send(&deposit).await?;
            }
            anyhow::Ok(())
        })
    };
    let select = format!(
        "SELECT command_id FROM {} WHERE event_type = 'MoneyDeposited' AND account_id LIKE 'live-%'",
        tables.events
    );
    let deadline = Instant::now() + Duration::from_secs(args.live_seconds + 120);
    let seen = watch(&client, &select, total, deadline).await?;
    sending.await??;
    let commands = latencies(&seen, &sent_at, total, "deposits")?;
    processor.stop().await?;

    // The projection alone: events written straight to the log, as the processor
    // would, at the same rate; from writing each to it answering a query.
    let producer: BaseProducer = KafkaSettings::new(brokers)
        .idempotent_producer()
        .set("linger.ms", "0")
        .create()?;
    let sent_at: Arc<std::sync::Mutex<HashMap<String, Instant>>> = Arc::default();
    let sending = {
        let (sent_at, codec, topic) = (
            Arc::clone(&sent_at),
            Arc::clone(&codec),
            names.events.clone(),
        );
        let rate = args.live_rate.max(1);
        tokio::task::spawn_blocking(move || {
            let mut versions = vec![0_i64; accounts];
            let started = Instant::now();
            for n in 0..accounts + total {
                let account = n % accounts;
                versions[account] += 1;
                let metadata = EventMetadata {
                    event_id: uuid::Uuid::new_v4().to_string(),
                    account_id: format!("direct-{account}"),
                    version: versions[account],
                    occurred_at: wall_clock_ms() as i64,
                    command_id: uuid::Uuid::new_v4().to_string(),
                    correlation_id: uuid::Uuid::new_v4().to_string(),
                    causation_id: uuid::Uuid::new_v4().to_string(),
                };
                let event: EventRecord = if n < accounts {
                    AccountOpened {
                        metadata,
                        owner_id: format!("owner-{account}"),
                        account_type: AccountType::Checking,
                        currency: "USD".to_owned(),
                        initial_deposit_minor: 1_000_00,
                        balance_after_minor: 1_000_00,
                    }
                    .into()
                } else {
                    let due =
                        started + Duration::from_secs_f64((n - accounts) as f64 / rate as f64);
                    std::thread::sleep(due.saturating_duration_since(Instant::now()));
                    MoneyDeposited {
                        amount_minor: 1_00,
                        currency: "USD".to_owned(),
                        balance_after_minor: 1_000_00 + (versions[account] - 1) * 1_00,
                        reference: None,
                        metadata,
                    }
                    .into()
                };
                let id = event.metadata().command_id.clone();
                let payload = codec.encode(&event)?;
                sent_at
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(id, Instant::now());
                let key = format!("direct-{account}");
                producer
                    .send(BaseRecord::to(&topic).key(key.as_bytes()).payload(&payload))
                    .map_err(|(error, _)| error)?;
                producer.poll(Duration::ZERO);
            }
            producer.flush(Duration::from_secs(30))?;
            anyhow::Ok(())
        })
    };
    let select = format!(
        "SELECT command_id FROM {} WHERE event_type = 'MoneyDeposited' AND account_id LIKE 'direct-%'",
        tables.events
    );
    let deadline = Instant::now() + Duration::from_secs(args.live_seconds + 120);
    let seen = watch(&client, &select, total, deadline).await?;
    sending.await??;
    let events = latencies(&seen, &sent_at, total, "events")?;
    stop.store(true, Ordering::Release);
    projecting.await??;
    Ok(Live { commands, events })
}

/// Polls `select` (one id per row) every 20 ms until `total` ids were seen; when
/// each was seen first.
async fn watch(
    client: &ledgerstream_projections::clickhouse::Client,
    select: &str,
    total: usize,
    deadline: Instant,
) -> anyhow::Result<HashMap<String, Instant>> {
    let mut seen: HashMap<String, Instant> = HashMap::new();
    while seen.len() < total && Instant::now() < deadline {
        let ids: Vec<String> = client.query(select).fetch_all().await?;
        let now = Instant::now();
        for id in ids {
            seen.entry(id).or_insert(now);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(seen)
}

/// From sending to being seen, for every id sent.
fn latencies(
    seen: &HashMap<String, Instant>,
    sent_at: &std::sync::Mutex<HashMap<String, Instant>>,
    total: usize,
    what: &str,
) -> anyhow::Result<Latencies> {
    let sent_at = sent_at.lock().unwrap_or_else(|p| p.into_inner());
    let latencies = measure::latencies(seen, &sent_at);
    if latencies.count() < total as u64 {
        bail!(
            "only {} of {total} {what} became visible",
            latencies.count()
        );
    }
    Ok(latencies)
}

fn wall_clock_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1_000.0)
}
