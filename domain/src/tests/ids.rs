//! Event ids are derived, so re-deciding a command yields the same events.

use uuid::Uuid;

use crate::testing::*;
use crate::{AccountId, AccountType, CommandId, DecisionContext, EventId, decide};

fn command_id(n: u128) -> CommandId {
    CommandId(Uuid::from_u128(n))
}

#[test]
fn deciding_the_same_command_twice_gives_identical_events() {
    let state = given([opened(AccountType::Checking, 500_00)])
        .state()
        .clone();
    let command = debit_transfer(transfer(1), OTHER_ACCOUNT, 10_00);
    let ctx = DecisionContext { now: NOW };
    let first = decide(&state, &command, ctx).expect("accepted");
    let second = decide(&state, &command, ctx).expect("accepted");
    assert_eq!(first, second);
}

#[test]
fn the_id_depends_on_command_index_and_account() {
    let account = AccountId::new(ACCOUNT);
    let base = EventId::derive(&account, command_id(1), 0);
    assert_eq!(base, EventId::derive(&account, command_id(1), 0));
    assert_ne!(base, EventId::derive(&account, command_id(2), 0));
    assert_ne!(base, EventId::derive(&account, command_id(1), 1));
    assert_ne!(
        base,
        EventId::derive(&AccountId::new(OTHER_ACCOUNT), command_id(1), 0)
    );
}

#[test]
fn account_ids_do_not_run_into_command_ids() {
    // Without the length prefix these two names could be the same bytes.
    let a = EventId::derive(&AccountId::new("ab"), command_id(1), 0);
    let b = EventId::derive(&AccountId::new("a"), command_id(1), 0);
    assert_ne!(a, b);
}

#[test]
fn the_derivation_never_changes() {
    // Changing it would give a command re-processed across an upgrade new event ids,
    // so consumers could no longer drop the copy.
    let id = EventId::derive(&AccountId::new("acc-1"), command_id(1), 0);
    assert_eq!(id.0.get_version_num(), 5);
    assert_eq!(id.to_string(), GOLDEN);
}

// Checked independently: SHA-1 over the namespace and the name bytes, as RFC 9562 says.
const GOLDEN: &str = "5fac9a08-6a72-5a74-83c0-777dfd26f0bc";
