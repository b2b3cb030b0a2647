//! The truth: every account's events as the log holds them, read back by a
//! consumer of its own (`read_committed`, assigned, outside any group), from
//! the first offset kept to an end read beforehand.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use ledgerstream_runtime::decoder::Decoder;
use ledgerstream_runtime::kafka::{KafkaSettings, Reader, ReaderContext};
use ledgerstream_schemas::records::EventRecord;
use rdkafka::consumer::Consumer;
use rdkafka::{Message, Offset, TopicPartitionList};
use tracing::warn;

use crate::sink::SourcedEvent;

/// The newest events kept in [`Read::recent`].
const RECENT: usize = 1_000;

/// How long reading may go without a record before it gives up.
const STALL: Duration = Duration::from_secs(60);

/// Per partition, the offsets to read: from the first, up to (not including)
/// the second.
pub type Ranges = BTreeMap<i32, (i64, i64)>;

/// One account's events, in log order, and its partition.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    pub partition: i32,
    pub events: Vec<SourcedEvent>,
}

impl History {
    /// The account's last version in the log (0: no event).
    pub fn last_version(&self) -> u64 {
        self.events
            .iter()
            .map(|e| u64::try_from(e.event.metadata().version).unwrap_or(0))
            .max()
            .unwrap_or(0)
    }

    /// When the account last changed (epoch ms; 0: never).
    pub fn last_event_at_ms(&self) -> i64 {
        self.events
            .last()
            .map_or(0, |e| e.event.metadata().occurred_at)
    }
}

/// Every account read, by id.
pub type Histories = HashMap<String, History>;

/// What one read of the log found.
#[derive(Debug, Default)]
pub struct Read {
    pub histories: Histories,
    /// Events read (kept or not).
    pub events: u64,
    /// Records that did not decode: the projections sent them to the
    /// dead-letter topic, so no read model holds them.
    pub undecodable: u64,
    /// Accounts with an event in the reads since the caller last emptied it.
    pub changed: HashSet<String>,
    /// The newest events read, oldest first (at most 1,000).
    pub recent: VecDeque<Recent>,
}

/// One event as the continuous auditor follows it to the read models.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recent {
    pub account: String,
    pub version: u64,
    /// When the broker appended it (the record's timestamp), epoch ms.
    pub appended_at_ms: i64,
    /// Whether it moves money (every event but a close): only those have a
    /// document in the history index.
    pub moves_money: bool,
}

/// Reads `account-events` back.
#[derive(Clone)]
pub struct Log {
    consumer: Arc<Reader>,
    topic: String,
    decoder: Decoder,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log").field("topic", &self.topic).finish()
    }
}

impl Log {
    pub fn connect(brokers: &str, topic: &str, decoder: Decoder) -> anyhow::Result<Self> {
        let consumer: Reader = KafkaSettings::new(brokers)
            .reader("ledgerstream-audit")
            .create_with_context(ReaderContext)
            .context("creating a Kafka reader")?;
        Ok(Self {
            consumer: Arc::new(consumer),
            topic: topic.to_owned(),
            decoder,
        })
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Reads `ranges` and adds the events of the accounts `keep` wants to
    /// `into` (a second read of later ranges extends the first).
    pub async fn read(
        &self,
        ranges: Ranges,
        keep: impl Fn(&str) -> bool + Send + 'static,
        into: Read,
    ) -> anyhow::Result<Read> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.read_blocking(&ranges, &keep, into)).await?
    }

    fn read_blocking(
        &self,
        ranges: &Ranges,
        keep: &dyn Fn(&str) -> bool,
        mut read: Read,
    ) -> anyhow::Result<Read> {
        let mut list = TopicPartitionList::new();
        let mut remaining = BTreeMap::new();
        for (&partition, &(from, to)) in ranges {
            if to > from {
                list.add_partition_offset(&self.topic, partition, Offset::Offset(from))?;
                remaining.insert(partition, to);
            }
        }
        if remaining.is_empty() {
            return Ok(read);
        }
        let consumer = &*self.consumer;
        consumer.assign(&list)?;
        let mut last_record = Instant::now();
        while !remaining.is_empty() {
            let Some(message) = consumer.poll(Duration::from_millis(200)) else {
                self.drop_reached(&mut remaining)?;
                if !remaining.is_empty() && last_record.elapsed() > STALL {
                    bail!(
                        "reading {}: nothing for {STALL:?}; still missing {remaining:?}",
                        self.topic
                    );
                }
                continue;
            };
            let message = match message {
                Ok(message) => message,
                Err(rdkafka::error::KafkaError::PartitionEOF(_)) => {
                    self.drop_reached(&mut remaining)?;
                    continue;
                }
                Err(error) => {
                    warn!(%error, "reading the log failed; retrying");
                    continue;
                }
            };
            last_record = Instant::now();
            let (partition, offset) = (message.partition(), message.offset());
            let Some(&end) = remaining.get(&partition) else {
                continue;
            };
            if offset < end {
                read.events += 1;
                match message
                    .payload()
                    .map(|payload| self.decoder.decode::<EventRecord>(payload))
                {
                    Some(Ok(event)) => {
                        let account = &event.metadata().account_id;
                        if keep(account) {
                            if !read.changed.contains(account) {
                                read.changed.insert(account.clone());
                            }
                            if read.recent.len() == RECENT {
                                read.recent.pop_front();
                            }
                            read.recent.push_back(Recent {
                                account: account.clone(),
                                version: u64::try_from(event.metadata().version).unwrap_or(0),
                                appended_at_ms: message.timestamp().to_millis().unwrap_or(0),
                                moves_money: !matches!(event, EventRecord::AccountClosed(_)),
                            });
                            let history = read.histories.entry(account.clone()).or_default();
                            history.partition = partition;
                            history.events.push(SourcedEvent {
                                partition,
                                offset,
                                event,
                            });
                        }
                    }
                    Some(Err(_)) | None => read.undecodable += 1,
                }
            }
            if offset + 1 >= end {
                remaining.remove(&partition);
            }
        }
        consumer.unassign()?;
        Ok(read)
    }

    /// Drops the partitions whose position reached their end without a record
    /// (transaction markers and aborted records take offsets too).
    fn drop_reached(&self, remaining: &mut BTreeMap<i32, i64>) -> anyhow::Result<()> {
        let positions = self.consumer.position()?;
        remaining.retain(|&partition, &mut end| {
            let at = positions
                .find_partition(&self.topic, partition)
                .map(|p| p.offset());
            !matches!(at, Some(Offset::Offset(at)) if at >= end)
        });
        Ok(())
    }
}
