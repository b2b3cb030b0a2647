use crate::testing::*;
use crate::{AccountType, OwnerId, Rejection};

#[test]
fn opens_with_the_initial_deposit_as_version_1() {
    let after = given([])
        .when(open(AccountType::Checking, 250_00))
        .then_events([opened(AccountType::Checking, 250_00)]);
    assert_eq!(after.state().version(), 1);
    let account = after.state().account().expect("opened");
    assert_eq!(account.balance_minor(), 250_00);
    assert_eq!(account.owner_id(), &OwnerId::new(OWNER));
}

#[test]
fn opens_every_account_type() {
    for account_type in [
        AccountType::Checking,
        AccountType::Savings,
        AccountType::Business,
        AccountType::Investment,
    ] {
        given([])
            .when(open(account_type, 100_00))
            .then_events([opened(account_type, 100_00)]);
    }
}

#[test]
fn the_account_keeps_the_currency_it_was_opened_in() {
    let after = given([]).and(open(AccountType::Checking, 100_00).in_currency("EUR"));
    let account = after.state().account().expect("opened");
    assert_eq!(account.currency().as_str(), "EUR");
}

#[test]
fn an_initial_deposit_of_exactly_100_00_is_enough() {
    given([])
        .when(open(AccountType::Savings, 100_00))
        .then_events([opened(AccountType::Savings, 100_00)]);
}

#[test]
fn an_initial_deposit_of_99_99_is_too_low() {
    given([])
        .when(open(AccountType::Savings, 99_99))
        .then_rejection(Rejection::InitialDepositTooLow {
            deposit_minor: 99_99,
            minimum_minor: 100_00,
        });
}

#[test]
fn a_zero_or_negative_initial_deposit_is_an_invalid_amount() {
    for amount in [0, -1, i64::MIN] {
        given([])
            .when(open(AccountType::Checking, amount))
            .then_error("INVALID_AMOUNT");
    }
}

#[test]
fn an_id_that_exists_cannot_be_opened_again() {
    given([opened(AccountType::Checking, 100_00)])
        .when(open(AccountType::Checking, 100_00))
        .then_rejection(Rejection::AccountAlreadyExists(account_id(ACCOUNT)));
}

#[test]
fn a_closed_account_cannot_be_opened_again() {
    given([
        opened(AccountType::Checking, 100_00),
        withdrawn(100_00, 0, 0),
        closed(),
    ])
    .when(open(AccountType::Checking, 100_00))
    .then_error("ACCOUNT_ALREADY_EXISTS");
}

#[test]
fn an_owner_with_4_open_accounts_may_open_a_fifth() {
    given([])
        .when(open(AccountType::Checking, 100_00).owner_has(4))
        .then_events([opened(AccountType::Checking, 100_00)]);
}

#[test]
fn an_owner_with_5_open_accounts_may_not_open_a_sixth() {
    given([])
        .when(open(AccountType::Checking, 100_00).owner_has(5))
        .then_rejection(Rejection::OwnerAccountLimit {
            owner_id: OwnerId::new(OWNER),
            open: 5,
            limit: 5,
        });
}

#[test]
fn an_owner_already_over_the_limit_stays_blocked() {
    // Possible when two opens raced on different partitions (see the module doc).
    given([])
        .when(open(AccountType::Checking, 100_00).owner_has(6))
        .then_error("OWNER_ACCOUNT_LIMIT");
}

#[test]
fn expecting_version_0_means_the_account_must_not_exist() {
    given([])
        .when(open(AccountType::Checking, 100_00).expecting(0))
        .then_events([opened(AccountType::Checking, 100_00)]);
    given([opened(AccountType::Checking, 100_00)])
        .when(open(AccountType::Checking, 100_00).expecting(0))
        .then_rejection(Rejection::VersionConflict {
            expected: 0,
            actual: 1,
        });
}

#[test]
fn expecting_any_other_version_of_an_unopened_account_is_a_conflict() {
    given([])
        .when(open(AccountType::Checking, 100_00).expecting(3))
        .then_rejection(Rejection::VersionConflict {
            expected: 3,
            actual: 0,
        });
}

#[test]
fn the_right_version_of_an_existing_account_still_cannot_reopen_it() {
    given([opened(AccountType::Checking, 100_00)])
        .when(open(AccountType::Checking, 100_00).expecting(1))
        .then_error("ACCOUNT_ALREADY_EXISTS");
}
