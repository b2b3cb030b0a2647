//! A producer of dead letters for a component outside a Kafka transaction (the
//! projections): the record as it was read (key, value and timestamp), with the
//! headers of [`DeadLetter`] (source topic, partition, offset, component, error
//! class and message). A projection dead-letters a record when it does not
//! decode, or when its sink rejects it.
//!
//! Every dead letter of a batch is delivered ([`DeadLetters::flush`]) before the
//! batch's checkpoint is written, so a dead letter is never lost to a crash: the
//! record is read again and dead-lettered again (at least once).

use std::sync::Mutex;
use std::time::Duration;

use rdkafka::client::ClientContext;
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;

use super::letter::{DeadLetter, MESSAGE_MAX_BYTES};
use crate::kafka::{KafkaSettings, flush};

/// The first failed delivery since the last check.
#[derive(Debug, Default)]
pub struct Deliveries {
    failed: Mutex<Option<String>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: Self::DeliveryOpaque) {
        if let Err((error, _)) = result {
            let mut failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
            failed.get_or_insert_with(|| error.to_string());
        }
    }
}

/// Sends dead letters to one topic.
pub struct DeadLetters {
    producer: BaseProducer<Deliveries>,
    topic: String,
    component: &'static str,
    sent: usize,
}

impl std::fmt::Debug for DeadLetters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadLetters")
            .field("topic", &self.topic)
            .field("sent", &self.sent)
            .finish()
    }
}

impl DeadLetters {
    /// A producer of dead letters to `topic`, sent as `component`.
    pub fn new(
        kafka: &KafkaSettings,
        topic: String,
        component: &'static str,
        timeout: Duration,
    ) -> Result<Self, KafkaError> {
        let producer = kafka
            .idempotent_producer()
            .set("message.max.bytes", MESSAGE_MAX_BYTES.to_string())
            .set("message.timeout.ms", timeout.as_millis().to_string())
            .create_with_context(Deliveries::default())?;
        Ok(Self {
            producer,
            topic,
            component,
            sent: 0,
        })
    }

    /// Sends `message` (key, value, unchanged) with the headers saying why.
    pub fn send(
        &mut self,
        message: &impl Message,
        class: &str,
        detail: String,
    ) -> Result<(), KafkaError> {
        let letter = DeadLetter {
            component: self.component,
            topic: message.topic(),
            partition: message.partition(),
            offset: message.offset(),
            class,
            message: detail,
        };
        let fitted = letter.letter(message.key(), message.payload());
        let mut record = BaseRecord::to(&self.topic).headers(fitted.headers);
        if let Some(millis) = message.timestamp().to_millis() {
            record = record.timestamp(millis);
        }
        if let Some(key) = fitted.key {
            record = record.key(key);
        }
        if let Some(payload) = fitted.value {
            record = record.payload(payload);
        }
        let mut pending = record;
        loop {
            match self.producer.send(pending) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    self.producer.poll(Duration::from_millis(10));
                    pending = back;
                }
                Err((error, _)) => return Err(error),
            }
        }
        self.sent += 1;
        Ok(())
    }

    /// Waits until every dead letter sent so far is delivered; the first failure
    /// otherwise.
    pub fn flush(&mut self, timeout: Duration) -> Result<(), String> {
        if self.sent == 0 {
            return Ok(());
        }
        flush(&self.producer, timeout).map_err(|e| e.to_string())?;
        let failed = self
            .producer
            .context()
            .failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        self.sent = 0;
        match failed {
            None => Ok(()),
            Some(error) => Err(error),
        }
    }
}
