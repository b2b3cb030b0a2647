use rdkafka::error::KafkaError;

/// Why a lag sample could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LagError {
    /// A Kafka client could not be made from its settings (a malformed broker
    /// list). Permanent: fix the settings.
    #[error("cannot make a Kafka client for {brokers}: {source}")]
    Client { brokers: String, source: KafkaError },
    /// The broker did not answer a request (down, unreachable, timed out).
    /// Technical: the next sample tries again.
    #[error("the broker did not answer {operation}: {source}")]
    Broker {
        operation: &'static str,
        source: KafkaError,
    },
    /// The sampling task ended without a result (it panicked). Technical: the next
    /// sample starts with fresh clients.
    #[error("the sampling task failed: {0}")]
    Task(String),
}

impl LagError {
    /// Whether trying again later can help; when not, the monitor should stop and
    /// say why.
    pub fn is_permanent(&self) -> bool {
        matches!(self, LagError::Client { .. })
    }
}
