//! Restoring a partition before its commands are processed: fold the events
//! partition from the store's checkpoint to its end, and read back the results
//! written for commands that were not committed, so that nothing decided before a
//! crash or a rebalance is decided again. Runs a bounded step at a time from the
//! processing loop, so that other partitions keep going.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use ledgerstream_schemas::records::{EventRecord, ResultRecord};
use rdkafka::consumer::Consumer;

use super::kafka::Reader;
use rdkafka::error::KafkaError;
use rdkafka::message::BorrowedMessage;
use rdkafka::{Message, Offset, TopicPartitionList};
use tracing::{info, warn};

use super::decoder::{Decoder, header};
use super::metrics::Metrics;
use super::partition::{Partition, headers};
use crate::domain::{AccountEvent, EventBody, TransferLeg};
use crate::store::StoreError;
use crate::topics::TopicNames;

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
    /// The commands partition's committed offset: records caused by commands at or
    /// after it may need repeating.
    committed: i64,
    events_done: bool,
    results_done: bool,
    folded: i64,
    /// Debits of uncommitted commands: their credit may never have been sent.
    uncommitted_debits: Vec<AccountEvent>,
}

/// A partition ready to process, and the follow-ups its restore owes.
#[derive(Debug)]
pub struct Restored {
    pub partition: Partition,
    /// Debited transfers still in flight whose credit may have been lost.
    pub resend_credits: Vec<AccountEvent>,
}

/// Every partition being restored, read through two assign-only consumers (one
/// per topic, so that an end-of-partition is never ambiguous).
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

    /// Starts restoring `partition`; `committed` is the commands partition's
    /// committed offset (0 when none).
    pub fn start(&mut self, id: i32, committed: i64) -> Result<(), RestoreError> {
        let (partition, checkpoint) = Partition::open(&self.state_dir, id, self.window)
            .map_err(|e| RestoreError::Store(id, e))?;
        info!(
            partition = id,
            events_offset = checkpoint.events_offset(),
            results_offset = checkpoint.results_offset(),
            committed,
            "restore started"
        );
        // A partition with nothing past the checkpoint may never report its end.
        let kafka = |source| RestoreError::Kafka {
            partition: id,
            source,
        };
        let timeout = Duration::from_secs(10);
        let (_, events_high) = self
            .events
            .fetch_watermarks(&self.topics.events, id, timeout)
            .map_err(kafka)?;
        let (_, results_high) = self
            .results
            .fetch_watermarks(&self.topics.results, id, timeout)
            .map_err(kafka)?;
        self.restoring.insert(
            id,
            Restoring {
                events_done: checkpoint.events_offset() >= events_high,
                results_done: checkpoint.results_offset() >= results_high,
                partition,
                committed,
                folded: 0,
                uncommitted_debits: Vec::new(),
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
        for (partition, restoring) in &self.restoring {
            let p = &restoring.partition;
            if !restoring.events_done {
                events
                    .add_partition_offset(
                        &self.topics.events,
                        *partition,
                        Offset::Offset(p.events_end),
                    )
                    .map_err(kafka)?;
            }
            if !restoring.results_done {
                results
                    .add_partition_offset(
                        &self.topics.results,
                        *partition,
                        Offset::Offset(p.results_end),
                    )
                    .map_err(kafka)?;
            }
        }
        self.events.assign(&events).map_err(kafka)?;
        self.results.assign(&results).map_err(kafka)?;
        Ok(())
    }

    /// Reads up to `budget` records of each topic; returns the partitions that are
    /// now restored.
    pub fn step(
        &mut self,
        decoder: &Decoder,
        metrics: &Metrics,
        budget: usize,
        wait: Duration,
    ) -> Result<Vec<Restored>, RestoreError> {
        if self.restoring.is_empty() {
            return Ok(Vec::new());
        }
        let mut reassign = None;
        for read in 0..budget {
            let timeout = if read == 0 { wait } else { Duration::ZERO };
            match self.events.poll(timeout) {
                None => break,
                Some(Err(KafkaError::PartitionEOF(id))) => {
                    if let Some(r) = self.restoring.get_mut(&id) {
                        r.events_done = true;
                        reassign = Some(id);
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
                        reassign = Some(id);
                    }
                }
                Some(Err(error)) => {
                    warn!(%error, "reading account-command-results back failed; retrying")
                }
                Some(Ok(message)) => read_result(&mut self.restoring, &message, decoder),
            }
        }
        for (id, r) in &self.restoring {
            let label = id.to_string();
            metrics
                .restored_events
                .with_label_values(&[&label])
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
            let resend_credits = still_in_flight(&mut r.partition, r.uncommitted_debits)
                .map_err(|e| RestoreError::Store(id, e))?;
            info!(
                partition = id,
                folded = r.folded,
                events_end = r.partition.events_end,
                results_end = r.partition.results_end,
                repeats = r.partition.decisions.len(),
                resend_credits = resend_credits.len(),
                "partition restored"
            );
            metrics
                .restore_remaining
                .with_label_values(&[&id.to_string()])
                .set(0);
            restored.push(Restored {
                partition: r.partition,
                resend_credits,
            });
            reassign = Some(id);
        }
        if let Some(id) = reassign {
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

/// The offset and the name of the command that caused `message`.
fn cause<'a>(message: &'a BorrowedMessage<'_>) -> Option<(i64, &'a str)> {
    headers::parse_cause(|key| header(message, key))
}

fn command_offset(message: &BorrowedMessage<'_>) -> Option<i64> {
    cause(message).map(|(offset, _)| offset)
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
        Ok(record) => AccountEvent::try_from(record).map_err(|e| e.to_string()),
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
    if matches!(event.body, EventBody::TransferDebited(_))
        && command_offset(message).is_some_and(|offset| offset >= r.committed)
    {
        r.uncommitted_debits.push(event.clone());
    }
    r.partition
        .apply(&event)
        .map_err(|e| RestoreError::Store(id, e))?;
    r.folded += 1;
    Ok(())
}

fn read_result(
    restoring: &mut BTreeMap<i32, Restoring>,
    message: &BorrowedMessage<'_>,
    decoder: &Decoder,
) {
    let id = message.partition();
    let Some(r) = restoring.get_mut(&id) else {
        return;
    };
    r.partition.results_end = message.offset() + 1;
    let Some(payload) = message.payload() else {
        return;
    };
    let record = match decoder.decode::<ResultRecord>(payload) {
        Ok(record) => record,
        Err(error) => {
            warn!(partition = id, offset = message.offset(), %error, "result cannot be read back; skipped");
            return;
        }
    };
    let command_id = match &record {
        ResultRecord::CommandAccepted(accepted) => accepted.command_id.clone(),
        ResultRecord::CommandRejected(rejected) => rejected.command_id.clone(),
    };
    if let ResultRecord::CommandRejected(rejected) = &record
        && cause(message).is_some_and(|(_, command)| command == "CreditTransfer")
    {
        let reason = (rejected.reason_code.clone(), rejected.message.clone());
        r.partition
            .rejected_credits
            .insert(command_id.clone(), reason);
    }
    if command_offset(message).is_some_and(|offset| offset >= r.committed) {
        r.partition.decisions.insert(command_id, record);
    }
}

/// The debits among `debits` whose transfer this account still has in flight.
fn still_in_flight(
    partition: &mut Partition,
    debits: Vec<AccountEvent>,
) -> Result<Vec<AccountEvent>, StoreError> {
    let mut in_flight = Vec::new();
    for event in debits {
        let EventBody::TransferDebited(debit) = &event.body else {
            continue;
        };
        let state = partition.account(event.metadata.account_id.as_str())?;
        let pending = state
            .account()
            .and_then(|a| a.transfer(debit.transfer_id))
            .is_some_and(|leg| {
                matches!(
                    leg,
                    TransferLeg::Debited {
                        refunded: false,
                        ..
                    }
                )
            });
        if pending {
            in_flight.push(event);
        }
    }
    Ok(in_flight)
}
