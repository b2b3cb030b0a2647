//! The processing loop, on a thread of its own.
//!
//! ```text
//!  poll account-commands ──▶ decide (per command, on the partition's state)
//!        │                      ├─ events ────────▶ account-events  (same partition)
//!        │                      ├─ follow-ups ────▶ account-commands (target's key)
//!        │                      └─ dead letters ──▶ account-dead-letters
//!  close batch ─▶ flush ─▶ results (with the events' offsets) ─▶ account-command-results
//!              ─▶ offsets into the transaction ─▶ commit ─▶ store (every store_write_millis)
//! ```
//!
//! Every record of a batch and its consumed offsets are one Kafka transaction
//! ([`batch`](super::batch)); the store is written only after the commit, so it
//! never runs ahead of the committed log. When a batch fails, its transaction is
//! aborted and every partition's state restored again from the store and the
//! committed log; when the producer is fenced or broken, the loop stops and the
//! caller starts a new one.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ledgerstream_runtime::supervise::Restartable;
use ledgerstream_runtime::topics::TopicNames;
use ledgerstream_schemas::codec::EncodeError;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaError};
use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::{Offset, TopicPartitionList};
use tracing::{info, warn};

use super::batch::Batch;
use super::config::ProcessorConfig;
use super::http::Health;
use super::kafka::{self, Assignment, CommandsContext, DeliveryTracker, Shared, lock};
use super::metrics::Metrics;
use super::owners::OwnerView;
use super::partition::Partition;
use super::restore::{RestoreError, Restorer};
use crate::store::StoreError;
use ledgerstream_runtime::decoder::Decoder;

/// Why the loop stopped.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// Kafka refused something outside a transaction (settings, the consumer).
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    /// A transaction step failed; [`RDKafkaError::txn_requires_abort`] says whether
    /// aborting the batch is enough, otherwise the producer must be made anew.
    #[error("kafka transaction: {0}")]
    Transaction(RDKafkaError),
    /// Another producer took over this transactional id, or the broker aborted
    /// the transaction: this instance must not write any more with this producer.
    #[error("the producer was fenced ({0}); starting again with a new producer")]
    Fenced(RDKafkaError),
    /// The broker does not offer Kafka transactions.
    #[error(
        "the broker does not support transactions ({0}); ledgerstream needs a Kafka cluster \
         with transactions (Apache Kafka 2.5 or later)"
    )]
    TransactionsUnsupported(String),
    #[error(transparent)]
    Restore(#[from] RestoreError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The registry could not be asked for a schema; restarting retries.
    #[error("schema registry: {0}")]
    Registry(String),
    #[error("encoding {0}")]
    Encode(#[from] EncodeError),
    #[error("consumer group: {0}")]
    Group(String),
    #[error(transparent)]
    Instance(#[from] super::instance::InstanceError),
    /// Records of the batch were not delivered.
    #[error("{failed} record(s) of the batch were not delivered, the first: {first}")]
    Delivery { failed: usize, first: String },
}

impl Restartable for ProcessError {
    /// Whether starting the loop again may help (a new producer and consumer, state
    /// restored from the log); the other errors need a person.
    fn is_restartable(&self) -> bool {
        !matches!(
            self,
            ProcessError::TransactionsUnsupported(_)
                | ProcessError::Encode(_)
                | ProcessError::Group(_)
                | ProcessError::Instance(_)
        )
    }
}

impl ProcessError {
    /// Whether aborting the open transaction and processing the batch again is
    /// enough; otherwise the loop stops, for the caller to start it again.
    fn is_abortable(&self) -> bool {
        match self {
            ProcessError::Transaction(error) => error.txn_requires_abort(),
            ProcessError::Kafka(_) | ProcessError::Delivery { .. } => true,
            _ => false,
        }
    }
}

/// A transaction step's error, classified.
pub(super) fn transaction_error(error: KafkaError) -> ProcessError {
    let text = error.to_string();
    if text.contains("not supported by broker") || text.contains("UNSUPPORTED") {
        return ProcessError::TransactionsUnsupported(text);
    }
    match error {
        KafkaError::Transaction(error) if error.is_fatal() => ProcessError::Fenced(error),
        KafkaError::Transaction(error) => ProcessError::Transaction(error),
        other => ProcessError::Kafka(other),
    }
}

/// The processor: call [`Processor::run`] on a thread of its own.
pub struct Processor {
    pub(super) config: ProcessorConfig,
    // Shared so that a polled message (which borrows the consumer) and `&mut self`
    // can live together.
    pub(super) consumer: Arc<BaseConsumer<CommandsContext>>,
    pub(super) producer: Arc<BaseProducer<DeliveryTracker>>,
    pub(super) shared: Arc<Shared>,
    pub(super) decoder: Decoder,
    pub(super) owners: Arc<OwnerView>,
    restorer: Restorer,
    pub(super) partitions: BTreeMap<i32, Partition>,
    /// The earliest offset seen for a partition still restoring: read again later.
    pub(super) seek_on_ready: HashMap<i32, i64>,
    /// The offset last committed for each ready partition.
    pub(super) committed: HashMap<i32, i64>,
    pub(super) batch: Batch,
    /// When the stores were last written (see [`ProcessorConfig::store_write_millis`]).
    pub(super) stores_written: Instant,
    pub(super) metrics: Metrics,
    health: Arc<Health>,
    stop: Arc<AtomicBool>,
    pub(super) encode_buffer: Vec<u8>,
    pub(super) topics: Arc<TopicNames>,
    /// Partitions of the commands topic: where each account's commands belong.
    pub(super) command_partitions: i32,
}

impl std::fmt::Debug for Processor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Processor")
            .field("partitions", &self.partitions.keys())
            .finish()
    }
}

impl Processor {
    /// Connects, fences any earlier producer of this instance's transactional id
    /// (aborting the transaction it left open), subscribes and starts the owner
    /// view; processing starts in `run`.
    pub fn start(
        config: ProcessorConfig,
        transactional_id: &str,
        decoder: Decoder,
        metrics: Metrics,
        health: Arc<Health>,
        stop: Arc<AtomicBool>,
    ) -> Result<Self, ProcessError> {
        let producer = Arc::new(kafka::producer(&config, transactional_id)?);
        producer
            .init_transactions(config.kafka_timeout() + config.transaction_timeout())
            .map_err(transaction_error)?;
        let shared = Arc::new(Shared::default());
        let context = CommandsContext {
            shared: Arc::clone(&shared),
            producer: Arc::clone(&producer),
            timeout: config.kafka_timeout(),
        };
        let topics = Arc::new(config.topics());
        let consumer = Arc::new(kafka::commands_consumer(&config, context)?);
        let command_partitions = consumer
            .fetch_metadata(Some(&topics.commands), config.kafka_timeout())?
            .topics()
            .first()
            .map_or(0, |t| t.partitions().len() as i32);
        if command_partitions == 0 {
            return Err(ProcessError::Group(format!(
                "{} has no partitions; run `ledgerstream topics create`",
                topics.commands
            )));
        }
        consumer.subscribe(&[&topics.commands])?;
        let owners = Arc::new(OwnerView::default());
        owners
            .spawn(
                kafka::reader(&config)?,
                topics.events.clone(),
                decoder.clone(),
                Arc::clone(&stop),
            )
            .map_err(ProcessError::Kafka)?;
        let restorer = Restorer::new(
            kafka::reader(&config)?,
            kafka::reader(&config)?,
            config.state_dir.clone(),
            config.idempotency_window,
            (*topics).clone(),
        );
        health.set(false, "waiting for a partition assignment");
        Ok(Self {
            config,
            consumer,
            producer,
            shared,
            decoder,
            owners,
            restorer,
            partitions: BTreeMap::new(),
            seek_on_ready: HashMap::new(),
            committed: HashMap::new(),
            batch: Batch::default(),
            stores_written: Instant::now(),
            metrics,
            health,
            stop,
            encode_buffer: Vec::with_capacity(512),
            topics,
            command_partitions,
        })
    }

    /// Starts a processor on `config.state_dir`'s instance and runs it until `stop`
    /// is set, once, without `/metrics` or restarts: for tools that embed one (the
    /// benchmarks). `ledgerstream process` is the full service.
    pub fn run_embedded(
        config: ProcessorConfig,
        decoder: Decoder,
        stop: Arc<AtomicBool>,
    ) -> Result<(), ProcessError> {
        let instance = super::instance::Instance::open(&config.state_dir)?;
        let transactional_id = instance.transactional_id(&config.transactional_id);
        let health = Arc::new(Health::default());
        Self::start(
            config,
            &transactional_id,
            decoder,
            Metrics::new(),
            health,
            stop,
        )?
        .run()
    }

    /// Processes until `stop` is set: then commits the open batch, leaves the group
    /// and returns.
    pub fn run(mut self) -> Result<(), ProcessError> {
        let finished = self
            .run_loop()
            .and_then(|()| self.close_batch())
            .and_then(|()| self.write_stores(true));
        if finished.is_err() && self.shared.transaction_open.swap(false, Ordering::AcqRel) {
            // Nothing of a failed batch may become visible; the broker would abort
            // it at the transaction timeout, but readers should not wait for that.
            if let Err(error) = self.producer.abort_transaction(self.config.kafka_timeout()) {
                warn!(%error, "aborting the open transaction failed");
            }
        }
        self.consumer.unsubscribe();
        // Dropping the consumer closes it: the group rebalances without waiting for
        // a session timeout.
        self.health.set(false, "stopped");
        info!("processor stopped");
        finished
    }

    fn run_loop(&mut self) -> Result<(), ProcessError> {
        let mut last_gauges = Instant::now();
        let mut last_markers = Instant::now();
        let mut last_command = Instant::now();
        while !self.stop.load(Ordering::Acquire) {
            self.handle_assignment_changes()?;
            self.restore_step()?;
            let wait = match self.batch.opened {
                Some(opened) => self
                    .config
                    .batch_time()
                    .saturating_sub(opened.elapsed())
                    .min(self.config.batch_idle()),
                None => Duration::from_millis(100),
            };
            let consumer = Arc::clone(&self.consumer);
            let polled = consumer.poll(wait.min(Duration::from_millis(100)));
            // A rebalance runs inside `poll`: its revoke aborted the open batch, which
            // must be dropped before any further command is handled.
            self.handle_assignment_changes()?;
            let idle = polled.is_none() && self.batch.opened.is_none();
            let outcome = match polled {
                None if idle && last_markers.elapsed() >= Duration::from_secs(1) => {
                    last_markers = Instant::now();
                    self.commit_markers()
                        .and_then(|()| self.write_stores(false))
                }
                // No further command within the idle time: the open batch is as
                // full as it gets. (A poll also returns empty-handed at its 100 ms
                // cap, which is not idle time when that is longer.)
                None if self.batch.opened.is_some()
                    && last_command.elapsed() >= self.config.batch_idle() =>
                {
                    self.close_batch()
                }
                None => Ok(()),
                Some(Ok(message)) => {
                    last_command = Instant::now();
                    self.handle(&message)
                }
                Some(Err(error)) => {
                    warn!(%error, "consuming account-commands failed; retrying");
                    Ok(())
                }
            };
            let outcome = outcome.and_then(|()| {
                if self.batch.is_due(&self.config) {
                    self.close_batch()
                } else {
                    Ok(())
                }
            });
            if let Err(error) = outcome {
                self.recover(error)?;
            }
            if last_gauges.elapsed() >= Duration::from_secs(2) {
                self.update_gauges();
                last_gauges = Instant::now();
            }
        }
        Ok(())
    }

    fn restore_step(&mut self) -> Result<(), ProcessError> {
        if self.restorer.pending().next().is_none() {
            return Ok(());
        }
        let restored = self.restorer.step(
            &self.decoder,
            &self.metrics,
            5_000,
            Duration::from_millis(5),
        )?;
        for partition in restored {
            self.ready(partition)?;
        }
        Ok(())
    }

    /// A failed batch: when aborting it is enough, abort and rewind every partition
    /// to the committed log; otherwise stop, for the caller to start again with a
    /// new producer (fenced, a commit that timed out — librdkafka lacks KIP-890 —,
    /// a registry that cannot be reached).
    fn recover(&mut self, error: ProcessError) -> Result<(), ProcessError> {
        if !error.is_abortable() {
            return Err(error);
        }
        warn!(%error, "batch failed; aborting it and rewinding to the committed offsets");
        if self.shared.transaction_open.swap(false, Ordering::AcqRel) {
            self.producer
                .abort_transaction(self.config.kafka_timeout())
                .map_err(transaction_error)?;
        }
        self.metrics
            .transactions
            .with_label_values(&["aborted"])
            .inc();
        self.rewind()
    }

    fn handle_assignment_changes(&mut self) -> Result<(), ProcessError> {
        let changes = std::mem::take(&mut *lock(&self.shared.changes));
        if changes.is_empty() {
            return Ok(());
        }
        for change in changes {
            match change {
                Assignment::Revoked(partitions) => {
                    // The revoke aborted the transaction: the whole batch is gone, and
                    // so is every partition state it touched.
                    if self.batch.opened.is_some() {
                        self.metrics
                            .transactions
                            .with_label_values(&["aborted"])
                            .inc();
                    }
                    self.batch = Batch::default();
                    self.producer.context().take();
                    for id in partitions {
                        self.partitions.remove(&id);
                        self.committed.remove(&id);
                        self.seek_on_ready.remove(&id);
                        self.restorer.cancel(id)?;
                    }
                }
                Assignment::Assigned(partitions) => {
                    for id in partitions {
                        self.restorer.start(id)?;
                    }
                    self.restorer.measure_remaining(&self.metrics);
                }
            }
        }
        self.report_health();
        Ok(())
    }

    /// Where the consumer group says each partition resumes. An offset a
    /// transaction still holds is waited for (`read_committed` asks for stable
    /// offsets), up to the transaction timeout.
    fn committed(&self, partitions: &[i32]) -> Result<HashMap<i32, i64>, ProcessError> {
        let mut list = TopicPartitionList::new();
        for id in partitions {
            list.add_partition(&self.topics.commands, *id);
        }
        let timeout = self.config.kafka_timeout() + self.config.transaction_timeout();
        let committed = self.consumer.committed_offsets(list, timeout)?;
        Ok(committed
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(offset) => Some((e.partition(), offset)),
                _ => None,
            })
            .collect())
    }

    fn ready(&mut self, partition: Partition) -> Result<(), ProcessError> {
        let id = partition.id;
        if let Some(offset) = self.committed(&[id])?.get(&id) {
            self.committed.insert(id, *offset);
        }
        self.partitions.insert(id, partition);
        let mut list = TopicPartitionList::new();
        list.add_partition(&self.topics.commands, id);
        if let Some(offset) = self.seek_on_ready.remove(&id) {
            self.consumer.seek(
                &self.topics.commands,
                id,
                Offset::Offset(offset),
                self.config.kafka_timeout(),
            )?;
        }
        self.consumer.resume(&list)?;
        self.metrics
            .ready_partitions
            .set(self.partitions.len() as i64);
        self.report_health();
        Ok(())
    }

    fn report_health(&self) {
        let restoring: Vec<i32> = self.restorer.pending().collect();
        if !restoring.is_empty() {
            self.health
                .set(false, format!("restoring partitions {restoring:?}"));
        } else if !self.owners.caught_up() {
            self.health.set(false, "reading the owner view");
        } else if self.partitions.is_empty() {
            self.health.set(true, "ready; no partition assigned");
        } else {
            let ready: Vec<&i32> = self.partitions.keys().collect();
            self.health
                .set(true, format!("ready; partitions {ready:?}"));
        }
    }

    /// Drops every partition's state and restores it again from the store and the
    /// committed log, and sends the consumer back to the committed offsets: what a
    /// restart would do, without leaving the group.
    fn rewind(&mut self) -> Result<(), ProcessError> {
        self.batch = Batch::default();
        self.producer.context().take();
        let ids: Vec<i32> = self
            .partitions
            .keys()
            .copied()
            .chain(self.restorer.pending())
            .collect();
        self.partitions.clear();
        if ids.is_empty() {
            return Ok(());
        }
        let committed = self.committed(&ids)?;
        let mut list = TopicPartitionList::new();
        for id in &ids {
            list.add_partition(&self.topics.commands, *id);
        }
        self.consumer.pause(&list)?;
        for id in ids {
            let offset = committed
                .get(&id)
                .map_or(Offset::Beginning, |o| Offset::Offset(*o));
            // Resumed there once restored, whatever was fetched meanwhile.
            if let Offset::Offset(at) = offset {
                self.seek_on_ready.insert(id, at);
            }
            if let Err(error) = self.consumer.seek(
                &self.topics.commands,
                id,
                offset,
                self.config.kafka_timeout(),
            ) {
                warn!(partition = id, %error, "seek on rewind failed; reading again from where the consumer stands");
            }
            self.restorer.cancel(id)?;
            self.restorer.start(id)?;
        }
        self.report_health();
        Ok(())
    }

    fn update_gauges(&self) {
        for (id, partition) in &self.partitions {
            self.metrics
                .store_bytes
                .with_label_values(&[&id.to_string()])
                .set(partition.store_bytes() as i64);
        }
        self.restorer.measure_remaining(&self.metrics);
        self.report_health();
    }
}
