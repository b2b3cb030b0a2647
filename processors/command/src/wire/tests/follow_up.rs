//! The credit and refund legs the processor sends for a transfer.

use ledgerstream_domain::testing::*;
use ledgerstream_domain::{
    AccountCommand, AccountEvent, AccountState, AccountType, DecisionContext, EventBody, Rejection,
    Timestamp, decide,
};
use ledgerstream_schemas::records::{self as wire, CommandRecord};
use uuid::Uuid;

use super::from_record;
use crate::wire::{FollowUp, credit_for, follow_up_id, refund_for};

// --------------------------------------------------------------------- ids

#[test]
fn ids_are_deterministic_and_distinct_per_step_and_transfer() {
    let credit = follow_up_id(transfer(1), FollowUp::Credit);
    let refund = follow_up_id(transfer(1), FollowUp::Refund);
    assert_eq!(credit, follow_up_id(transfer(1), FollowUp::Credit));
    assert_eq!(refund, follow_up_id(transfer(1), FollowUp::Refund));
    assert_ne!(credit, refund);
    assert_ne!(credit, follow_up_id(transfer(2), FollowUp::Credit));
    assert_ne!(refund, follow_up_id(transfer(2), FollowUp::Refund));
}

#[test]
fn the_derivation_never_changes() {
    // Changing it would let a follow-up re-sent across an upgrade pass for a new
    // command. Checked independently: SHA-1 over the namespace, the transfer id's
    // bytes and the step's name, as RFC 9562 says.
    let credit = follow_up_id(transfer(1), FollowUp::Credit);
    let refund = follow_up_id(transfer(1), FollowUp::Refund);
    assert_eq!(credit.0.get_version_num(), 5);
    assert_eq!(credit.to_string(), "24196779-1d5e-56a4-8290-5a19e42087a2");
    assert_eq!(refund.to_string(), "daca99ba-0556-50f8-93b0-7a561e65c720");
}

// ------------------------------------------------------------------ credit

/// [`ACCOUNT`] debits `amount` to [`OTHER_ACCOUNT`] from 20,000.00: the account
/// after it, and the `TransferDebited`.
fn a_debit_of(amount_minor: i64) -> (Given, AccountEvent) {
    let when = given([opened(AccountType::Checking, 20_000_00)])
        .at(Timestamp::from_millis(1_000))
        .when(debit_transfer(transfer(1), OTHER_ACCOUNT, amount_minor));
    let debited = when.events()[0].clone();
    (when.then_accepted(), debited)
}

fn credit_record_of(record: CommandRecord) -> wire::CreditTransfer {
    match record {
        CommandRecord::CreditTransfer(credit) => credit,
        other => panic!("expected CreditTransfer, got {other:?}"),
    }
}

fn refund_record_of(record: CommandRecord) -> wire::RefundTransfer {
    match record {
        CommandRecord::RefundTransfer(refund) => refund,
        other => panic!("expected RefundTransfer, got {other:?}"),
    }
}

#[test]
fn a_credit_goes_to_the_target_for_the_debited_amount() {
    let (_, mut debited) = a_debit_of(300_00);
    if let EventBody::TransferDebited(debit) = &mut debited.body {
        debit.reference = Some("invoice 17".to_owned());
    }
    let credit = credit_record_of(credit_for(&debited).expect("a debit"));
    let event = &debited.metadata;
    assert_eq!(
        credit,
        wire::CreditTransfer {
            command_id: follow_up_id(transfer(1), FollowUp::Credit).to_string(),
            account_id: OTHER_ACCOUNT.to_owned(),
            expected_version: None,
            issued_at: 1_000,
            correlation_id: CORRELATION.to_owned(),
            causation_id: Some(event.event_id.to_string()),
            transfer_id: transfer(1).to_string(),
            from_account_id: ACCOUNT.to_owned(),
            amount_minor: 300_00,
            currency: CURRENCY.to_owned(),
            reference: Some("invoice 17".to_owned()),
        }
    );
}

#[test]
fn only_a_debit_calls_for_a_credit() {
    let when = given([]).when(open(AccountType::Checking, 100_00));
    assert_eq!(credit_for(&when.events()[0]), None);
}

#[test]
fn a_credit_built_again_is_the_same_record() {
    let (_, debited) = a_debit_of(300_00);
    assert_eq!(credit_for(&debited), credit_for(&debited.clone()));
}

#[test]
fn the_target_accepts_the_credit_and_drops_it_when_sent_again() {
    // Here the target is ACCOUNT, so that the harness decides for it.
    let (_, mut debited) = a_debit_of(300_00);
    debited.metadata.account_id = account_id(OTHER_ACCOUNT);
    if let EventBody::TransferDebited(debit) = &mut debited.body {
        debit.to_account_id = account_id(ACCOUNT);
    }
    let record = credit_for(&debited).expect("a debit");
    let credit = from_record(record.clone()).expect("well formed");
    let again = from_record(record).expect("well formed");
    given([opened(AccountType::Checking, 100_00)])
        .when(credit)
        .then_events([credited(transfer(1), OTHER_ACCOUNT, 300_00, 400_00)])
        .when(again)
        .then_no_events();
}

// ------------------------------------------------------------------ refund

/// The credit `debited` calls for, as the target reads it, and the target's
/// rejection of it: [`OTHER_ACCOUNT`] was never opened.
fn a_rejected_credit(debited: &AccountEvent) -> (AccountCommand, Rejection) {
    let credit = from_record(credit_for(debited).expect("a debit")).expect("well formed");
    let target = AccountState::default();
    let rejection = decide(&target, &credit, DecisionContext { now: NOW })
        .expect_err("the target does not exist");
    (credit, rejection)
}

#[test]
fn a_refund_goes_back_to_the_source_with_the_amount_fee_and_reason() {
    let (_, debited) = a_debit_of(300_00);
    let (credit, rejection) = a_rejected_credit(&debited);
    let at = Timestamp::from_millis(2_000);
    let refund = refund_record_of(refund_for(&credit, &rejection, at).expect("a credit"));
    assert_eq!(
        refund,
        wire::RefundTransfer {
            command_id: follow_up_id(transfer(1), FollowUp::Refund).to_string(),
            account_id: ACCOUNT.to_owned(),
            expected_version: None,
            issued_at: 2_000,
            correlation_id: CORRELATION.to_owned(),
            causation_id: Some(credit.metadata.command_id.to_string()),
            transfer_id: transfer(1).to_string(),
            to_account_id: OTHER_ACCOUNT.to_owned(),
            amount_minor: 300_00,
            currency: CURRENCY.to_owned(),
            fee_minor: 2_00,
            reason_code: "ACCOUNT_NOT_FOUND".to_owned(),
            reason: format!("account {OTHER_ACCOUNT} has not been opened"),
        }
    );
}

#[test]
fn only_a_credit_calls_for_a_refund() {
    let rejection = Rejection::AccountNotFound(account_id(OTHER_ACCOUNT));
    assert_eq!(refund_for(&deposit(1_00), &rejection, NOW), None);
}

#[test]
fn the_source_accepts_the_refund_and_drops_it_when_sent_again() {
    let (source, debited) = a_debit_of(300_00);
    let (credit, rejection) = a_rejected_credit(&debited);
    let record = refund_for(&credit, &rejection, NOW).expect("a credit");
    let refund = from_record(record.clone()).expect("well formed");
    let again = from_record(record).expect("well formed");
    source
        .when(refund)
        .then_events([refunded(
            transfer(1),
            OTHER_ACCOUNT,
            300_00,
            2_00,
            20_000_00,
        )])
        .when(again)
        .then_no_events();
}

#[test]
fn the_source_accepts_the_refund_of_a_large_transfer() {
    // Above 10,000.00 the fee is 10.00: the refund must work it out the same way.
    let (source, debited) = a_debit_of(10_000_01);
    let (credit, rejection) = a_rejected_credit(&debited);
    let refund =
        from_record(refund_for(&credit, &rejection, NOW).expect("a credit")).expect("well formed");
    source.when(refund).then_events([refunded(
        transfer(1),
        OTHER_ACCOUNT,
        10_000_01,
        10_00,
        20_000_00,
    )]);
}

#[test]
fn a_refund_carries_any_rejection_as_its_reason() {
    let (source, debited) = a_debit_of(300_00);
    let (credit, _) = a_rejected_credit(&debited);
    let rejection = Rejection::AccountClosed(account_id(OTHER_ACCOUNT));
    let record = refund_record_of(refund_for(&credit, &rejection, NOW).expect("a credit"));
    assert_eq!(record.reason_code, "ACCOUNT_CLOSED");
    assert_eq!(record.reason, format!("account {OTHER_ACCOUNT} is closed"));
    let refund = from_record(record.into()).expect("well formed");
    let when = source.when(refund);
    assert_eq!(when.events().len(), 1);
}

#[test]
fn a_refund_built_again_is_the_same_record() {
    let (_, debited) = a_debit_of(300_00);
    let (credit, rejection) = a_rejected_credit(&debited);
    assert_eq!(
        refund_for(&credit, &rejection, NOW),
        refund_for(&credit.clone(), &rejection, NOW)
    );
    let credit_id = Uuid::parse_str(&credit_record_of(credit_for(&debited).unwrap()).command_id);
    assert_eq!(
        credit_id.ok(),
        Some(follow_up_id(transfer(1), FollowUp::Credit).0)
    );
}
