use std::time::Duration;

use ledgerstream_schemas::codec::{EncodeError, SetupError};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

use crate::InvalidCommand;
use crate::sender::SendError;

/// Why a command got no result. A rejection is not one of these: it is an answer,
/// [`Outcome::Rejected`](super::Outcome::Rejected).
///
/// [`is_retriable`](Self::is_retriable) says which ones may pass on a second try.
/// Sending a command again with the same command id is always safe: the processor
/// applies a command id once per account and repeats the outcome.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A setting is wrong. Fix the named field of
    /// [`CommandClientConfig`](super::CommandClientConfig).
    #[error("client config: {field} {problem}")]
    Config {
        field: &'static str,
        problem: String,
    },

    /// No broker answered while connecting. Start it or point the client at the
    /// right one, then connect again.
    #[error(
        "no Kafka broker answered at {brokers} within {after:?} ({reason}); start it (`make up`) \
         or set LEDGERSTREAM_BROKERS, and check with `ledgerstream services`"
    )]
    BrokerUnreachable {
        brokers: String,
        after: Duration,
        reason: String,
    },

    /// A topic the client needs does not exist. Create the topics, then connect
    /// again.
    #[error(
        "topic {topic} does not exist; create the pipeline's topics with `ledgerstream topics create`"
    )]
    TopicMissing { topic: String },

    /// The command schemas could not be registered or looked up; the message says
    /// what to do about the registry.
    #[error("schemas: {0}")]
    Schemas(#[from] SetupError),

    /// librdkafka refused the client's settings: a bug or a wrong setting, not
    /// retriable.
    #[error("kafka client: {0}")]
    Kafka(KafkaError),

    /// A command the processor would not answer (it would dead-letter it); nothing
    /// was sent. Fix the command.
    #[error("not sent: {0}")]
    Invalid(#[from] InvalidCommand),

    /// This client already waits for a command with this id. Wait for that result
    /// first; sending it again afterwards is safe and repeats its outcome.
    #[error(
        "command {command_id} is already waiting for its result in this client; await that first"
    )]
    AlreadyWaiting { command_id: String },

    /// The command does not fit its own schema: a bug, not retriable.
    #[error("encoding the command: {0}")]
    Encode(#[from] EncodeError),

    /// Kafka did not take the command. Retriable once the broker is back: send it
    /// again, with the same command id.
    #[error("Kafka did not take command {command_id}: {source}{hint}")]
    Delivery {
        command_id: String,
        source: KafkaError,
        hint: &'static str,
    },

    /// Kafka did not acknowledge the command within the result timeout. It may
    /// still arrive: send it again with the same command id to learn its outcome.
    #[error(
        "Kafka has not acknowledged command {command_id} within {after:?}: is the broker \
         reachable (`ledgerstream services`)? Sending it again with the same command id is safe"
    )]
    DeliveryTimeout { command_id: String, after: Duration },

    /// The command is in the log but no result came within the timeout. The
    /// processor will still decide it; send it again with the same command id to
    /// read its outcome once it has.
    #[error(
        "no result for command {command_id} ({topic} partition {partition}, offset {offset}) \
         within {after:?}: is the command processor running (`ledgerstream process`) and caught \
         up? The command stays in the log and will be decided; send it again with the same \
         command id to read its result"
    )]
    ResultTimeout {
        command_id: String,
        topic: String,
        partition: i32,
        offset: i64,
        after: Duration,
    },

    /// The client's results reader has stopped (the client is shutting down).
    /// Connect a new client.
    #[error("this client's results reader has stopped; connect a new client")]
    ResultsStopped,
}

impl ClientError {
    /// A result or an acknowledgement did not come in time.
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            ClientError::ResultTimeout { .. } | ClientError::DeliveryTimeout { .. }
        )
    }

    /// Whether trying again (the same command, the same command id) may succeed
    /// without changing anything: the services may come back, the processor catch
    /// up. The others need a fix first.
    pub fn is_retriable(&self) -> bool {
        match self {
            ClientError::BrokerUnreachable { .. }
            | ClientError::Delivery { .. }
            | ClientError::DeliveryTimeout { .. }
            | ClientError::ResultTimeout { .. }
            | ClientError::AlreadyWaiting { .. } => true,
            ClientError::Schemas(SetupError::Registry { source, .. }) => source.is_retriable(),
            ClientError::Config { .. }
            | ClientError::TopicMissing { .. }
            | ClientError::Schemas(_)
            | ClientError::Kafka(_)
            | ClientError::Invalid(_)
            | ClientError::Encode(_)
            | ClientError::ResultsStopped => false,
        }
    }

    pub(crate) fn delivery(command_id: &str, source: KafkaError) -> Self {
        let hint = match source.rdkafka_error_code() {
            Some(RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic) => {
                "; create the pipeline's topics with `ledgerstream topics create`"
            }
            Some(RDKafkaErrorCode::MessageTimedOut) => {
                "; is the broker reachable (`ledgerstream services`)? Sending it again with the \
                 same command id is safe"
            }
            _ => "; sending it again with the same command id is safe",
        };
        ClientError::Delivery {
            command_id: command_id.to_owned(),
            source,
            hint,
        }
    }
}

impl From<SendError> for ClientError {
    fn from(error: SendError) -> Self {
        match error {
            SendError::Setup(e) => ClientError::Schemas(e),
            SendError::Encode(e) => ClientError::Encode(e),
            SendError::Kafka(e) => ClientError::Kafka(e),
        }
    }
}
