use std::time::Duration;

use ledgerstream_schemas::records::ResultRecord;

use crate::Sent;

/// The processor's answer to one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandResult {
    pub command_id: String,
    pub account_id: String,
    pub correlation_id: String,
    /// Where the command landed in the commands topic.
    pub sent: Sent,
    /// From queueing the command to reading its result.
    pub latency: Duration,
    /// The part of `latency` after the processor wrote the result: from the
    /// result record's timestamp to reading it (as far as the processor's clock
    /// and this one agree); `None` when the record has no timestamp.
    pub read_delay: Option<Duration>,
    /// The decision's time, epoch milliseconds: the processor takes it from the
    /// command record's timestamp, so that a command decided again decides alike.
    pub decided_at: i64,
    pub outcome: Outcome,
}

/// Accepted or rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The command's events are in the log.
    Accepted {
        /// The account's version after them: a reader that has seen this version
        /// (or the offsets below) has seen the command's effect.
        version: u64,
        /// Where the events are; `None` when the command repeated one already
        /// applied (same command id), which wrote nothing new.
        events: Option<EventOffsets>,
    },
    /// The command broke a business rule; nothing was written to the log.
    Rejected {
        /// Machine-readable, e.g. `INSUFFICIENT_FUNDS` (the list is in
        /// `schemas/README.md`).
        reason_code: String,
        /// The reason, for people.
        message: String,
        /// The account's version when the command was decided, if it exists.
        current_version: Option<u64>,
    },
}

/// Where an accepted command's events are in the events topic: `count` records
/// of one partition, from `first_offset` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventOffsets {
    pub partition: i32,
    pub first_offset: i64,
    pub count: u32,
}

impl EventOffsets {
    /// The offset of the command's last event.
    pub fn last_offset(&self) -> i64 {
        self.first_offset + i64::from(self.count.max(1)) - 1
    }
}

impl CommandResult {
    pub fn is_accepted(&self) -> bool {
        matches!(self.outcome, Outcome::Accepted { .. })
    }

    /// The reason code of a rejection.
    pub fn reason_code(&self) -> Option<&str> {
        match &self.outcome {
            Outcome::Rejected { reason_code, .. } => Some(reason_code),
            Outcome::Accepted { .. } => None,
        }
    }

    pub(crate) fn from_record(
        record: ResultRecord,
        sent: Sent,
        latency: Duration,
        read_delay: Option<Duration>,
    ) -> Self {
        // Versions count events of one account: never negative on the wire.
        let version = |v: i64| u64::try_from(v).unwrap_or(0);
        match record {
            ResultRecord::CommandAccepted(a) => {
                let events =
                    (a.event_count > 0 && a.first_event_offset >= 0).then(|| EventOffsets {
                        partition: a.events_partition,
                        first_offset: a.first_event_offset,
                        count: u32::try_from(a.event_count).unwrap_or(0),
                    });
                CommandResult {
                    command_id: a.command_id,
                    account_id: a.account_id,
                    correlation_id: a.correlation_id,
                    sent,
                    latency,
                    read_delay,
                    decided_at: a.decided_at,
                    outcome: Outcome::Accepted {
                        version: version(a.version),
                        events,
                    },
                }
            }
            ResultRecord::CommandRejected(r) => CommandResult {
                command_id: r.command_id,
                account_id: r.account_id,
                correlation_id: r.correlation_id,
                sent,
                latency,
                read_delay,
                decided_at: r.decided_at,
                outcome: Outcome::Rejected {
                    reason_code: r.reason_code,
                    message: r.message,
                    current_version: r.current_version.map(version),
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use ledgerstream_schemas::records::{CommandAccepted, CommandRejected};

    use super::*;

    const SENT: Sent = Sent {
        partition: 2,
        offset: 40,
    };

    fn accepted(event_count: i32, first_event_offset: i64) -> ResultRecord {
        CommandAccepted {
            command_id: "c".into(),
            account_id: "a".into(),
            correlation_id: "k".into(),
            decided_at: 7,
            version: 3,
            event_count,
            events_partition: 2,
            first_event_offset,
        }
        .into()
    }

    #[test]
    fn an_acceptance_carries_version_and_event_offsets() {
        let result = CommandResult::from_record(accepted(2, 17), SENT, Duration::ZERO, None);
        assert!(result.is_accepted());
        assert_eq!(
            result.outcome,
            Outcome::Accepted {
                version: 3,
                events: Some(EventOffsets {
                    partition: 2,
                    first_offset: 17,
                    count: 2
                })
            }
        );
        let Outcome::Accepted {
            events: Some(events),
            ..
        } = result.outcome
        else {
            unreachable!()
        };
        assert_eq!(events.last_offset(), 18);
    }

    #[test]
    fn a_repeat_has_no_events() {
        let result = CommandResult::from_record(accepted(0, -1), SENT, Duration::ZERO, None);
        assert_eq!(
            result.outcome,
            Outcome::Accepted {
                version: 3,
                events: None
            }
        );
    }

    #[test]
    fn a_rejection_carries_its_reason() {
        let record = CommandRejected {
            command_id: "c".into(),
            account_id: "a".into(),
            correlation_id: "k".into(),
            decided_at: 7,
            reason_code: "INSUFFICIENT_FUNDS".into(),
            message: "balance 1 does not cover 2".into(),
            current_version: Some(4),
        };
        let result = CommandResult::from_record(record.into(), SENT, Duration::ZERO, None);
        assert_eq!(result.reason_code(), Some("INSUFFICIENT_FUNDS"));
        assert_eq!(result.sent, SENT);
        assert!(matches!(
            result.outcome,
            Outcome::Rejected {
                current_version: Some(4),
                ..
            }
        ));
    }
}
