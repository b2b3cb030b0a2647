//! Lag in seconds: now minus the timestamp of the oldest record a group has not
//! consumed — the first record at or after its committed offset — and zero when
//! caught up.
//!
//! The timestamps are read with a consumer that is only assigned partitions (it
//! never joins a group nor commits), `read_committed` like the pipeline's readers:
//! records of open transactions are not there to consume yet, aborted ones never
//! are. Every
//! partition is read at once, each from the lowest position wanted on it, within
//! one timeout per sample. A record's timestamp at an offset never changes, so each
//! one is read once and kept while it is still some group's position.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use ledgerstream_runtime::kafka::KafkaSettings;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use tracing::debug;

use super::error::LagError;

/// The group id the timestamp reader gives librdkafka, whose assign() needs one.
/// The reader never subscribes nor commits under it.
pub const READER_GROUP: &str = "ledgerstream-lag-reader";

/// How long one poll waits before the positions are looked at.
const POLL: Duration = Duration::from_millis(100);

/// A record position: topic, partition, offset.
pub type Position = (String, i32, i64);

/// Lag in seconds of a record written at `record_millis`, at `now_millis` (both
/// milliseconds since the epoch). Never negative: a record stamped in the future
/// (clock skew) is no lag.
pub fn lag_seconds(now_millis: i64, record_millis: i64) -> f64 {
    (now_millis.saturating_sub(record_millis)).max(0) as f64 / 1000.0
}

/// The oldest record at or after a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Oldest {
    /// Its timestamp, ms since the epoch.
    Record(i64),
    /// There is none up to the log end: only transaction markers or aborted
    /// records follow the position, and a consumer has nothing to read.
    Nothing,
}

/// Reads record timestamps at given offsets, with a cache.
pub struct TimestampReader {
    consumer: BaseConsumer,
    /// How long one call may wait for its records.
    timeout: Duration,
    /// Timestamps found, by position.
    found: HashMap<Position, i64>,
}

impl std::fmt::Debug for TimestampReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimestampReader")
            .field("found", &self.found.len())
            .finish()
    }
}

impl TimestampReader {
    /// A reader of `kafka`'s brokers that waits up to `timeout` for the records of
    /// a call.
    pub fn connect(kafka: &KafkaSettings, timeout: Duration) -> Result<Self, LagError> {
        let consumer = kafka
            .assigned(READER_GROUP)
            .set("client.id", "ledgerstream-lag-reader")
            // An offset already deleted by retention: the oldest record left is
            // the oldest unconsumed one.
            .set("auto.offset.reset", "earliest")
            .set("fetch.wait.max.ms", "100")
            .create()
            .map_err(|source| LagError::Client {
                brokers: kafka.brokers.clone(),
                source,
            })?;
        Ok(Self {
            consumer,
            timeout,
            found: HashMap::new(),
        })
    }

    /// The oldest record at or after each wanted position, `log_end` being its
    /// partition's end. Positions whose record did not arrive in time are left
    /// out. Blocking.
    ///
    /// Only the asked positions stay cached: the others are no group's position
    /// any more.
    pub fn oldest(
        &mut self,
        wanted: &[(Position, i64)],
    ) -> Result<HashMap<Position, Oldest>, LagError> {
        self.found
            .retain(|position, _| wanted.iter().any(|(p, _)| p == position));
        // Per partition: its log end and the offsets still to read, lowest first.
        let mut pending: BTreeMap<(String, i32), (i64, BTreeSet<i64>)> = BTreeMap::new();
        for ((topic, partition, offset), log_end) in wanted {
            if !self
                .found
                .contains_key(&(topic.clone(), *partition, *offset))
            {
                let entry = pending
                    .entry((topic.clone(), *partition))
                    .or_insert_with(|| (*log_end, BTreeSet::new()));
                entry.1.insert(*offset);
            }
        }
        let nothing = if pending.is_empty() {
            Vec::new()
        } else {
            self.read(&mut pending)?
        };
        if !pending.is_empty() {
            debug!(
                partitions = pending.len(),
                "no record arrived in time to read its timestamp"
            );
        }
        Ok(wanted
            .iter()
            .filter_map(|(position, _)| {
                let oldest = match self.found.get(position) {
                    Some(&millis) => Oldest::Record(millis),
                    None if nothing.contains(position) => Oldest::Nothing,
                    None => return None,
                };
                Some((position.clone(), oldest))
            })
            .collect())
    }

    /// Assigns every pending partition at its lowest offset and reads until each
    /// offset has its record or is known to have none (answered), or the timeout
    /// passes. What is left in `pending` was not read.
    fn read(
        &mut self,
        pending: &mut BTreeMap<(String, i32), (i64, BTreeSet<i64>)>,
    ) -> Result<Vec<Position>, LagError> {
        let failed = |operation| move |source| LagError::Broker { operation, source };
        let mut assignment = TopicPartitionList::new();
        for ((topic, partition), (_, offsets)) in pending.iter() {
            let first = offsets.first().copied().unwrap_or_default();
            assignment
                .add_partition_offset(topic, *partition, Offset::Offset(first))
                .map_err(failed("assign"))?;
        }
        self.consumer
            .assign(&assignment)
            .map_err(failed("assign"))?;
        let mut nothing = Vec::new();
        let deadline = Instant::now() + self.timeout;
        while !pending.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match self.consumer.poll(left.min(POLL)) {
                Some(Ok(message)) => {
                    let (topic, partition, offset) =
                        (message.topic(), message.partition(), message.offset());
                    let key = (topic.to_owned(), partition);
                    let (Some((_, offsets)), Some(millis)) =
                        (pending.get_mut(&key), message.timestamp().to_millis())
                    else {
                        continue;
                    };
                    // The first record at or after every offset up to this one.
                    let later = offsets.split_off(&(offset + 1));
                    for reached in std::mem::replace(offsets, later) {
                        self.found
                            .insert((topic.to_owned(), partition, reached), millis);
                    }
                    match offsets.first() {
                        None => {
                            pending.remove(&key);
                        }
                        Some(&next) if next > offset + 1 => self
                            .consumer
                            .seek(topic, partition, Offset::Offset(next), left)
                            .map_err(failed("seek"))?,
                        Some(_) => {}
                    }
                }
                // Nothing new: a partition whose position passed its log end
                // without a record has nothing to read (librdkafka moves the
                // position past transaction markers too).
                None => {
                    let positions = self.consumer.position().map_err(failed("position"))?;
                    pending.retain(|(topic, partition), (log_end, offsets)| {
                        let at = positions
                            .find_partition(topic, *partition)
                            .map(|p| p.offset());
                        let passed = matches!(at, Some(Offset::Offset(at)) if at >= *log_end);
                        if passed {
                            nothing.extend(offsets.iter().map(|&o| (topic.clone(), *partition, o)));
                        }
                        !passed
                    });
                }
                // An error leaves the partition without a timestamp this round
                // (an offset out of range is reset to the earliest, not reported).
                Some(Err(_)) => {}
            }
        }
        self.consumer.unassign().map_err(failed("unassign"))?;
        Ok(nothing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_is_now_minus_the_record_time() {
        assert_eq!(lag_seconds(1_700_000_012_500, 1_700_000_000_000), 12.5);
    }

    #[test]
    fn a_record_from_the_future_is_no_lag() {
        assert_eq!(lag_seconds(1_700_000_000_000, 1_700_000_005_000), 0.0);
    }

    #[test]
    fn extreme_timestamps_do_not_overflow() {
        assert_eq!(lag_seconds(i64::MIN, i64::MAX), 0.0);
        assert!(lag_seconds(i64::MAX, i64::MIN) > 0.0);
    }
}
