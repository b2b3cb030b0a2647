//! Kafka clients of the processor: the commands consumer (with its rebalance
//! hooks), the producer (with delivery tracking), and plain assign-only consumers
//! for reading partitions back.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::Message;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, DeliveryResult, Producer, ProducerContext};
use tracing::{info, warn};

use super::config::ProcessorConfig;
use super::dead_letter::MESSAGE_MAX_BYTES;

/// Waits until every record `producer` queued is delivered (or failed) and its
/// report handled, for at most `timeout`.
///
/// rdkafka's own `flush` (and so its `commit_transaction`, which flushes first)
/// waits in `poll` steps of 100 ms, and its `poll` runs to its deadline even when
/// every report has arrived: each flush would take a multiple of 100 ms. This one
/// checks every millisecond, sleeping in between; a commit after it finds nothing
/// left to flush.
pub fn flush<C: ProducerContext>(producer: &BaseProducer<C>, timeout: Duration) -> KafkaResult<()> {
    let deadline = Instant::now() + timeout;
    // A zero-timeout flush sends what lingers at once.
    match producer.flush(Duration::ZERO) {
        Ok(()) => return Ok(()),
        Err(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut)) => {}
        Err(error) => return Err(error),
    }
    loop {
        // Serves the delivery reports that have arrived, without waiting.
        producer.poll(Duration::ZERO);
        if producer.in_flight_count() == 0 {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut));
        }
        // Sleeping rather than polling with a timeout: a poll of less than a
        // millisecond's wait spins.
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A change of assignment, as seen by the rebalance callbacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assignment {
    Assigned(Vec<i32>),
    Revoked(Vec<i32>),
}

/// What the rebalance callbacks share with the processing loop. They run inside
/// `poll`, on the loop's own thread, so the locks are never contended.
#[derive(Debug, Default)]
pub struct Shared {
    /// Assignment changes not yet handled by the loop.
    pub changes: Mutex<Vec<Assignment>>,
    /// Whether a transaction is open.
    pub transaction_open: AtomicBool,
}

/// The commands consumer's context. On revoke it aborts the open transaction, so
/// that nothing of the open batch is ever visible: the partitions' next owner
/// decides those commands again from the committed state. On assign it pauses the
/// new partitions until their state is restored.
pub struct CommandsContext {
    pub shared: Arc<Shared>,
    pub producer: Arc<BaseProducer<DeliveryTracker>>,
    pub timeout: Duration,
}

impl ClientContext for CommandsContext {}

impl ConsumerContext for CommandsContext {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(list) = rebalance else {
            return;
        };
        let partitions: Vec<i32> = list.elements().iter().map(|e| e.partition()).collect();
        if self.shared.transaction_open.swap(false, Ordering::AcqRel)
            && let Err(error) = self.producer.abort_transaction(self.timeout)
        {
            // The broker aborts it at the transaction timeout, or the next
            // instance on this transactional id does at once.
            warn!(?partitions, %error, "aborting the open transaction on revoke failed");
        }
        info!(?partitions, "partitions revoked");
        lock(&self.shared.changes).push(Assignment::Revoked(partitions));
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Assign(list) = rebalance else {
            return;
        };
        let partitions: Vec<i32> = list.elements().iter().map(|e| e.partition()).collect();
        // Nothing is processed before the partition's state has seen every event.
        if let Err(error) = consumer.pause(list) {
            warn!(?partitions, %error, "pausing new partitions failed");
        }
        info!(?partitions, "partitions assigned; restoring their state");
        lock(&self.shared.changes).push(Assignment::Assigned(partitions));
    }
}

/// Locks `mutex`, also after a panic elsewhere (the data stays consistent: every
/// critical section here is a single push or take).
pub fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Where each produced record landed, by the slot it was sent with.
#[derive(Debug, Default)]
pub struct DeliveryTracker {
    slots: Mutex<Vec<Delivery>>,
}

/// The fate of one produced record.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    Pending,
    Delivered { partition: i32, offset: i64 },
    Failed(String),
}

impl DeliveryTracker {
    /// A new slot to send a record with.
    pub fn slot(&self) -> usize {
        let mut slots = lock(&self.slots);
        slots.push(Delivery::Pending);
        slots.len() - 1
    }

    /// Takes every slot's outcome and starts over.
    pub fn take(&self) -> Vec<Delivery> {
        std::mem::take(&mut *lock(&self.slots))
    }
}

impl ClientContext for DeliveryTracker {}

impl ProducerContext for DeliveryTracker {
    type DeliveryOpaque = Box<usize>;

    fn delivery(&self, result: &DeliveryResult<'_>, slot: Self::DeliveryOpaque) {
        let outcome = match result {
            Ok(message) => Delivery::Delivered {
                partition: message.partition(),
                offset: message.offset(),
            },
            Err((error, _)) => Delivery::Failed(error.to_string()),
        };
        let mut slots = lock(&self.slots);
        if let Some(entry) = slots.get_mut(*slot) {
            *entry = outcome;
        }
    }
}

fn common(config: &ProcessorConfig) -> ClientConfig {
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", &config.brokers);
    client
}

/// The transactional producer of events, results, follow-ups and dead letters.
pub fn producer(
    config: &ProcessorConfig,
    transactional_id: &str,
) -> Result<BaseProducer<DeliveryTracker>, KafkaError> {
    // librdkafka refuses a message timeout above the transaction timeout.
    let message_timeout = config
        .kafka_timeout_millis
        .min(config.transaction_timeout_millis);
    common(config)
        .set("transactional.id", transactional_id)
        .set(
            "transaction.timeout.ms",
            config.transaction_timeout_millis.to_string(),
        )
        .set("linger.ms", "5")
        .set("compression.type", "lz4")
        // Follow-up commands are keyed by account id: partition them like Java
        // clients do, so that every producer of commands agrees on the partition.
        .set("partitioner", "murmur2_random")
        .set("message.timeout.ms", message_timeout.to_string())
        // What dead letters are cut to fit (see dead_letter.rs).
        .set("message.max.bytes", MESSAGE_MAX_BYTES.to_string())
        .create_with_context(DeliveryTracker::default())
}

/// The commands consumer, in the processors' group.
pub fn commands_consumer(
    config: &ProcessorConfig,
    context: CommandsContext,
) -> Result<BaseConsumer<CommandsContext>, KafkaError> {
    common(config)
        .set("group.id", &config.group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed")
        .set("session.timeout.ms", "10000")
        .set("heartbeat.interval.ms", "2000")
        .set("partition.assignment.strategy", "range")
        .set("fetch.wait.max.ms", config.fetch_wait_millis.to_string())
        .create_with_context(context)
}

/// The context of readers: reaching the end of a partition is what they wait for,
/// not an error to log.
#[derive(Debug, Default)]
pub struct ReaderContext;

impl ClientContext for ReaderContext {
    fn error(&self, error: KafkaError, reason: &str) {
        let eof = matches!(
            error,
            KafkaError::PartitionEOF(_)
                | KafkaError::Global(rdkafka::types::RDKafkaErrorCode::PartitionEOF)
        );
        if !eof {
            warn!(%error, reason, "kafka reader error");
        }
    }
}

impl ConsumerContext for ReaderContext {}

/// A consumer that reads partitions back by assignment, outside any group; it
/// reports reaching the end of each partition.
pub type Reader = BaseConsumer<ReaderContext>;

/// A new [`Reader`].
pub fn reader(brokers: &str) -> Result<Reader, KafkaError> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "ledgerstream-reader")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("isolation.level", "read_committed")
        .set("enable.partition.eof", "true")
        .create_with_context(ReaderContext)
}
