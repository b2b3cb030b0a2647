//! The answer to each command, for `account-command-results`.

use ledgerstream_domain::{AccountCommand, Rejection, Timestamp};
use ledgerstream_schemas::records::{CommandAccepted, CommandRejected, ResultRecord};

use super::fields::wire_version;

/// The reason code of a command that is not on the partition its key maps to.
pub const WRONG_PARTITION: &str = "WRONG_PARTITION";
/// The reason code of a command with a text field over its limit.
pub const FIELD_TOO_LONG: &str = "FIELD_TOO_LONG";

/// `CommandAccepted`: `command` left the account at `version` with `event_count`
/// events, the first at `first_event_offset` of `events_partition`.
///
/// A repeated command (no events, `version` from
/// [`AccountState::outcome_of`](ledgerstream_domain::AccountState::outcome_of)) has an
/// `event_count` of 0 and no first offset, which the wire spells -1.
pub fn accepted(
    command: &AccountCommand,
    version: u64,
    event_count: usize,
    events_partition: i32,
    first_event_offset: Option<i64>,
    decided_at: Timestamp,
) -> ResultRecord {
    let meta = &command.metadata;
    CommandAccepted {
        command_id: meta.command_id.to_string(),
        account_id: meta.account_id.as_str().to_owned(),
        correlation_id: meta.correlation_id.clone(),
        decided_at: decided_at.as_millis(),
        version: wire_version(version),
        // One command decides a handful of events, never 2^31.
        event_count: i32::try_from(event_count).unwrap_or(i32::MAX),
        events_partition,
        first_event_offset: first_event_offset.unwrap_or(-1),
    }
    .into()
}

/// `CommandRejected`: `command` broke the rule `rejection` names. Its code is the
/// `reason_code` and its message the `message`; `current_version` is the account's
/// version when it was decided, if the account exists.
pub fn rejected(
    command: &AccountCommand,
    rejection: &Rejection,
    current_version: Option<u64>,
    decided_at: Timestamp,
) -> ResultRecord {
    rejected_as(
        command,
        rejection.code(),
        &rejection.to_string(),
        current_version,
        decided_at,
    )
}

/// A `CommandRejected` with `reason_code` and `message` given: a repeated command
/// answered with its first rejection, or a refusal outside the domain's rules
/// (`WRONG_PARTITION`, `FIELD_TOO_LONG`).
pub fn rejected_as(
    command: &AccountCommand,
    reason_code: &str,
    message: &str,
    current_version: Option<u64>,
    decided_at: Timestamp,
) -> ResultRecord {
    let meta = &command.metadata;
    CommandRejected {
        command_id: meta.command_id.to_string(),
        account_id: meta.account_id.as_str().to_owned(),
        correlation_id: meta.correlation_id.clone(),
        decided_at: decided_at.as_millis(),
        reason_code: reason_code.to_owned(),
        message: message.to_owned(),
        current_version: current_version.map(wire_version),
    }
    .into()
}
