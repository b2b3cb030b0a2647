//! Every rejection explains itself to people. (That the codes are exactly those
//! of the wire contract is checked where the two meet: the processors crate's
//! `wire/tests/reason_codes.rs`.)

use crate::Rejection;
use crate::testing::every_rejection;

#[test]
fn every_rejection_says_what_went_wrong() {
    for rejection in every_rejection() {
        let message = rejection.to_string();
        assert!(!message.is_empty());
        assert!(
            !message.contains(rejection.code()),
            "the message is for people: {message}"
        );
    }
    assert_eq!(
        Rejection::InsufficientFunds {
            balance_minor: 5_00,
            needed_minor: 12_00
        }
        .to_string(),
        "balance 500 does not cover 1200 (amount plus fee)"
    );
}
