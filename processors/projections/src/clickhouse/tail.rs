//! The tail: events the replay had not written when it stopped for the switch.
//!
//! The replay stops at its checkpoints R, the rename follows. The live projector
//! never stops: until the rename it wrote into the tables that are now the old
//! set, after it into the replayed ones — from its own position L, which may be
//! past R (it follows the log closely too). Events between R and L would then be
//! in the old set only. So right after the rename the events from R to the log's
//! end are written once more, through the same sink, into the live names.
//! Writing an event twice changes nothing (rows collapse by account and
//! version), so it does not matter which of the two writers gets there first.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::checkpoint::Checkpoint;
use crate::clickhouse::sink::Batch;
use crate::clickhouse::{ClickHouseConfig, ClickHouseError, ClickHouseSink};
use crate::retry::{Backoff, Classify, Retry};
use crate::{ProjectionMetrics, Sink, SourcedEvent};
use anyhow::{Context, bail};
use ledgerstream_runtime::clock::now_millis;
use ledgerstream_runtime::decoder::Decoder;
use ledgerstream_runtime::kafka::KafkaSettings;
use ledgerstream_schemas::records::EventRecord;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use tracing::{info, warn};

/// Events per insert.
const CHUNK: usize = 20_000;

/// How long reading may go without a record before the tail gives up.
const STALL: Duration = Duration::from_secs(60);

/// What the tail wrote.
#[derive(Debug, Default)]
pub struct Tail {
    pub events: u64,
    /// Events the sink refused (the runner sent them to the dead-letter topic
    /// when it met them).
    pub refused: u64,
}

/// Writes the events of `topic` from `from` (per partition) up to its end now,
/// through a sink on `config`'s tables, and saves the checkpoints at that end.
pub async fn write(
    config: &ClickHouseConfig,
    brokers: &str,
    topic: &str,
    decoder: Decoder,
    from: BTreeMap<i32, i64>,
) -> anyhow::Result<Tail> {
    let (sink, _) = ClickHouseSink::connect(config, ProjectionMetrics::new())
        .await
        .context("connecting to the live tables for the tail")?;
    let consumer: BaseConsumer = KafkaSettings::new(brokers)
        .assigned("ledgerstream-replay-tail")
        .create()?;
    let topic = topic.to_owned();
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        read_and_write(sink, &consumer, &topic, &decoder, from, &runtime)
    })
    .await?
}

/// Drops from `remaining` the partitions whose position reached their end
/// without a record: what lay before it were transaction markers or aborted
/// records, which a `read_committed` reader skips.
fn drop_reached(
    consumer: &BaseConsumer,
    topic: &str,
    remaining: &mut BTreeMap<i32, i64>,
) -> anyhow::Result<()> {
    let positions = consumer.position()?;
    remaining.retain(|&partition, &mut end| {
        let at = positions
            .find_partition(topic, partition)
            .map(|p| p.offset());
        !matches!(at, Some(Offset::Offset(at)) if at >= end)
    });
    Ok(())
}

fn read_and_write(
    mut sink: ClickHouseSink,
    consumer: &BaseConsumer,
    topic: &str,
    decoder: &Decoder,
    from: BTreeMap<i32, i64>,
    runtime: &tokio::runtime::Handle,
) -> anyhow::Result<Tail> {
    let mut ends = BTreeMap::new();
    let mut list = TopicPartitionList::new();
    for (&partition, &start) in &from {
        let (_, high) = consumer.fetch_watermarks(topic, partition, Duration::from_secs(10))?;
        if high > start {
            list.add_partition_offset(topic, partition, Offset::Offset(start))?;
            ends.insert(partition, high);
        }
    }
    let mut tail = Tail::default();
    if ends.is_empty() {
        return Ok(tail);
    }
    info!(?from, to = ?ends, "writing the tail into the live tables");
    consumer.assign(&list)?;
    let mut remaining = ends.clone();
    let mut last_event_ms: BTreeMap<i32, i64> = BTreeMap::new();
    let mut batch = Batch::default();
    let mut last_record = Instant::now();
    while !remaining.is_empty() {
        let Some(message) = consumer.poll(Duration::from_millis(200)) else {
            drop_reached(consumer, topic, &mut remaining)?;
            if remaining.is_empty() {
                break;
            }
            if last_record.elapsed() > STALL {
                bail!(
                    "reading the tail: nothing from {topic} for {STALL:?}; still missing {remaining:?}"
                );
            }
            continue;
        };
        let message = match message {
            Ok(message) => message,
            Err(error) => {
                warn!(%error, "reading the tail failed; retrying");
                continue;
            }
        };
        last_record = Instant::now();
        let (partition, offset) = (message.partition(), message.offset());
        let Some(&end) = remaining.get(&partition) else {
            continue;
        };
        if offset < end {
            let event = message
                .payload()
                .map(|payload| decoder.decode::<EventRecord>(payload));
            match event {
                Some(Ok(event)) => {
                    let occurred_at = event.metadata().occurred_at;
                    let sourced = SourcedEvent {
                        partition,
                        offset,
                        event,
                    };
                    match sink.add(&mut batch, sourced) {
                        Ok(()) => {
                            let last = last_event_ms.entry(partition).or_insert(occurred_at);
                            *last = (*last).max(occurred_at);
                        }
                        Err(_) => tail.refused += 1,
                    }
                }
                // Dead-lettered by whoever met it first; nothing to write.
                Some(Err(_)) | None => tail.refused += 1,
            }
        }
        if offset + 1 >= end {
            remaining.remove(&partition);
        }
        if batch.len() >= CHUNK {
            tail.events += flush(&mut sink, &mut batch, runtime)?;
        }
    }
    tail.events += flush(&mut sink, &mut batch, runtime)?;

    let now = now_millis();
    let checkpoints: Vec<Checkpoint> = ends
        .iter()
        .map(|(&partition, &next_offset)| Checkpoint {
            partition,
            next_offset,
            last_event_at_ms: last_event_ms.get(&partition).copied().unwrap_or(0),
            updated_at_ms: now,
        })
        .collect();
    retrying(
        "saving the tail's checkpoints",
        runtime,
        &mut sink,
        async |sink| sink.save_checkpoints(topic, &checkpoints).await,
    )?;
    Ok(tail)
}

fn flush(
    sink: &mut ClickHouseSink,
    batch: &mut Batch,
    runtime: &tokio::runtime::Handle,
) -> anyhow::Result<u64> {
    if batch.is_empty() {
        return Ok(0);
    }
    let events = batch.len() as u64;
    let taken = std::mem::take(batch);
    retrying("writing the tail", runtime, sink, async |sink| {
        sink.write(&taken).await
    })?;
    Ok(events)
}

/// Runs `op` until it succeeds or fails for good (or for a minute).
fn retrying<T>(
    what: &'static str,
    runtime: &tokio::runtime::Handle,
    sink: &mut ClickHouseSink,
    mut op: impl AsyncFnMut(&mut ClickHouseSink) -> Result<T, ClickHouseError>,
) -> anyhow::Result<T> {
    let backoff = Backoff::new(
        Duration::from_millis(200),
        Duration::from_secs(5),
        Duration::from_secs(60),
    );
    let mut attempts = backoff.start();
    loop {
        let error = match runtime.block_on(op(sink)) {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        if error.retry() == Retry::Permanent {
            return Err(anyhow::anyhow!(error).context(what));
        }
        let Some(pause) = attempts.next_pause() else {
            return Err(anyhow::anyhow!(error).context(what));
        };
        warn!(%error, pause_ms = pause.as_millis() as u64, "{what} failed; retrying");
        std::thread::sleep(pause);
    }
}
