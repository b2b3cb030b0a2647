use std::sync::Arc;
use std::time::{Duration, Instant};

use ledgerstream_schemas::client::RegistryClient;
use ledgerstream_schemas::codec::{Codec, Setup};
use ledgerstream_schemas::records::CommandRecord;
use rdkafka::error::KafkaError;
use rdkafka::producer::DeliveryFuture;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::debug;

use super::results::{Received, ResultsReader, Ticket, Waiters};
use super::{ClientError, CommandClientConfig, CommandResult};
use crate::Sent;
use crate::check::check;
use crate::sender::{CommandSender, SendError};

/// Sends commands and awaits their results. Cheap to clone; the results reader
/// stops when the last clone is dropped.
///
/// ```no_run
/// # async fn example(registry: ledgerstream_schemas::client::RegistryClient) -> Result<(), ledgerstream_producers::ClientError> {
/// use ledgerstream_producers::{commands, CommandClient, CommandClientConfig, Outcome};
///
/// let client = CommandClient::connect(CommandClientConfig::new("127.0.0.1:9092"), &registry).await?;
/// let result = client.send(&commands::deposit("acc-1", 12_50, "EUR")).await?;
/// match result.outcome {
///     Outcome::Accepted { version, .. } => println!("now at version {version}"),
///     Outcome::Rejected { reason_code, message, .. } => println!("{reason_code}: {message}"),
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct CommandClient {
    inner: Arc<Inner>,
}

struct Inner {
    sender: CommandSender,
    waiters: Waiters,
    reader: JoinHandle<()>,
    result_timeout: Duration,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl std::fmt::Debug for CommandClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandClient")
            .field("sender", &self.inner.sender)
            .field("waiting", &self.inner.waiters.len())
            .finish()
    }
}

impl CommandClient {
    /// Connects: checks that both topics exist, positions the results reader at
    /// their current end, and registers (or looks up) the command schemas with
    /// `registry`. Needs a Tokio runtime.
    pub async fn connect(
        config: CommandClientConfig,
        registry: &RegistryClient,
    ) -> Result<Self, ClientError> {
        config.validate()?;
        let reader = ResultsReader::connect(&config).await?;
        let setup = if config.register_schemas {
            Setup::Register
        } else {
            Setup::LookUp
        };
        let sender = CommandSender::connect_with(
            &config.brokers,
            registry,
            &config.commands_topic,
            setup,
            Some(config.delivery_timeout()),
        )
        .await?;
        let waiters = Waiters::new();
        // Results are decoded with writer schemas fetched by id, as they come.
        let codec = Codec::new(registry.config().cache_capacity);
        let reader = tokio::spawn(reader.run(waiters.clone(), codec, registry.clone()));
        Ok(Self {
            inner: Arc::new(Inner {
                sender,
                waiters,
                reader,
                result_timeout: config.result_timeout(),
            }),
        })
    }

    /// Sends `command` and waits for its result, within the configured timeout.
    pub async fn send(&self, command: &CommandRecord) -> Result<CommandResult, ClientError> {
        self.submit(command).await?.result().await
    }

    /// Queues `command` and returns once it is queued: commands submitted one after
    /// another (each `submit` awaited before the next) reach their partition in
    /// that order. Await [`Submitted::result`] for the outcome, or
    /// [`Submitted::delivered`] to stop at Kafka's acknowledgement.
    pub async fn submit(&self, command: &CommandRecord) -> Result<Submitted, ClientError> {
        check(command)?;
        // Waiting before sending: the result cannot come first.
        let (ticket, receiver) = self.inner.waiters.wait_for(command.command_id())?;
        let guard = Forget {
            waiters: self.inner.waiters.clone(),
            ticket,
        };
        let queued_at = Instant::now();
        let delivery = match self.inner.sender.queue(command).await {
            Ok(delivery) => delivery,
            Err(SendError::Kafka(error)) => {
                return Err(ClientError::delivery(&guard.ticket.command_id, error));
            }
            Err(error) => return Err(error.into()),
        };
        Ok(Submitted {
            delivery: Some(delivery),
            sent: None,
            failed: None,
            receiver,
            queued_at,
            timeout: self.inner.result_timeout,
            topic: self.inner.sender.topic().to_owned(),
            guard,
        })
    }

    /// How many submitted commands wait for their result.
    pub fn waiting(&self) -> usize {
        self.inner.waiters.len()
    }

    /// The topic commands go to.
    pub fn commands_topic(&self) -> &str {
        self.inner.sender.topic()
    }
}

/// A queued command, waiting for Kafka's acknowledgement and then its result.
/// Dropping it stops waiting (the command stays queued).
pub struct Submitted {
    delivery: Option<DeliveryFuture>,
    sent: Option<Sent>,
    /// Why Kafka did not take the command, once it said so.
    failed: Option<KafkaError>,
    receiver: oneshot::Receiver<Received>,
    queued_at: Instant,
    timeout: Duration,
    topic: String,
    guard: Forget,
}

impl std::fmt::Debug for Submitted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Submitted")
            .field("command_id", &self.guard.ticket.command_id)
            .field("sent", &self.sent)
            .field("queued_at", &self.queued_at)
            .finish_non_exhaustive()
    }
}

impl Submitted {
    /// The command's id, which its result carries.
    pub fn command_id(&self) -> &str {
        &self.guard.ticket.command_id
    }

    /// When the command was queued.
    pub fn queued_at(&self) -> Instant {
        self.queued_at
    }

    /// Waits for Kafka's acknowledgement: where the command landed.
    pub async fn delivered(&mut self) -> Result<Sent, ClientError> {
        if let Some(sent) = self.sent {
            return Ok(sent);
        }
        if let Some(error) = &self.failed {
            return Err(ClientError::delivery(
                &self.guard.ticket.command_id,
                error.clone(),
            ));
        }
        let Some(delivery) = self.delivery.take() else {
            return Err(ClientError::ResultsStopped);
        };
        let sent = match delivery.await {
            Ok(Ok(delivery)) => Sent {
                partition: delivery.partition,
                offset: delivery.offset,
            },
            Ok(Err((error, _))) => {
                self.failed = Some(error.clone());
                return Err(ClientError::delivery(&self.guard.ticket.command_id, error));
            }
            // The producer went away before reporting.
            Err(_) => return Err(ClientError::ResultsStopped),
        };
        debug!(
            command_id = %self.guard.ticket.command_id,
            partition = sent.partition,
            offset = sent.offset,
            "command delivered"
        );
        self.sent = Some(sent);
        Ok(sent)
    }

    /// Waits for the result, at most the client's result timeout from when the
    /// command was queued (acknowledgement included).
    pub async fn result(mut self) -> Result<CommandResult, ClientError> {
        let deadline = tokio::time::Instant::from_std(self.queued_at + self.timeout);
        let after = self.timeout;
        let sent = match tokio::time::timeout_at(deadline, self.delivered()).await {
            Ok(sent) => sent?,
            Err(_) => {
                return Err(ClientError::DeliveryTimeout {
                    command_id: self.guard.ticket.command_id.clone(),
                    after,
                });
            }
        };
        let receiver = &mut self.receiver;
        let received = match tokio::time::timeout_at(deadline, receiver).await {
            Ok(Ok(received)) => received,
            Ok(Err(_)) => return Err(ClientError::ResultsStopped),
            Err(_) => {
                return Err(ClientError::ResultTimeout {
                    command_id: self.guard.ticket.command_id.clone(),
                    topic: self.topic.clone(),
                    partition: sent.partition,
                    offset: sent.offset,
                    after,
                });
            }
        };
        let latency = received.at.saturating_duration_since(self.queued_at);
        Ok(CommandResult::from_record(
            received.record,
            sent,
            latency,
            received.read_delay,
        ))
    }
}

/// Stops waiting for a command id when its [`Submitted`] goes away.
#[derive(Debug)]
struct Forget {
    waiters: Waiters,
    ticket: Ticket,
}

impl Drop for Forget {
    fn drop(&mut self) {
        self.waiters.forget(&self.ticket);
    }
}
