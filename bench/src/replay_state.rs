//! `ledgerstream-bench replay-state`: how fast `replay state` folds, apart from
//! how fast the broker hands the log out.
//!
//! 1. A consistent synthetic log (the one `bench project-clickhouse` uses) is
//!    encoded in the Confluent wire format, schemas registered under a fresh
//!    `account-events-bench-…` subject.
//! 2. **Decode**: every record decoded, nothing else.
//! 3. **Fold from memory**: the same records through `replay state`'s fold into
//!    new stores in a temporary folder — decode, account states, spills, and the
//!    closing synced checkpoint — with no broker in the way.
//! 4. With `--kafka-events N`: the first N produced to a fresh topic set, and
//!    `ledgerstream replay state --prefetch` run on it: the broker's fetch rate
//!    and the fold's, as the command reports them.
//!
//! The topics are deleted once `replay state` has read them.

use std::time::Instant;

use anyhow::bail;
use cpu_time::ProcessTime;
use ledgerstream_domain::DEFAULT_IDEMPOTENCY_WINDOW;
use ledgerstream_infra::Endpoints;
use ledgerstream_runtime::kafka::probe::probe_broker;
use ledgerstream_runtime::settings::registry_from_env;
use ledgerstream_runtime::topics::{self, Admin, TopicNames};
use ledgerstream_schemas::catalog::Kind;
use ledgerstream_schemas::client::RegistryClient;
use ledgerstream_schemas::records::EventRecord;
use rdkafka::producer::{BaseRecord, Producer};

use crate::measure::{Run, load_average, producer, send};
use crate::setup;
use ledgerstream_processor::rebuild::Rebuilds;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Events in the synthetic log.
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    events: usize,
    /// Accounts the events spread over.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    accounts: usize,
    /// Partitions (stores) the accounts spread over.
    #[arg(long, value_name = "N", default_value_t = 3)]
    partitions: i32,
    /// Recent command ids each account remembers, as the processor's
    /// --idempotency-window.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_IDEMPOTENCY_WINDOW)]
    idempotency_window: usize,
    /// Also produce the first N events to Kafka and run `ledgerstream replay
    /// state --prefetch` on them (0: not).
    #[arg(long, value_name = "N", default_value_t = 0)]
    kafka_events: usize,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    if args.partitions < 1 {
        bail!("--partitions must be at least 1");
    }
    let endpoints = Endpoints::from_env();
    let id = setup::run_id();
    let suffix = format!("-bench-{id}");
    let names = TopicNames::with_suffix(&suffix);
    let registry = RegistryClient::new(registry_from_env()?)?;
    let (codec, decoder) =
        setup::codec(&registry, &[(Kind::Events, names.events.as_str())]).await?;

    eprintln!(
        "encoding {} events over {} accounts ...",
        args.events, args.accounts
    );
    let log = crate::project_clickhouse::synthetic_log(args.events, args.accounts);
    let partitions = args.partitions;
    let records: Vec<(i32, String, Vec<u8>)> = log
        .iter()
        .map(|event| {
            let key = event.metadata().account_id.clone();
            let partition = (spread(&key) % partitions as u32) as i32;
            Ok((partition, key, codec.encode(event)?))
        })
        .collect::<anyhow::Result<_>>()?;
    drop(log);
    let bytes = records.iter().map(|r| r.2.len()).sum::<usize>() / records.len().max(1);
    let load_before = load_average();

    let window = args.idempotency_window;
    let (decode, fold, finish, totals) = {
        let (decoder, records, id) = (decoder.clone(), records.clone(), id.clone());
        tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let (started, cpu) = (Instant::now(), ProcessTime::now());
            for (_, _, payload) in &records {
                decoder
                    .decode::<EventRecord>(payload)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            let decode = Run {
                records: records.len(),
                wall: started.elapsed(),
                cpu: cpu.elapsed(),
            };

            let folder = std::env::temp_dir().join(format!("ledgerstream-bench-state-{id}"));
            let mut rebuilds =
                Rebuilds::open(&folder, window, (0..partitions).map(|p| (p, 0, i64::MAX)))?;
            let mut offsets = vec![0_i64; partitions as usize];
            let (started, cpu) = (Instant::now(), ProcessTime::now());
            for (partition, _, payload) in &records {
                let offset = &mut offsets[*partition as usize];
                rebuilds.fold(*partition, *offset, payload, &decoder)?;
                *offset += 1;
            }
            let fold = Run {
                records: records.len(),
                wall: started.elapsed(),
                cpu: cpu.elapsed(),
            };
            let started = Instant::now();
            let totals = rebuilds.finish()?;
            let finish = started.elapsed();
            let _ = std::fs::remove_dir_all(&folder);
            Ok((decode, fold, finish, totals))
        })
        .await??
    };

    println!(
        "log           {} events, {} accounts, {} partitions, {bytes} bytes per event on average; idempotency window {window}",
        records.len(),
        args.accounts,
        partitions
    );
    println!(
        "load average  {load_before} at the start, {} after the fold (2 vCPUs, shared)",
        load_average()
    );
    println!(
        "decode        {:>9.0} events/s  {:>5.2} µs CPU per event  (Confluent wire format → EventRecord, nothing else)",
        decode.per_second(),
        decode.cpu_micros_per_record()
    );
    println!(
        "fold          {:>9.0} events/s  {:>5.2} µs CPU per event  (from memory: decode → AccountEvent → account states, as `replay state` does; {} accounts, {} events)",
        fold.per_second(),
        fold.cpu_micros_per_record(),
        totals.accounts,
        totals.events
    );
    println!(
        "finish        {:>9.2} s  (states written to the stores, checkpoints synced)",
        finish.as_secs_f64()
    );

    if args.kafka_events > 0 {
        probe_broker(&endpoints.broker).await?;
        let brokers = endpoints.broker.address.clone();
        let admin = Admin::connect(&brokers)?;
        setup::create_topics(&admin, &names, partitions).await?;
        let count = args.kafka_events.min(records.len());
        eprintln!("producing {count} events to {} ...", names.events);
        let produced = {
            let (brokers, topic) = (brokers.clone(), names.events.clone());
            let records = records[..count].to_vec();
            tokio::task::spawn_blocking(move || -> anyhow::Result<Run> {
                let producer = producer(&brokers, 20, "lz4")?;
                let (started, cpu) = (Instant::now(), ProcessTime::now());
                for (partition, key, payload) in &records {
                    send(
                        &producer,
                        BaseRecord::to(&topic)
                            .partition(*partition)
                            .key(key.as_bytes())
                            .payload(payload.as_slice()),
                    )?;
                }
                producer.flush(std::time::Duration::from_secs(600))?;
                Ok(Run {
                    records: records.len(),
                    wall: started.elapsed(),
                    cpu: cpu.elapsed(),
                })
            })
            .await??
        };
        println!(
            "produced      {:>9.0} events/s  to {} (the broker's write rate)",
            produced.per_second(),
            names.events
        );
        let state_dir = std::env::temp_dir().join(format!("ledgerstream-bench-replay-{id}"));
        let binary = crate::measure::ledgerstream_binary()?;
        let mut command = std::process::Command::new(binary);
        command
            .args(["replay", "state", "--prefetch"])
            .arg(format!("--topic-suffix={suffix}"))
            .arg("--state-dir")
            .arg(&state_dir)
            .args(["--idempotency-window", &window.to_string()]);
        println!(
            "replay state  ledgerstream replay state --prefetch --topic-suffix={suffix} --state-dir {}",
            state_dir.display()
        );
        let status = tokio::task::spawn_blocking(move || command.status()).await??;
        let _ = std::fs::remove_dir_all(&state_dir);
        topics::delete(&admin, &names.all()).await?;
        if !status.success() {
            bail!("`ledgerstream replay state` failed: {status}");
        }
        println!("load average  {} at the end", load_average());
    }
    Ok(())
}

/// A stable spread of accounts over partitions, FNV-1a (any will do: the fold
/// keeps each account in one store).
fn spread(text: &str) -> u32 {
    let mut hash: u32 = 0x811C_9DC5;
    for byte in text.bytes() {
        hash = (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193);
    }
    hash
}
