//! Rejections map one to one onto the reason codes of the wire contract, but for
//! the two the processor answers before any decision; the table of codes in
//! `docs/rules.md` is the contract's.

use std::collections::BTreeSet;

use ledgerstream_domain::testing::every_rejection;

use crate::wire::{FIELD_TOO_LONG, WRONG_PARTITION};

/// The codes the processor answers before any decision (`docs/rules.md`): the
/// domain never sees those commands, so they have no variant.
const REFUSED_BEFORE_DECIDING: [&str; 2] = [WRONG_PARTITION, FIELD_TOO_LONG];

/// The text of `file` (from the workspace root) under the heading `heading`, up
/// to the next heading of the same level.
fn section(file: &str, heading: &str) -> String {
    let path = format!("{}/../../{file}", env!("CARGO_MANIFEST_DIR"));
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
    let ours: BTreeSet<String> = every_rejection()
        .iter()
        .map(|r| r.code().to_owned())
        .collect();
    assert_eq!(
        ours.len(),
        every_rejection().len(),
        "two variants share a code"
    );
    let contract = codes(&section("schemas/README.md", "## Rejection reason codes"));
    let refused = REFUSED_BEFORE_DECIDING.map(str::to_owned).into();
    assert_eq!(ours, &contract - &refused);
    assert!(contract.is_superset(&refused), "{contract:?}");
}

#[test]
fn the_rules_page_lists_the_same_codes_as_the_wire_contract() {
    let rules = codes(&section("docs/rules.md", "## Reason codes"));
    let contract = codes(&section("schemas/README.md", "## Rejection reason codes"));
    assert_eq!(rules, contract);
}
