use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use super::verify::Mismatch;

/// Why the topics could not be created or checked, or why they must not be used.
#[derive(Debug, thiserror::Error)]
pub enum TopicsError {
    /// A [`TopicsConfig`](super::TopicsConfig) field is out of range. Permanent:
    /// fix the configuration.
    #[error("topics config: `{field}` {reason}")]
    InvalidConfig { field: &'static str, reason: String },
    /// The admin client could not be built from its settings (a malformed broker
    /// list, an unknown client property). Permanent: fix the settings.
    #[error("cannot make a Kafka admin client for {brokers}: {source}")]
    Client { brokers: String, source: KafkaError },
    /// The broker did not answer a request (down, unreachable, timed out).
    /// Technical: retry, or start the broker.
    #[error("the broker did not answer {operation}: {source}")]
    Broker {
        operation: &'static str,
        source: KafkaError,
    },
    /// The broker refused to create a topic (no permission, a replication factor
    /// above its broker count, an invalid config). Permanent until that is fixed.
    #[error("the broker refused to create {topic}: {code}")]
    CreateRefused {
        topic: String,
        code: RDKafkaErrorCode,
    },
    /// The broker refused to delete a topic (no permission, deletion disabled).
    /// Permanent until that is fixed.
    #[error("the broker refused to delete {topic}: {code}")]
    DeleteRefused {
        topic: String,
        code: RDKafkaErrorCode,
    },
    /// The topics are there but not as the pipeline needs them, or missing. The
    /// pipeline must not run on them: each mismatch says how to fix it.
    #[error("{}", list(.0))]
    Mismatch(Vec<Mismatch>),
}

fn list(mismatches: &[Mismatch]) -> String {
    let mut text = format!(
        "{} topic mismatch(es); the pipeline cannot run until they are fixed:",
        mismatches.len()
    );
    for mismatch in mismatches {
        text.push_str("\n  - ");
        text.push_str(&mismatch.to_string());
    }
    text
}
