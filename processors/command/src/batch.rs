//! A batch: the commands decided in one Kafka transaction, and how it closes.
//!
//! Opening a batch begins the transaction. Each command's events, follow-ups and
//! dead letters are produced into it as the command is decided; its result waits,
//! because an accepted command's result carries the offset of its first event,
//! known once the events are delivered. Closing: flush the events, produce the
//! results, put the consumed offsets into the transaction (with the consumer's
//! group metadata, so that a member the group has moved on from cannot commit),
//! commit, and only then write the store.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Instant;

use ledgerstream_domain::{AccountCommand, Timestamp};
use ledgerstream_runtime::kafka::flush;
use ledgerstream_schemas::records::ResultRecord;
use rdkafka::consumer::Consumer;
use rdkafka::producer::Producer;
use rdkafka::{Offset, TopicPartitionList};
use tracing::debug;

use super::config::ProcessorConfig;
use super::kafka::Delivery;
use super::run::{ProcessError, Processor, transaction_error};
use crate::wire;

/// Account states kept in memory per partition beyond those a batch touched.
const MAX_CACHED_ACCOUNTS: usize = 200_000;

/// One command's answer, waiting for the batch's events to be delivered.
#[derive(Debug)]
pub(super) enum PendingResult {
    /// Known already (a rejection, or a repeat).
    Ready {
        partition: i32,
        key: String,
        record: ResultRecord,
    },
    /// Accepted: the offset of its first event comes from the delivery reports.
    Accepted {
        partition: i32,
        command: AccountCommand,
        version: u64,
        event_count: usize,
        first_slot: usize,
        decided_at: Timestamp,
    },
}

/// The open batch.
#[derive(Debug, Default)]
pub(super) struct Batch {
    /// When its first command arrived; `None` while no batch is open.
    pub opened: Option<Instant>,
    pub commands: usize,
    pub results: Vec<PendingResult>,
    /// Per commands partition, the offset to commit.
    pub next_offsets: BTreeMap<i32, i64>,
    /// Slot of each produced event, and its partition.
    pub event_slots: Vec<(usize, i32)>,
}

impl Batch {
    /// Full, or open for the batch time.
    pub fn is_due(&self, config: &ProcessorConfig) -> bool {
        self.commands >= config.batch_commands
            || self
                .opened
                .is_some_and(|opened| opened.elapsed() >= config.batch_time())
    }
}

impl Processor {
    /// Opens a batch, and its transaction, unless one is open.
    pub(super) fn open_batch(&mut self) -> Result<(), ProcessError> {
        if self.batch.opened.is_some() {
            return Ok(());
        }
        self.producer
            .begin_transaction()
            .map_err(transaction_error)?;
        self.shared.transaction_open.store(true, Ordering::Release);
        self.batch.opened = Some(Instant::now());
        Ok(())
    }

    /// Closes the open batch: flush, results, offsets, commit, store.
    pub(super) fn close_batch(&mut self) -> Result<(), ProcessError> {
        let Some(opened) = self.batch.opened else {
            return Ok(());
        };
        let closed_at = Instant::now();
        let deliveries = self.flush_deliveries()?;
        self.note_event_offsets(&deliveries);
        let events_flushed = closed_at.elapsed();
        let result_slots = self.produce_results(&deliveries)?;
        let deliveries = self.commit()?;
        let committed = closed_at.elapsed();
        for (slot, partition) in result_slots {
            if let (Some(Delivery::Delivered { offset, .. }), Some(p)) =
                (deliveries.get(slot), self.partitions.get_mut(&partition))
            {
                p.results_end = p.results_end.max(offset + 1);
            }
        }
        self.metrics
            .commit_seconds
            .with_label_values(&[] as &[&str])
            .observe(committed.as_secs_f64());
        self.metrics
            .batch_size
            .with_label_values(&[] as &[&str])
            .observe(self.batch.commands as f64);
        self.write_stores(false)?;
        // Where a batch's closing time goes, each figure since the close began.
        debug!(
            commands = self.batch.commands,
            filled_ms = closed_at.duration_since(opened).as_millis() as u64,
            events_flushed_ms = events_flushed.as_millis() as u64,
            committed_ms = committed.as_millis() as u64,
            persisted_ms = closed_at.elapsed().as_millis() as u64,
            "batch committed"
        );
        self.batch = Batch::default();
        Ok(())
    }

    /// Writes the accounts changed since the last write, and the checkpoints, to
    /// the stores once the write interval has passed (or now, with `now`), then
    /// forgets clean accounts beyond the cache's size. Only between batches: the
    /// accounts in memory are then the committed ones.
    pub(super) fn write_stores(&mut self, now: bool) -> Result<(), ProcessError> {
        if !now && self.stores_written.elapsed() < self.config.store_write_interval() {
            return Ok(());
        }
        for partition in self.partitions.values_mut() {
            if partition.is_dirty() {
                partition.persist()?;
            }
            partition.trim(MAX_CACHED_ACCOUNTS);
        }
        self.stores_written = Instant::now();
        Ok(())
    }

    /// Commits the positions of ready partitions that moved past their committed
    /// offset with no command to process: the transaction markers after the last
    /// batch. Called when idle.
    pub(super) fn commit_markers(&mut self) -> Result<(), ProcessError> {
        let ahead: BTreeMap<i32, i64> = self
            .positions()?
            .into_iter()
            .filter(|(partition, position)| {
                self.partitions.contains_key(partition)
                    && self
                        .committed
                        .get(partition)
                        .is_some_and(|committed| position > committed)
            })
            .collect();
        if ahead.is_empty() {
            return Ok(());
        }
        self.open_batch()?;
        self.batch.next_offsets = ahead;
        self.close_batch()
    }

    /// The consumer's position in each ready partition: one past the last record
    /// it returned, or past the transaction markers after it.
    fn positions(&self) -> Result<BTreeMap<i32, i64>, ProcessError> {
        let positions = self.consumer.position()?;
        Ok(positions
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(offset) if self.partitions.contains_key(&e.partition()) => {
                    Some((e.partition(), offset))
                }
                _ => None,
            })
            .collect())
    }

    /// Waits for every record produced so far; their fates, by slot.
    fn flush_deliveries(&mut self) -> Result<Vec<Delivery>, ProcessError> {
        flush(&self.producer, self.config.kafka_timeout())?;
        let deliveries = self.producer.context().take();
        check_deliveries(&deliveries)?;
        Ok(deliveries)
    }

    fn note_event_offsets(&mut self, deliveries: &[Delivery]) {
        for (slot, partition) in std::mem::take(&mut self.batch.event_slots) {
            if let (Some(Delivery::Delivered { offset, .. }), Some(p)) =
                (deliveries.get(slot), self.partitions.get_mut(&partition))
            {
                p.events_end = p.events_end.max(offset + 1);
            }
        }
    }

    /// Produces every result of the batch; the slot and partition of each.
    fn produce_results(
        &mut self,
        deliveries: &[Delivery],
    ) -> Result<Vec<(usize, i32)>, ProcessError> {
        let results_topic = self.topics.results.clone();
        let mut slots = Vec::with_capacity(self.batch.results.len());
        for pending in std::mem::take(&mut self.batch.results) {
            let (partition, key, record) = match pending {
                PendingResult::Ready {
                    partition,
                    key,
                    record,
                } => (partition, key, record),
                PendingResult::Accepted {
                    partition,
                    command,
                    version,
                    event_count,
                    first_slot,
                    decided_at,
                } => {
                    let first = match deliveries.get(first_slot) {
                        Some(Delivery::Delivered { offset, .. }) => Some(*offset),
                        _ => None,
                    };
                    let key = command.metadata.account_id.as_str().to_owned();
                    let record = wire::accepted(
                        &command,
                        version,
                        event_count,
                        partition,
                        first,
                        decided_at,
                    );
                    (partition, key, record)
                }
            };
            let slot = self.produce(&results_topic, Some(partition), &key, &record)?;
            slots.push((slot, partition));
        }
        Ok(slots)
    }

    /// Puts the consumed offsets into the transaction and commits it; the fates
    /// of the records produced since the last flush.
    fn commit(&mut self) -> Result<Vec<Delivery>, ProcessError> {
        let timeout = self.config.kafka_timeout();
        let positions = self.positions()?;
        let mut offsets = TopicPartitionList::new();
        for (partition, offset) in &mut self.batch.next_offsets {
            // Past the transaction markers read after the batch's last command too:
            // otherwise a transactional topic shows a lag of one record at rest.
            if let Some(position) = positions.get(partition) {
                *offset = (*offset).max(*position);
            }
            offsets.add_partition_offset(
                &self.topics.commands,
                *partition,
                Offset::Offset(*offset),
            )?;
        }
        let metadata = self.consumer.group_metadata().ok_or_else(|| {
            ProcessError::Group("the consumer has no group metadata to commit offsets with".into())
        })?;
        self.producer
            .send_offsets_to_transaction(&offsets, &metadata, timeout)
            .map_err(transaction_error)?;
        // Flushed here rather than by the commit, whose own flush waits in steps
        // of 100 ms.
        let deliveries = self.flush_deliveries()?;
        self.producer
            .commit_transaction(timeout)
            .map_err(transaction_error)?;
        self.shared.transaction_open.store(false, Ordering::Release);
        for (partition, offset) in &self.batch.next_offsets {
            self.committed.insert(*partition, *offset);
        }
        self.metrics
            .transactions
            .with_label_values(&["committed"])
            .inc();
        Ok(deliveries)
    }
}

fn check_deliveries(deliveries: &[Delivery]) -> Result<(), ProcessError> {
    let mut failed = deliveries.iter().filter_map(|d| match d {
        Delivery::Failed(error) => Some(error),
        _ => None,
    });
    match failed.next() {
        None => Ok(()),
        Some(first) => Err(ProcessError::Delivery {
            failed: 1 + failed.count(),
            first: first.clone(),
        }),
    }
}
