//! `ledgerstream replay state`: a processor's state stores rebuilt from the
//! event log, so that the processor starts on them without folding the log
//! itself.
//!
//! ```text
//!  <state-dir>/partition-<p>/lock   held (or the processor holding it stops us)
//!  account-events[p] 0..end ──▶ decode ──▶ fold per account (as the processor's restore)
//!        ──▶ <state-dir>/.replay-<time>/partition-<p>   (states, then the checkpoint, synced)
//!        ──▶ old store moved aside (--force) ──▶ new store moved in ──▶ lock released
//! ```
//!
//! The new store's checkpoint is at the end of the events folded, so a
//! processor's restore folds no event again. Its results offset is 0: the
//! rejections an account remembers come from `account-command-results`, which this
//! command does not read, so the processor's restore folds them all back from the
//! start of that topic (its retention, 7 days).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use indicatif::HumanCount;
use jiff::Timestamp;
use ledgerstream_domain::DEFAULT_IDEMPOTENCY_WINDOW;
use ledgerstream_infra::Endpoints;
use ledgerstream_processor::rebuild::{Rebuilds, Totals};
use ledgerstream_processor::store::{PartitionStore, StoreError};
use ledgerstream_runtime::decoder::Decoder;
use ledgerstream_runtime::kafka::probe::probe_broker;
use ledgerstream_runtime::kafka::{KafkaSettings, Reader, ReaderContext};
use ledgerstream_runtime::topics::TopicNames;
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::{Message, Offset, TopicPartitionList};
use tracing::warn;

use super::progress::Bar;
use ledgerstream_projections::clickhouse::switch::stamp;
use ledgerstream_projections::rebuild::positions::{EventLog, Marks};

/// How often the bar is drawn.
const DRAW_EVERY: Duration = Duration::from_millis(500);

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder of the per-partition state stores, as `ledgerstream process
    /// --state-dir`.
    #[arg(long, value_name = "DIR", default_value = ".ledgerstream/state")]
    state_dir: PathBuf,
    /// Partitions to rebuild, comma-separated (default: every partition of
    /// account-events).
    #[arg(long, value_name = "P,...", value_delimiter = ',')]
    partitions: Vec<i32>,
    /// Appended to every topic name, as the processor's --topic-suffix.
    #[arg(long, value_name = "SUFFIX", default_value = "")]
    topic_suffix: String,
    /// How many recent command ids each account remembers, as the processor's
    /// --idempotency-window.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_IDEMPOTENCY_WINDOW)]
    idempotency_window: usize,
    /// Rebuild over stores that exist: each is moved aside to
    /// `partition-<p>.replaced-<time>` first. Without it an existing store stops
    /// the rebuild before anything is read.
    #[arg(long)]
    force: bool,
    /// Read every event into memory first, then fold: prints the broker's fetch
    /// rate and the fold's rate apart.
    #[arg(long)]
    prefetch: bool,
}

/// The old store of a partition, locked until the new one is in its place.
struct Held {
    partition: i32,
    path: PathBuf,
    exists: bool,
    _lock: Option<File>,
    /// The old store's events offset (0 without one).
    events_offset: i64,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let endpoints = Endpoints::from_env();
    probe_broker(&endpoints.broker).await?;
    let topics = TopicNames::with_suffix(&args.topic_suffix);
    let log = EventLog::connect(&endpoints.broker.address, &topics.events)?;
    let all = log.partitions().await?;
    let mut partitions = if args.partitions.is_empty() {
        all.clone()
    } else {
        args.partitions.clone()
    };
    partitions.sort_unstable();
    partitions.dedup();
    if let Some(missing) = partitions.iter().find(|p| !all.contains(p)) {
        bail!(
            "{} has no partition {missing} (it has {})",
            topics.events,
            all.len()
        );
    }
    let held = hold_old_stores(&args.state_dir, &partitions, args.force)?;
    let decoder = super::events_decoder(&topics.events).await?;
    let marks = log.marks(&partitions).await?;
    for old in &held {
        let (_, high) = marks.get(&old.partition).copied().unwrap_or((0, 0));
        if old.events_offset > high {
            bail!(
                "the store of partition {} has folded {} up to offset {}, but the log now ends \
                 at {high}: the topic lost records (recreated, or emptied by the broker); \
                 a rebuild from what is left would hold less than the store. Nothing was changed",
                old.partition,
                topics.events,
                old.events_offset
            );
        }
    }
    for (partition, (low, _)) in &marks {
        if *low > 0 {
            warn!(
                partition,
                low, "the log starts past offset 0: the events before it are gone"
            );
        }
    }

    let staging = args
        .state_dir
        .join(format!(".replay-{}", stamp(Timestamp::now())));
    std::fs::create_dir_all(&staging).with_context(|| format!("creating {}", staging.display()))?;
    let rebuilds = Rebuilds::open(
        &staging,
        args.idempotency_window,
        held.iter().map(|old| {
            let (low, high) = marks.get(&old.partition).copied().unwrap_or((0, 0));
            (old.partition, low, high)
        }),
    )?;

    let stop = Arc::new(AtomicBool::new(false));
    crate::signals::stop_on_signal(Arc::clone(&stop), "leaving the stores as they were");
    let brokers = endpoints.broker.address.clone();
    let prefetch = args.prefetch;
    let topic = topics.events.clone();
    let started = Instant::now();
    let (rebuilds, timing) = tokio::task::spawn_blocking(move || {
        fold_all(
            &brokers, &topic, &decoder, rebuilds, &marks, prefetch, &stop,
        )
    })
    .await??;
    let Some(timing) = timing else {
        let _ = std::fs::remove_dir_all(&staging);
        bail!("interrupted; no store was changed");
    };

    let Totals {
        events,
        accounts,
        unreadable,
    } = rebuilds.finish()?;
    let elapsed = started.elapsed();
    let moved = swap_in(&args.state_dir, &staging, held)?;
    let _ = std::fs::remove_dir(&staging);

    let rate = |events: u64, time: Duration| events as f64 / time.as_secs_f64().max(1e-9);
    eprintln!(
        "rebuilt partitions {partitions:?} in {}: {} events folded into {} accounts, \
         {} events/s",
        args.state_dir.display(),
        HumanCount(events),
        HumanCount(accounts),
        HumanCount(rate(events, elapsed) as u64),
    );
    if let Some(fold) = timing.fold {
        eprintln!(
            "  fetch from the broker: {} events/s ({:.2} s); fold from memory: {} events/s ({:.2} s)",
            HumanCount(rate(events, timing.fetch) as u64),
            timing.fetch.as_secs_f64(),
            HumanCount(rate(events, fold) as u64),
            fold.as_secs_f64()
        );
    }
    if unreadable > 0 {
        eprintln!(
            "  {unreadable} events could not be read and were left out, as the processor's \
             restore does (see the warnings above)"
        );
    }
    for (partition, path) in moved {
        eprintln!(
            "  the old store of partition {partition} is at {}",
            path.display()
        );
    }
    Ok(())
}

/// Checks each partition's old store and locks it: a store a processor holds
/// stops the rebuild, as does one that exists without --force.
fn hold_old_stores(dir: &Path, partitions: &[i32], force: bool) -> anyhow::Result<Vec<Held>> {
    let mut held = Vec::new();
    for &partition in partitions {
        let path = PartitionStore::path(dir, partition);
        if !path.exists() {
            held.push(Held {
                partition,
                path,
                exists: false,
                _lock: None,
                events_offset: 0,
            });
            continue;
        }
        let (checkpoint, accounts) = match PartitionStore::open(dir, partition) {
            Ok(store) => (
                store.checkpoint().ok().flatten(),
                store.account_count().unwrap_or(0),
            ),
            Err(StoreError::Locked { path: lock, .. }) => bail!(
                "the store of partition {partition} is held by a running processor \
                 ({} is locked); stop the processor before rebuilding its state",
                lock.display()
            ),
            // Damaged: exactly what a rebuild is for.
            Err(error) => {
                warn!(partition, %error, "the old store cannot be read");
                (None, 0)
            }
        };
        if !force {
            bail!(
                "partition {partition} has a store at {} ({accounts} accounts, {}); \
                 --force moves it aside to partition-{partition}.replaced-<time> and rebuilds it",
                path.display(),
                checkpoint.map_or("no checkpoint".to_owned(), |c| format!(
                    "folded up to offset {}",
                    c.events_offset()
                )),
            );
        }
        let lock = hold_lock(&path.join("lock"))?.with_context(|| {
            format!(
                "the store of partition {partition} was opened by another process just now; \
                 stop it before rebuilding"
            )
        })?;
        held.push(Held {
            partition,
            path,
            exists: true,
            _lock: Some(lock),
            events_offset: checkpoint.map_or(0, |c| c.events_offset()),
        });
    }
    Ok(held)
}

/// The store's lock file, locked by us; `None` when someone else holds it.
fn hold_lock(path: &Path) -> anyhow::Result<Option<File>> {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(error)) => {
            Err(error).with_context(|| format!("locking {}", path.display()))
        }
    }
}

/// How long the fetch and the fold took apart (with --prefetch).
struct Timing {
    fetch: Duration,
    fold: Option<Duration>,
}

/// Reads every partition to its target and folds it; `None` as timing when
/// stopped by a signal.
fn fold_all(
    brokers: &str,
    topic: &str,
    decoder: &Decoder,
    mut rebuilds: Rebuilds,
    marks: &Marks,
    prefetch: bool,
    stop: &AtomicBool,
) -> anyhow::Result<(Rebuilds, Option<Timing>)> {
    // A bulk read of the whole log: larger fetches and a deeper queue than a
    // reader's defaults.
    let consumer: Reader = KafkaSettings::new(brokers)
        .reader("ledgerstream-replay-state")
        .set("fetch.wait.max.ms", "100")
        .set("max.partition.fetch.bytes", (8 * 1024 * 1024).to_string())
        .set("fetch.max.bytes", (64 * 1024 * 1024).to_string())
        .set("queued.max.messages.kbytes", (256 * 1024).to_string())
        .create_with_context(ReaderContext)?;
    let mut list = TopicPartitionList::new();
    for (partition, next_offset) in rebuilds.pending() {
        list.add_partition_offset(topic, partition, Offset::Offset(next_offset))?;
    }
    consumer.assign(&list)?;
    let total: u64 = marks
        .iter()
        .filter(|(p, _)| rebuilds.covers(**p))
        .map(|(_, (low, high))| (high - low).max(0) as u64)
        .sum();
    let low_of = |partition: i32| marks.get(&partition).map_or(0, |m| m.0);
    let bar = Bar::start(0, total);
    let mut drawn = Instant::now();
    let started = Instant::now();
    let mut prefetched: Vec<(i32, i64, Vec<u8>)> = Vec::new();
    // Offsets read per partition while prefetching (the fold moves next_offset).
    let mut read_to: BTreeMap<i32, i64> = rebuilds.next_offsets().collect();

    while rebuilds.pending().next().is_some() {
        if stop.load(Ordering::Acquire) {
            return Ok((rebuilds, None));
        }
        if drawn.elapsed() >= DRAW_EVERY {
            let done: u64 = read_to
                .iter()
                .map(|(p, at)| (at - low_of(*p)).max(0) as u64)
                .sum();
            bar.update(done, total, if prefetch { "fetching" } else { "" });
            drawn = Instant::now();
        }
        let message = match consumer.poll(Duration::from_millis(100)) {
            None => continue,
            Some(Err(KafkaError::PartitionEOF(partition))) => {
                rebuilds.reached_end(partition);
                continue;
            }
            Some(Err(error)) => {
                warn!(%error, "reading account-events failed; retrying");
                continue;
            }
            Some(Ok(message)) => message,
        };
        let (partition, offset) = (message.partition(), message.offset());
        if !rebuilds.take(partition, offset) {
            continue;
        }
        read_to.insert(partition, offset + 1);
        let payload = message.payload().unwrap_or_default();
        if prefetch {
            prefetched.push((partition, offset, payload.to_vec()));
            continue;
        }
        rebuilds.fold(partition, offset, payload, decoder)?;
    }
    let fetch = started.elapsed();
    let done: u64 = read_to
        .iter()
        .map(|(p, at)| (at - low_of(*p)).max(0) as u64)
        .sum();
    if !prefetch {
        bar.finish(done, total, "folded");
        return Ok((rebuilds, Some(Timing { fetch, fold: None })));
    }
    bar.finish(done, total, "fetched; folding");

    let folding = Instant::now();
    for (partition, offset, payload) in &prefetched {
        rebuilds.fold(*partition, *offset, payload, decoder)?;
    }
    let fold = folding.elapsed();
    Ok((
        rebuilds,
        Some(Timing {
            fetch,
            fold: Some(fold),
        }),
    ))
}

/// Moves each old store aside and the new one into its place; where the old
/// ones went.
fn swap_in(dir: &Path, staging: &Path, held: Vec<Held>) -> anyhow::Result<Vec<(i32, PathBuf)>> {
    let time = stamp(Timestamp::now());
    let mut moved = Vec::new();
    for old in held {
        let new = PartitionStore::path(staging, old.partition);
        if old.exists {
            let aside = dir.join(format!("partition-{}.replaced-{time}", old.partition));
            std::fs::rename(&old.path, &aside).with_context(|| {
                format!("moving {} aside to {}", old.path.display(), aside.display())
            })?;
            moved.push((old.partition, aside));
        }
        std::fs::rename(&new, &old.path).with_context(|| {
            format!(
                "moving the rebuilt store into {} (a processor may have started on it \
                 meanwhile; the rebuilt store stays at {})",
                old.path.display(),
                new.display()
            )
        })?;
        // The lock on the old store goes with `old` here.
    }
    Ok(moved)
}
