//! Both legs of a transfer and its refund.

use crate::testing::*;
use crate::{AccountType, Rejection, TransferLeg};

fn a_source_with(balance_minor: i64) -> Given {
    given([opened(AccountType::Checking, balance_minor)])
}

mod debit {
    use super::*;

    #[test]
    fn takes_the_amount_plus_a_2_00_fee() {
        a_source_with(1_000_00)
            .when(debit_transfer(transfer(1), OTHER_ACCOUNT, 300_00))
            .then_events([debited(transfer(1), OTHER_ACCOUNT, 300_00, 2_00, 698_00)]);
    }

    #[test]
    fn exactly_10000_00_still_pays_2_00() {
        a_source_with(20_000_00)
            .when(debit_transfer(transfer(1), OTHER_ACCOUNT, 10_000_00))
            .then_events([debited(
                transfer(1),
                OTHER_ACCOUNT,
                10_000_00,
                2_00,
                9_998_00,
            )]);
    }

    #[test]
    fn above_10000_00_pays_10_00() {
        a_source_with(20_000_00)
            .when(debit_transfer(transfer(1), OTHER_ACCOUNT, 10_000_01))
            .then_events([debited(
                transfer(1),
                OTHER_ACCOUNT,
                10_000_01,
                10_00,
                9_989_99,
            )]);
    }

    #[test]
    fn the_fee_does_not_depend_on_the_account_type() {
        given([opened(AccountType::Savings, 5_000_00)])
            .when(debit_transfer(transfer(1), OTHER_ACCOUNT, 2_000_00))
            .then_events([debited(
                transfer(1),
                OTHER_ACCOUNT,
                2_000_00,
                2_00,
                2_998_00,
            )]);
    }

    #[test]
    fn amount_plus_fee_may_use_the_whole_balance() {
        a_source_with(100_02_00)
            .when(debit_transfer(transfer(1), OTHER_ACCOUNT, 100_00_00))
            .then_events([debited(transfer(1), OTHER_ACCOUNT, 100_00_00, 2_00, 0)]);
    }

    #[test]
    fn the_balance_must_cover_amount_plus_fee() {
        a_source_with(100_01_99)
            .when(debit_transfer(transfer(1), OTHER_ACCOUNT, 100_00_00))
            .then_rejection(Rejection::InsufficientFunds {
                balance_minor: 100_01_99,
                needed_minor: 100_02_00,
            });
    }

    #[test]
    fn never_to_the_same_account() {
        a_source_with(1_000_00)
            .when(debit_transfer(transfer(1), ACCOUNT, 10_00))
            .then_rejection(Rejection::SameAccountTransfer(account_id(ACCOUNT)));
    }

    #[test]
    fn a_zero_or_negative_amount_is_invalid() {
        for amount in [0, -1] {
            a_source_with(1_000_00)
                .when(debit_transfer(transfer(1), OTHER_ACCOUNT, amount))
                .then_error("INVALID_AMOUNT");
        }
    }

    #[test]
    fn an_amount_plus_fee_that_overflows_is_invalid() {
        a_source_with(1_000_00)
            .when(debit_transfer(transfer(1), OTHER_ACCOUNT, i64::MAX))
            .then_error("INVALID_AMOUNT");
    }

    #[test]
    fn in_another_currency_is_refused() {
        a_source_with(1_000_00)
            .when(debit_transfer(transfer(1), OTHER_ACCOUNT, 10_00).in_currency("EUR"))
            .then_error("CURRENCY_MISMATCH");
    }

    #[test]
    fn from_an_unopened_account_is_not_found() {
        given([])
            .when(debit_transfer(transfer(1), OTHER_ACCOUNT, 10_00))
            .then_error("ACCOUNT_NOT_FOUND");
    }

    #[test]
    fn from_a_closed_account_is_refused() {
        given([
            opened(AccountType::Checking, 100_00),
            withdrawn(100_00, 0, 0),
            closed(),
        ])
        .when(debit_transfer(transfer(1), OTHER_ACCOUNT, 10_00))
        .then_error("ACCOUNT_CLOSED");
    }

    #[test]
    fn a_transfer_id_is_debited_once_even_under_another_command_id() {
        a_source_with(1_000_00)
            .and(debit_transfer(transfer(1), OTHER_ACCOUNT, 10_00))
            .when(debit_transfer(transfer(1), OTHER_ACCOUNT, 10_00))
            .then_no_events();
    }

    #[test]
    fn the_state_remembers_what_is_owed_back() {
        let after = a_source_with(1_000_00).and(debit_transfer(transfer(1), OTHER_ACCOUNT, 10_00));
        let leg = after
            .state()
            .account()
            .expect("open")
            .transfer(transfer(1))
            .cloned();
        assert_eq!(
            leg,
            Some(TransferLeg::Debited {
                to_account_id: account_id(OTHER_ACCOUNT),
                amount_minor: 10_00,
                fee_minor: 2_00,
                refunded: false,
            })
        );
    }
}

mod credit {
    use super::*;

    #[test]
    fn adds_the_amount_to_the_target() {
        given([opened(AccountType::Checking, 100_00)])
            .when(credit_transfer(transfer(1), OTHER_ACCOUNT, 50_00))
            .then_events([credited(transfer(1), OTHER_ACCOUNT, 50_00, 150_00)]);
    }

    #[test]
    fn an_unopened_target_is_not_found() {
        given([])
            .when(credit_transfer(transfer(1), OTHER_ACCOUNT, 50_00))
            .then_rejection(Rejection::AccountNotFound(account_id(ACCOUNT)));
    }

    #[test]
    fn a_closed_target_is_refused() {
        given([
            opened(AccountType::Checking, 100_00),
            withdrawn(100_00, 0, 0),
            closed(),
        ])
        .when(credit_transfer(transfer(1), OTHER_ACCOUNT, 50_00))
        .then_error("ACCOUNT_CLOSED");
    }

    #[test]
    fn a_target_in_another_currency_is_refused() {
        given([opened(AccountType::Checking, 100_00)])
            .when(credit_transfer(transfer(1), OTHER_ACCOUNT, 50_00).in_currency("EUR"))
            .then_error("CURRENCY_MISMATCH");
    }

    #[test]
    fn a_zero_amount_is_invalid() {
        given([opened(AccountType::Checking, 100_00)])
            .when(credit_transfer(transfer(1), OTHER_ACCOUNT, 0))
            .then_error("INVALID_AMOUNT");
    }

    #[test]
    fn a_credit_that_would_overflow_is_invalid() {
        given([opened(AccountType::Checking, i64::MAX)])
            .when(credit_transfer(transfer(1), OTHER_ACCOUNT, 1))
            .then_error("INVALID_AMOUNT");
    }

    #[test]
    fn a_credit_from_the_account_itself_is_refused() {
        given([opened(AccountType::Checking, 100_00)])
            .when(credit_transfer(transfer(1), ACCOUNT, 10_00))
            .then_error("SAME_ACCOUNT_TRANSFER");
    }

    #[test]
    fn a_transfer_id_is_credited_once_even_under_another_command_id() {
        given([opened(AccountType::Checking, 100_00)])
            .and(credit_transfer(transfer(1), OTHER_ACCOUNT, 50_00))
            .when(credit_transfer(transfer(1), OTHER_ACCOUNT, 50_00))
            .then_no_events();
    }
}

mod refund {
    use super::*;

    fn debited_10_00_of_1000_00() -> Given {
        a_source_with(1_000_00).and(debit_transfer(transfer(1), OTHER_ACCOUNT, 10_00))
    }

    #[test]
    fn gives_back_amount_and_fee() {
        debited_10_00_of_1000_00()
            .when(refund_transfer(transfer(1), OTHER_ACCOUNT, 10_00, 2_00))
            .then_events([refunded(transfer(1), OTHER_ACCOUNT, 10_00, 2_00, 1_000_00)]);
    }

    #[test]
    fn records_why_the_credit_failed() {
        let after = debited_10_00_of_1000_00()
            .when(refund_transfer(transfer(1), OTHER_ACCOUNT, 10_00, 2_00))
            .then_accepted();
        let leg = after
            .state()
            .account()
            .expect("open")
            .transfer(transfer(1))
            .cloned();
        assert!(matches!(
            leg,
            Some(TransferLeg::Debited { refunded: true, .. })
        ));
    }

    #[test]
    fn is_applied_even_to_a_closed_account() {
        // The transfer emptied the account, which was then closed before the credit
        // leg failed: the refund is still owed.
        a_source_with(12_00)
            .and(debit_transfer(transfer(1), OTHER_ACCOUNT, 10_00))
            .and(close())
            .when(refund_transfer(transfer(1), OTHER_ACCOUNT, 10_00, 2_00))
            .then_events([refunded(transfer(1), OTHER_ACCOUNT, 10_00, 2_00, 12_00)]);
    }

    #[test]
    fn is_applied_once_even_under_another_command_id() {
        debited_10_00_of_1000_00()
            .and(refund_transfer(transfer(1), OTHER_ACCOUNT, 10_00, 2_00))
            .when(refund_transfer(transfer(1), OTHER_ACCOUNT, 10_00, 2_00))
            .then_no_events();
    }

    #[test]
    fn needs_a_debit_of_that_transfer() {
        debited_10_00_of_1000_00()
            .when(refund_transfer(transfer(2), OTHER_ACCOUNT, 10_00, 2_00))
            .then_rejection(Rejection::InvalidAmount {
                amount_minor: 10_00,
                problem: "no transfer with this id was debited from this account",
            });
    }

    #[test]
    fn a_credited_transfer_is_not_refundable_here() {
        given([opened(AccountType::Checking, 100_00)])
            .and(credit_transfer(transfer(1), OTHER_ACCOUNT, 50_00))
            .when(refund_transfer(transfer(1), OTHER_ACCOUNT, 50_00, 2_00))
            .then_error("INVALID_AMOUNT");
    }

    #[test]
    fn must_match_the_debited_amount_fee_and_target() {
        for refund in [
            refund_transfer(transfer(1), OTHER_ACCOUNT, 10_01, 2_00),
            refund_transfer(transfer(1), OTHER_ACCOUNT, 10_00, 10_00),
            refund_transfer(transfer(1), "acc-3", 10_00, 2_00),
        ] {
            debited_10_00_of_1000_00()
                .when(refund)
                .then_error("INVALID_AMOUNT");
        }
    }

    #[test]
    fn must_be_in_the_account_currency() {
        debited_10_00_of_1000_00()
            .when(refund_transfer(transfer(1), OTHER_ACCOUNT, 10_00, 2_00).in_currency("EUR"))
            .then_error("CURRENCY_MISMATCH");
    }

    #[test]
    fn to_an_unopened_account_is_not_found() {
        given([])
            .when(refund_transfer(transfer(1), OTHER_ACCOUNT, 10_00, 2_00))
            .then_error("ACCOUNT_NOT_FOUND");
    }

    #[test]
    fn honours_the_expected_version() {
        debited_10_00_of_1000_00()
            .when(refund_transfer(transfer(1), OTHER_ACCOUNT, 10_00, 2_00).expecting(1))
            .then_error("VERSION_CONFLICT");
    }
}

mod headroom {
    use super::*;

    #[test]
    fn a_credit_may_not_crowd_out_a_refund_the_account_may_still_receive() {
        given([opened(AccountType::Checking, i64::MAX - 1_000_00)])
            .and(debit_transfer(transfer(1), OTHER_ACCOUNT, 500_00))
            .when(credit_transfer(transfer(2), OTHER_ACCOUNT, 1_000_01))
            .then_error("INVALID_AMOUNT");
    }

    #[test]
    fn a_refund_gives_the_room_back() {
        let after = given([opened(AccountType::Checking, 1_000_00)])
            .and(debit_transfer(transfer(1), OTHER_ACCOUNT, 500_00))
            .and(debit_transfer(transfer(2), OTHER_ACCOUNT, 100_00));
        let account = after.state().account().expect("open");
        assert_eq!(account.refundable_minor(), 604_00);
        let after = after.and(refund_transfer(transfer(1), OTHER_ACCOUNT, 500_00, 2_00));
        let account = after.state().account().expect("open");
        assert_eq!(account.refundable_minor(), 102_00);
    }
}
