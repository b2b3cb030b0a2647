//! Rejections map one to one onto the reason codes of the wire contract, but for
//! the two the processor answers before any decision.

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

/// The codes the processor answers before any decision (README, "Business
/// rules"): the domain never sees those commands, so they have no variant.
const REFUSED_BEFORE_DECIDING: [&str; 2] =
    [crate::wire::WRONG_PARTITION, crate::wire::FIELD_TOO_LONG];

/// The text of `file` (from the workspace root) under the heading `heading`, up
/// to the next heading of the same level.
fn section(file: &str, heading: &str) -> String {
    let path = format!("{}/../{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let level = heading.split(' ').next().unwrap_or_default();
    let body = text
        .split(&format!("\n{heading}\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("{file} has no section {heading:?}"));
    body.split(&format!("\n{level} "))
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// The codes in the first column of a reason-code table.
fn codes(table: &str) -> BTreeSet<String> {
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
    let contract = codes(&section("schemas/README.md", "## Rejection reason codes"));
    let refused = REFUSED_BEFORE_DECIDING.map(str::to_owned).into();
    assert_eq!(ours, &contract - &refused);
    assert!(contract.is_superset(&refused), "{contract:?}");
}

#[test]
fn the_readme_lists_the_same_codes_as_the_wire_contract() {
    let rules = section("README.md", "## Business rules");
    let readme = codes(
        rules
            .split("\n### Reason codes\n")
            .nth(1)
            .expect("README, \"Business rules\", has a \"Reason codes\" table"),
    );
    let contract = codes(&section("schemas/README.md", "## Rejection reason codes"));
    assert_eq!(readme, contract);
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
