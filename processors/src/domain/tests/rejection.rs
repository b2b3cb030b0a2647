//! Rejections map one to one onto the reason codes of the wire contract.

use std::collections::BTreeSet;

use crate::domain::testing::*;
use crate::domain::{Currency, OwnerId, Rejection};

/// One of each variant; the `match` fails to compile when a variant is added.
fn one_of_each() -> Vec<Rejection> {
    let all = vec![
        Rejection::AccountNotFound(account_id(ACCOUNT)),
        Rejection::AccountAlreadyExists(account_id(ACCOUNT)),
        Rejection::AccountClosed(account_id(ACCOUNT)),
        Rejection::OwnerAccountLimit {
            owner_id: OwnerId::new(OWNER),
            open: 5,
            limit: 5,
        },
        Rejection::InitialDepositTooLow {
            deposit_minor: 1,
            minimum_minor: 100_00,
        },
        Rejection::InvalidAmount {
            amount_minor: 0,
            problem: "must be greater than zero",
        },
        Rejection::CurrencyMismatch {
            expected: Currency::new("USD"),
            actual: Currency::new("EUR"),
        },
        Rejection::InsufficientFunds {
            balance_minor: 1,
            needed_minor: 2,
        },
        Rejection::SameAccountTransfer(account_id(ACCOUNT)),
        Rejection::NonzeroBalance { balance_minor: 1 },
        Rejection::VersionConflict {
            expected: 1,
            actual: 2,
        },
    ];
    for rejection in &all {
        match rejection {
            Rejection::AccountNotFound(_)
            | Rejection::AccountAlreadyExists(_)
            | Rejection::AccountClosed(_)
            | Rejection::OwnerAccountLimit { .. }
            | Rejection::InitialDepositTooLow { .. }
            | Rejection::InvalidAmount { .. }
            | Rejection::CurrencyMismatch { .. }
            | Rejection::InsufficientFunds { .. }
            | Rejection::SameAccountTransfer(_)
            | Rejection::NonzeroBalance { .. }
            | Rejection::VersionConflict { .. } => {}
        }
    }
    all
}

/// The codes in the "Rejection reason codes" table of `schemas/README.md`.
fn contract_codes() -> BTreeSet<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../schemas/README.md");
    let readme = std::fs::read_to_string(path).expect("schemas/README.md is readable");
    let table = readme
        .split("## Rejection reason codes")
        .nth(1)
        .expect("the README has a reason-code section");
    table
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split('`').next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_codes_are_exactly_those_of_the_wire_contract() {
    let ours: BTreeSet<String> = one_of_each().iter().map(|r| r.code().to_owned()).collect();
    assert_eq!(ours.len(), one_of_each().len(), "two variants share a code");
    assert_eq!(ours, contract_codes());
}

#[test]
fn every_rejection_says_what_went_wrong() {
    for rejection in one_of_each() {
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
