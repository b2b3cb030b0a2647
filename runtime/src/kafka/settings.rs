//! The settings every Kafka client of the pipeline starts from.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::ClientConfig;

use super::KafkaSecurity;

/// librdkafka's name for the partitioner of Java clients (murmur2 of the key),
/// which [`partition_for`](crate::topics::partition_for) computes too: every
/// producer of commands uses it, so that all agree on an account's partition.
pub const JAVA_PARTITIONER: &str = "murmur2_random";

/// How long a consumer waits before it fetches again for a partition whose
/// queue of fetched records is full (librdkafka's `fetch.queue.backoff.ms`,
/// 1,000 by default). A consumer reading a backlog fills its queue at every
/// fetch, and at the default it then sits idle for a second each time it has
/// drained it: a replay of a million events read at 185,000 events/s instead of
/// 770,000 (BENCHMARKS.md, "Replay and rebuild").
const FETCH_QUEUE_BACKOFF_MILLIS: &str = "10";

/// Where the brokers are and how to reach them: what every client of the
/// pipeline shares. Every kind of client below starts from [`client`](Self::client),
/// so every one gets the security settings.
#[derive(Debug, Clone)]
pub struct KafkaSettings {
    /// Bootstrap servers, `host:port[,host:port...]`.
    pub brokers: String,
    /// TLS and SASL: the process's one copy, shared (`Debug` hides the password).
    pub security: Arc<KafkaSecurity>,
}

impl KafkaSettings {
    /// The settings for the brokers at `brokers` (bootstrap servers), reached as
    /// the process's installed [`KafkaSecurity`] says (PLAINTEXT when none is).
    pub fn new(brokers: impl Into<String>) -> Self {
        Self::with_security(brokers, KafkaSecurity::current())
    }

    /// The settings for the brokers at `brokers`, reached as `security` says.
    pub fn with_security(brokers: impl Into<String>, security: Arc<KafkaSecurity>) -> Self {
        Self {
            brokers: brokers.into(),
            security,
        }
    }

    /// A client of the brokers and nothing more: metadata and admin requests, and
    /// the start of every other kind below. It holds the SASL password: never
    /// print it (`ClientConfig`'s `Debug` shows every property).
    pub fn client(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.brokers);
        self.security.apply(&mut config);
        config
    }

    /// A client that reads positions, not records: metadata, watermarks, and (given
    /// a `group.id`) that group's committed offsets; it never commits. It is
    /// `read_committed`, so the high watermark it reads is the last stable offset:
    /// the end that a `read_committed` reader reaches.
    pub fn positions(&self) -> ClientConfig {
        let mut config = self.client();
        config
            .set("enable.auto.commit", "false")
            .set("isolation.level", "read_committed");
        config
    }

    /// A member of consumer group `group`, for `subscribe`: it reads only
    /// committed transactions, stores and commits offsets only when told to (after
    /// the work they cover is durable), starts from the earliest offset when the
    /// group has none, and uses the eager (`range`) protocol, so a rebalance
    /// revokes every partition. The broker may hold a fetch for
    /// `fetch_wait_millis` while it has no record for it.
    pub fn group_consumer(&self, group: &str, fetch_wait_millis: u64) -> ClientConfig {
        let mut config = self.client();
        config
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("isolation.level", "read_committed")
            .set("session.timeout.ms", "10000")
            .set("heartbeat.interval.ms", "2000")
            .set("partition.assignment.strategy", "range")
            .set("fetch.wait.max.ms", fetch_wait_millis.to_string())
            .set("fetch.queue.backoff.ms", FETCH_QUEUE_BACKOFF_MILLIS);
        config
    }

    /// A consumer that is only assigned partitions (`assign`, at given offsets):
    /// `read_committed`, and never joins `group` nor commits in it. librdkafka
    /// assigns only with a group id; naming the group after the reader keeps it
    /// recognisable in the broker's logs.
    pub fn assigned(&self, group: &str) -> ClientConfig {
        let mut config = self.client();
        config
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("isolation.level", "read_committed")
            .set("fetch.queue.backoff.ms", FETCH_QUEUE_BACKOFF_MILLIS);
        config
    }

    /// An [`assigned`](Self::assigned) consumer that reports reaching the end of
    /// each partition: the settings of a [`Reader`](super::Reader).
    pub fn reader(&self, group: &str) -> ClientConfig {
        let mut config = self.assigned(group);
        config.set("enable.partition.eof", "true");
        config
    }

    /// An idempotent producer: every record acknowledged by all in-sync replicas,
    /// written once and in order per partition, whatever the retries.
    pub fn idempotent_producer(&self) -> ClientConfig {
        let mut config = self.client();
        config.set("enable.idempotence", "true").set("acks", "all");
        config
    }

    /// A transactional producer (idempotent, as every transactional producer is)
    /// with id `transactional_id`: an instance started with the same id fences
    /// this one. The broker aborts a transaction left open for
    /// `transaction_timeout`; a record not acknowledged within `message_timeout`
    /// fails, and never later than the transaction would (librdkafka refuses a
    /// message timeout above the transaction timeout).
    pub fn transactional_producer(
        &self,
        transactional_id: &str,
        transaction_timeout: Duration,
        message_timeout: Duration,
    ) -> ClientConfig {
        let mut config = self.client();
        config
            .set("transactional.id", transactional_id)
            .set(
                "transaction.timeout.ms",
                transaction_timeout.as_millis().to_string(),
            )
            .set(
                "message.timeout.ms",
                message_timeout
                    .min(transaction_timeout)
                    .as_millis()
                    .to_string(),
            );
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_starts_from_the_brokers() {
        let kafka = KafkaSettings::new("b1:9092,b2:9092");
        for config in [
            kafka.client(),
            kafka.positions(),
            kafka.group_consumer("g", 100),
            kafka.assigned("r"),
            kafka.reader("r"),
            kafka.idempotent_producer(),
            kafka.transactional_producer("t", Duration::from_secs(10), Duration::from_secs(5)),
        ] {
            assert_eq!(config.get("bootstrap.servers"), Some("b1:9092,b2:9092"));
        }
    }

    #[test]
    fn every_kind_carries_the_security_settings_and_debug_hides_the_password() {
        let security = KafkaSecurity::from_lookup(|name| match name {
            "LEDGERSTREAM_KAFKA_SECURITY_PROTOCOL" => Some("SASL_PLAINTEXT".to_owned()),
            "LEDGERSTREAM_KAFKA_SASL_USERNAME" => Some("u".to_owned()),
            "LEDGERSTREAM_KAFKA_SASL_PASSWORD" => Some("hunter2-kafka".to_owned()),
            _ => None,
        })
        .expect("settings");
        let kafka = KafkaSettings::with_security("b:9092", Arc::new(security));
        for config in [
            kafka.client(),
            kafka.positions(),
            kafka.group_consumer("g", 100),
            kafka.reader("r"),
            kafka.idempotent_producer(),
            kafka.transactional_producer("t", Duration::from_secs(10), Duration::from_secs(5)),
        ] {
            assert_eq!(config.get("security.protocol"), Some("SASL_PLAINTEXT"));
            assert_eq!(config.get("sasl.password"), Some("hunter2-kafka"));
        }
        assert!(!format!("{kafka:?}").contains("hunter2-kafka"), "{kafka:?}");
        // Nothing installed in this test process: PLAINTEXT.
        assert_eq!(
            KafkaSettings::new("b:9092")
                .client()
                .get("security.protocol"),
            Some("PLAINTEXT")
        );
    }

    #[test]
    fn consumers_never_commit_on_their_own_and_read_committed_records_only() {
        let kafka = KafkaSettings::new("b:9092");
        for config in [
            kafka.positions(),
            kafka.group_consumer("g", 100),
            kafka.assigned("r"),
            kafka.reader("r"),
        ] {
            assert_eq!(config.get("enable.auto.commit"), Some("false"));
            assert_eq!(config.get("isolation.level"), Some("read_committed"));
        }
        let member = kafka.group_consumer("g", 100);
        assert_eq!(member.get("enable.auto.offset.store"), Some("false"));
        assert_eq!(member.get("partition.assignment.strategy"), Some("range"));
        assert_eq!(member.get("fetch.wait.max.ms"), Some("100"));
        for reader in [&member, &kafka.assigned("r"), &kafka.reader("r")] {
            assert_eq!(reader.get("fetch.queue.backoff.ms"), Some("10"));
        }
        assert_eq!(kafka.assigned("r").get("enable.partition.eof"), None);
        assert_eq!(kafka.reader("r").get("enable.partition.eof"), Some("true"));
    }

    #[test]
    fn a_message_never_outlives_its_transaction() {
        let kafka = KafkaSettings::new("b:9092");
        let config =
            kafka.transactional_producer("t", Duration::from_secs(10), Duration::from_secs(30));
        assert_eq!(config.get("transactional.id"), Some("t"));
        assert_eq!(config.get("transaction.timeout.ms"), Some("10000"));
        assert_eq!(config.get("message.timeout.ms"), Some("10000"));
        let config =
            kafka.transactional_producer("t", Duration::from_secs(10), Duration::from_secs(5));
        assert_eq!(config.get("message.timeout.ms"), Some("5000"));
    }
}
