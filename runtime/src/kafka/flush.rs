//! Waiting for a producer's deliveries without rdkafka's 100 ms steps.

use std::time::{Duration, Instant};

use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, Producer, ProducerContext};

/// Waits until every record `producer` queued is delivered (or failed) and its
/// report handled, for at most `timeout`.
///
/// rdkafka's own `flush` (and so its `commit_transaction`, which flushes first)
/// waits in `poll` steps of 100 ms, and its `poll` runs to its deadline even when
/// every report has arrived: each flush would take a multiple of 100 ms. This one
/// checks every millisecond, sleeping in between; a commit after it finds nothing
/// left to flush.
pub fn flush<C: ProducerContext>(producer: &BaseProducer<C>, timeout: Duration) -> KafkaResult<()> {
    let deadline = Instant::now() + timeout;
    // A zero-timeout flush sends what lingers at once.
    match producer.flush(Duration::ZERO) {
        Ok(()) => return Ok(()),
        Err(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut)) => {}
        Err(error) => return Err(error),
    }
    loop {
        // Serves the delivery reports that have arrived, without waiting.
        producer.poll(Duration::ZERO);
        if producer.in_flight_count() == 0 {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut));
        }
        // Sleeping rather than polling with a timeout: a poll of less than a
        // millisecond's wait spins.
        std::thread::sleep(Duration::from_millis(1));
    }
}
