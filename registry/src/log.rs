//! The `_schemas` topic: made sure of, read from the beginning, appended to.
//!
//! librdkafka's blocking calls (metadata, watermarks, polling) run on tokio's blocking
//! pool; writes go through one long-lived idempotent producer with `acks=all`, each
//! record confirmed by its delivery report before the write returns.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use ledgerstream_runtime::kafka::KafkaSettings;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use tracing::{debug, info, warn};

use super::record::{Record, RecordError};

/// How long one metadata, admin or watermark request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// How long reading the topic may go without a record before it is given up.
const READ_STALL: Duration = Duration::from_secs(30);

/// How long a created topic may take to show up in the metadata.
const TOPIC_VISIBLE: Duration = Duration::from_secs(15);

/// Confluent's default replication for the topic, lowered to the number of brokers.
const REPLICATION: usize = 3;

/// Something went wrong with the topic; each message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The broker did not answer: start it, or point LEDGERSTREAM_BROKERS elsewhere.
    #[error(
        "the broker at {brokers} did not answer ({cause}); start it (`infra/local/stack.sh \
         up broker`) or point LEDGERSTREAM_BROKERS at a running one"
    )]
    Unreachable { brokers: String, cause: KafkaError },

    /// The topic would reorder records: use another topic.
    #[error(
        "topic '{topic}' has {partitions} partitions; the registry needs exactly 1 so that \
         its records keep their order. Start it with another --topic (it creates that one), \
         or delete '{topic}' if it holds no schemas you need"
    )]
    Partitions { topic: String, partitions: usize },

    /// The topic would lose records to retention: make it compacted, or use another.
    #[error(
        "topic '{topic}' has cleanup.policy={policy}; the registry needs 'compact', or \
         retention would delete schemas still in use. Change it (kafka-configs.sh --alter \
         --entity-type topics --entity-name {topic} --add-config cleanup.policy=compact) \
         or start with another --topic"
    )]
    CleanupPolicy { topic: String, policy: String },

    /// Creating the topic failed for another reason than that it exists.
    #[error("creating topic '{topic}' failed: {reason}")]
    Create { topic: String, reason: String },

    /// The created topic did not show up.
    #[error("topic '{topic}' was created but is not in the broker's metadata after {secs} s")]
    Invisible { topic: String, secs: u64 },

    /// Reading failed; the registry cannot start from a partial state.
    #[error("reading topic '{topic}' failed: {cause}")]
    Read { topic: String, cause: KafkaError },

    /// Reading stopped making progress before the end.
    #[error(
        "reading topic '{topic}' stalled at offset {offset} of {end} for {secs} s; is the \
         broker healthy?"
    )]
    Stalled {
        topic: String,
        offset: i64,
        end: i64,
        secs: u64,
    },

    /// A write was not confirmed: it may or may not be in the topic.
    #[error("writing to topic '{topic}' failed: {cause}")]
    Write { topic: String, cause: KafkaError },

    /// A record could not be encoded (a bug, not an operating problem).
    #[error("encoding a record failed: {0}")]
    Encode(#[from] serde_json::Error),

    /// A blocking task did not finish.
    #[error("a background task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// A record read back, with its offset; a record that does not decode is kept as the
/// error, for the caller to report and skip.
pub type ReadRecord = (i64, Result<Record, RecordError>);

/// Appends records to the topic, through one producer made at start.
pub struct SchemaLog {
    config: ClientConfig,
    /// Replaced only after a fatal error, which leaves an idempotent producer
    /// unable to write again.
    producer: Mutex<FutureProducer>,
    topic: String,
}

impl std::fmt::Debug for SchemaLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaLog")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

/// The settings of the registry's clients: the process's, security settings
/// included, as every other component's.
fn client_config(brokers: &str) -> ClientConfig {
    let mut config = KafkaSettings::new(brokers).client();
    config.set("socket.timeout.ms", "10000");
    config
}

/// Creates the topic (compacted, one partition) when it is missing, and refuses one that
/// has more partitions or another cleanup policy.
pub async fn ensure_topic(brokers: &str, topic: &str) -> Result<(), LogError> {
    let config = client_config(brokers);
    let broker_count = {
        let (config, brokers) = (config.clone(), brokers.to_owned());
        tokio::task::spawn_blocking(move || -> Result<usize, LogError> {
            let consumer: BaseConsumer =
                config.create().map_err(|cause| LogError::Unreachable {
                    brokers: brokers.clone(),
                    cause,
                })?;
            let metadata = consumer
                .fetch_metadata(None, REQUEST_TIMEOUT)
                .map_err(|cause| LogError::Unreachable { brokers, cause })?;
            Ok(metadata.brokers().len())
        })
        .await??
    };

    let admin: AdminClient<DefaultClientContext> =
        config.create().map_err(|cause| LogError::Unreachable {
            brokers: brokers.to_owned(),
            cause,
        })?;
    let options = AdminOptions::new().operation_timeout(Some(REQUEST_TIMEOUT));
    let replication = broker_count.clamp(1, REPLICATION) as i32;
    let new_topic = NewTopic::new(topic, 1, TopicReplication::Fixed(replication))
        .set("cleanup.policy", "compact");
    let created = admin
        .create_topics([&new_topic], &options)
        .await
        .map_err(|e| LogError::Create {
            topic: topic.to_owned(),
            reason: e.to_string(),
        })?;
    for result in created {
        match result {
            Ok(_) => info!(topic, replication, "created the schemas topic"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {
                debug!(topic, "the schemas topic exists")
            }
            Err((_, code)) => {
                return Err(LogError::Create {
                    topic: topic.to_owned(),
                    reason: code.to_string(),
                });
            }
        }
    }

    let partitions = partition_count(&config, topic).await?;
    if partitions != 1 {
        return Err(LogError::Partitions {
            topic: topic.to_owned(),
            partitions,
        });
    }
    check_cleanup_policy(&admin, topic, &options).await
}

/// The topic's partition count, waiting for a just-created topic to appear.
async fn partition_count(config: &ClientConfig, topic: &str) -> Result<usize, LogError> {
    let (config, topic) = (config.clone(), topic.to_owned());
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = config.create().map_err(|cause| LogError::Read {
            topic: topic.clone(),
            cause,
        })?;
        let deadline = Instant::now() + TOPIC_VISIBLE;
        loop {
            let metadata = consumer
                .fetch_metadata(Some(&topic), REQUEST_TIMEOUT)
                .map_err(|cause| LogError::Read {
                    topic: topic.clone(),
                    cause,
                })?;
            let found = metadata
                .topics()
                .iter()
                .find(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty());
            if let Some(found) = found {
                return Ok(found.partitions().len());
            }
            if Instant::now() >= deadline {
                return Err(LogError::Invisible {
                    topic,
                    secs: TOPIC_VISIBLE.as_secs(),
                });
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    })
    .await?
}

/// Refuses a topic whose cleanup policy is not exactly `compact`. A broker that cannot
/// describe topic configurations gets a warning, not a refusal.
async fn check_cleanup_policy(
    admin: &AdminClient<DefaultClientContext>,
    topic: &str,
    options: &AdminOptions,
) -> Result<(), LogError> {
    let described = match admin
        .describe_configs([&ResourceSpecifier::Topic(topic)], options)
        .await
    {
        Ok(described) => described,
        Err(error) => {
            warn!(topic, %error, "cannot read the topic's cleanup.policy; not checked");
            return Ok(());
        }
    };
    for resource in described {
        let resource = match resource {
            Ok(resource) => resource,
            Err(code) => {
                warn!(topic, %code, "cannot read the topic's cleanup.policy; not checked");
                continue;
            }
        };
        match resource
            .get("cleanup.policy")
            .and_then(|e| e.value.as_deref())
        {
            Some("compact") => debug!(topic, "the schemas topic is compacted"),
            Some(policy) => {
                return Err(LogError::CleanupPolicy {
                    topic: topic.to_owned(),
                    policy: policy.to_owned(),
                });
            }
            None => warn!(topic, "the broker reports no cleanup.policy; not checked"),
        }
    }
    Ok(())
}

/// Every record of the topic, from the beginning to the high watermark it had when
/// reading started.
pub async fn read_all(brokers: &str, topic: &str) -> Result<Vec<ReadRecord>, LogError> {
    let mut config = client_config(brokers);
    // A group id only because librdkafka's assign() needs one: nothing joins the group
    // or commits to it.
    config
        .set("group.id", "ledgerstream-registry-replay")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("isolation.level", "read_uncommitted");
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || read_blocking(&config, &topic)).await?
}

fn read_blocking(config: &ClientConfig, topic: &str) -> Result<Vec<ReadRecord>, LogError> {
    let read_error = |cause| LogError::Read {
        topic: topic.to_owned(),
        cause,
    };
    let consumer: BaseConsumer = config.create().map_err(read_error)?;
    let (low, end) = consumer
        .fetch_watermarks(topic, 0, REQUEST_TIMEOUT)
        .map_err(read_error)?;
    let mut records = Vec::new();
    if end <= low {
        return Ok(records);
    }
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, 0, Offset::Beginning)
        .map_err(read_error)?;
    consumer.assign(&assignment).map_err(read_error)?;

    let mut next = low;
    let mut last_progress = Instant::now();
    while next < end {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => {
                next = message.offset() + 1;
                last_progress = Instant::now();
                let record = Record::decode(message.key(), message.payload());
                records.push((message.offset(), record));
            }
            // The end of what the broker has: compaction or control records may leave
            // the last offsets before the watermark without a record.
            Some(Err(KafkaError::PartitionEOF(_))) => break,
            Some(Err(cause)) => return Err(read_error(cause)),
            None if last_progress.elapsed() > READ_STALL => {
                return Err(LogError::Stalled {
                    topic: topic.to_owned(),
                    offset: next,
                    end,
                    secs: READ_STALL.as_secs(),
                });
            }
            None => {}
        }
    }
    Ok(records)
}

impl SchemaLog {
    /// A producer for the topic: idempotent, `acks=all`, a write confirmed or failed
    /// within `write_timeout`.
    pub fn connect(brokers: &str, topic: &str, write_timeout: Duration) -> Result<Self, LogError> {
        let mut config = client_config(brokers);
        config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "0")
            .set("message.timeout.ms", write_timeout.as_millis().to_string());
        let producer = config.create().map_err(|cause| LogError::Unreachable {
            brokers: brokers.to_owned(),
            cause,
        })?;
        Ok(Self {
            config,
            producer: Mutex::new(producer),
            topic: topic.to_owned(),
        })
    }

    /// Appends one record and waits for the broker to confirm it (its delivery
    /// report, with `linger.ms=0` sent at once); answers its offset.
    pub async fn append(&self, record: &Record) -> Result<i64, LogError> {
        let (key, value) = record.encode()?;
        let mut message = FutureRecord::<[u8], [u8]>::to(&self.topic)
            .partition(0)
            .key(&key);
        if let Some(value) = &value {
            message = message.payload(value);
        }
        let producer = self.producer().clone();
        match producer.send(message, Timeout::Never).await {
            Ok(delivery) => Ok(delivery.offset),
            Err((cause, _)) => {
                if let Some((code, reason)) = producer.client().fatal_error() {
                    warn!(%code, reason, "the schemas producer failed for good; making a new one");
                    if let Ok(fresh) = self.config.create() {
                        *self.producer() = fresh;
                    }
                }
                Err(LogError::Write {
                    topic: self.topic.clone(),
                    cause,
                })
            }
        }
    }

    fn producer(&self) -> MutexGuard<'_, FutureProducer> {
        self.producer.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
