//! The owner view and the limit of open accounts per owner.

use crate::testing::*;
use crate::{
    AccountCommand, AccountEvent, AccountState, AccountType, CommandBody, DecisionContext, OwnerId,
    OwnerState, decide, evolve_owner,
};

/// Decides `command` and returns its events.
fn events_of(state: &AccountState, command: AccountCommand) -> Vec<AccountEvent> {
    decide(state, &command, DecisionContext { now: NOW }).expect("accepted")
}

fn opened_event(account: &str, owner: &str) -> Vec<AccountEvent> {
    let mut command = open(AccountType::Checking, 100_00).for_account(account);
    if let CommandBody::OpenAccount(open) = &mut command.body {
        open.owner_id = OwnerId::new(owner);
    }
    events_of(&AccountState::default(), command)
}

fn closed_event(account: &str) -> Vec<AccountEvent> {
    // An account that was opened and emptied, then closed.
    let opened = opened_event(account, OWNER);
    let mut state = AccountState::replay(10, &opened);
    let emptied = events_of(&state, withdraw(100_00).for_account(account));
    for event in &emptied {
        state.apply(event);
    }
    events_of(&state, close().for_account(account))
}

#[test]
fn an_opened_account_takes_a_slot() {
    let owner = opened_event("a", OWNER)
        .iter()
        .fold(OwnerState::new(OwnerId::new(OWNER)), evolve_owner);
    assert_eq!(owner.open_account_count(), 1);
    assert_eq!(owner.snapshot().open_accounts, 1);
}

#[test]
fn other_owners_accounts_are_ignored() {
    let owner = opened_event("a", "someone-else")
        .iter()
        .fold(OwnerState::new(OwnerId::new(OWNER)), evolve_owner);
    assert_eq!(owner.open_account_count(), 0);
}

#[test]
fn a_closed_account_gives_its_slot_back() {
    let events: Vec<_> = opened_event("a", OWNER)
        .into_iter()
        .chain(opened_event("b", OWNER))
        .chain(closed_event("a"))
        .collect();
    let owner = events
        .iter()
        .fold(OwnerState::new(OwnerId::new(OWNER)), evolve_owner);
    let open: Vec<_> = owner.open_accounts().map(|id| id.as_str()).collect();
    assert_eq!(open, ["b"]);
}

#[test]
fn folding_an_event_twice_changes_nothing() {
    let events = opened_event("a", OWNER);
    let once = events
        .iter()
        .fold(OwnerState::new(OwnerId::new(OWNER)), evolve_owner);
    let twice = events
        .iter()
        .chain(&events)
        .fold(OwnerState::new(OwnerId::new(OWNER)), evolve_owner);
    assert_eq!(once, twice);
}

#[test]
fn the_snapshot_of_five_open_accounts_blocks_a_sixth() {
    let mut owner = OwnerState::new(OwnerId::new(OWNER));
    for account in ["a", "b", "c", "d", "e"] {
        for event in opened_event(account, OWNER) {
            owner.apply(&event);
        }
    }
    let sixth = open(AccountType::Checking, 100_00).owner_has(owner.snapshot().open_accounts);
    given([]).when(sixth).then_error("OWNER_ACCOUNT_LIMIT");

    for event in closed_event("c") {
        owner.apply(&event);
    }
    let sixth = open(AccountType::Checking, 100_00).owner_has(owner.snapshot().open_accounts);
    given([])
        .when(sixth)
        .then_events([opened(AccountType::Checking, 100_00)]);
}
