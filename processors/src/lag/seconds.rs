//! Lag in seconds: now minus the timestamp of the oldest record a group has not
//! consumed — the record at its committed offset — and zero when caught up.
//!
//! The timestamp is read from the record itself, with a consumer that is only
//! assigned partitions (it never joins a group nor commits). A record's timestamp
//! at an offset never changes, so each one is read once and kept while it is still
//! some group's position.
//!
//! Reads are bounded: one partition per fetch, the least-behind first, a time
//! limit per fetch and per round. tansu 0.6 (sqlite) answers a fetch only after
//! reading every record up to the log end — about 0.9 s for 90 records, 9 s for
//! 1,500 on this machine — and answers the partitions of one fetch together, so a
//! far-behind partition would hold back the others. A position whose record does
//! not arrive in time has no lag in seconds for that round and is tried again
//! later, backing off, so that a far-behind group does not keep the broker busy.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use tracing::debug;

use super::error::LagError;

/// The group id the timestamp reader gives librdkafka, which needs one to fetch.
/// The reader never subscribes nor commits under it.
pub const READER_GROUP: &str = "ledgerstream-lag-reader";

/// A record position: topic, partition, offset.
pub type Position = (String, i32, i64);

/// Lag in seconds of a record written at `record_millis`, at `now_millis` (both
/// milliseconds since the epoch). Never negative: a record stamped in the future
/// (clock skew) is no lag.
pub fn lag_seconds(now_millis: i64, record_millis: i64) -> f64 {
    (now_millis.saturating_sub(record_millis)).max(0) as f64 / 1000.0
}

/// A position whose record did not arrive in time: it may be far behind (a slow
/// fetch), or hold a transaction marker, which a consumer never sees, with nothing
/// after it yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Miss {
    /// The partition's log end when it was tried.
    pub log_end: i64,
    pub at: Instant,
    /// Tries in a row that found nothing.
    pub misses: u32,
}

impl Miss {
    /// First wait before trying a missed position again; doubled with every miss.
    pub const FIRST_WAIT: Duration = Duration::from_secs(30);
    /// The longest wait.
    pub const MAX_WAIT: Duration = Duration::from_secs(600);

    /// Whether to try again at `now`, the log end being `log_end`: only once the
    /// log has grown (a record may follow a marker now) and the wait is over.
    pub fn retry_due(&self, log_end: i64, now: Instant) -> bool {
        let doublings = self.misses.saturating_sub(1).min(16);
        let wait = Self::FIRST_WAIT
            .saturating_mul(1 << doublings)
            .min(Self::MAX_WAIT);
        log_end != self.log_end && now.saturating_duration_since(self.at) >= wait
    }
}

/// Reads record timestamps at given offsets, with a cache.
pub struct TimestampReader {
    consumer: BaseConsumer,
    /// How long one fetch waits for its record.
    timeout: Duration,
    /// How long one round may spend reading; what is left waits for the next.
    budget: Duration,
    /// Timestamps found, by position.
    found: HashMap<Position, i64>,
    /// Positions whose record did not arrive in time.
    missing: HashMap<Position, Miss>,
}

impl std::fmt::Debug for TimestampReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimestampReader")
            .field("found", &self.found.len())
            .field("missing", &self.missing.len())
            .finish()
    }
}

impl TimestampReader {
    /// A reader on `brokers` that waits up to `timeout` for one record and reads
    /// for at most `budget` per round.
    pub fn connect(brokers: &str, timeout: Duration, budget: Duration) -> Result<Self, LagError> {
        let consumer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("group.id", READER_GROUP)
            .set("client.id", "ledgerstream-lag-reader")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            // Uncommitted records are unconsumed records too.
            .set("isolation.level", "read_uncommitted")
            // An offset already deleted by retention: the oldest record left is
            // the oldest unconsumed one.
            .set("auto.offset.reset", "earliest")
            .set("fetch.wait.max.ms", "100")
            .create()
            .map_err(|source| LagError::Client {
                brokers: brokers.to_owned(),
                source,
            })?;
        Ok(Self {
            consumer,
            timeout,
            budget,
            found: HashMap::new(),
            missing: HashMap::new(),
        })
    }

    /// The timestamp (ms since the epoch) of the first record at or after each
    /// wanted position, `log_end` being its partition's end. Positions whose record
    /// was not read (in time, or within the round's budget) are left out. Blocking.
    ///
    /// Only the asked positions stay cached: the others are no group's position
    /// any more.
    pub fn timestamps(
        &mut self,
        wanted: &[(Position, i64)],
    ) -> Result<HashMap<Position, i64>, LagError> {
        let started = Instant::now();
        self.found
            .retain(|position, _| wanted.iter().any(|(p, _)| p == position));
        self.missing
            .retain(|position, _| wanted.iter().any(|(p, _)| p == position));
        let mut to_read: Vec<&(Position, i64)> = wanted
            .iter()
            .filter(|(position, log_end)| {
                !self.found.contains_key(position)
                    && self
                        .missing
                        .get(position)
                        .is_none_or(|miss| miss.retry_due(*log_end, started))
            })
            .collect();
        // The cheapest first: the fewest records between the position and the end.
        to_read.sort_by_key(|((_, _, offset), log_end)| log_end - offset);
        for (done, (position, log_end)) in to_read.iter().enumerate() {
            if started.elapsed() >= self.budget {
                debug!(
                    left = to_read.len() - done,
                    "timestamp budget spent; the rest waits for the next round"
                );
                break;
            }
            let (topic, partition, offset) = position;
            match self.read_one(topic, *partition, *offset)? {
                Some(millis) => {
                    self.missing.remove(position);
                    self.found.insert(position.clone(), millis);
                }
                None => {
                    let misses = self.missing.get(position).map_or(0, |m| m.misses) + 1;
                    debug!(%topic, partition, offset, misses, "no record arrived in time to read its timestamp");
                    let miss = Miss {
                        log_end: *log_end,
                        at: Instant::now(),
                        misses,
                    };
                    self.missing.insert(position.clone(), miss);
                }
            }
        }
        Ok(wanted
            .iter()
            .filter_map(|(p, _)| self.found.get(p).map(|&millis| (p.clone(), millis)))
            .collect())
    }

    /// Assigns one partition at `offset` and returns the timestamp of the first
    /// record at or after it, if one arrives in time.
    fn read_one(&self, topic: &str, partition: i32, offset: i64) -> Result<Option<i64>, LagError> {
        let failed = |operation| move |source| LagError::Broker { operation, source };
        let mut assignment = TopicPartitionList::new();
        assignment
            .add_partition_offset(topic, partition, Offset::Offset(offset))
            .map_err(failed("assign"))?;
        self.consumer
            .assign(&assignment)
            .map_err(failed("assign"))?;
        let deadline = Instant::now() + self.timeout;
        let mut millis = None;
        while millis.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let Some(result) = self.consumer.poll(left.min(Duration::from_millis(100))) else {
                continue;
            };
            // An error leaves the partition without a timestamp this round (an
            // offset out of range is reset to the earliest, not reported).
            let Ok(message) = result else { continue };
            let ours = message.topic() == topic && message.partition() == partition;
            if ours && message.offset() >= offset {
                millis = message.timestamp().to_millis();
            }
        }
        self.consumer.unassign().map_err(failed("unassign"))?;
        Ok(millis)
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

    #[test]
    fn a_miss_is_retried_after_the_log_grows_and_a_growing_wait() {
        let at = Instant::now();
        let miss = Miss {
            log_end: 100,
            at,
            misses: 1,
        };
        let later = |secs| at + Duration::from_secs(secs);
        assert!(!miss.retry_due(100, later(3_600)), "the log has not grown");
        assert!(!miss.retry_due(101, later(29)));
        assert!(miss.retry_due(101, later(30)));
        let third = Miss { misses: 3, ..miss };
        assert!(!third.retry_due(101, later(119)));
        assert!(third.retry_due(101, later(120)));
        let many = Miss { misses: 40, ..miss };
        assert!(!many.retry_due(101, later(599)));
        assert!(many.retry_due(101, later(600)), "the wait stops growing");
    }
}
