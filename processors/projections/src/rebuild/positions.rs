//! Where the log ends and how far a projection has got: the watermarks of
//! `account-events`, as a `read_committed` reader sees them, against the
//! projection's checkpoints. A replay's progress, its "caught up", and the lag a
//! `query account` timeout names all come from here.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::clickhouse::NAME;
use crate::clickhouse::sql;
use anyhow::Context;
use clickhouse::Client;
use clickhouse::sql::Identifier;
use ledgerstream_runtime::kafka::KafkaSettings;
use rdkafka::consumer::{BaseConsumer, Consumer};

const TIMEOUT: Duration = Duration::from_secs(10);

/// Per partition, the low and high watermark (the first offset kept, and the end
/// of what a `read_committed` reader can read: the last stable offset).
pub type Marks = BTreeMap<i32, (i64, i64)>;

/// Per partition, the next offset a projection will read.
pub type Positions = BTreeMap<i32, i64>;

/// The event log's ends, asked of the broker.
#[derive(Clone)]
pub struct EventLog {
    consumer: Arc<BaseConsumer>,
    topic: String,
}

impl std::fmt::Debug for EventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLog")
            .field("topic", &self.topic)
            .finish()
    }
}

impl EventLog {
    pub fn connect(brokers: &str, topic: &str) -> anyhow::Result<Self> {
        let consumer: BaseConsumer = KafkaSettings::new(brokers)
            .positions()
            .create()
            .context("creating a Kafka client")?;
        Ok(Self {
            consumer: Arc::new(consumer),
            topic: topic.to_owned(),
        })
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The topic's partitions; an error when it does not exist.
    pub async fn partitions(&self) -> anyhow::Result<Vec<i32>> {
        let (consumer, topic) = (Arc::clone(&self.consumer), self.topic.clone());
        tokio::task::spawn_blocking(move || {
            let metadata = consumer
                .fetch_metadata(Some(&topic), TIMEOUT)
                .with_context(|| format!("reading the metadata of {topic}"))?;
            let found = metadata
                .topics()
                .iter()
                .find(|t| t.name() == topic)
                .filter(|t| t.error().is_none() && !t.partitions().is_empty());
            match found {
                Some(t) => Ok(t.partitions().iter().map(|p| p.id()).collect()),
                None => anyhow::bail!(
                    "topic {topic} does not exist; create the topics with `ledgerstream topics create`"
                ),
            }
        })
        .await?
    }

    /// The watermarks of `partitions`.
    pub async fn marks(&self, partitions: &[i32]) -> anyhow::Result<Marks> {
        let (consumer, topic) = (Arc::clone(&self.consumer), self.topic.clone());
        let partitions = partitions.to_vec();
        tokio::task::spawn_blocking(move || {
            let mut marks = Marks::new();
            for partition in partitions {
                let ends = consumer
                    .fetch_watermarks(&topic, partition, TIMEOUT)
                    .with_context(|| format!("reading the watermarks of {topic}[{partition}]"))?;
                marks.insert(partition, ends);
            }
            Ok(marks)
        })
        .await?
    }
}

/// The positions a projection's checkpoints hold for `topic`, from
/// `checkpoints_table FINAL`.
pub async fn checkpoints(
    client: &Client,
    checkpoints_table: &str,
    topic: &str,
) -> clickhouse::error::Result<Positions> {
    let rows: Vec<(i32, u64)> = client
        .query(sql::CHECKPOINT_POSITIONS)
        .bind(Identifier(checkpoints_table))
        .bind(NAME)
        .bind(topic)
        .fetch_all()
        .await?;
    Ok(rows
        .into_iter()
        .map(|(partition, offset)| (partition, i64::try_from(offset).unwrap_or(i64::MAX)))
        .collect())
}

/// Where a partition stands: its checkpoint, or the start of what the log keeps.
fn position(positions: &Positions, partition: i32, low: i64) -> i64 {
    positions.get(&partition).copied().unwrap_or(low).max(low)
}

/// Events done and events in all, of the log between the low watermarks and
/// `marks`' high watermarks. Offsets count as events (a transaction marker
/// takes one too: close enough for a progress bar).
pub fn progress(positions: &Positions, marks: &Marks) -> (u64, u64) {
    let mut done = 0;
    let mut total = 0;
    for (&partition, &(low, high)) in marks {
        let high = high.max(low);
        let at = position(positions, partition, low).min(high);
        done += (at - low) as u64;
        total += (high - low) as u64;
    }
    (done, total)
}

/// Whether every partition has got to `marks`' high watermark.
pub fn reached(positions: &Positions, marks: &Marks) -> bool {
    marks
        .iter()
        .all(|(&partition, &(low, high))| position(positions, partition, low) >= high)
}

/// Events between the positions and the high watermarks.
pub fn lag(positions: &Positions, marks: &Marks) -> u64 {
    marks
        .iter()
        .map(|(&partition, &(low, high))| {
            (high - position(positions, partition, low)).max(0) as u64
        })
        .sum()
}

/// The first partition whose position is past the log's end in `marks`:
/// `(partition, position, end)`. Only a log that lost records shows one.
pub fn beyond_the_end(positions: &Positions, marks: &Marks) -> Option<(i32, i64, i64)> {
    positions.iter().find_map(|(&partition, &at)| {
        let (_, high) = marks.get(&partition).copied()?;
        (at > high).then_some((partition, at, high))
    })
}

/// Events between two positions of the same partitions (a partition without
/// a position stands at its low watermark in `marks`).
pub fn advanced(from: &Positions, to: &Positions, marks: &Marks) -> u64 {
    to.iter()
        .map(|(&partition, &at)| {
            let low = marks.get(&partition).map_or(0, |m| m.0);
            (at - position(from, partition, low)).max(0) as u64
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_counts_from_the_low_to_the_high_watermark() {
        let marks = Marks::from([(0, (0, 100)), (1, (10, 60)), (2, (0, 0))]);
        let positions = Positions::from([(0, 40)]);
        // Partition 1 has no checkpoint: it stands at its low watermark.
        assert_eq!(progress(&positions, &marks), (40, 150));
        assert!(!reached(&positions, &marks));
        assert_eq!(lag(&positions, &marks), 60 + 50);

        let done = Positions::from([(0, 100), (1, 70)]);
        assert_eq!(
            progress(&done, &marks),
            (150, 150),
            "past the mark counts as done"
        );
        assert!(reached(&done, &marks));
        assert_eq!(lag(&done, &marks), 0);
    }

    #[test]
    fn advanced_counts_what_moved_since() {
        let marks = Marks::from([(0, (0, 100)), (1, (10, 60))]);
        let from = Positions::from([(0, 40)]);
        let to = Positions::from([(0, 70), (1, 30)]);
        assert_eq!(advanced(&from, &to, &marks), 30 + 20);
        assert_eq!(advanced(&to, &from, &marks), 0, "never negative");
    }

    #[test]
    fn a_position_past_the_end_means_the_log_lost_records() {
        let marks = Marks::from([(0, (0, 100)), (1, (0, 0))]);
        assert_eq!(beyond_the_end(&Positions::from([(0, 100)]), &marks), None);
        assert_eq!(
            beyond_the_end(&Positions::from([(0, 90), (1, 20_071)]), &marks),
            Some((1, 20_071, 0))
        );
        assert_eq!(
            beyond_the_end(&Positions::from([(7, 5)]), &marks),
            None,
            "a partition not asked about"
        );
    }

    #[test]
    fn an_empty_log_is_reached_at_once() {
        let marks = Marks::from([(0, (0, 0)), (1, (5, 5))]);
        assert!(reached(&Positions::new(), &marks));
        assert_eq!(progress(&Positions::new(), &marks), (0, 0));
    }
}
