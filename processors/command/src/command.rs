//! One command, from the record read to the records it makes: decode, check the
//! key, look the account up, decide, and hand events, follow-ups and the result
//! (or a dead letter) to the batch.

use std::sync::Arc;
use std::time::Duration;

use ledgerstream_domain::{
    AccountCommand, AccountEvent, CommandBody, DecisionContext, Outcome, Rejection, Timestamp,
    decide,
};
use ledgerstream_runtime::dead_letters::DeadLetter;
use ledgerstream_runtime::topics::partition_for;
use ledgerstream_schemas::codec::ResolveError;
use ledgerstream_schemas::records::{CommandRecord, RecordUnion, ResultRecord};
use rdkafka::Message;
use rdkafka::error::KafkaError;
use rdkafka::message::BorrowedMessage;
use rdkafka::producer::{BaseRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use tracing::warn;

use super::batch::PendingResult;
use super::run::{ProcessError, Processor};
use crate::wire::{self, limits};

impl Processor {
    /// Handles one command: its decision's records go to the producer now; its
    /// result waits for the batch's close.
    ///
    /// Before anything touches state: the record must decode, be keyed by its
    /// account id, name an account id within its limit, convert to a command, sit
    /// on the partition its key maps to (`WRONG_PARTITION`), and keep its text
    /// fields within their limits (`FIELD_TOO_LONG`).
    pub(super) fn handle(&mut self, message: &BorrowedMessage<'_>) -> Result<(), ProcessError> {
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
                prefix(key.as_deref().unwrap_or("(none)")),
                prefix(record.account_id())
            );
            return self.dead_letter(message, "key-mismatch", detail);
        }
        if record.account_id().len() > limits::MAX_ACCOUNT_ID_BYTES {
            let detail = format!(
                "account_id is {} bytes long; the limit is {}",
                record.account_id().len(),
                limits::MAX_ACCOUNT_ID_BYTES
            );
            return self.dead_letter(message, "field-too-long", detail);
        }
        let owners = Arc::clone(&self.owners);
        let command =
            match wire::command_from_record(record, |owner| owners.snapshot(owner.as_str())) {
                Ok(command) => command,
                Err(error) => return self.dead_letter(message, error.kind(), error.to_string()),
            };
        let now = Timestamp::from_millis(message.timestamp().to_millis().unwrap_or(0));
        let expected = partition_for(
            command.metadata.account_id.as_str().as_bytes(),
            self.command_partitions,
        );
        if expected != id {
            let text = format!(
                "account {} belongs on partition {expected} of {} (Kafka's murmur2 \
                 partitioner), not {id}; send commands keyed by account id with it",
                command.metadata.account_id.as_str(),
                self.topics.commands
            );
            return self.refuse(id, &command, wire::WRONG_PARTITION, &text, now);
        }
        if let Some(text) = limits::too_long(&command) {
            return self.refuse(id, &command, wire::FIELD_TOO_LONG, &text, now);
        }
        self.decide(message, command, now)
    }

    /// Answers `command` with a rejection outside the domain's rules, without
    /// touching any state.
    fn refuse(
        &mut self,
        id: i32,
        command: &AccountCommand,
        code: &str,
        text: &str,
        now: Timestamp,
    ) -> Result<(), ProcessError> {
        warn!(partition = id, code, message = text, "command refused");
        self.count(command.body.name(), "rejected");
        self.metrics.rejections.with_label_values(&[code]).inc();
        let record = wire::rejected_as(command, code, text, None, now);
        let key = command.metadata.account_id.as_str().to_owned();
        self.answer(id, key, record);
        Ok(())
    }

    /// Decides `command` on its account's state in the message's partition.
    fn decide(
        &mut self,
        message: &BorrowedMessage<'_>,
        command: AccountCommand,
        now: Timestamp,
    ) -> Result<(), ProcessError> {
        let id = message.partition();
        let name = command.body.name();
        let account_id = command.metadata.account_id.as_str().to_owned();
        let partition = self.partitions.get_mut(&id).expect("checked by the caller");
        let state = partition.account(&account_id)?;
        let version = state.version();
        let current_version = state.account().map(|_| version);
        // Decided before, within the idempotency window: its first outcome, again.
        let decision = match state.outcome_of(command.metadata.command_id) {
            Some(outcome) => Err(outcome),
            None => match decide(state, &command, DecisionContext { now }) {
                Ok(events) if events.is_empty() => Err(Outcome::Applied { version }),
                Ok(events) => Ok(Ok(events)),
                Err(rejection) => Ok(Err(rejection)),
            },
        };
        match decision {
            Err(repeated) => {
                self.count(name, "repeated");
                let record = match repeated {
                    Outcome::Applied { version } => {
                        wire::accepted(&command, version, 0, id, None, now)
                    }
                    Outcome::Rejected(refusal) => wire::rejected_as(
                        &command,
                        &refusal.code,
                        &refusal.message,
                        current_version,
                        now,
                    ),
                };
                self.answer(id, account_id, record);
            }
            Ok(Ok(events)) => {
                self.count(name, "accepted");
                let first_slot = self.write_events(id, &account_id, &events)?;
                self.batch.results.push(PendingResult::Accepted {
                    partition: id,
                    version: version + events.len() as u64,
                    event_count: events.len(),
                    command,
                    first_slot,
                    decided_at: now,
                });
            }
            Ok(Err(rejection)) => {
                self.reject(message, command, &rejection, current_version, now)?;
            }
        }
        Ok(())
    }

    /// Answers `command` with `rejection` and remembers it, so that the same
    /// command id is answered the same way if it comes again. A rejected credit is
    /// refunded to the transfer's source; a rejected refund is an alarm.
    fn reject(
        &mut self,
        message: &BorrowedMessage<'_>,
        command: AccountCommand,
        rejection: &Rejection,
        current_version: Option<u64>,
        now: Timestamp,
    ) -> Result<(), ProcessError> {
        let id = message.partition();
        let name = command.body.name();
        self.count(name, "rejected");
        self.metrics
            .rejections
            .with_label_values(&[rejection.code()])
            .inc();
        let account_id = command.metadata.account_id.as_str().to_owned();
        let partition = self.partitions.get_mut(&id).expect("checked by the caller");
        partition.reject(&account_id, command.metadata.command_id, rejection)?;
        let record = wire::rejected(&command, rejection, current_version, now);
        match &command.body {
            CommandBody::CreditTransfer(_) => {
                if let Some(refund) = wire::refund_for(&command, rejection, now) {
                    self.follow_up(&refund)?;
                }
            }
            CommandBody::RefundTransfer(refund) => {
                // The money debited is not back where it came from: never silent.
                self.metrics.refunds_rejected.inc();
                let detail = format!(
                    "the refund of transfer {} ({} {} to account {}) was rejected ({}: {}); \
                     the debited money is not back: settle it by hand",
                    refund.transfer_id.0,
                    refund.amount_minor + refund.fee_minor,
                    refund.currency,
                    command.metadata.account_id.as_str(),
                    rejection.code(),
                    rejection
                );
                tracing::error!(partition = id, transfer = %refund.transfer_id.0, "refund rejected");
                self.dead_letter(message, "refund-rejected", detail)?;
            }
            _ => {}
        }
        self.answer(id, account_id, record);
        Ok(())
    }

    /// Folds `events` into the partition's state and produces them, each with the
    /// follow-up it calls for; the slot of the first.
    fn write_events(
        &mut self,
        id: i32,
        account_id: &str,
        events: &[AccountEvent],
    ) -> Result<usize, ProcessError> {
        let events_topic = self.topics.events.clone();
        let mut first_slot = None;
        for event in events {
            let partition = self.partitions.get_mut(&id).expect("checked by the caller");
            partition.apply(event)?;
            let record = wire::event_to_record(event);
            self.owners.apply(&record);
            let slot = self.produce(&events_topic, Some(id), account_id, &record)?;
            self.batch.event_slots.push((slot, id));
            first_slot.get_or_insert(slot);
            if let Some(credit) = wire::credit_for(event) {
                self.follow_up(&credit)?;
            }
        }
        Ok(first_slot.expect("called with at least one event"))
    }

    fn count(&self, command: &str, outcome: &str) {
        self.metrics
            .commands
            .with_label_values(&[command, outcome])
            .inc();
    }

    /// A result known at once, for the batch's close.
    fn answer(&mut self, partition: i32, key: String, record: ResultRecord) {
        self.batch.results.push(PendingResult::Ready {
            partition,
            key,
            record,
        });
    }

    /// A command the processor sends itself (a transfer's credit or refund), to the
    /// partition of its account.
    fn follow_up(&mut self, command: &CommandRecord) -> Result<(), ProcessError> {
        let commands_topic = self.topics.commands.clone();
        let key = command.account_id().to_owned();
        self.produce(&commands_topic, None, &key, command)?;
        Ok(())
    }

    /// Encodes `record` and hands it to the producer; the slot its delivery is
    /// reported in.
    pub(super) fn produce<U: RecordUnion>(
        &mut self,
        topic: &str,
        partition: Option<i32>,
        key: &str,
        record: &U,
    ) -> Result<usize, ProcessError> {
        let buffer = std::mem::take(&mut self.encode_buffer);
        let payload = self.decoder.codec.encode_into(record, buffer)?;
        let slot = self.producer.context().slot();
        let mut base = BaseRecord::with_opaque_to(topic, Box::new(slot))
            .key(key)
            .payload(payload.as_slice());
        if let Some(partition) = partition {
            base = base.partition(partition);
        }
        self.send(base)?;
        let mut buffer = payload;
        buffer.clear();
        self.encode_buffer = buffer;
        Ok(slot)
    }

    /// Sends `record`, waiting while librdkafka's queue is full.
    fn send(&self, mut record: BaseRecord<'_, str, [u8], Box<usize>>) -> Result<(), ProcessError> {
        loop {
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    self.producer.poll(Duration::from_millis(10));
                    record = back;
                }
                Err((error, _)) => return Err(error.into()),
            }
        }
    }

    /// Sends the record as it was read to the dead-letter topic, in the batch's
    /// transaction, with headers that say where it came from and why.
    fn dead_letter(
        &mut self,
        message: &BorrowedMessage<'_>,
        class: &str,
        detail: String,
    ) -> Result<(), ProcessError> {
        let letter = DeadLetter {
            component: "processor",
            topic: message.topic(),
            partition: message.partition(),
            offset: message.offset(),
            class,
            message: detail,
        };
        warn!(partition = letter.partition, offset = letter.offset, class, message = %letter.message, "command sent to the dead-letter topic");
        self.metrics
            .dead_letters
            .with_label_values(&[&self.topics.commands, class])
            .inc();
        let slot = self.producer.context().slot();
        let fitted = letter.letter(message.key(), message.payload());
        let mut record = BaseRecord::with_opaque_to(&self.topics.dead_letters, Box::new(slot))
            .headers(fitted.headers);
        if let Some(millis) = message.timestamp().to_millis() {
            record = record.timestamp(millis);
        }
        if let Some(key) = fitted.key {
            record = record.key(key);
        }
        if let Some(payload) = fitted.value {
            record = record.payload(payload);
        }
        self.producer
            .send(record)
            .map_err(|(error, _)| ProcessError::Kafka(error))
    }
}

/// At most 64 characters of `text`, for messages that quote what was sent.
fn prefix(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(64).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}
