//! `ledgerstream.account.results.*`: the answer to each command.

use serde::{Deserialize, Serialize};

use super::union::{record_union, records};
use crate::catalog::Kind;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandAccepted {
    pub command_id: String,
    pub account_id: String,
    pub correlation_id: String,
    pub decided_at: i64,
    pub version: i64,
    pub event_count: i32,
    pub events_partition: i32,
    /// -1 when the command produced no events (a repeat).
    pub first_event_offset: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRejected {
    pub command_id: String,
    pub account_id: String,
    pub correlation_id: String,
    pub decided_at: i64,
    /// One of the codes in `schemas/README.md`.
    pub reason_code: String,
    pub message: String,
    pub current_version: Option<i64>,
}

records!(
    Kind::Results,
    "ledgerstream.account.results",
    [
        CommandAccepted {
            command_id,
            account_id,
            correlation_id,
            decided_at,
            version,
            event_count,
            events_partition,
            first_event_offset
        },
        CommandRejected {
            command_id,
            account_id,
            correlation_id,
            decided_at,
            reason_code,
            message,
            current_version
        },
    ]
);

record_union!(
    /// Any record of `account-command-results`.
    ResultRecord,
    Kind::Results,
    [CommandAccepted, CommandRejected]
);
