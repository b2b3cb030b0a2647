//! One sample: per group and partition, the committed offset, the log end and the
//! lag between them, in messages and in seconds.
//!
//! Which partitions a group reads is not asked of the group (DescribeGroups says
//! nothing about a group with no member running): its committed offsets are fetched
//! for every partition of the cluster, and the topics where it has any are its
//! topics. A partition of such a topic with no committed offset is counted from the
//! start of the log, as a consumer reading from the earliest offset would.
//!
//! Every client reads `read_committed`, as the pipeline's consumers do: the log end
//! is the last stable offset (records of open transactions are not there to consume
//! yet), and committed offsets are fetched once no transaction is committing them.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

use ledgerstream_runtime::clock::now_millis;
use ledgerstream_runtime::kafka::KafkaSettings;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use super::config::LagConfig;
use super::error::LagError;
use super::groups;
use super::seconds::{Oldest, Position, TimestampReader, lag_seconds};

/// One partition of one group.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionSample {
    pub topic: String,
    pub partition: i32,
    /// The group's committed offset: the next record it will read. None when it
    /// has committed none on this partition.
    pub committed: Option<i64>,
    /// The oldest offset still in the log.
    pub log_start: i64,
    /// The end of what a `read_committed` consumer can read: the last stable
    /// offset, which is the high watermark when no transaction is open.
    pub log_end: i64,
    /// Records between the committed offset (or the log start) and the log end.
    pub lag: i64,
    /// Now minus the timestamp of the oldest unconsumed record; zero when caught
    /// up or when only transaction markers are left; None when that record could
    /// not be read in time.
    pub lag_seconds: Option<f64>,
}

/// One group, its partitions sorted by topic and partition.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSample {
    pub group: String,
    /// The group's state, when the cluster says.
    pub state: Option<String>,
    /// Empty when the group has no committed offset on any existing topic.
    pub partitions: Vec<PartitionSample>,
}

/// Every watched group at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub taken_at: SystemTime,
    pub groups: Vec<GroupSample>,
}

/// Takes samples; holds the Kafka clients between them. Every method blocks: run
/// it on a blocking thread.
pub struct Sampler {
    config: LagConfig,
    /// Metadata, watermarks and group listing.
    client: BaseConsumer,
    /// One client per group: committed offsets are fetched for the client's own
    /// group id. None of them subscribes or commits.
    group_clients: HashMap<String, BaseConsumer>,
    timestamps: TimestampReader,
}

impl std::fmt::Debug for Sampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sampler")
            .field("groups", &self.config.groups)
            .field("group_clients", &self.group_clients.len())
            .finish()
    }
}

impl Sampler {
    /// Clients for `config.brokers` (nothing is sent yet).
    pub fn connect(config: LagConfig) -> Result<Self, LagError> {
        let client = client_config(&config.kafka(), None)
            .create()
            .map_err(|source| LagError::Client {
                brokers: config.brokers.clone(),
                source,
            })?;
        let timestamps = TimestampReader::connect(&config.kafka(), config.timestamp_timeout())?;
        Ok(Self {
            config,
            client,
            group_clients: HashMap::new(),
            timestamps,
        })
    }

    /// One sample of every watched group.
    pub fn sample(&mut self) -> Result<Sample, LagError> {
        let timeout = self.config.kafka_timeout();
        let groups = if self.config.groups.is_empty() {
            groups::list(&self.client, timeout)?
        } else {
            self.config
                .groups
                .iter()
                .map(|name| groups::describe(&self.client, name, timeout))
                .collect::<Result<_, _>>()?
        };
        self.group_clients
            .retain(|name, _| groups.iter().any(|g| &g.name == name));

        let metadata = self
            .client
            .fetch_metadata(None, timeout)
            .map_err(|source| LagError::Broker {
                operation: "Metadata",
                source,
            })?;
        let mut everything = TopicPartitionList::new();
        let mut partitions_of: BTreeMap<String, Vec<i32>> = BTreeMap::new();
        for topic in metadata.topics().iter().filter(|t| t.error().is_none()) {
            for partition in topic.partitions() {
                everything.add_partition(topic.name(), partition.id());
                partitions_of
                    .entry(topic.name().to_owned())
                    .or_default()
                    .push(partition.id());
            }
        }

        // Committed offsets first, for every group: then the watermarks of the
        // partitions they read, each fetched once however many groups read it.
        let mut committed_by_group = Vec::with_capacity(groups.len());
        for group in &groups {
            let committed = self.committed(&group.name, &everything, timeout)?;
            committed_by_group.push(committed);
        }
        let mut watermarks: BTreeMap<(String, i32), (i64, i64)> = BTreeMap::new();
        for committed in &committed_by_group {
            for topic in committed_topics(committed) {
                for &partition in partitions_of.get(topic).into_iter().flatten() {
                    let key = (topic.to_owned(), partition);
                    if watermarks.contains_key(&key) {
                        continue;
                    }
                    let marks = match self.client.fetch_watermarks(topic, partition, timeout) {
                        Ok(marks) => marks,
                        // Deleted since the metadata was read: no one's lag any more.
                        Err(KafkaError::MetadataFetch(
                            RDKafkaErrorCode::UnknownTopicOrPartition,
                        )) => {
                            continue;
                        }
                        Err(source) => {
                            return Err(LagError::Broker {
                                operation: "ListOffsets",
                                source,
                            });
                        }
                    };
                    watermarks.insert(key, marks);
                }
            }
        }

        let mut samples = Vec::with_capacity(groups.len());
        for (group, committed) in groups.into_iter().zip(committed_by_group) {
            let mut partitions = Vec::new();
            for topic in committed_topics(&committed) {
                for &partition in partitions_of.get(topic).into_iter().flatten() {
                    let key = (topic.to_owned(), partition);
                    let Some(&(log_start, log_end)) = watermarks.get(&key) else {
                        continue;
                    };
                    let position = committed.get(&key).copied();
                    partitions.push(PartitionSample {
                        topic: topic.to_owned(),
                        partition,
                        committed: position,
                        log_start,
                        log_end,
                        lag: lag(position, log_start, log_end),
                        lag_seconds: None,
                    });
                }
            }
            samples.push(GroupSample {
                group: group.name,
                state: group.state,
                partitions,
            });
        }
        self.add_lag_seconds(&mut samples)?;
        Ok(Sample {
            taken_at: SystemTime::now(),
            groups: samples,
        })
    }

    /// The group's committed offsets on `partitions`; partitions without one are
    /// left out.
    fn committed(
        &mut self,
        group: &str,
        partitions: &TopicPartitionList,
        timeout: Duration,
    ) -> Result<BTreeMap<(String, i32), i64>, LagError> {
        let client = match self.group_clients.entry(group.to_owned()) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => {
                let client = client_config(&self.config.kafka(), Some(group))
                    .create()
                    .map_err(|source| LagError::Client {
                        brokers: self.config.brokers.clone(),
                        source,
                    })?;
                entry.insert(client)
            }
        };
        let offsets = client
            .committed_offsets(partitions.clone(), timeout)
            .map_err(|source| LagError::Broker {
                operation: "OffsetFetch",
                source,
            })?;
        Ok(offsets
            .elements()
            .iter()
            .filter_map(|element| match element.offset() {
                Offset::Offset(offset) if element.error().is_ok() => {
                    Some(((element.topic().to_owned(), element.partition()), offset))
                }
                _ => None,
            })
            .collect())
    }

    /// Reads the record at each behind partition's position and sets its lag in
    /// seconds; caught-up partitions get zero.
    fn add_lag_seconds(&mut self, groups: &mut [GroupSample]) -> Result<(), LagError> {
        let mut wanted: Vec<(Position, i64)> = Vec::new();
        for partition in groups.iter().flat_map(|g| &g.partitions) {
            if partition.lag > 0 {
                let position = (
                    partition.topic.clone(),
                    partition.partition,
                    oldest_unconsumed(partition.committed, partition.log_start),
                );
                if !wanted.iter().any(|(p, _)| *p == position) {
                    wanted.push((position, partition.log_end));
                }
            }
        }
        let found = self.timestamps.oldest(&wanted)?;
        let now = now_millis();
        for partition in groups.iter_mut().flat_map(|g| &mut g.partitions) {
            partition.lag_seconds = if partition.lag <= 0 {
                Some(0.0)
            } else {
                let position = (
                    partition.topic.clone(),
                    partition.partition,
                    oldest_unconsumed(partition.committed, partition.log_start),
                );
                found.get(&position).map(|oldest| match *oldest {
                    Oldest::Record(millis) => lag_seconds(now, millis),
                    Oldest::Nothing => 0.0,
                })
            };
        }
        Ok(())
    }
}

/// A client of the positions (watermarks, and `group`'s committed offsets when
/// given), named in the broker's logs.
fn client_config(kafka: &KafkaSettings, group: Option<&str>) -> ClientConfig {
    let mut config = kafka.positions();
    config.set("client.id", "ledgerstream-lag");
    if let Some(group) = group {
        config.set("group.id", group);
    }
    config
}

/// The topics a group has committed on, in order.
fn committed_topics(committed: &BTreeMap<(String, i32), i64>) -> Vec<&str> {
    let mut topics: Vec<&str> = committed.keys().map(|(topic, _)| topic.as_str()).collect();
    topics.dedup();
    topics
}

/// Records not consumed yet: from the committed offset, or from the log start
/// when nothing was committed or the committed records were deleted since.
pub fn lag(committed: Option<i64>, log_start: i64, log_end: i64) -> i64 {
    (log_end - oldest_unconsumed(committed, log_start)).max(0)
}

/// The offset of the oldest record not consumed yet.
fn oldest_unconsumed(committed: Option<i64>, log_start: i64) -> i64 {
    committed.unwrap_or(log_start).max(log_start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_counts_from_the_committed_offset() {
        assert_eq!(lag(Some(10), 0, 20), 10);
        assert_eq!(lag(Some(20), 0, 20), 0);
    }

    #[test]
    fn without_a_commit_lag_counts_from_the_log_start() {
        assert_eq!(lag(None, 5, 20), 15);
        assert_eq!(lag(None, 0, 0), 0);
    }

    #[test]
    fn records_deleted_before_they_were_consumed_are_not_counted() {
        // Retention removed 0..10; the consumer resumes at 10.
        assert_eq!(lag(Some(3), 10, 20), 10);
    }

    #[test]
    fn a_commit_past_the_end_is_no_lag() {
        assert_eq!(lag(Some(25), 0, 20), 0);
    }

    #[test]
    fn the_oldest_unconsumed_record_is_never_before_the_log_start() {
        assert_eq!(oldest_unconsumed(Some(3), 10), 10);
        assert_eq!(oldest_unconsumed(Some(12), 10), 12);
        assert_eq!(oldest_unconsumed(None, 10), 10);
    }

    #[test]
    fn committed_topics_are_listed_once_each() {
        let committed = BTreeMap::from([
            (("a".to_owned(), 0), 1),
            (("a".to_owned(), 1), 1),
            (("b".to_owned(), 0), 1),
        ]);
        assert_eq!(committed_topics(&committed), ["a", "b"]);
    }
}
