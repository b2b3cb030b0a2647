//! The answers published on `account-command-results`.

use ledgerstream_domain::testing::*;
use ledgerstream_domain::{AccountType, Outcome, Rejection, Timestamp};
use ledgerstream_schemas::records::{CommandAccepted, CommandRejected, ResultRecord};

use crate::wire::{accepted, rejected};

#[test]
fn accepted_says_where_the_events_went() {
    let command = deposit(1_00);
    let result = accepted(&command, 7, 1, 3, Some(12_345), Timestamp::from_millis(9));
    assert_eq!(
        result,
        ResultRecord::CommandAccepted(CommandAccepted {
            command_id: command.metadata.command_id.to_string(),
            account_id: ACCOUNT.to_owned(),
            correlation_id: CORRELATION.to_owned(),
            decided_at: 9,
            version: 7,
            event_count: 1,
            events_partition: 3,
            first_event_offset: 12_345,
        })
    );
}

#[test]
fn a_repeat_has_no_events_and_no_offset() {
    let command = deposit(1_00);
    let after = given([opened(AccountType::Checking, 100_00)]).and(command.clone());
    let Some(Outcome::Applied { version }) = after.state().outcome_of(command.metadata.command_id)
    else {
        panic!("in the window");
    };
    let ResultRecord::CommandAccepted(result) = accepted(&command, version, 0, 3, None, NOW) else {
        panic!("expected CommandAccepted");
    };
    assert_eq!(result.version, 2);
    assert_eq!(result.event_count, 0);
    assert_eq!(result.first_event_offset, -1);
}

#[test]
fn rejected_carries_the_code_and_the_message() {
    let command = withdraw(1_000_00);
    let rejection = Rejection::InsufficientFunds {
        balance_minor: 100_00,
        needed_minor: 1_000_00,
    };
    let result = rejected(&command, &rejection, Some(1), NOW);
    assert_eq!(
        result,
        ResultRecord::CommandRejected(CommandRejected {
            command_id: command.metadata.command_id.to_string(),
            account_id: ACCOUNT.to_owned(),
            correlation_id: CORRELATION.to_owned(),
            decided_at: NOW.as_millis(),
            reason_code: "INSUFFICIENT_FUNDS".to_owned(),
            message: "balance 10000 does not cover 100000 (amount plus fee)".to_owned(),
            current_version: Some(1),
        })
    );
}

#[test]
fn a_rejection_before_the_account_exists_has_no_version() {
    let command = deposit(1_00);
    let rejection = Rejection::AccountNotFound(account_id(ACCOUNT));
    let ResultRecord::CommandRejected(result) = rejected(&command, &rejection, None, NOW) else {
        panic!("expected CommandRejected");
    };
    assert_eq!(result.reason_code, "ACCOUNT_NOT_FOUND");
    assert_eq!(result.current_version, None);
}
