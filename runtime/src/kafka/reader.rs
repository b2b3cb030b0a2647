//! Consumers that read partitions back to their end, outside any group.

use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use tracing::warn;

/// The context of readers: reaching the end of a partition is what they wait for,
/// not an error to log.
#[derive(Debug, Default)]
pub struct ReaderContext;

impl ClientContext for ReaderContext {
    fn error(&self, error: KafkaError, reason: &str) {
        let eof = matches!(
            error,
            KafkaError::PartitionEOF(_) | KafkaError::Global(RDKafkaErrorCode::PartitionEOF)
        );
        if !eof {
            warn!(%error, reason, "kafka reader error");
        }
    }
}

impl ConsumerContext for ReaderContext {}

/// A consumer that reads partitions back by assignment, outside any group; it
/// reports reaching the end of each partition. Made from
/// [`KafkaSettings::reader`](super::KafkaSettings::reader) with a
/// [`ReaderContext`].
pub type Reader = BaseConsumer<ReaderContext>;
