//! The results reader: one consumer over every partition of the results topic,
//! handing each result to the command waiting for it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ledgerstream_runtime::kafka::KafkaSettings;
use ledgerstream_schemas::client::RegistryClient;
use ledgerstream_schemas::codec::{Codec, ResolveError};
use ledgerstream_schemas::records::ResultRecord;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::oneshot;
use tracing::{debug, warn};

use super::{ClientError, CommandClientConfig};

/// A result as the reader found it.
#[derive(Debug)]
pub(crate) struct Received {
    pub record: ResultRecord,
    /// When the reader decoded it: latencies end here, not when the waiting task
    /// gets to run.
    pub at: Instant,
    /// From the record's timestamp (when the processor wrote it) to `at`, as far
    /// as the two clocks agree; `None` without a timestamp.
    pub read_delay: Option<Duration>,
}

/// Commands waiting for their result, by command id.
#[derive(Debug, Clone)]
pub(crate) struct Waiters {
    map: Arc<Mutex<HashMap<String, Waiter>>>,
    /// False once the reader has stopped: nobody will be answered any more.
    open: Arc<AtomicBool>,
    tickets: Arc<AtomicU64>,
}

#[derive(Debug)]
struct Waiter {
    /// Tells this wait apart from a later one for the same command id.
    ticket: u64,
    tx: oneshot::Sender<Received>,
}

/// One registered wait; [`Waiters::forget`] ends it and no other.
#[derive(Debug)]
pub(crate) struct Ticket {
    pub command_id: String,
    number: u64,
}

impl Waiters {
    pub fn new() -> Self {
        Self {
            map: Arc::default(),
            open: Arc::new(AtomicBool::new(true)),
            tickets: Arc::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Waiter>> {
        // Every critical section is one map operation: the map is consistent even
        // after a panic elsewhere.
        self.map
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a waiter for `command_id`.
    pub fn wait_for(
        &self,
        command_id: &str,
    ) -> Result<(Ticket, oneshot::Receiver<Received>), ClientError> {
        if !self.open.load(Ordering::Acquire) {
            return Err(ClientError::ResultsStopped);
        }
        let mut map = self.lock();
        if map.contains_key(command_id) {
            return Err(ClientError::AlreadyWaiting {
                command_id: command_id.to_owned(),
            });
        }
        let (tx, rx) = oneshot::channel();
        let number = self.tickets.fetch_add(1, Ordering::Relaxed);
        map.insert(command_id.to_owned(), Waiter { ticket: number, tx });
        let ticket = Ticket {
            command_id: command_id.to_owned(),
            number,
        };
        Ok((ticket, rx))
    }

    /// Ends the wait of `ticket` (answered, timed out or abandoned), if it is
    /// still registered.
    pub fn forget(&self, ticket: &Ticket) {
        let mut map = self.lock();
        if map
            .get(&ticket.command_id)
            .is_some_and(|waiter| waiter.ticket == ticket.number)
        {
            map.remove(&ticket.command_id);
        }
    }

    /// How many commands wait.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    fn answer(&self, command_id: &str, received: Received) -> bool {
        let Some(waiter) = self.lock().remove(command_id) else {
            return false;
        };
        // A waiter that gave up in the meantime has dropped its receiver.
        waiter.tx.send(received).is_ok()
    }

    fn close(&self) {
        self.open.store(false, Ordering::Release);
        // Dropping the senders wakes every waiter with "stopped".
        self.lock().clear();
    }
}

/// Closes the waiters when the reader task ends, however it ends (aborted too).
struct CloseOnExit(Waiters);

impl Drop for CloseOnExit {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// The reader's consumer, positioned at the end of every results partition.
pub(crate) struct ResultsReader {
    consumer: StreamConsumer,
    topic: String,
}

impl ResultsReader {
    /// Reads the metadata of both topics (failing when either is missing or no
    /// broker answers), then assigns every results partition at its current end.
    pub async fn connect(config: &CommandClientConfig) -> Result<Self, ClientError> {
        // Assigned the results partitions, never joining its group nor committing;
        // read_committed, as a result counts once its transaction commits.
        let consumer: StreamConsumer = KafkaSettings::new(&config.brokers)
            .assigned("ledgerstream-command-client")
            .set("client.id", "ledgerstream-command-client")
            .set("fetch.wait.max.ms", config.fetch_wait_ms.to_string())
            .create()
            .map_err(ClientError::Kafka)?;
        let timeout = config.connect_timeout();
        let brokers = config.brokers.clone();
        let topics = [config.commands_topic.clone(), config.results_topic.clone()];
        let results = config.results_topic.clone();
        // Metadata and watermarks are blocking calls.
        let found = tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let unreachable = |error: KafkaError| ClientError::BrokerUnreachable {
                brokers: brokers.clone(),
                after: started.elapsed(),
                reason: error.to_string(),
            };
            let mut partitions = 0;
            for topic in &topics {
                let metadata = consumer
                    .fetch_metadata(Some(topic), timeout)
                    .map_err(unreachable)?;
                let found = metadata
                    .topics()
                    .iter()
                    .find(|t| t.name() == topic)
                    .filter(|t| t.error().is_none() && !t.partitions().is_empty());
                let Some(found) = found else {
                    return Err(ClientError::TopicMissing {
                        topic: topic.clone(),
                    });
                };
                partitions = found.partitions().len();
            }
            let mut list = TopicPartitionList::new();
            for partition in 0..partitions {
                let partition = i32::try_from(partition).unwrap_or(i32::MAX);
                let (_, end) = consumer
                    .fetch_watermarks(&results, partition, timeout)
                    .map_err(unreachable)?;
                list.add_partition_offset(&results, partition, Offset::Offset(end))
                    .map_err(ClientError::Kafka)?;
            }
            Ok((consumer, list))
        })
        .await;
        let (consumer, list) = match found {
            Ok(found) => found?,
            Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
            // The runtime is shutting down.
            Err(_) => return Err(ClientError::ResultsStopped),
        };
        consumer.assign(&list).map_err(ClientError::Kafka)?;
        debug!(topic = %config.results_topic, partitions = list.count(), "results reader assigned");
        Ok(Self {
            consumer,
            topic: config.results_topic.clone(),
        })
    }

    /// Reads results until dropped, answering `waiters`.
    pub async fn run(self, waiters: Waiters, codec: Codec, registry: RegistryClient) {
        let _close = CloseOnExit(waiters.clone());
        let mut last_warning: Option<Instant> = None;
        loop {
            let message = match self.consumer.recv().await {
                Ok(message) => message,
                Err(error) => {
                    // librdkafka retries by itself; say so at most every 10 s.
                    if last_warning.is_none_or(|at| at.elapsed() > Duration::from_secs(10)) {
                        warn!(topic = %self.topic, %error, "reading results failed; retrying");
                        last_warning = Some(Instant::now());
                    }
                    continue;
                }
            };
            let Some(payload) = message.payload() else {
                continue;
            };
            let record = match codec
                .decode_resolving::<ResultRecord>(payload, &registry)
                .await
            {
                Ok(record) => record,
                Err(ResolveError::Decode(error)) => {
                    warn!(
                        topic = %self.topic,
                        partition = message.partition(),
                        offset = message.offset(),
                        %error,
                        "a result does not decode; skipped"
                    );
                    continue;
                }
                Err(ResolveError::Registry(error)) => {
                    // Its command, if it is ours, times out and can be sent again.
                    warn!(
                        topic = %self.topic,
                        partition = message.partition(),
                        offset = message.offset(),
                        %error,
                        "the registry did not give a result's schema; skipped"
                    );
                    continue;
                }
            };
            let command_id = match &record {
                ResultRecord::CommandAccepted(a) => a.command_id.clone(),
                ResultRecord::CommandRejected(r) => r.command_id.clone(),
            };
            let read_delay = message.timestamp().to_millis().and_then(|written| {
                let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
                let now = i64::try_from(now.as_millis()).ok()?;
                Some(Duration::from_millis(
                    u64::try_from(now - written).unwrap_or(0),
                ))
            });
            let received = Received {
                record,
                at: Instant::now(),
                read_delay,
            };
            // Another client's command, or a repeat of an answered one.
            let _ = waiters.answer(&command_id, received);
        }
    }
}

#[cfg(test)]
mod tests {
    use ledgerstream_schemas::records::CommandRejected;

    use super::*;

    fn received(command_id: &str) -> Received {
        Received {
            record: CommandRejected {
                command_id: command_id.into(),
                account_id: "a".into(),
                correlation_id: "k".into(),
                decided_at: 0,
                reason_code: "ACCOUNT_NOT_FOUND".into(),
                message: "m".into(),
                current_version: None,
            }
            .into(),
            at: Instant::now(),
            read_delay: None,
        }
    }

    fn waiters() -> Waiters {
        Waiters::new()
    }

    #[tokio::test]
    async fn a_result_reaches_its_waiter_once() {
        let waiters = waiters();
        let (_, rx) = waiters.wait_for("c1").unwrap();
        assert!(waiters.answer("c1", received("c1")));
        assert!(!waiters.answer("c1", received("c1")), "a repeat is skipped");
        assert!(rx.await.is_ok());
        assert_eq!(waiters.len(), 0);
    }

    #[test]
    fn results_of_unknown_commands_are_skipped() {
        let waiters = waiters();
        let _rx = waiters.wait_for("c1").unwrap();
        assert!(!waiters.answer("someone-else", received("someone-else")));
        assert_eq!(waiters.len(), 1);
    }

    #[test]
    fn one_command_id_waits_once_at_a_time() {
        let waiters = waiters();
        let (first, _rx) = waiters.wait_for("c1").unwrap();
        assert!(matches!(
            waiters.wait_for("c1"),
            Err(ClientError::AlreadyWaiting { .. })
        ));
        waiters.forget(&first);
        let (_second, _rx) = waiters.wait_for("c1").unwrap();
        waiters.forget(&first);
        assert_eq!(waiters.len(), 1, "an old ticket does not end a newer wait");
    }

    #[tokio::test]
    async fn closing_wakes_every_waiter() {
        let waiters = waiters();
        let (_, rx) = waiters.wait_for("c1").unwrap();
        CloseOnExit(waiters.clone());
        assert!(rx.await.is_err());
        assert!(matches!(
            waiters.wait_for("c2"),
            Err(ClientError::ResultsStopped)
        ));
    }
}
