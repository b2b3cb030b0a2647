use crate::testing::*;
use crate::{AccountStatus, AccountType, Rejection};

fn an_empty_account() -> Given {
    given([
        opened(AccountType::Checking, 100_00),
        withdrawn(100_00, 0, 0),
    ])
}

#[test]
fn an_empty_account_can_be_closed() {
    let after = an_empty_account().when(close()).then_events([closed()]);
    let account = after.state().account().expect("opened");
    assert_eq!(account.status(), AccountStatus::Closed);
    assert_eq!(after.state().version(), 3);
}

#[test]
fn an_account_with_money_left_cannot_be_closed() {
    given([
        opened(AccountType::Checking, 100_00),
        withdrawn(99_99, 0, 1),
    ])
    .when(close())
    .then_rejection(Rejection::NonzeroBalance { balance_minor: 1 });
}

#[test]
fn an_unopened_account_cannot_be_closed() {
    given([]).when(close()).then_error("ACCOUNT_NOT_FOUND");
}

#[test]
fn a_closed_account_cannot_be_closed_again() {
    an_empty_account()
        .and(close())
        .when(close())
        .then_error("ACCOUNT_CLOSED");
}

#[test]
fn a_closed_account_accepts_no_command_but_refunds() {
    let closed_account = an_empty_account().and(close());
    for command in [
        deposit(10_00),
        withdraw(10_00),
        debit_transfer(transfer(1), OTHER_ACCOUNT, 10_00),
        credit_transfer(transfer(2), OTHER_ACCOUNT, 10_00),
        close(),
    ] {
        closed_account
            .clone()
            .when(command)
            .then_error("ACCOUNT_CLOSED");
    }
}
