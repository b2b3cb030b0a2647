//! The consumer loop of one projection, on a thread of its own.
//!
//! ```text
//!  poll account-events ──▶ decode ──▶ sink.add ──▶ batch (rows, or time since its first event)
//!        │                   └─ undecodable / rejected ──▶ account-dead-letters
//!  batch full or due ──▶ sink.write (retried while retriable) ──▶ dead letters delivered
//!                   ──▶ checkpoints saved ──▶ group offsets committed
//! ```
//!
//! Offsets only move after the write they depend on is durable, in partition
//! order. The consumer reads `read_committed` in the projection's own group,
//! with the eager (`range`) protocol: a rebalance revokes every partition.
//!
//! On revoke the open batch is finished (one short round of retries) and its
//! offsets committed, or else dropped: its events are read again by the next
//! owner, and writing them twice changes nothing. On assign each partition
//! resumes from its checkpoint, which is never behind the committed offset.
//! On stop (SIGTERM) the open batch is finished once, the group is left and the
//! runner returns.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ledgerstream_runtime::clock::now_millis;
use ledgerstream_runtime::dead_letters::{self, DeadLetters};
use ledgerstream_runtime::supervise::{Restartable, on_own_thread};
use ledgerstream_schemas::codec::ResolveError;
use ledgerstream_schemas::records::EventRecord;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientConfig, ClientContext, Offset, TopicPartitionList};
use tracing::{debug, error, info, warn};

use super::checkpoint::{Backwards, Checkpoint, Checkpoints};
use super::config::ProjectionConfig;
use super::health::ProjectionHealth;
use super::metrics::ProjectionMetrics;
use super::retry::{Backoff, Classify, Retry};
use super::sink::{Refused, Sink, SourcedEvent};
use ledgerstream_runtime::decoder::Decoder;

/// How long a revoke, an assignment or a stop may spend retrying: a rebalance
/// waits for it, and a batch given up is only read again.
const SHORT_RETRIES: Duration = Duration::from_secs(10);

/// Why a projection stopped.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    /// The registry could not be asked for a writer schema; the record may be fine.
    #[error("schema registry: {0}")]
    Registry(String),
    /// Retriable failures went on for longer than the retry budget.
    #[error("{what} failed {attempts} times, giving up for now ({class}): {message}")]
    GaveUp {
        what: &'static str,
        attempts: u32,
        class: &'static str,
        message: String,
    },
    /// A failure retrying cannot fix: a person must.
    #[error("{what} failed permanently ({class}): {message}")]
    Permanent {
        what: &'static str,
        class: &'static str,
        message: String,
    },
    /// Dead letters of a batch were not delivered.
    #[error("dead letters not delivered: {0}")]
    DeadLetters(String),
    #[error(transparent)]
    Checkpoint(#[from] Backwards),
    /// A stop was requested while a write was being retried.
    #[error("stopped while retrying")]
    Stopped,
}

impl Restartable for ProjectionError {
    /// Whether starting the runner again may help (it resumes from its
    /// checkpoints); the other errors need a person.
    fn is_restartable(&self) -> bool {
        !matches!(self, ProjectionError::Permanent { .. })
    }
}

/// What a runner is given besides its sink.
#[derive(Debug, Clone)]
pub struct RunnerParts {
    pub config: ProjectionConfig,
    /// Decodes `account-events` (fetching unknown writer schemas on the runtime).
    pub decoder: Decoder,
    pub metrics: ProjectionMetrics,
    pub health: Arc<ProjectionHealth>,
    /// Set to stop: the runner finishes its batch and returns.
    pub stop: Arc<AtomicBool>,
}

/// Runs `sink`'s projection until `parts.stop` is set. Blocks: call it on a
/// thread of its own (e.g. `spawn_blocking`), never on a runtime worker.
pub fn run<S: Sink>(sink: S, parts: RunnerParts) -> Result<(), ProjectionError> {
    Runner::start(sink, parts)?.run()
}

/// One attempt at a projection, for `ledgerstream_runtime::supervise` to repeat:
/// `connecting` sets its sink up (`what`, named in errors), then [`run`] goes on
/// a thread of its own. A sink that cannot be set up is
/// [`ProjectionError::Permanent`] when its error says retrying cannot help,
/// [`ProjectionError::GaveUp`] otherwise: a restart may set it up.
pub async fn connect_and_run<S, E>(
    what: &'static str,
    connecting: impl Future<Output = Result<S, E>>,
    parts: RunnerParts,
) -> Result<(), ProjectionError>
where
    S: Sink,
    E: Classify,
{
    let sink = match connecting.await {
        Ok(sink) => sink,
        Err(error) if error.retry() == Retry::Permanent => {
            parts.health.set(false, format!("{what} failed: {error}"));
            return Err(ProjectionError::Permanent {
                what,
                class: error.class(),
                message: error.to_string(),
            });
        }
        Err(error) => {
            return Err(ProjectionError::GaveUp {
                what,
                attempts: 1,
                class: error.class(),
                message: error.to_string(),
            });
        }
    };
    on_own_thread(move || run(sink, parts)).await
}

/// The events read since the last durable batch.
#[derive(Debug, Default)]
struct OpenBatch {
    opened: Option<Instant>,
    events: usize,
    dead_letters: usize,
    /// Per partition, the offset after the last record taken.
    next_offsets: BTreeMap<i32, i64>,
    /// Per partition, the latest event time taken.
    last_event_ms: BTreeMap<i32, i64>,
    /// Every event's time, for the end-to-end latency.
    event_times_ms: Vec<i64>,
}

/// Everything the loop and the rebalance callbacks share. The callbacks run
/// inside `poll`, on the loop's thread, while the loop does not hold the lock.
struct Core<S: Sink> {
    sink: S,
    batch: S::Batch,
    open: OpenBatch,
    checkpoints: Checkpoints,
    assigned: BTreeSet<i32>,
    topic: String,
    dead_letters: DeadLetters,
    decoder: Decoder,
    metrics: ProjectionMetrics,
    health: Arc<ProjectionHealth>,
    config: ProjectionConfig,
    stop: Arc<AtomicBool>,
    /// A failure inside a rebalance callback, for the loop to stop with.
    failed: Option<ProjectionError>,
}

struct RunnerContext<S: Sink> {
    core: Arc<Mutex<Core<S>>>,
}

struct Runner<S: Sink> {
    consumer: BaseConsumer<RunnerContext<S>>,
    core: Arc<Mutex<Core<S>>>,
    stop: Arc<AtomicBool>,
    batch_time: Duration,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<S: Sink> Runner<S> {
    fn start(sink: S, parts: RunnerParts) -> Result<Self, ProjectionError> {
        let RunnerParts {
            config,
            decoder,
            metrics,
            health,
            stop,
        } = parts;
        let topics = config.topics();
        let name = sink.name();
        let dead_letters = DeadLetters::new(
            &config.kafka(),
            topics.dead_letters.clone(),
            component(name),
            config.kafka_timeout(),
        )?;
        let core = Arc::new(Mutex::new(Core {
            sink,
            batch: S::Batch::default(),
            open: OpenBatch::default(),
            checkpoints: Checkpoints::default(),
            assigned: BTreeSet::new(),
            topic: topics.events.clone(),
            dead_letters,
            decoder,
            metrics,
            health: Arc::clone(&health),
            config: config.clone(),
            stop: Arc::clone(&stop),
            failed: None,
        }));
        let consumer: BaseConsumer<RunnerContext<S>> = consumer_config(&config)
            .create_with_context(RunnerContext {
                core: Arc::clone(&core),
            })?;
        consumer.subscribe(&[&topics.events])?;
        health.set(false, "waiting for a partition assignment");
        info!(projection = name, topic = %topics.events, group = %config.group, "projection started");
        Ok(Self {
            consumer,
            core,
            stop,
            batch_time: config.batch_time(),
        })
    }

    fn run(self) -> Result<(), ProjectionError> {
        let result = self.run_loop();
        let outcome = {
            let mut core = lock(&self.core);
            let outcome = match result {
                Ok(()) => match core.flush(&Backoff::new(
                    Duration::from_millis(100),
                    SHORT_RETRIES,
                    Duration::ZERO,
                )) {
                    Ok(Some(offsets)) => {
                        commit(&self.consumer, &offsets);
                        Ok(())
                    }
                    Ok(None) => Ok(()),
                    Err(error) => {
                        core.drop_batch("stopped");
                        match error {
                            ProjectionError::Stopped => Ok(()),
                            other => Err(other),
                        }
                    }
                },
                // A stop requested while a callback was retrying.
                Err(ProjectionError::Stopped) => {
                    core.drop_batch("stopped");
                    Ok(())
                }
                Err(error) => {
                    core.drop_batch("failed");
                    Err(error)
                }
            };
            core.health.set(false, "stopped");
            outcome
        };
        self.consumer.unsubscribe();
        // Dropping the consumer closes it: the group rebalances at once instead of
        // waiting for the session to time out.
        drop(self.consumer);
        info!("projection stopped");
        outcome
    }

    fn run_loop(&self) -> Result<(), ProjectionError> {
        while !self.stop.load(Ordering::Acquire) {
            let wait = match lock(&self.core).open.opened {
                Some(opened) => self.batch_time.saturating_sub(opened.elapsed()),
                None => Duration::from_millis(100),
            };
            match self.consumer.poll(wait.min(Duration::from_millis(100))) {
                None => lock(&self.core).pass_markers(&self.consumer),
                Some(Ok(message)) => lock(&self.core).take(&message)?,
                Some(Err(error)) => warn!(%error, "consuming account-events failed; retrying"),
            }
            let mut core = lock(&self.core);
            if let Some(error) = core.failed.take() {
                return Err(error);
            }
            if core.due() {
                let backoff = core.config.backoff();
                match core.flush(&backoff) {
                    Ok(Some(offsets)) => commit(&self.consumer, &offsets),
                    Ok(None) => {}
                    Err(ProjectionError::Stopped) => {
                        core.drop_batch("stopped");
                        return Ok(());
                    }
                    Err(error) => return Err(error),
                }
            }
        }
        Ok(())
    }
}

/// The settings of a projection's consumer: a member of its own group
/// (`read_committed`, offsets committed by hand only, the eager `range`
/// protocol), fetching `fetch_partition_bytes` per partition and request: fewer
/// round trips on a replay than librdkafka's default.
pub fn consumer_config(config: &ProjectionConfig) -> ClientConfig {
    let mut client = config
        .kafka()
        .group_consumer(&config.group, config.fetch_wait_millis);
    client.set(
        "max.partition.fetch.bytes",
        config.fetch_partition_bytes.to_string(),
    );
    client
}

/// The dead letters' component header of a projection.
fn component(name: &'static str) -> &'static str {
    match name {
        "clickhouse" => "projection-clickhouse",
        "history" => "projection-history",
        _ => "projection",
    }
}

fn commit<C: ConsumerContext>(consumer: &BaseConsumer<C>, offsets: &TopicPartitionList) {
    if offsets.count() == 0 {
        return;
    }
    // The checkpoint is written already, and is where the next owner resumes: a
    // failed commit only leaves the group's offsets (what lag shows) behind.
    if let Err(error) = consumer.commit(offsets, CommitMode::Sync) {
        warn!(%error, "committing offsets failed; the checkpoints are ahead and win on the next assignment");
    }
}

impl<S: Sink> Core<S> {
    fn name(&self) -> &'static str {
        self.sink.name()
    }

    /// Takes one record into the open batch, or to the dead-letter topic.
    fn take(&mut self, message: &BorrowedMessage<'_>) -> Result<(), ProjectionError> {
        let (partition, offset) = (message.partition(), message.offset());
        if !self.assigned.contains(&partition) {
            // Fetched before a revoke: not ours any more.
            return Ok(());
        }
        self.open.opened.get_or_insert_with(Instant::now);
        match message.payload() {
            None => self.dead_letter(message, "no-value", "the record has no value".to_owned())?,
            Some(payload) => match self.decoder.decode::<EventRecord>(payload) {
                Err(ResolveError::Decode(error)) => {
                    self.dead_letter(message, error.class(), error.to_string())?
                }
                Err(ResolveError::Registry(error)) => {
                    return Err(ProjectionError::Registry(error.to_string()));
                }
                Ok(event) => {
                    let occurred_at = event.metadata().occurred_at;
                    match self.sink.add(
                        &mut self.batch,
                        SourcedEvent {
                            partition,
                            offset,
                            event,
                        },
                    ) {
                        Ok(()) => {
                            self.open.events += 1;
                            self.open.event_times_ms.push(occurred_at);
                            let last = self
                                .open
                                .last_event_ms
                                .entry(partition)
                                .or_insert(occurred_at);
                            *last = (*last).max(occurred_at);
                        }
                        Err(rejected) => {
                            self.dead_letter(message, rejected.class, rejected.message)?
                        }
                    }
                }
            },
        }
        // Only now: a record that failed above was not taken, and is read again.
        self.open.next_offsets.insert(partition, offset + 1);
        Ok(())
    }

    /// Moves the positions of the open batch (opening one) past what a
    /// `read_committed` reader skips: a transaction's marker, or its aborted
    /// records, holds no event, yet after the last record taken it would keep the
    /// checkpoint and the committed offset one short of the log's end. Called
    /// when a poll brought nothing, so every record before the consumer's
    /// position is taken.
    fn pass_markers<C: ConsumerContext>(&mut self, consumer: &BaseConsumer<C>) {
        let Ok(positions) = consumer.position() else {
            return;
        };
        for element in positions.elements_for_topic(&self.topic) {
            let (partition, Offset::Offset(position)) = (element.partition(), element.offset())
            else {
                continue;
            };
            let taken = match self.open.next_offsets.get(&partition) {
                Some(&next_offset) => next_offset,
                None => self.checkpoints.get(partition).next_offset,
            };
            if self.assigned.contains(&partition) && position > taken {
                self.open.next_offsets.insert(partition, position);
                self.open.opened.get_or_insert_with(Instant::now);
            }
        }
    }

    fn dead_letter(
        &mut self,
        message: &impl Message,
        class: &str,
        detail: String,
    ) -> Result<(), ProjectionError> {
        warn!(
            projection = self.name(),
            partition = message.partition(),
            offset = message.offset(),
            class,
            message = %detail,
            "event sent to the dead-letter topic"
        );
        self.dead_letters.send(message, class, detail)?;
        self.open.dead_letters += 1;
        self.metrics
            .dead_letters
            .with_label_values(&[&self.topic, class])
            .inc();
        self.metrics
            .events
            .with_label_values(&[self.name(), "dead-lettered"])
            .inc();
        Ok(())
    }

    fn due(&self) -> bool {
        self.open.opened.is_some_and(|opened| {
            self.open.events >= self.config.batch_rows
                || opened.elapsed() >= self.config.batch_time()
        })
    }

    /// Writes the open batch durably, delivers its dead letters and saves its
    /// checkpoints; the offsets to commit. Errors leave the batch open: the caller
    /// drops it or stops.
    fn flush(&mut self, backoff: &Backoff) -> Result<Option<TopicPartitionList>, ProjectionError> {
        if self.open.opened.is_none() {
            return Ok(None);
        }
        let started = Instant::now();
        let written = if self.open.events > 0 {
            self.retrying("writing a batch", backoff, async |sink, batch| {
                sink.write(batch).await
            })?
        } else {
            Default::default()
        };
        if !written.refused.is_empty() {
            self.dead_letter_refused(&written.refused)?;
        }
        let visible_at = now_millis();
        self.dead_letters
            .flush(self.config.kafka_timeout())
            .map_err(ProjectionError::DeadLetters)?;

        let mut advanced = Vec::with_capacity(self.open.next_offsets.len());
        for (&partition, &next_offset) in &self.open.next_offsets {
            let last_event = self.open.last_event_ms.get(&partition).copied();
            advanced.push(self.checkpoints.get(partition).advance(
                next_offset,
                last_event,
                visible_at,
            )?);
        }
        let topic = self.topic.clone();
        self.retrying("saving checkpoints", backoff, async |sink, _| {
            sink.save_checkpoints(&topic, &advanced).await
        })?;

        let name = self.name();
        let mut offsets = TopicPartitionList::new();
        for checkpoint in &advanced {
            self.checkpoints.set(*checkpoint);
            offsets.add_partition_offset(
                &self.topic,
                checkpoint.partition,
                Offset::Offset(checkpoint.next_offset),
            )?;
            let partition = checkpoint.partition.to_string();
            self.metrics
                .checkpoint_offset
                .with_label_values(&[name, &partition])
                .set(checkpoint.next_offset);
            self.metrics
                .checkpoint_event_time
                .with_label_values(&[name, &partition])
                .set(checkpoint.last_event_at_ms / 1_000);
        }
        for (table, rows) in &written.rows {
            self.metrics
                .rows_written
                .with_label_values(&[name, table])
                .inc_by(*rows);
        }
        let latency = self.metrics.end_to_end_seconds.with_label_values(&[name]);
        for occurred_at in &self.open.event_times_ms {
            latency.observe((visible_at - occurred_at).max(0) as f64 / 1_000.0);
        }
        self.metrics
            .events
            .with_label_values(&[name, "projected"])
            .inc_by(self.open.events as u64);
        self.metrics
            .batch_events
            .with_label_values(&[name])
            .observe(self.open.events as f64);
        self.metrics
            .batch_seconds
            .with_label_values(&[name])
            .observe(started.elapsed().as_secs_f64());
        debug!(
            projection = name,
            events = self.open.events,
            dead_letters = self.open.dead_letters,
            millis = started.elapsed().as_millis() as u64,
            "batch written"
        );
        self.open = OpenBatch::default();
        self.batch = S::Batch::default();
        Ok(Some(offsets))
    }

    /// Sends the events the sink refused while writing to the dead-letter topic:
    /// their records are read back from the log, as they were.
    fn dead_letter_refused(&mut self, refused: &[Refused]) -> Result<(), ProjectionError> {
        let wanted: Vec<(i32, i64)> = refused.iter().map(|r| (r.partition, r.offset)).collect();
        let records = dead_letters::read_back(
            &self.config.kafka(),
            &self.topic,
            &wanted,
            self.config.kafka_timeout(),
        )
        .map_err(ProjectionError::DeadLetters)?;
        for (refused, record) in refused.iter().zip(&records) {
            let rejected = &refused.rejected;
            self.dead_letter(record, rejected.class, rejected.message.clone())?;
        }
        // Taken as events, not projected after all.
        self.open.events = self.open.events.saturating_sub(refused.len());
        Ok(())
    }

    /// Runs `op` until it succeeds, retrying what its error calls retriable for as
    /// long as `backoff` allows.
    fn retrying<T>(
        &mut self,
        what: &'static str,
        backoff: &Backoff,
        mut op: impl AsyncFnMut(&mut S, &S::Batch) -> Result<T, S::Error>,
    ) -> Result<T, ProjectionError> {
        let mut attempts = backoff.start();
        let runtime = self.decoder.runtime.clone();
        loop {
            let error = match runtime.block_on(op(&mut self.sink, &self.batch)) {
                Ok(value) => {
                    if attempts.failed() > 0 {
                        info!(
                            projection = self.name(),
                            attempts = attempts.failed() + 1,
                            "{what} succeeded after retries"
                        );
                        self.report_ready();
                    }
                    return Ok(value);
                }
                Err(error) => error,
            };
            let (class, message) = (error.class(), error.to_string());
            if error.retry() == Retry::Permanent {
                error!(projection = self.name(), class, %message, "{what} failed permanently");
                self.health
                    .set(false, format!("{what} failed permanently: {message}"));
                return Err(ProjectionError::Permanent {
                    what,
                    class,
                    message,
                });
            }
            if self.stop.load(Ordering::Acquire) {
                return Err(ProjectionError::Stopped);
            }
            let Some(pause) = attempts.next_pause() else {
                return Err(ProjectionError::GaveUp {
                    what,
                    attempts: attempts.failed() + 1,
                    class,
                    message,
                });
            };
            self.metrics
                .retries
                .with_label_values(&[self.name(), class])
                .inc();
            warn!(projection = self.name(), class, %message, pause_ms = pause.as_millis() as u64, "{what} failed; retrying");
            self.health.set(
                false,
                format!("retrying: {what} failed ({class}): {message}"),
            );
            std::thread::sleep(pause);
        }
    }

    /// Gives the open batch up: nothing of it was committed, so its records are
    /// read again.
    fn drop_batch(&mut self, reason: &'static str) {
        if self.open.opened.is_none() {
            return;
        }
        info!(
            projection = self.name(),
            events = self.open.events,
            reason,
            "batch dropped; its events will be read again"
        );
        self.metrics
            .dropped_batches
            .with_label_values(&[self.name(), reason])
            .inc();
        self.open = OpenBatch::default();
        self.batch = S::Batch::default();
    }

    /// New partitions: their checkpoints, to resume from.
    fn assign(&mut self, partitions: &[i32]) -> Result<Vec<Checkpoint>, ProjectionError> {
        let topic = self.topic.clone();
        let backoff = Backoff::new(
            Duration::from_millis(200),
            Duration::from_secs(2),
            SHORT_RETRIES,
        );
        let loaded = self.retrying("loading checkpoints", &backoff, async |sink, _| {
            sink.load_checkpoints(&topic, partitions).await
        })?;
        for checkpoint in &loaded {
            self.checkpoints.set(*checkpoint);
        }
        self.assigned.extend(partitions.iter().copied());
        self.metrics
            .assigned_partitions
            .with_label_values(&[self.name()])
            .set(self.assigned.len() as i64);
        self.report_ready();
        Ok(loaded)
    }

    /// Partitions taken away: finish the open batch (briefly) or drop it, then
    /// forget them.
    fn revoke<C: ConsumerContext>(&mut self, consumer: &BaseConsumer<C>, partitions: &[i32]) {
        if consumer.assignment_lost() {
            // Someone else owns them already: commits would be refused.
            self.drop_batch("assignment-lost");
        } else {
            let backoff = Backoff::new(
                Duration::from_millis(200),
                Duration::from_secs(2),
                SHORT_RETRIES,
            );
            match self.flush(&backoff) {
                Ok(Some(offsets)) => commit(consumer, &offsets),
                Ok(None) => {}
                Err(error) => {
                    warn!(projection = self.name(), %error, "finishing the batch on revoke failed");
                    self.drop_batch("revoked");
                    if !error.is_restartable() {
                        self.failed = Some(error);
                    }
                }
            }
        }
        self.sink.revoked(partitions);
        self.checkpoints.forget(partitions);
        for partition in partitions {
            self.assigned.remove(partition);
        }
        self.metrics
            .assigned_partitions
            .with_label_values(&[self.name()])
            .set(self.assigned.len() as i64);
        info!(projection = self.name(), ?partitions, "partitions revoked");
        self.health
            .set(false, "partitions revoked; waiting for an assignment");
    }

    fn report_ready(&self) {
        let assigned: Vec<&i32> = self.assigned.iter().collect();
        if assigned.is_empty() {
            self.health.set(true, "ready; no partition assigned");
        } else {
            self.health
                .set(true, format!("ready; partitions {assigned:?}"));
        }
    }
}

impl<S: Sink> ClientContext for RunnerContext<S> {}

impl<S: Sink> ConsumerContext for RunnerContext<S> {
    /// The eager protocol's rebalance, with the checkpoints as starting offsets
    /// and the open batch finished before partitions go.
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let partitions: Vec<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let mut core = lock(&self.core);
                match core.assign(&partitions) {
                    Ok(checkpoints) => {
                        for checkpoint in checkpoints {
                            let topic = core.topic.clone();
                            if let Err(error) = tpl.set_partition_offset(
                                &topic,
                                checkpoint.partition,
                                Offset::Offset(checkpoint.next_offset),
                            ) {
                                warn!(%error, partition = checkpoint.partition, "cannot start from the checkpoint");
                            }
                        }
                        info!(projection = core.name(), ?partitions, "partitions assigned");
                    }
                    // Assigned all the same, so the group settles; the loop stops
                    // on the failure before it takes any record.
                    Err(error) => core.failed = Some(error),
                }
                drop(core);
                if let Err(error) = consumer.assign(tpl) {
                    error!(%error, "assigning partitions failed");
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                lock(&self.core).revoke(consumer, &partitions);
                if let Err(error) = consumer.unassign() {
                    error!(%error, "unassigning partitions failed");
                }
            }
            other => {
                error!(error = ?other, "rebalance failed");
                if let Err(error) = consumer.unassign() {
                    error!(%error, "unassigning partitions failed");
                }
            }
        }
    }
}
