//! Restoring a partition before its commands are processed: fold the events
//! partition from the store's checkpoint to its end, and the rejections of the
//! results partition from its own checkpoint, so that a rejected command id is
//! answered the same way also after the store was lost. The readers are
//! `read_committed`, so the state is what the committed log says: records of an
//! aborted or still open transaction are never folded. Runs a bounded step at a
//! time from the processing loop, so that other partitions keep going.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use ledgerstream_domain::{CommandId, Refusal};
use ledgerstream_runtime::kafka::Reader;
use ledgerstream_runtime::topics::TopicNames;
use ledgerstream_schemas::records::{EventRecord, ResultRecord};
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::message::BorrowedMessage;
use rdkafka::{Message, Offset, TopicPartitionList};
use tracing::{info, warn};

use super::metrics::Metrics;
use super::partition::Partition;
use crate::store::StoreError;
use crate::wire;
use ledgerstream_runtime::decoder::Decoder;

/// Why a restore could not go on.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("state store of partition {0}: {1}")]
    Store(i32, #[source] StoreError),
    #[error("reading partition {partition} back: {source}")]
    Kafka { partition: i32, source: KafkaError },
}

/// A partition being restored.
#[derive(Debug)]
struct Restoring {
    partition: Partition,
    folded: i64,
    events_done: bool,
    results_done: bool,
}

/// Every partition being restored, read through two assign-only consumers, one
/// per topic, so that an end-of-partition report is never ambiguous.
pub struct Restorer {
    events: Reader,
    results: Reader,
    restoring: BTreeMap<i32, Restoring>,
    state_dir: PathBuf,
    window: usize,
    topics: TopicNames,
}

impl std::fmt::Debug for Restorer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Restorer")
            .field("restoring", &self.restoring.keys())
            .finish()
    }
}

impl Restorer {
    pub fn new(
        events: Reader,
        results: Reader,
        state_dir: PathBuf,
        window: usize,
        topics: TopicNames,
    ) -> Self {
        Self {
            events,
            results,
            restoring: BTreeMap::new(),
            state_dir,
            window,
            topics,
        }
    }

    /// Partitions still restoring.
    pub fn pending(&self) -> impl Iterator<Item = i32> + '_ {
        self.restoring.keys().copied()
    }

    /// Starts restoring `partition` from its store's checkpoint.
    pub fn start(&mut self, id: i32) -> Result<(), RestoreError> {
        let (partition, checkpoint) = Partition::open(&self.state_dir, id, self.window)
            .map_err(|e| RestoreError::Store(id, e))?;
        info!(
            partition = id,
            events_offset = checkpoint.events_offset(),
            results_offset = checkpoint.results_offset(),
            "restore started"
        );
        self.restoring.insert(
            id,
            Restoring {
                partition,
                folded: 0,
                events_done: false,
                results_done: false,
            },
        );
        self.reassign(id)
    }

    /// Stops restoring `partition` (revoked meanwhile).
    pub fn cancel(&mut self, id: i32) -> Result<(), RestoreError> {
        if self.restoring.remove(&id).is_some() {
            self.reassign(id)?;
        }
        Ok(())
    }

    fn reassign(&mut self, id: i32) -> Result<(), RestoreError> {
        let kafka = |source| RestoreError::Kafka {
            partition: id,
            source,
        };
        let mut events = TopicPartitionList::new();
        let mut results = TopicPartitionList::new();
        for (partition, r) in &self.restoring {
            if !r.events_done {
                let at = Offset::Offset(r.partition.events_end);
                events
                    .add_partition_offset(&self.topics.events, *partition, at)
                    .map_err(kafka)?;
            }
            if !r.results_done {
                let at = Offset::Offset(r.partition.results_end);
                results
                    .add_partition_offset(&self.topics.results, *partition, at)
                    .map_err(kafka)?;
            }
        }
        self.events.assign(&events).map_err(kafka)?;
        self.results.assign(&results).map_err(kafka)
    }

    /// Reads up to `budget` events and as many results; returns the partitions
    /// that are now restored.
    ///
    /// A partition is restored when both readers have reported its end: for a
    /// `read_committed` reader, the last stable offset. A partition with nothing
    /// past the checkpoint reports its end as well.
    pub fn step(
        &mut self,
        decoder: &Decoder,
        metrics: &Metrics,
        budget: usize,
        wait: Duration,
    ) -> Result<Vec<Partition>, RestoreError> {
        if self.restoring.is_empty() {
            return Ok(Vec::new());
        }
        let mut reassign = false;
        for read in 0..budget {
            let timeout = if read == 0 { wait } else { Duration::ZERO };
            match self.events.poll(timeout) {
                None => break,
                Some(Err(KafkaError::PartitionEOF(id))) => {
                    if let Some(r) = self.restoring.get_mut(&id) {
                        r.events_done = true;
                        reassign = true;
                    }
                }
                Some(Err(error)) => warn!(%error, "reading account-events back failed; retrying"),
                Some(Ok(message)) => fold_event(&mut self.restoring, &message, decoder, metrics)?,
            }
        }
        for read in 0..budget {
            let timeout = if read == 0 { wait } else { Duration::ZERO };
            match self.results.poll(timeout) {
                None => break,
                Some(Err(KafkaError::PartitionEOF(id))) => {
                    if let Some(r) = self.restoring.get_mut(&id) {
                        r.results_done = true;
                        reassign = true;
                    }
                }
                Some(Err(error)) => {
                    warn!(%error, "reading account-command-results back failed; retrying");
                }
                Some(Ok(message)) => fold_rejection(&mut self.restoring, &message, decoder)?,
            }
        }
        for (id, r) in &self.restoring {
            metrics
                .restored_events
                .with_label_values(&[&id.to_string()])
                .set(r.folded);
        }
        let done: Vec<i32> = self
            .restoring
            .iter()
            .filter(|(_, r)| r.events_done && r.results_done)
            .map(|(id, _)| *id)
            .collect();
        let mut restored = Vec::new();
        for id in done {
            let Some(mut r) = self.restoring.remove(&id) else {
                continue;
            };
            r.partition
                .persist()
                .map_err(|e| RestoreError::Store(id, e))?;
            info!(
                partition = id,
                folded = r.folded,
                events_end = r.partition.events_end,
                results_end = r.partition.results_end,
                "partition restored"
            );
            metrics
                .restore_remaining
                .with_label_values(&[&id.to_string()])
                .set(0);
            restored.push(r.partition);
            reassign = true;
        }
        // The partition only labels an error: the assignment covers every one.
        let label = restored
            .first()
            .map(|p| p.id)
            .or_else(|| self.restoring.keys().next().copied());
        if reassign && let Some(id) = label {
            self.reassign(id)?;
        }
        Ok(restored)
    }

    /// Sets the restore-remaining gauge from the partitions' high watermarks.
    pub fn measure_remaining(&self, metrics: &Metrics) {
        for (id, r) in &self.restoring {
            if let Ok((_, high)) =
                self.events
                    .fetch_watermarks(&self.topics.events, *id, Duration::from_secs(2))
            {
                let remaining = (high - r.partition.events_end).max(0);
                metrics
                    .restore_remaining
                    .with_label_values(&[&id.to_string()])
                    .set(remaining);
            }
        }
    }
}

fn fold_event(
    restoring: &mut BTreeMap<i32, Restoring>,
    message: &BorrowedMessage<'_>,
    decoder: &Decoder,
    metrics: &Metrics,
) -> Result<(), RestoreError> {
    let id = message.partition();
    let Some(r) = restoring.get_mut(&id) else {
        return Ok(());
    };
    r.partition.events_end = message.offset() + 1;
    let Some(payload) = message.payload() else {
        return Ok(());
    };
    let event = match decoder.decode::<EventRecord>(payload) {
        Ok(record) => wire::event_from_record(record).map_err(|e| e.to_string()),
        Err(error) => Err(error.to_string()),
    };
    let event = match event {
        Ok(event) => event,
        Err(error) => {
            // The log is the truth: an event this build cannot read is a serious
            // matter, counted and logged, never silently skipped.
            warn!(partition = id, offset = message.offset(), %error, "event in the log cannot be read; state skips it");
            metrics
                .dead_letters
                .with_label_values(&["account-events", "unreadable-event"])
                .inc();
            return Ok(());
        }
    };
    r.partition
        .apply(&event)
        .map_err(|e| RestoreError::Store(id, e))?;
    r.folded += 1;
    Ok(())
}

/// Remembers a rejection read back from the results partition.
fn fold_rejection(
    restoring: &mut BTreeMap<i32, Restoring>,
    message: &BorrowedMessage<'_>,
    decoder: &Decoder,
) -> Result<(), RestoreError> {
    let id = message.partition();
    let Some(r) = restoring.get_mut(&id) else {
        return Ok(());
    };
    r.partition.results_end = message.offset() + 1;
    let Some(payload) = message.payload() else {
        return Ok(());
    };
    let rejected = match decoder.decode::<ResultRecord>(payload) {
        Ok(ResultRecord::CommandRejected(rejected)) => rejected,
        Ok(ResultRecord::CommandAccepted(_)) => return Ok(()),
        Err(error) => {
            warn!(partition = id, offset = message.offset(), %error, "result cannot be read back; skipped");
            return Ok(());
        }
    };
    let Ok(command) = uuid::Uuid::parse_str(&rejected.command_id) else {
        return Ok(());
    };
    let refusal = Refusal {
        code: rejected.reason_code,
        message: rejected.message,
    };
    r.partition
        .remember_refusal(&rejected.account_id, CommandId(command), refusal)
        .map_err(|e| RestoreError::Store(id, e))
}
