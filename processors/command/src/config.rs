//! The processor's settings: one struct, every field documented, validated at
//! start with an error that names the field.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ledgerstream_runtime::kafka::KafkaSettings;
use ledgerstream_runtime::settings::{ConfigError, check_group_member};
use ledgerstream_runtime::topics::TopicNames;
use serde::Deserialize;

/// Settings of `ledgerstream process`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessorConfig {
    /// Bootstrap servers of the Kafka cluster.
    pub brokers: String,
    /// Consumer group of the processors; every instance of one pipeline shares it.
    #[serde(default = "defaults::group")]
    pub group: String,
    /// A batch is closed after this many commands ...
    #[serde(default = "defaults::batch_commands")]
    pub batch_commands: usize,
    /// ... or this many milliseconds after its first command, whichever comes first ...
    #[serde(default = "defaults::batch_millis")]
    pub batch_millis: u64,
    /// ... or as soon as no further command arrives within this many milliseconds:
    /// at a low rate a batch closes when the commands waiting are decided, rather
    /// than after `batch_millis`; at a high rate commands keep arriving while a
    /// batch commits, and batches grow to `batch_commands`.
    #[serde(default = "defaults::batch_idle_millis")]
    pub batch_idle_millis: u64,
    /// How long the broker may hold a fetch of commands while it has none
    /// (librdkafka's `fetch.wait.max.ms`). The broker answers as soon as a command
    /// arrives, so this bounds idle round trips, not latency.
    #[serde(default = "defaults::fetch_wait_millis")]
    pub fetch_wait_millis: u64,
    /// Folder of the local state stores, one per assigned partition.
    #[serde(default = "defaults::state_dir")]
    pub state_dir: PathBuf,
    /// How often the accounts changed since the last write, and the checkpoint,
    /// are written to the state stores (after a commit; 0: after every batch). The
    /// stores trail the committed log: a restart folds the events committed since
    /// the last write, so a longer interval means fewer writes and a longer fold.
    #[serde(default = "defaults::store_write_millis")]
    pub store_write_millis: u64,
    /// How many recent command ids each account remembers for deduplication.
    #[serde(default = "defaults::idempotency_window")]
    pub idempotency_window: usize,
    /// Where `/metrics` and `/health` are served.
    #[serde(default = "defaults::listen")]
    pub listen: SocketAddr,
    /// Prefix of the transactional id. The instance appends the id kept in its
    /// state folder, so that an instance restarted on the same folder fences its
    /// predecessor and aborts the transaction it left open at once.
    #[serde(default = "defaults::transactional_id")]
    pub transactional_id: String,
    /// How long a transaction may stay open before the broker aborts it: the
    /// longest a crashed instance's open transaction holds back `read_committed`
    /// readers (librdkafka's `transaction.timeout.ms`). Above a batch's duration.
    #[serde(default = "defaults::transaction_timeout_millis")]
    pub transaction_timeout_millis: u64,
    /// How long a Kafka flush, commit or transaction step may take.
    #[serde(default = "defaults::kafka_timeout_millis")]
    pub kafka_timeout_millis: u64,
    /// Appended to every topic name (`account-commands<suffix>`, ...): several
    /// pipelines on one cluster. Empty for the standard names.
    #[serde(default)]
    pub topic_suffix: String,
}

mod defaults {
    use super::*;

    pub fn group() -> String {
        "ledgerstream-processor".to_owned()
    }
    pub fn batch_commands() -> usize {
        5_000
    }
    pub fn batch_millis() -> u64 {
        50
    }
    pub fn batch_idle_millis() -> u64 {
        2
    }
    pub fn fetch_wait_millis() -> u64 {
        2_000
    }
    pub fn state_dir() -> PathBuf {
        PathBuf::from(".ledgerstream/state")
    }
    pub fn store_write_millis() -> u64 {
        5_000
    }
    pub fn idempotency_window() -> usize {
        ledgerstream_domain::DEFAULT_IDEMPOTENCY_WINDOW
    }
    pub fn listen() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 9601))
    }
    pub fn transactional_id() -> String {
        "ledgerstream-processor".to_owned()
    }
    pub fn transaction_timeout_millis() -> u64 {
        10_000
    }
    pub fn kafka_timeout_millis() -> u64 {
        10_000
    }
}

impl ProcessorConfig {
    /// Every setting at its default, for `brokers`.
    pub fn new(brokers: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            group: defaults::group(),
            batch_commands: defaults::batch_commands(),
            batch_millis: defaults::batch_millis(),
            batch_idle_millis: defaults::batch_idle_millis(),
            fetch_wait_millis: defaults::fetch_wait_millis(),
            state_dir: defaults::state_dir(),
            store_write_millis: defaults::store_write_millis(),
            idempotency_window: defaults::idempotency_window(),
            listen: defaults::listen(),
            transactional_id: defaults::transactional_id(),
            transaction_timeout_millis: defaults::transaction_timeout_millis(),
            kafka_timeout_millis: defaults::kafka_timeout_millis(),
            topic_suffix: String::new(),
        }
    }

    /// The settings of its Kafka clients.
    pub fn kafka(&self) -> KafkaSettings {
        KafkaSettings::new(&self.brokers)
    }

    /// The topics this processor reads and writes.
    pub fn topics(&self) -> TopicNames {
        TopicNames::with_suffix(&self.topic_suffix)
    }

    /// Checks the settings, naming the first one that cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let problem = |field, problem: &str| Err(ConfigError::new("processor", field, problem));
        check_group_member(
            "processor",
            &self.brokers,
            &self.group,
            self.kafka_timeout_millis,
        )?;
        if self.batch_commands == 0 {
            return problem("batch_commands", "a batch holds at least one command");
        }
        if self.fetch_wait_millis == 0 || self.fetch_wait_millis > 5_000 {
            return problem("fetch_wait_millis", "must be between 1 and 5000");
        }
        if self.batch_millis == 0 {
            return problem("batch_millis", "must be above 0");
        }
        if self.batch_idle_millis > self.batch_millis {
            return problem("batch_idle_millis", "must be at most batch_millis");
        }
        if self.store_write_millis > 60_000 {
            return problem(
                "store_write_millis",
                "must be at most 60000: a restart folds what the stores have not seen",
            );
        }
        if self.transactional_id.trim().is_empty() {
            return problem("transactional_id", "must not be empty");
        }
        if self.transaction_timeout_millis < 1_000
            || self.transaction_timeout_millis <= self.batch_millis
        {
            return problem(
                "transaction_timeout_millis",
                "must be at least 1000 and above batch_millis: a transaction lasts a batch",
            );
        }
        Ok(())
    }

    /// The Kafka timeout as a duration.
    pub fn kafka_timeout(&self) -> Duration {
        Duration::from_millis(self.kafka_timeout_millis)
    }

    /// The transaction timeout as a duration.
    pub fn transaction_timeout(&self) -> Duration {
        Duration::from_millis(self.transaction_timeout_millis)
    }

    /// The interval between writes of the state stores.
    pub fn store_write_interval(&self) -> Duration {
        Duration::from_millis(self.store_write_millis)
    }

    /// How long an open batch waits for a further command.
    pub fn batch_idle(&self) -> Duration {
        Duration::from_millis(self.batch_idle_millis)
    }

    /// The batch time limit as a duration.
    pub fn batch_time(&self) -> Duration {
        Duration::from_millis(self.batch_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(ProcessorConfig::new("127.0.0.1:9092").validate(), Ok(()));
    }

    #[test]
    fn a_bad_setting_names_its_field() {
        let mut config = ProcessorConfig::new("127.0.0.1:9092");
        config.batch_commands = 0;
        assert_eq!(config.validate().unwrap_err().field, "batch_commands");
        let mut config = ProcessorConfig::new(" ");
        config.batch_commands = 0;
        assert_eq!(config.validate().unwrap_err().field, "brokers");
    }

    #[test]
    fn batch_and_store_timings_are_bounded() {
        let mut config = ProcessorConfig::new("127.0.0.1:9092");
        config.batch_idle_millis = config.batch_millis + 1;
        assert_eq!(config.validate().unwrap_err().field, "batch_idle_millis");
        config.batch_idle_millis = 0;
        assert_eq!(config.validate(), Ok(()), "0: close once nothing waits");
        config.store_write_millis = 60_001;
        assert_eq!(config.validate().unwrap_err().field, "store_write_millis");
        config.store_write_millis = 0;
        assert_eq!(config.validate(), Ok(()), "0: after every batch");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let error = serde_json::from_str::<ProcessorConfig>(r#"{"brokers":"b","batch_size":3}"#)
            .unwrap_err();
        assert!(error.to_string().contains("batch_size"), "{error}");
    }
}
