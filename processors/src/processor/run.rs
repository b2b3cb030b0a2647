//! The processing loop, on a thread of its own.
//!
//! ```text
//!  poll account-commands ──▶ decide (per command, on the partition's state)
//!        │                      ├─ events ────────▶ account-events  (same partition)
//!        │                      ├─ follow-ups ────▶ account-commands (target's key)
//!        │                      └─ dead letters ──▶ account-dead-letters
//!  close batch ─▶ flush ─▶ results (with the events' offsets) ─▶ account-command-results
//!              ─▶ flush ─▶ commit offsets (or the transaction) ─▶ store (checkpoint)
//! ```
//!
//! The store always trails the log, which is safe: the state is a fold of the
//! events, and a restore folds whatever the store has not seen. A write that fails
//! rewinds every partition to its committed offset and restores it again.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ledgerstream_schemas::codec::{EncodeError, ResolveError};
use ledgerstream_schemas::records::{CommandRecord, EventRecord, RecordUnion, ResultRecord};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};
use tracing::{debug, info, warn};

use super::config::{Mode, ProcessorConfig};
use super::dead_letter::DeadLetter;
use super::decoder::Decoder;
use super::http::Health;
use super::kafka::{self, Assignment, CommandsContext, Delivery, DeliveryTracker, Shared, lock};
use super::metrics::Metrics;
use super::owners::OwnerView;
use super::partition::{Partition, headers};
use super::restore::{RestoreError, Restored, Restorer};
use crate::domain::{AccountCommand, CommandBody, DecisionContext, Timestamp, decide};
use crate::store::StoreError;
use crate::topics::TopicNames;
use crate::wire;

/// Why the loop stopped.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// Kafka refused something the loop cannot recover from (a fenced or broken
    /// transactional producer, a broker without transactions, bad settings).
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    /// The broker does not offer transactions; idempotent mode works without them.
    #[error("the broker does not support transactions ({0}); run with --mode idempotent")]
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
}

impl ProcessError {
    /// Whether starting the loop again may help (a new producer and consumer, state
    /// restored from the log); the other errors need a person.
    pub fn is_restartable(&self) -> bool {
        !matches!(
            self,
            ProcessError::TransactionsUnsupported(_)
                | ProcessError::Encode(_)
                | ProcessError::Group(_)
        )
    }
}

/// One command's answer, waiting for the batch's events to be delivered.
#[derive(Debug)]
enum PendingResult {
    /// Known already (a rejection, or a repeat).
    Ready {
        partition: i32,
        offset: i64,
        command: &'static str,
        key: String,
        record: ResultRecord,
    },
    /// Accepted: the offset of its first event comes from the delivery reports.
    Accepted {
        partition: i32,
        offset: i64,
        command: AccountCommand,
        version: u64,
        event_count: usize,
        first_slot: usize,
        decided_at: Timestamp,
    },
}

#[derive(Debug, Default)]
struct Batch {
    opened: Option<Instant>,
    commands: usize,
    results: Vec<PendingResult>,
    /// Per commands partition, the offset to commit.
    next_offsets: BTreeMap<i32, i64>,
    /// Slot of each produced event, and its partition.
    event_slots: Vec<(usize, i32)>,
}

/// The processor: call [`Processor::run`] on a thread of its own.
pub struct Processor {
    config: ProcessorConfig,
    // Shared so that a polled message (which borrows the consumer) and `&mut self`
    // can live together.
    consumer: Arc<BaseConsumer<CommandsContext>>,
    producer: Arc<BaseProducer<DeliveryTracker>>,
    shared: Arc<Shared>,
    decoder: Decoder,
    owners: Arc<OwnerView>,
    restorer: Restorer,
    partitions: BTreeMap<i32, Partition>,
    /// The earliest offset seen for a partition still restoring: read again later.
    seek_on_ready: HashMap<i32, i64>,
    batch: Batch,
    metrics: Metrics,
    health: Arc<Health>,
    stop: Arc<AtomicBool>,
    encode_buffer: Vec<u8>,
    topics: Arc<TopicNames>,
}

impl std::fmt::Debug for Processor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Processor")
            .field("partitions", &self.partitions.keys())
            .finish()
    }
}

const MAX_CACHED_ACCOUNTS: usize = 200_000;

impl Processor {
    /// Connects, subscribes and starts the owner view; processing starts in `run`.
    pub fn start(
        config: ProcessorConfig,
        decoder: Decoder,
        metrics: Metrics,
        health: Arc<Health>,
        stop: Arc<AtomicBool>,
    ) -> Result<Self, ProcessError> {
        let instance = uuid::Uuid::new_v4().simple().to_string();
        let producer = Arc::new(kafka::producer(&config, &instance[..8])?);
        if config.mode == Mode::Transactional {
            producer
                .init_transactions(config.kafka_timeout())
                .map_err(transactions)?;
        }
        let shared = Arc::new(Shared::default());
        let context = CommandsContext {
            shared: Arc::clone(&shared),
            producer: Arc::clone(&producer),
            timeout: config.kafka_timeout(),
        };
        let topics = Arc::new(config.topics());
        let consumer = Arc::new(kafka::commands_consumer(&config, context)?);
        consumer.subscribe(&[&topics.commands])?;
        let owners = Arc::new(OwnerView::default());
        owners
            .spawn(
                kafka::reader(&config.brokers)?,
                topics.events.clone(),
                decoder.clone(),
                Arc::clone(&stop),
            )
            .map_err(ProcessError::Kafka)?;
        let restorer = Restorer::new(
            kafka::reader(&config.brokers)?,
            kafka::reader(&config.brokers)?,
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
            batch: Batch::default(),
            metrics,
            health,
            stop,
            encode_buffer: Vec::with_capacity(512),
            topics,
        })
    }

    /// Processes until `stop` is set: then finishes the open batch, leaves the group
    /// and returns.
    pub fn run(mut self) -> Result<(), ProcessError> {
        let result = self.run_loop();
        let finished = match result {
            Ok(()) => self.close_batch(true),
            Err(error) => Err(error),
        };
        self.consumer.unsubscribe();
        // Dropping the consumer closes it: the group rebalances without waiting for
        // a session timeout.
        if let Err(error) = kafka::flush(&self.producer, self.config.kafka_timeout()) {
            warn!(%error, "final flush failed");
        }
        self.health.set(false, "stopped");
        info!("processor stopped");
        finished
    }

    fn run_loop(&mut self) -> Result<(), ProcessError> {
        let mut last_gauges = Instant::now();
        while !self.stop.load(Ordering::Acquire) {
            self.handle_assignment_changes()?;
            if !self.restorer_idle() {
                let restored = self.restorer.step(
                    &self.decoder,
                    &self.metrics,
                    5_000,
                    Duration::from_millis(5),
                )?;
                for done in restored {
                    self.ready(done)?;
                }
            }
            let wait = match self.batch.opened {
                Some(opened) => self.config.batch_time().saturating_sub(opened.elapsed()),
                None => Duration::from_millis(100),
            };
            let consumer = Arc::clone(&self.consumer);
            match consumer.poll(wait.min(Duration::from_millis(100))) {
                None => {}
                Some(Ok(message)) => self.handle(&message)?,
                Some(Err(error)) => warn!(%error, "consuming account-commands failed; retrying"),
            }
            let full = self.batch.commands >= self.config.batch_commands;
            let due = self
                .batch
                .opened
                .is_some_and(|o| o.elapsed() >= self.config.batch_time());
            if (full || due)
                && let Err(error) = self.close_batch(false)
            {
                self.recover(error)?;
            }
            if last_gauges.elapsed() >= Duration::from_secs(2) {
                self.update_gauges();
                last_gauges = Instant::now();
            }
        }
        Ok(())
    }

    fn restorer_idle(&self) -> bool {
        self.restorer.pending().next().is_none()
    }

    /// A failed batch. Abortable transaction errors and failed writes rewind to the
    /// committed offsets; fatal transaction errors (fenced, unsupported, timed out
    /// commit — librdkafka lacks KIP-890, so the producer must be made anew) and a
    /// registry that cannot be reached stop the loop, for the caller to start again.
    fn recover(&mut self, error: ProcessError) -> Result<(), ProcessError> {
        let abortable = match &error {
            ProcessError::Kafka(KafkaError::Transaction(e)) => e.txn_requires_abort(),
            ProcessError::TransactionsUnsupported(_)
            | ProcessError::Registry(_)
            | ProcessError::Encode(_)
            | ProcessError::Group(_) => false,
            _ => true,
        };
        if !abortable {
            return Err(error);
        }
        warn!(%error, "batch failed; rewinding to the committed offsets");
        if self.shared.transaction_open.swap(false, Ordering::AcqRel) {
            self.producer
                .abort_transaction(self.config.kafka_timeout())
                .map_err(transactions)?;
        }
        self.metrics.rewinds.inc();
        self.rewind()
    }

    fn handle_assignment_changes(&mut self) -> Result<(), ProcessError> {
        let changes = std::mem::take(&mut *lock(&self.shared.changes));
        for change in changes {
            match change {
                Assignment::Revoked(partitions) => {
                    // Their open batch is processed again by the next owner.
                    self.discard_batch_of(&partitions);
                    for id in partitions {
                        self.partitions.remove(&id);
                        self.seek_on_ready.remove(&id);
                        self.restorer.cancel(id)?;
                    }
                }
                Assignment::Assigned(partitions) => {
                    let committed = self.committed(&partitions)?;
                    for id in partitions {
                        self.restorer
                            .start(id, committed.get(&id).copied().unwrap_or(0))?;
                    }
                    self.restorer.measure_remaining(&self.metrics);
                }
            }
        }
        self.report_health();
        Ok(())
    }

    fn committed(&self, partitions: &[i32]) -> Result<HashMap<i32, i64>, ProcessError> {
        let topics = Arc::clone(&self.topics);
        let mut list = TopicPartitionList::new();
        for id in partitions {
            list.add_partition(&topics.commands, *id);
        }
        let committed = self
            .consumer
            .committed_offsets(list, self.config.kafka_timeout())?;
        Ok(committed
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(offset) => Some((e.partition(), offset)),
                _ => None,
            })
            .collect())
    }

    fn ready(&mut self, restored: Restored) -> Result<(), ProcessError> {
        let topics = Arc::clone(&self.topics);
        let Restored {
            partition,
            resend_credits,
        } = restored;
        let id = partition.id;
        for debit in &resend_credits {
            if let Some(credit) = wire::credit_for(debit) {
                let key = credit.account_id().to_owned();
                self.produce(&topics.commands, None, &key, &credit, None)?;
            }
        }
        if !resend_credits.is_empty() {
            info!(
                partition = id,
                credits = resend_credits.len(),
                "re-sending credits of uncommitted transfers"
            );
            kafka::flush(&self.producer, self.config.kafka_timeout())?;
            check_deliveries(&self.producer.context().take())?;
        }
        self.partitions.insert(id, partition);
        let mut list = TopicPartitionList::new();
        list.add_partition(&topics.commands, id);
        if let Some(offset) = self.seek_on_ready.remove(&id) {
            self.consumer.seek(
                &topics.commands,
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

    /// Drops every partition's state and restores it again from the committed
    /// offsets: what a restart would do, without leaving the group.
    fn rewind(&mut self) -> Result<(), ProcessError> {
        let topics = Arc::clone(&self.topics);
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
            list.add_partition(&topics.commands, *id);
        }
        self.consumer.pause(&list)?;
        for id in ids {
            let offset = committed
                .get(&id)
                .map_or(Offset::Beginning, |o| Offset::Offset(*o));
            if let Err(error) =
                self.consumer
                    .seek(&topics.commands, id, offset, self.config.kafka_timeout())
            {
                warn!(partition = id, %error, "seek on rewind failed; reading again from where the consumer stands");
            }
            self.restorer.cancel(id)?;
            self.restorer
                .start(id, committed.get(&id).copied().unwrap_or(0))?;
        }
        self.report_health();
        Ok(())
    }

    fn discard_batch_of(&mut self, partitions: &[i32]) {
        if self.config.mode == Mode::Transactional {
            // The aborted transaction held every partition's records.
            self.batch = Batch::default();
            self.producer.context().take();
            return;
        }
        self.batch.results.retain(|pending| {
            let partition = match pending {
                PendingResult::Ready { partition, .. }
                | PendingResult::Accepted { partition, .. } => *partition,
            };
            !partitions.contains(&partition)
        });
        for id in partitions {
            self.batch.next_offsets.remove(id);
        }
    }

    /// Handles one command: its decision's records go to the producer now; its
    /// result waits for the batch's close.
    fn handle(&mut self, message: &BorrowedMessage<'_>) -> Result<(), ProcessError> {
        let topics = Arc::clone(&self.topics);
        let id = message.partition();
        let offset = message.offset();
        if !self.partitions.contains_key(&id) {
            // Fetched before the pause took hold: read it again once restored.
            let earliest = self.seek_on_ready.entry(id).or_insert(offset);
            *earliest = (*earliest).min(offset);
            return Ok(());
        }
        self.open_batch()?;
        self.batch.commands += 1;
        self.batch.next_offsets.insert(id, offset + 1);

        let Some(payload) = message.payload() else {
            return self.dead_letter(message, "empty", "the record has no value".to_owned());
        };
        let record = match self.decoder.decode::<CommandRecord>(payload) {
            Ok(record) => record,
            Err(ResolveError::Decode(error)) => {
                return self.dead_letter(message, error.class(), error.to_string());
            }
            Err(ResolveError::Registry(error)) => {
                return Err(ProcessError::Registry(error.to_string()));
            }
        };
        let key = message.key().map(String::from_utf8_lossy);
        if key.as_deref() != Some(record.account_id()) {
            let detail = format!(
                "the record's key {:?} is not its account_id {:?}: commands are keyed by account id",
                key.as_deref().unwrap_or("(none)"),
                record.account_id()
            );
            return self.dead_letter(message, "key-mismatch", detail);
        }
        let command_name = short_name(record.full_name());
        let now = Timestamp::from_millis(message.timestamp().to_millis().unwrap_or(0));
        let partition = self.partitions.get_mut(&id).expect("checked above");

        // Decided before a crash or rebalance, not committed: repeat the result.
        if let Some(result) = partition.decisions.get(record.command_id()) {
            self.metrics
                .commands
                .with_label_values(&[command_name, "repeated"])
                .inc();
            let record = result.clone();
            let key = key.map(|k| k.into_owned()).unwrap_or_default();
            self.batch.results.push(PendingResult::Ready {
                partition: id,
                offset,
                command: command_name,
                key,
                record,
            });
            return Ok(());
        }

        let owners = Arc::clone(&self.owners);
        let command =
            match wire::command_from_record(record, |owner| owners.snapshot(owner.as_str())) {
                Ok(command) => command,
                Err(error) => return self.dead_letter(message, error.kind(), error.to_string()),
            };
        let account_id = command.metadata.account_id.as_str().to_owned();

        // A credit rejected before stays rejected, even if it could pass now: its
        // refund has been sent.
        let command_key = command.metadata.command_id.to_string();
        if let Some((code, text)) = partition.rejected_credits.get(&command_key).cloned() {
            let state = partition.account(&account_id)?;
            let current_version = state.account().map(|_| state.version());
            let record = wire::rejected_as(&command, &code, &text, current_version, now);
            self.metrics
                .commands
                .with_label_values(&[command_name, "repeated"])
                .inc();
            self.batch.results.push(PendingResult::Ready {
                partition: id,
                offset,
                command: command_name,
                key: account_id,
                record,
            });
            return Ok(());
        }

        let state = partition.account(&account_id)?;
        if let Some(version) = state.outcome_of(command.metadata.command_id) {
            self.metrics
                .commands
                .with_label_values(&[command_name, "repeated"])
                .inc();
            let record = wire::accepted(&command, version, 0, id, None, now);
            self.batch.results.push(PendingResult::Ready {
                partition: id,
                offset,
                command: command_name,
                key: account_id,
                record,
            });
            return Ok(());
        }
        match decide(state, &command, DecisionContext { now }) {
            Ok(events) => {
                let version = state.version() + events.len() as u64;
                self.metrics
                    .commands
                    .with_label_values(&[
                        command_name,
                        if events.is_empty() {
                            "repeated"
                        } else {
                            "accepted"
                        },
                    ])
                    .inc();
                let mut first_slot = None;
                let event_count = events.len();
                for event in &events {
                    let partition = self.partitions.get_mut(&id).expect("checked above");
                    partition.apply(event)?;
                    let record = EventRecord::from(event);
                    self.owners.apply(&record);
                    let slot = self.produce(
                        &topics.events,
                        Some(id),
                        &account_id,
                        &record,
                        Some((offset, command_name)),
                    )?;
                    self.batch.event_slots.push((slot, id));
                    first_slot.get_or_insert(slot);
                    if let Some(credit) = wire::credit_for(event) {
                        let target = credit.account_id().to_owned();
                        self.produce(
                            &topics.commands,
                            None,
                            &target,
                            &credit,
                            Some((offset, command_name)),
                        )?;
                    }
                }
                let result = match first_slot {
                    Some(first_slot) => PendingResult::Accepted {
                        partition: id,
                        offset,
                        command,
                        version,
                        event_count,
                        first_slot,
                        decided_at: now,
                    },
                    None => PendingResult::Ready {
                        partition: id,
                        offset,
                        command: command_name,
                        key: account_id,
                        record: wire::accepted(&command, version, 0, id, None, now),
                    },
                };
                self.batch.results.push(result);
            }
            Err(rejection) => {
                self.metrics
                    .commands
                    .with_label_values(&[command_name, "rejected"])
                    .inc();
                self.metrics
                    .rejections
                    .with_label_values(&[rejection.code()])
                    .inc();
                let current_version = state.account().map(|_| state.version());
                let record = wire::rejected(&command, &rejection, current_version, now);
                if matches!(command.body, CommandBody::CreditTransfer(_)) {
                    let partition = self.partitions.get_mut(&id).expect("checked above");
                    partition.rejected_credits.insert(
                        command_key,
                        (rejection.code().to_owned(), rejection.to_string()),
                    );
                    if let Some(refund) = wire::refund_for(&command, &rejection, now) {
                        let source = refund.account_id().to_owned();
                        self.produce(
                            &topics.commands,
                            None,
                            &source,
                            &refund,
                            Some((offset, command_name)),
                        )?;
                    }
                }
                self.batch.results.push(PendingResult::Ready {
                    partition: id,
                    offset,
                    command: command_name,
                    key: account_id,
                    record,
                });
            }
        }
        Ok(())
    }

    fn open_batch(&mut self) -> Result<(), ProcessError> {
        if self.batch.opened.is_some() {
            return Ok(());
        }
        if self.config.mode == Mode::Transactional {
            self.producer.begin_transaction().map_err(transactions)?;
            self.shared.transaction_open.store(true, Ordering::Release);
        }
        self.batch.opened = Some(Instant::now());
        Ok(())
    }

    /// Encodes `record` and hands it to the producer; the slot its delivery is
    /// reported in.
    fn produce<U: RecordUnion>(
        &mut self,
        topic: &str,
        partition: Option<i32>,
        key: &str,
        record: &U,
        cause: Option<(i64, &str)>,
    ) -> Result<usize, ProcessError> {
        let buffer = std::mem::take(&mut self.encode_buffer);
        let payload = self.decoder.codec.encode_into(record, buffer)?;
        let slot = self.producer.context().slot();
        let mut headers = OwnedHeaders::new();
        if let Some((offset, command)) = cause {
            headers = headers.insert(Header {
                key: headers::CAUSE,
                value: Some(headers::cause(offset, command).as_str()),
            });
        }
        let mut base = BaseRecord::with_opaque_to(topic, Box::new(slot))
            .key(key)
            .payload(&payload)
            .headers(headers);
        if let Some(partition) = partition {
            base = base.partition(partition);
        }
        let mut pending = base;
        loop {
            match self.producer.send(pending) {
                Ok(()) => break,
                Err((
                    KafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::QueueFull),
                    back,
                )) => {
                    self.producer.poll(Duration::from_millis(10));
                    pending = back;
                }
                Err((error, _)) => return Err(error.into()),
            }
        }
        let mut buffer = payload;
        buffer.clear();
        self.encode_buffer = buffer;
        Ok(slot)
    }

    fn dead_letter(
        &mut self,
        message: &BorrowedMessage<'_>,
        class: &str,
        detail: String,
    ) -> Result<(), ProcessError> {
        let topics = Arc::clone(&self.topics);
        let letter = DeadLetter {
            component: "processor",
            topic: message.topic(),
            partition: message.partition(),
            offset: message.offset(),
            class,
            message: detail,
            at_millis: message.timestamp().to_millis().unwrap_or(0),
        };
        warn!(partition = letter.partition, offset = letter.offset, class, message = %letter.message, "command sent to the dead-letter topic");
        self.metrics
            .dead_letters
            .with_label_values(&[&topics.commands, class])
            .inc();
        let slot = self.producer.context().slot();
        let mut record = BaseRecord::with_opaque_to(&topics.dead_letters, Box::new(slot))
            .headers(letter.headers());
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        if let Some(payload) = message.payload() {
            record = record.payload(payload);
        }
        self.producer
            .send(record)
            .map_err(|(error, _)| ProcessError::Kafka(error))
    }

    /// Closes the open batch: flush, results, flush, commit, persist. `last`: no
    /// batch follows (the processor stops), so the commit is waited for.
    fn close_batch(&mut self, last: bool) -> Result<(), ProcessError> {
        let topics = Arc::clone(&self.topics);
        let Some(opened) = self.batch.opened else {
            return Ok(());
        };
        let timeout = self.config.kafka_timeout();
        let closed_at = Instant::now();
        kafka::flush(&self.producer, timeout)?;
        let events_flushed = closed_at.elapsed();
        let deliveries = self.producer.context().take();
        check_deliveries(&deliveries)?;
        for (slot, partition) in std::mem::take(&mut self.batch.event_slots) {
            if let (Some(Delivery::Delivered { offset, .. }), Some(p)) =
                (deliveries.get(slot), self.partitions.get_mut(&partition))
            {
                p.events_end = p.events_end.max(offset + 1);
            }
        }

        let mut result_slots = Vec::new();
        for pending in std::mem::take(&mut self.batch.results) {
            let (partition, offset, command, key, record) = match pending {
                PendingResult::Ready {
                    partition,
                    offset,
                    command,
                    key,
                    record,
                } => (partition, offset, command, key, record),
                PendingResult::Accepted {
                    partition,
                    offset,
                    command,
                    version,
                    event_count,
                    first_slot,
                    decided_at,
                } => {
                    let first = match deliveries.get(first_slot) {
                        Some(Delivery::Delivered { offset, .. }) => Some(*offset),
                        _ => None,
                    };
                    let name = command.body.name();
                    let key = command.metadata.account_id.as_str().to_owned();
                    let record = wire::accepted(
                        &command,
                        version,
                        event_count,
                        partition,
                        first,
                        decided_at,
                    );
                    (partition, offset, name, key, record)
                }
            };
            let slot = self.produce(
                &topics.results,
                Some(partition),
                &key,
                &record,
                Some((offset, command)),
            )?;
            result_slots.push((slot, partition));
        }
        kafka::flush(&self.producer, timeout)?;
        let results_flushed = closed_at.elapsed();
        let deliveries = self.producer.context().take();
        check_deliveries(&deliveries)?;
        for (slot, partition) in result_slots {
            if let (Some(Delivery::Delivered { offset, .. }), Some(p)) =
                (deliveries.get(slot), self.partitions.get_mut(&partition))
            {
                p.results_end = p.results_end.max(offset + 1);
            }
        }

        let mut offsets = TopicPartitionList::new();
        for (partition, offset) in &self.batch.next_offsets {
            offsets.add_partition_offset(&topics.commands, *partition, Offset::Offset(*offset))?;
        }
        match self.config.mode {
            Mode::Idempotent => {
                // In the loop the commit is not waited for: the next batch's commit
                // covers a lost one, and a command read again after a crash is
                // answered from the state (command ids, deterministic event ids).
                // Saves a broker round trip per batch. The last one is waited for.
                let mode = if last {
                    CommitMode::Sync
                } else {
                    CommitMode::Async
                };
                if offsets.count() > 0 {
                    self.consumer.commit(&offsets, mode)?;
                }
            }
            Mode::Transactional => {
                let metadata = self.consumer.group_metadata().ok_or_else(|| {
                    ProcessError::Group(
                        "the consumer has no group metadata to commit offsets with".to_owned(),
                    )
                })?;
                self.producer
                    .send_offsets_to_transaction(&offsets, &metadata, timeout)
                    .map_err(transactions)?;
                self.producer
                    .commit_transaction(timeout)
                    .map_err(transactions)?;
                self.shared.transaction_open.store(false, Ordering::Release);
            }
        }
        let mode = match self.config.mode {
            Mode::Idempotent => "idempotent",
            Mode::Transactional => "transactional",
        };
        self.metrics
            .commit_seconds
            .with_label_values(&[mode])
            .observe(closed_at.elapsed().as_secs_f64());
        self.metrics
            .batch_size
            .with_label_values(&[] as &[&str])
            .observe(self.batch.commands as f64);
        let committed = closed_at.elapsed();
        for partition in self.partitions.values_mut() {
            partition.decisions.clear();
            partition.persist()?;
            partition.trim(MAX_CACHED_ACCOUNTS);
        }
        // Where a batch's closing time goes, each figure since the close began.
        debug!(
            commands = self.batch.commands,
            filled_ms = closed_at.duration_since(opened).as_millis() as u64,
            events_flushed_ms = events_flushed.as_millis() as u64,
            results_flushed_ms = results_flushed.as_millis() as u64,
            committed_ms = committed.as_millis() as u64,
            persisted_ms = closed_at.elapsed().as_millis() as u64,
            "batch committed"
        );
        self.batch = Batch::default();
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

fn check_deliveries(deliveries: &[Delivery]) -> Result<(), ProcessError> {
    let failed: Vec<&String> = deliveries
        .iter()
        .filter_map(|d| match d {
            Delivery::Failed(error) => Some(error),
            _ => None,
        })
        .collect();
    match failed.first() {
        None => Ok(()),
        Some(first) => Err(ProcessError::Kafka(KafkaError::Flush(rdkafka::types::RDKafkaErrorCode::Fail)))
            .inspect_err(|_| warn!(failed = failed.len(), first = %first, "records of the batch were not delivered")),
    }
}

fn short_name(full_name: &str) -> &str {
    full_name.rsplit('.').next().unwrap_or(full_name)
}

/// Transaction errors; a broker that does not know transactions is named as such.
fn transactions(error: KafkaError) -> ProcessError {
    let text = error.to_string();
    if text.contains("not supported by broker")
        || text.contains("EndTxn")
        || text.contains("UNSUPPORTED")
    {
        return ProcessError::TransactionsUnsupported(text);
    }
    ProcessError::Kafka(error)
}
