use crate::testing::*;
use crate::{AccountType, Channel, Rejection};

#[test]
fn a_checking_withdrawal_has_no_fee() {
    given([opened(AccountType::Checking, 5_000_00)])
        .when(withdraw(2_000_00))
        .then_events([withdrawn(2_000_00, 0, 3_000_00)]);
}

#[test]
fn business_and_investment_withdrawals_have_no_fee_either() {
    for account_type in [AccountType::Business, AccountType::Investment] {
        given([opened(account_type, 5_000_00)])
            .when(withdraw(2_000_00))
            .then_events([withdrawn(2_000_00, 0, 3_000_00)]);
    }
}

#[test]
fn a_savings_withdrawal_of_exactly_1000_00_has_no_fee() {
    given([opened(AccountType::Savings, 5_000_00)])
        .when(withdraw(1_000_00))
        .then_events([withdrawn(1_000_00, 0, 4_000_00)]);
}

#[test]
fn a_savings_withdrawal_of_1000_01_pays_5_00() {
    given([opened(AccountType::Savings, 5_000_00)])
        .when(withdraw(1_000_01))
        .then_events([withdrawn(1_000_01, 5_00, 3_994_99)]);
}

#[test]
fn the_channel_is_recorded() {
    given([opened(AccountType::Checking, 500_00)])
        .when(withdraw(100_00).via(Channel::Atm))
        .then_events([withdrawn_via(Channel::Atm, 100_00, 0, 400_00)]);
}

#[test]
fn the_whole_balance_can_be_withdrawn() {
    given([opened(AccountType::Checking, 500_00)])
        .when(withdraw(500_00))
        .then_events([withdrawn(500_00, 0, 0)]);
}

#[test]
fn amount_plus_fee_may_use_the_whole_balance() {
    given([opened(AccountType::Savings, 1_005_01)])
        .when(withdraw(1_000_01))
        .then_events([withdrawn(1_000_01, 5_00, 0)]);
}

#[test]
fn no_overdraft() {
    given([opened(AccountType::Checking, 500_00)])
        .when(withdraw(500_01))
        .then_rejection(Rejection::InsufficientFunds {
            balance_minor: 500_00,
            needed_minor: 500_01,
        });
}

#[test]
fn the_fee_counts_against_the_balance() {
    given([opened(AccountType::Savings, 1_005_00)])
        .when(withdraw(1_000_01))
        .then_rejection(Rejection::InsufficientFunds {
            balance_minor: 1_005_00,
            needed_minor: 1_005_01,
        });
}

#[test]
fn a_zero_or_negative_withdrawal_is_an_invalid_amount() {
    for amount in [0, -5_00] {
        given([opened(AccountType::Checking, 500_00)])
            .when(withdraw(amount))
            .then_error("INVALID_AMOUNT");
    }
}

#[test]
fn an_amount_plus_fee_that_overflows_is_an_invalid_amount() {
    given([opened(AccountType::Savings, 500_00)])
        .when(withdraw(i64::MAX))
        .then_error("INVALID_AMOUNT");
}

#[test]
fn a_withdrawal_in_another_currency_is_refused() {
    given([opened(AccountType::Checking, 500_00)])
        .when(withdraw(100_00).in_currency("EUR"))
        .then_error("CURRENCY_MISMATCH");
}

#[test]
fn a_withdrawal_from_an_unopened_account_is_not_found() {
    given([])
        .when(withdraw(100_00))
        .then_error("ACCOUNT_NOT_FOUND");
}

#[test]
fn a_withdrawal_from_a_closed_account_is_refused() {
    given([
        opened(AccountType::Checking, 100_00),
        withdrawn(100_00, 0, 0),
        closed(),
    ])
    .when(withdraw(1))
    .then_error("ACCOUNT_CLOSED");
}
