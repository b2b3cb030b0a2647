//! Wire commands decided end to end: record in, domain command, decision, event
//! records out and back, result record.

use ledgerstream_domain::testing::*;
use ledgerstream_domain::{AccountType, EventBody};
use ledgerstream_schemas::records::{CommandRecord, ResultRecord};

use super::*;
use crate::wire::{event_from_record, event_to_record, refund_for, rejected};

/// Decides `record` on the account `given` describes, checks the events against
/// `expected` and that each survives the trip to `account-events` and back.
fn decide_record(
    given: Given,
    record: impl Into<CommandRecord>,
    expected: impl IntoIterator<Item = EventBody>,
) -> Given {
    let command = from_record(record.into()).expect("well formed");
    let when = given.when(command);
    for event in when.events() {
        let back = event_from_record(event_to_record(event));
        assert_eq!(back.as_ref(), Ok(event));
    }
    when.then_events(expected)
}

fn an_open_account() -> Given {
    given([opened(AccountType::Checking, 1_000_00)])
}

#[test]
fn open_account() {
    decide_record(
        given([]),
        open_record(1, 500_00),
        [opened(AccountType::Checking, 500_00)],
    );
}

#[test]
fn open_account_for_an_owner_at_the_limit() {
    let command = command_from_record(open_record(1, 500_00).into(), |_| OwnerSnapshot {
        open_accounts: 5,
    })
    .expect("well formed");
    given([]).when(command).then_error("OWNER_ACCOUNT_LIMIT");
}

#[test]
fn deposit_money() {
    decide_record(
        an_open_account(),
        deposit_record(1, 2_50),
        [deposited(2_50, 1_002_50)],
    );
}

#[test]
fn withdraw_money() {
    decide_record(
        an_open_account(),
        withdraw_record(1, 100_00),
        [withdrawn(100_00, 0, 900_00)],
    );
}

#[test]
fn debit_transfer() {
    let transfer = the_transfer();
    decide_record(
        an_open_account(),
        debit_record(1, 300_00),
        [debited(transfer, OTHER_ACCOUNT, 300_00, 2_00, 698_00)],
    );
}

#[test]
fn credit_transfer() {
    let transfer = the_transfer();
    decide_record(
        an_open_account(),
        credit_record(1, 300_00),
        [credited(transfer, OTHER_ACCOUNT, 300_00, 1_300_00)],
    );
}

#[test]
fn refund_transfer() {
    let transfer = the_transfer();
    let debited = decide_record(
        an_open_account(),
        debit_record(1, 300_00),
        [debited(transfer, OTHER_ACCOUNT, 300_00, 2_00, 698_00)],
    );
    decide_record(
        debited,
        refund_record(2, 300_00, 2_00),
        [refunded(transfer, OTHER_ACCOUNT, 300_00, 2_00, 1_000_00)],
    );
}

#[test]
fn close_account() {
    let emptied = decide_record(
        an_open_account(),
        withdraw_record(1, 1_000_00),
        [withdrawn(1_000_00, 0, 0)],
    );
    decide_record(emptied, close_record(2), [closed()]);
}

#[test]
fn a_well_formed_command_that_breaks_a_rule_is_answered_not_dead_lettered() {
    let record = deposit_record(1, 0);
    let command = from_record(record.into()).expect("well formed: not a dead letter");
    let when = an_open_account().when(command.clone());
    let rejection = when.result().clone().expect_err("an amount of 0");
    let ResultRecord::CommandRejected(result) = rejected(&command, &rejection, Some(1), NOW) else {
        panic!("expected CommandRejected");
    };
    assert_eq!(result.reason_code, "INVALID_AMOUNT");
    assert_eq!(result.command_id, uuid(1));
    // Not a credit, so nothing to refund either.
    assert_eq!(refund_for(&command, &rejection, NOW), None);
}
