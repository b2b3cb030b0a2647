//! Settings every projection shares: where it reads, its consumer group, how it
//! batches and how long it retries. One struct, every field documented, validated
//! at start with an error that names the field. A sink's own settings live in its
//! folder (`clickhouse/config.rs`).

use std::time::Duration;

use ledgerstream_runtime::kafka::KafkaSettings;
use ledgerstream_runtime::settings::{ConfigError, check_group_member};
use ledgerstream_runtime::topics::TopicNames;
use serde::Deserialize;

use super::retry::Backoff;

/// Settings of one projection's runner.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectionConfig {
    /// Bootstrap servers of the Kafka cluster.
    pub brokers: String,
    /// The projection's own consumer group: its committed offsets are its position
    /// in `account-events`, and what `ledgerstream lag` reports.
    pub group: String,
    /// Appended to every topic name (`account-events<suffix>`), as the processor's
    /// `--topic-suffix`. Empty for the standard names.
    #[serde(default)]
    pub topic_suffix: String,
    /// A batch is written after this many events ...
    #[serde(default = "defaults::batch_rows")]
    pub batch_rows: usize,
    /// ... or this many milliseconds after its first event, whichever comes first.
    #[serde(default = "defaults::batch_millis")]
    pub batch_millis: u64,
    /// How long the broker may hold a fetch while it has no record for it
    /// (librdkafka's `fetch.wait.max.ms`, 500 by default). The broker answers as
    /// soon as a record is committed, so this paces an idle consumer's requests.
    #[serde(default = "defaults::fetch_wait_millis")]
    pub fetch_wait_millis: u64,
    /// Bytes fetched per partition and request (`max.partition.fetch.bytes`):
    /// larger fetches, fewer round trips on a replay.
    #[serde(default = "defaults::fetch_partition_bytes")]
    pub fetch_partition_bytes: usize,
    /// How long a Kafka flush or commit may take.
    #[serde(default = "defaults::kafka_timeout_millis")]
    pub kafka_timeout_millis: u64,
    /// First pause after a retriable write failure; doubled after each attempt ...
    #[serde(default = "defaults::retry_initial_millis")]
    pub retry_initial_millis: u64,
    /// ... up to this pause ...
    #[serde(default = "defaults::retry_max_millis")]
    pub retry_max_millis: u64,
    /// ... for at most this long in all. Then the runner gives up and is started
    /// again; it must stay well below the consumer's `max.poll.interval.ms` (5 min).
    #[serde(default = "defaults::retry_give_up_millis")]
    pub retry_give_up_millis: u64,
}

mod defaults {
    pub fn batch_rows() -> usize {
        50_000
    }
    pub fn batch_millis() -> u64 {
        250
    }
    pub fn fetch_wait_millis() -> u64 {
        100
    }
    pub fn fetch_partition_bytes() -> usize {
        4 * 1024 * 1024
    }
    pub fn kafka_timeout_millis() -> u64 {
        10_000
    }
    pub fn retry_initial_millis() -> u64 {
        100
    }
    pub fn retry_max_millis() -> u64 {
        5_000
    }
    pub fn retry_give_up_millis() -> u64 {
        120_000
    }
}

impl ProjectionConfig {
    /// Every setting at its default, for `brokers` and `group`.
    pub fn new(brokers: impl Into<String>, group: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            group: group.into(),
            topic_suffix: String::new(),
            batch_rows: defaults::batch_rows(),
            batch_millis: defaults::batch_millis(),
            fetch_wait_millis: defaults::fetch_wait_millis(),
            fetch_partition_bytes: defaults::fetch_partition_bytes(),
            kafka_timeout_millis: defaults::kafka_timeout_millis(),
            retry_initial_millis: defaults::retry_initial_millis(),
            retry_max_millis: defaults::retry_max_millis(),
            retry_give_up_millis: defaults::retry_give_up_millis(),
        }
    }

    /// The settings of its Kafka clients.
    pub fn kafka(&self) -> KafkaSettings {
        KafkaSettings::new(&self.brokers)
    }

    /// The topics of the pipeline this projection reads.
    pub fn topics(&self) -> TopicNames {
        TopicNames::with_suffix(&self.topic_suffix)
    }

    /// Checks the settings, naming the first one that cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let problem = |field, problem: &str| Err(ConfigError::new("projection", field, problem));
        check_group_member(
            "projection",
            &self.brokers,
            &self.group,
            self.kafka_timeout_millis,
        )?;
        if self.batch_rows == 0 {
            return problem("batch_rows", "a batch holds at least one event");
        }
        if self.batch_millis == 0 {
            return problem("batch_millis", "must be above 0");
        }
        if self.fetch_wait_millis == 0 || self.fetch_wait_millis > 5_000 {
            return problem("fetch_wait_millis", "must be between 1 and 5000");
        }
        if self.fetch_partition_bytes < 64 * 1024 {
            return problem("fetch_partition_bytes", "must be at least 65536");
        }
        if self.retry_initial_millis == 0 || self.retry_initial_millis > self.retry_max_millis {
            return problem(
                "retry_initial_millis",
                "must be above 0 and at most retry_max_millis",
            );
        }
        if self.retry_give_up_millis >= 240_000 {
            return problem(
                "retry_give_up_millis",
                "must stay below 240000: a consumer that does not poll for 5 min leaves its group",
            );
        }
        Ok(())
    }

    /// The batch time limit as a duration.
    pub fn batch_time(&self) -> Duration {
        Duration::from_millis(self.batch_millis)
    }

    /// The Kafka timeout as a duration.
    pub fn kafka_timeout(&self) -> Duration {
        Duration::from_millis(self.kafka_timeout_millis)
    }

    /// The pauses between write attempts.
    pub fn backoff(&self) -> Backoff {
        Backoff::new(
            Duration::from_millis(self.retry_initial_millis),
            Duration::from_millis(self.retry_max_millis),
            Duration::from_millis(self.retry_give_up_millis),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(
            ProjectionConfig::new("127.0.0.1:9092", "g").validate(),
            Ok(())
        );
    }

    #[test]
    fn a_bad_setting_names_its_field() {
        let mut config = ProjectionConfig::new("127.0.0.1:9092", "g");
        config.batch_rows = 0;
        assert_eq!(config.validate().unwrap_err().field, "batch_rows");
        let mut config = ProjectionConfig::new("127.0.0.1:9092", " ");
        config.batch_millis = 0;
        assert_eq!(config.validate().unwrap_err().field, "group");
        let mut config = ProjectionConfig::new("127.0.0.1:9092", "g");
        config.retry_give_up_millis = 300_000;
        assert_eq!(config.validate().unwrap_err().field, "retry_give_up_millis");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let error = serde_json::from_str::<ProjectionConfig>(
            r#"{"brokers":"b","group":"g","batch_size":3}"#,
        )
        .unwrap_err();
        assert!(error.to_string().contains("batch_size"), "{error}");
    }
}
