use std::sync::Arc;
use std::time::Duration;

use ledgerstream_runtime::kafka::{JAVA_PARTITIONER, KafkaSettings};
use ledgerstream_schemas::catalog::Kind;
use ledgerstream_schemas::client::RegistryClient;
use ledgerstream_schemas::codec::{Codec, EncodeError, Setup, SetupError};
use ledgerstream_schemas::records::CommandRecord;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};

/// Where a command landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub partition: i32,
    pub offset: i64,
}

/// Why a command was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The schemas could not be registered or looked up.
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// Kafka did not take the command (after the producer's own retries).
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
}

/// Sends commands; cheap to clone.
#[derive(Clone)]
pub struct CommandSender {
    producer: FutureProducer,
    codec: Arc<Codec>,
    topic: String,
}

impl std::fmt::Debug for CommandSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandSender")
            .field("topic", &self.topic)
            .finish()
    }
}

impl CommandSender {
    /// A sender to `topic` on `brokers`; `setup` says whether the command schemas are
    /// registered at start (the default for producers) or only looked up.
    pub async fn connect(
        brokers: &str,
        registry: &RegistryClient,
        topic: &str,
        setup: Setup,
    ) -> Result<Self, SendError> {
        Self::connect_with(brokers, registry, topic, setup, None).await
    }

    /// [`connect`](Self::connect), with how long Kafka may take to acknowledge a
    /// command before its delivery fails (librdkafka's `message.timeout.ms`; its
    /// default, 5 minutes, when `None`).
    pub(crate) async fn connect_with(
        brokers: &str,
        registry: &RegistryClient,
        topic: &str,
        setup: Setup,
        delivery_timeout: Option<Duration>,
    ) -> Result<Self, SendError> {
        let codec = Codec::connect(registry, &[(Kind::Commands, topic)], setup).await?;
        let mut config = KafkaSettings::new(brokers).idempotent_producer();
        config
            .set("linger.ms", "5")
            // The processor refuses a command on another partition than its key's
            // under Java's partitioner (WRONG_PARTITION).
            .set("partitioner", JAVA_PARTITIONER);
        if let Some(timeout) = delivery_timeout {
            config.set("message.timeout.ms", timeout.as_millis().to_string());
        }
        let producer = config.create()?;
        Ok(Self {
            producer,
            codec: Arc::new(codec),
            topic: topic.to_owned(),
        })
    }

    /// Sends one command, keyed by its account id; resolves once Kafka has it.
    pub async fn send(&self, command: &CommandRecord) -> Result<Sent, SendError> {
        let payload = self.codec.encode(command)?;
        self.send_raw(command.account_id().as_bytes(), &payload)
            .await
    }

    /// The topic commands go to.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Queues one command, keyed by its account id, behind every command queued
    /// before it: commands queued one after another reach their partition in that
    /// order. Returns once the command is queued (waiting while the producer's
    /// queue is full); the future it returns resolves once Kafka has it.
    pub(crate) async fn queue(&self, command: &CommandRecord) -> Result<DeliveryFuture, SendError> {
        let payload = self.codec.encode(command)?;
        let mut record = FutureRecord::to(&self.topic)
            .key(command.account_id().as_bytes())
            .payload(&payload);
        loop {
            match self.producer.send_result(record) {
                Ok(delivery) => return Ok(delivery),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err((error, _)) => return Err(error.into()),
            }
        }
    }

    /// Sends bytes as they are (for tools and tests that need a malformed record).
    pub async fn send_raw(&self, key: &[u8], payload: &[u8]) -> Result<Sent, SendError> {
        let record = FutureRecord::to(&self.topic).key(key).payload(payload);
        let delivery = self
            .producer
            .send(record, Duration::from_secs(30))
            .await
            .map_err(|(error, _)| error)?;
        Ok(Sent {
            partition: delivery.partition,
            offset: delivery.offset,
        })
    }
}
