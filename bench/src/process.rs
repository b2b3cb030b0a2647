//! `ledgerstream-bench process`: commands per second through the processor's full
//! path on the configured broker, side by side with a raw consume→produce loop over
//! the same records on the same broker, and the CPU time each costs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use cpu_time::ProcessTime;
use ledgerstream_infra::Endpoints;
use ledgerstream_processor::{Processor, ProcessorConfig};
use ledgerstream_producers::commands;
use ledgerstream_runtime::decoder::Decoder;
use ledgerstream_runtime::kafka::KafkaSettings;
use ledgerstream_runtime::kafka::probe::probe_broker;
use ledgerstream_runtime::settings::registry_from_env;
use ledgerstream_runtime::topics::{self, Admin, TopicNames, TopicsConfig};
use ledgerstream_schemas::catalog::Kind;
use ledgerstream_schemas::client::RegistryClient;
use ledgerstream_schemas::codec::{Codec, Setup};
use ledgerstream_schemas::records::{AccountType, CommandRecord};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::measure::{Run, producer, send};

/// Runs the benchmark: `commands` deposits over `accounts` accounts on
/// `partitions` partitions, `batch_commands` per processor batch.
pub async fn run(
    count: usize,
    accounts: usize,
    partitions: i32,
    batch_commands: usize,
) -> anyhow::Result<()> {
    let endpoints = Endpoints::from_env();
    probe_broker(&endpoints.broker).await?;
    let brokers = endpoints.broker.address.clone();
    let suffix = format!("-bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let names = TopicNames::with_suffix(&suffix);
    let admin = Admin::connect(&brokers)?;
    let layout = TopicsConfig {
        partitions,
        ..TopicsConfig::default()
    };
    topics::create(&admin, &layout.specs_named(&names)?)
        .await?
        .into_result()?;
    let scratch = format!("bench-raw{suffix}");
    let scratch_spec = TopicsConfig {
        partitions,
        ..TopicsConfig::default()
    }
    .specs_named(&TopicNames::with_suffix(&format!("-raw{suffix}")))?;
    topics::create(&admin, &scratch_spec).await?;
    let scratch = scratch_spec.first().map_or(scratch, |s| s.name.clone());

    let registry = RegistryClient::new(registry_from_env()?)?;
    let all = [
        (Kind::Commands, names.commands.as_str()),
        (Kind::Events, names.events.as_str()),
        (Kind::Results, names.results.as_str()),
    ];
    let codec = Arc::new(
        Codec::connect(&registry, &all, Setup::Register)
            .await
            .context("registering the schemas")?,
    );

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

    eprintln!("raw consume→produce of the same {total} records ...");
    let raw = {
        let (brokers, from, to) = (brokers.clone(), names.commands.clone(), scratch.clone());
        tokio::task::spawn_blocking(move || raw_copy(&brokers, &from, &to, total)).await??
    };

    eprintln!("processor ...");
    let state = std::env::temp_dir().join(format!("ledgerstream{suffix}"));
    let mut config = ProcessorConfig::new(brokers.clone());
    config.topic_suffix = suffix.clone();
    config.group = format!("processor{suffix}");
    config.state_dir = state.clone();
    config.batch_commands = batch_commands;
    config.listen = "127.0.0.1:0".parse()?;
    let decoder = Decoder {
        codec,
        registry,
        runtime: tokio::runtime::Handle::current(),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let processing = {
        let (config, decoder, stop) = (config.clone(), decoder.clone(), Arc::clone(&stop));
        tokio::task::spawn_blocking(move || Processor::run_embedded(config, decoder, stop))
    };
    let processed = {
        let (brokers, group, commands) = (
            brokers.clone(),
            config.group.clone(),
            names.commands.clone(),
        );
        tokio::task::spawn_blocking(move || {
            measure_until_done(&brokers, &group, &commands, partitions, total)
        })
        .await?
    };
    stop.store(true, Ordering::Release);
    processing.await??;
    let _ = std::fs::remove_dir_all(&state);
    let processed = processed?;

    let share = 100.0 * processed.per_second() / raw.per_second();
    println!("broker        {brokers} (partitions {partitions}, topics *{suffix})");
    println!("records       {total} commands, {payload_bytes} bytes on average");
    println!(
        "produce only  {:>9.0} records/s  {:>6.1} µs CPU per record   (encode + produce + flush)",
        produced.per_second(),
        produced.cpu_micros_per_record()
    );
    println!(
        "raw           {:>9.0} records/s  {:>6.1} µs CPU per record   (consume + produce + flush, no decoding)",
        raw.per_second(),
        raw.cpu_micros_per_record()
    );
    println!(
        "processor     {:>9.0} commands/s {:>6.1} µs CPU per command  ({share:.0} % of raw; decode, decide, events + results, transaction, store)",
        processed.per_second(),
        processed.cpu_micros_per_record()
    );
    if processed.records < total {
        bail!(
            "only {} of {total} commands were processed",
            processed.records
        );
    }
    Ok(())
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

/// Watches the processor group's committed offsets on the commands topic until
/// `total` commands are committed: each commit is the transaction that also made
/// the commands' events and results visible. (The results topic's watermarks would
/// count transaction markers and aborted records too.)
fn measure_until_done(
    brokers: &str,
    group: &str,
    commands: &str,
    partitions: i32,
    total: usize,
) -> anyhow::Result<Run> {
    let consumer: BaseConsumer = KafkaSettings::new(brokers)
        .positions()
        .set("group.id", group)
        .create()?;
    let mut list = TopicPartitionList::new();
    for partition in 0..partitions {
        list.add_partition(commands, partition);
    }
    let (started, cpu) = (Instant::now(), ProcessTime::now());
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let committed = consumer.committed_offsets(list.clone(), Duration::from_secs(10))?;
        let done: i64 = committed
            .elements()
            .iter()
            .map(|e| match e.offset() {
                Offset::Offset(offset) => offset,
                _ => 0,
            })
            .sum();
        let done = usize::try_from(done).unwrap_or(0);
        if done >= total || Instant::now() > deadline {
            return Ok(Run {
                records: done.min(total),
                wall: started.elapsed(),
                cpu: cpu.elapsed(),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
