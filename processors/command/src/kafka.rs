//! Kafka clients of the processor: the commands consumer (with its rebalance
//! hooks), the producer (with delivery tracking), and the readers of partitions.
//! Their settings start from `ledgerstream_runtime::kafka`; what is the
//! processor's own is set here.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ledgerstream_runtime::dead_letters::MESSAGE_MAX_BYTES;
use ledgerstream_runtime::kafka::{JAVA_PARTITIONER, Reader, ReaderContext};
use rdkafka::Message;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, DeliveryResult, Producer, ProducerContext};
use tracing::{info, warn};

use super::config::ProcessorConfig;

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

/// The transactional producer of events, results, follow-ups and dead letters.
pub fn producer(
    config: &ProcessorConfig,
    transactional_id: &str,
) -> Result<BaseProducer<DeliveryTracker>, KafkaError> {
    config
        .kafka()
        .transactional_producer(
            transactional_id,
            config.transaction_timeout(),
            config.kafka_timeout(),
        )
        .set("linger.ms", "5")
        .set("compression.type", "lz4")
        // Follow-up commands are keyed by account id: partition them like Java
        // clients do, so that every producer of commands agrees on the partition.
        .set("partitioner", JAVA_PARTITIONER)
        // What dead letters are cut to fit (see ledgerstream_runtime::dead_letters).
        .set("message.max.bytes", MESSAGE_MAX_BYTES.to_string())
        .create_with_context(DeliveryTracker::default())
}

/// The commands consumer, in the processors' group.
pub fn commands_consumer(
    config: &ProcessorConfig,
    context: CommandsContext,
) -> Result<BaseConsumer<CommandsContext>, KafkaError> {
    config
        .kafka()
        .group_consumer(&config.group, config.fetch_wait_millis)
        .create_with_context(context)
}

/// A [`Reader`] of events or results, to restore from.
pub fn reader(config: &ProcessorConfig) -> Result<Reader, KafkaError> {
    config
        .kafka()
        .reader("ledgerstream-reader")
        .create_with_context(ReaderContext)
}
