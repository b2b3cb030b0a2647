//! What every command goes through: versions, optimistic concurrency,
//! idempotency, and the envelope of the events.

use uuid::Uuid;

use crate::testing::*;
use crate::{
    AccountState, AccountType, CommandId, DecisionContext, Outcome, Rejection, Timestamp, decide,
};

fn an_open_account() -> Given {
    given([opened(AccountType::Checking, 500_00)])
}

// ------------------------------------------------------------------ versions

#[test]
fn each_event_adds_one_to_the_version() {
    // The harness checks every envelope: versions 1, 2, 3, 4 in turn.
    let after = given([])
        .when(open(AccountType::Checking, 500_00))
        .then_events([opened(AccountType::Checking, 500_00)])
        .when(deposit(1_00))
        .then_events([deposited(1_00, 501_00)])
        .when(withdraw(501_00))
        .then_events([withdrawn(501_00, 0, 0)])
        .when(close())
        .then_events([closed()]);
    assert_eq!(after.state().version(), 4);
}

#[test]
fn occurred_at_is_the_decision_time_passed_in() {
    let at = Timestamp::from_millis(42);
    let when = an_open_account().at(at).when(deposit(1_00));
    assert_eq!(when.events()[0].metadata.occurred_at, at);
}

#[test]
fn causation_is_the_command_and_correlation_is_carried_over() {
    let command = deposit(1_00);
    let when = an_open_account().when(command.clone());
    let event = &when.events()[0];
    assert_eq!(
        event.metadata.causation_id,
        command.metadata.command_id.to_string()
    );
    assert_eq!(event.metadata.correlation_id, CORRELATION);
}

// ------------------------------------------------------- expected_version

#[test]
fn the_expected_version_is_accepted() {
    an_open_account()
        .when(deposit(1_00).expecting(1))
        .then_events([deposited(1_00, 501_00)]);
}

#[test]
fn a_stale_expected_version_is_a_conflict() {
    an_open_account()
        .and(deposit(1_00))
        .when(withdraw(1_00).expecting(1))
        .then_rejection(Rejection::VersionConflict {
            expected: 1,
            actual: 2,
        });
}

#[test]
fn a_future_expected_version_is_a_conflict() {
    an_open_account()
        .when(close().expecting(7))
        .then_error("VERSION_CONFLICT");
}

#[test]
fn the_version_is_checked_before_the_rules() {
    // Would be INSUFFICIENT_FUNDS with the right version.
    an_open_account()
        .when(withdraw(1_000_00).expecting(5))
        .then_error("VERSION_CONFLICT");
}

#[test]
fn the_version_is_checked_before_the_status() {
    given([
        opened(AccountType::Checking, 100_00),
        withdrawn(100_00, 0, 0),
        closed(),
    ])
    .when(deposit(1_00).expecting(1))
    .then_error("VERSION_CONFLICT");
}

#[test]
fn existence_is_checked_before_the_version() {
    given([])
        .when(deposit(1_00).expecting(5))
        .then_error("ACCOUNT_NOT_FOUND");
}

// -------------------------------------------------------------- idempotency

#[test]
fn a_repeated_command_produces_no_new_events() {
    let command = deposit(10_00);
    let after = an_open_account()
        .and(command.clone())
        .when(command.clone())
        .then_no_events();
    assert_eq!(after.state().version(), 2);
    assert_eq!(
        after.state().account().expect("open").balance_minor(),
        510_00
    );
}

#[test]
fn a_rejected_command_sent_again_is_rejected_again_even_when_it_would_pass() {
    let overdraft = withdraw(150_00);
    let after = given([opened(AccountType::Checking, 100_00)])
        .when(overdraft.clone())
        .then_error("INSUFFICIENT_FUNDS")
        .and(deposit(100_00));
    let Some(Outcome::Rejected(refusal)) = after.state().outcome_of(overdraft.metadata.command_id)
    else {
        panic!("the rejection is remembered");
    };
    assert_eq!(refusal.code, "INSUFFICIENT_FUNDS");
    assert!(refusal.message.contains("15000"), "{}", refusal.message);
    // 200.00 now covers it; the command id has had its answer.
    let after = after.when(overdraft).then_no_events();
    assert_eq!(after.state().version(), 2);
}

#[test]
fn a_first_outcome_is_never_replaced_by_a_later_one() {
    let command = deposit(10_00);
    let mut state = an_open_account().and(command.clone()).state().clone();
    state.reject(
        command.metadata.command_id,
        &Rejection::InvalidAmount {
            amount_minor: 0,
            problem: "later",
        },
    );
    assert_eq!(
        state.outcome_of(command.metadata.command_id),
        Some(Outcome::Applied { version: 2 })
    );
}

#[test]
fn a_repeated_command_reports_its_earlier_outcome() {
    let command = deposit(10_00);
    let after = an_open_account().and(command.clone()).and(deposit(5_00));
    assert_eq!(
        after.state().outcome_of(command.metadata.command_id),
        Some(Outcome::Applied { version: 2 })
    );
}

#[test]
fn a_repeated_open_produces_no_new_events() {
    let command = open(AccountType::Savings, 100_00);
    given([])
        .and(command.clone())
        .when(command)
        .then_no_events();
}

#[test]
fn a_repeat_is_recognised_before_its_now_stale_expected_version() {
    let command = deposit(10_00).expecting(1);
    an_open_account()
        .and(command.clone())
        .when(command)
        .then_no_events();
}

#[test]
fn a_repeat_is_recognised_even_once_the_account_is_closed() {
    let command = close();
    given([
        opened(AccountType::Checking, 100_00),
        withdrawn(100_00, 0, 0),
    ])
    .and(command.clone())
    .when(command)
    .then_no_events();
}

#[test]
fn a_rejected_command_is_decided_again_when_repeated() {
    let command = withdraw(600_00);
    let account = an_open_account();
    account
        .clone()
        .when(command.clone())
        .then_error("INSUFFICIENT_FUNDS");
    account
        .and(deposit(100_00))
        .when(command)
        .then_events([withdrawn(600_00, 0, 0)]);
}

#[test]
fn the_window_forgets_the_oldest_command() {
    let first = deposit(1_00);
    given_with_window(2, [opened(AccountType::Checking, 500_00)])
        .and(first.clone())
        .and(deposit(2_00))
        .and(deposit(3_00))
        .when(first)
        .then_events([deposited(1_00, 507_00)]);
}

#[test]
fn the_window_keeps_the_last_n_commands() {
    let first = deposit(1_00);
    let after = given_with_window(3, [opened(AccountType::Checking, 500_00)])
        .and(first.clone())
        .and(deposit(2_00));
    assert_eq!(after.state().recent_commands().len(), 3);
    after.when(first).then_no_events();
}

#[test]
fn a_window_of_zero_remembers_nothing() {
    let command = deposit(1_00);
    given_with_window(0, [opened(AccountType::Checking, 500_00)])
        .and(command.clone())
        .when(command)
        .then_events([deposited(1_00, 502_00)]);
}

#[test]
fn replaying_the_log_rebuilds_the_window() {
    let ctx = DecisionContext { now: NOW };
    let commands = [open(AccountType::Checking, 500_00), deposit(10_00)];
    let mut state = AccountState::new(10);
    let mut log = vec![];
    for command in &commands {
        let events = decide(&state, command, ctx).expect("accepted");
        for event in &events {
            state.apply(event);
        }
        log.extend(events);
    }
    let replayed = AccountState::replay(10, &log);
    assert_eq!(replayed, state);
    for command in &commands {
        assert_eq!(decide(&replayed, command, ctx), Ok(vec![]));
    }
}

#[test]
fn a_command_id_from_the_history_counts_as_a_repeat() {
    // The harness gives the n-th history event the command id 0x9e7e…n.
    let historic = CommandId(Uuid::from_u128(0x9e7e_0000_0000_0000_0000_0000_0000_0001));
    an_open_account()
        .when(deposit(1_00).with_command_id(historic))
        .then_no_events();
}
