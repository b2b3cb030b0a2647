use crate::testing::*;
use crate::{AccountType, Currency, Rejection};

fn an_open_account() -> Given {
    given([opened(AccountType::Checking, 500_00)])
}

#[test]
fn a_deposit_adds_to_the_balance() {
    let after = an_open_account()
        .when(deposit(25_50))
        .then_events([deposited(25_50, 525_50)]);
    assert_eq!(
        after.state().account().expect("open").balance_minor(),
        525_50
    );
    assert_eq!(after.state().version(), 2);
}

#[test]
fn deposits_follow_each_other() {
    an_open_account()
        .and(deposit(1))
        .when(deposit(2))
        .then_events([deposited(2, 500_03)]);
}

#[test]
fn a_zero_deposit_is_an_invalid_amount() {
    an_open_account()
        .when(deposit(0))
        .then_rejection(Rejection::InvalidAmount {
            amount_minor: 0,
            problem: "must be greater than zero",
        });
}

#[test]
fn a_negative_deposit_is_an_invalid_amount() {
    an_open_account()
        .when(deposit(-1_00))
        .then_error("INVALID_AMOUNT");
}

#[test]
fn a_deposit_in_another_currency_is_refused() {
    an_open_account()
        .when(deposit(10_00).in_currency("EUR"))
        .then_rejection(Rejection::CurrencyMismatch {
            expected: Currency::new("USD"),
            actual: Currency::new("EUR"),
        });
}

#[test]
fn a_deposit_that_would_overflow_the_balance_is_an_invalid_amount() {
    given([opened(AccountType::Checking, i64::MAX - 10)])
        .when(deposit(11))
        .then_error("INVALID_AMOUNT");
    given([opened(AccountType::Checking, i64::MAX - 10)])
        .when(deposit(10))
        .then_events([deposited(10, i64::MAX)]);
}

#[test]
fn a_deposit_to_an_unopened_account_is_not_found() {
    given([])
        .when(deposit(10_00))
        .then_rejection(Rejection::AccountNotFound(account_id(ACCOUNT)));
}

#[test]
fn a_deposit_to_a_closed_account_is_refused() {
    given([
        opened(AccountType::Checking, 100_00),
        withdrawn(100_00, 0, 0),
        closed(),
    ])
    .when(deposit(10_00))
    .then_rejection(Rejection::AccountClosed(account_id(ACCOUNT)));
}

#[test]
fn a_deposit_may_not_crowd_out_a_refund_the_account_may_still_receive() {
    // 500.00 + 2.00 are out on a transfer that may come back.
    let near_the_top = given([opened(AccountType::Checking, i64::MAX - 1_000_00)])
        .and(debit_transfer(transfer(1), OTHER_ACCOUNT, 500_00));
    near_the_top
        .clone()
        .when(deposit(1_000_01))
        .then_error("INVALID_AMOUNT");
    near_the_top
        .when(deposit(1_000_00))
        .then_events([deposited(1_000_00, i64::MAX - 502_00)])
        .when(refund_transfer(transfer(1), OTHER_ACCOUNT, 500_00, 2_00))
        .then_events([refunded(transfer(1), OTHER_ACCOUNT, 500_00, 2_00, i64::MAX)]);
}
