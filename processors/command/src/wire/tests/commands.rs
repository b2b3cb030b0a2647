//! `account-commands` records to domain commands and back.

use std::cell::Cell;

use ledgerstream_domain::testing::*;
use ledgerstream_domain::{
    AccountType, Channel, CommandBody, CommandId, Currency, OwnerId, OwnerSnapshot,
};
use ledgerstream_schemas::records::{self as wire, CommandRecord, samples};
use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::wire::commands::{
    account_type_from_wire, account_type_to_wire, channel_from_wire, channel_to_wire,
};
use crate::wire::{WireError, command_from_record, command_to_record};

// ------------------------------------------------------------- round trips

#[test]
fn every_sample_command_comes_back_as_it_was_sent() {
    for sample in samples::commands() {
        let command = from_record(sample.clone()).expect("a well-formed sample");
        assert_eq!(command_to_record(&command), sample);
    }
}

#[test]
fn every_sample_keeps_its_envelope() {
    for sample in samples::commands() {
        let command = from_record(sample.clone()).expect("a well-formed sample");
        let meta = &command.metadata;
        assert_eq!(meta.command_id.to_string(), sample.command_id());
        assert_eq!(meta.account_id.as_str(), sample.account_id());
    }
}

#[test]
fn every_fixture_command_comes_back_as_it_was() {
    let fixtures = [
        open(AccountType::Savings, 100_00).owner_has(3).expecting(0),
        deposit(1_00),
        withdraw(5_00).via(Channel::Api),
        debit_transfer(transfer(1), OTHER_ACCOUNT, 10_00),
        credit_transfer(transfer(1), OTHER_ACCOUNT, 10_00),
        refund_transfer(transfer(1), OTHER_ACCOUNT, 10_00, 2_00),
        close().expecting(7),
    ];
    for command in fixtures {
        let record = command_to_record(&command);
        // The owner snapshot is not on the wire: the lookup gives it back.
        let again = command_from_record(record, |_| OwnerSnapshot { open_accounts: 3 });
        assert_eq!(again, Ok(command));
    }
}

#[test]
fn open_account_takes_every_field_and_the_looked_up_owner() {
    let sample = samples::commands().remove(0);
    let looked_up = Cell::new(None);
    let command = command_from_record(sample, |owner: &OwnerId| {
        looked_up.set(Some(owner.clone()));
        OwnerSnapshot { open_accounts: 4 }
    })
    .expect("well formed");
    assert_eq!(looked_up.take(), Some(OwnerId::new("owner-7")));
    assert_eq!(command.metadata.expected_version, Some(0));
    assert_eq!(command.metadata.causation_id, None);
    let CommandBody::OpenAccount(open) = command.body else {
        panic!("expected OpenAccount, got {:?}", command.body);
    };
    assert_eq!(open.owner_id, OwnerId::new("owner-7"));
    assert_eq!(open.account_type, AccountType::Business);
    assert_eq!(open.initial_deposit_minor, 10_000);
    assert_eq!(open.currency, Currency::new("EUR"));
    assert_eq!(open.owner, OwnerSnapshot { open_accounts: 4 });
}

#[test]
fn the_owner_is_looked_up_for_open_account_only() {
    for sample in samples::commands() {
        let is_open = matches!(sample, CommandRecord::OpenAccount(_));
        let asked = Cell::new(0);
        from_record_counting(sample, &asked).expect("well formed");
        assert_eq!(asked.get(), u32::from(is_open));
    }
}

#[test]
fn a_malformed_open_account_is_not_looked_up() {
    let mut record = open_record(1, 100_00);
    record.currency = "usd".to_owned();
    let asked = Cell::new(0);
    assert!(from_record_counting(record.into(), &asked).is_err());
    assert_eq!(asked.get(), 0);
}

fn from_record_counting(
    record: CommandRecord,
    asked: &Cell<u32>,
) -> Result<ledgerstream_domain::AccountCommand, WireError> {
    command_from_record(record, |_| {
        asked.set(asked.get() + 1);
        OwnerSnapshot::default()
    })
}

#[test]
fn every_account_type_and_channel_maps_one_to_one() {
    let types = [
        (wire::AccountType::Checking, AccountType::Checking),
        (wire::AccountType::Savings, AccountType::Savings),
        (wire::AccountType::Business, AccountType::Business),
        (wire::AccountType::Investment, AccountType::Investment),
    ];
    for (on_wire, in_domain) in types {
        assert_eq!(account_type_from_wire(on_wire), in_domain);
        assert_eq!(account_type_to_wire(in_domain), on_wire);
    }
    let channels = [
        (wire::Channel::Unknown, Channel::Unknown),
        (wire::Channel::Branch, Channel::Branch),
        (wire::Channel::Atm, Channel::Atm),
        (wire::Channel::Online, Channel::Online),
        (wire::Channel::Api, Channel::Api),
    ];
    for (on_wire, in_domain) in channels {
        assert_eq!(channel_from_wire(on_wire), in_domain);
        assert_eq!(channel_to_wire(in_domain), on_wire);
    }
}

// ------------------------------------------------------------ dead letters

fn not_a_uuid(record: &'static str, field: &'static str, value: &str) -> WireError {
    WireError::NotAUuid {
        record,
        field,
        value: value.to_owned(),
    }
}

#[test]
fn a_command_id_must_be_a_canonical_uuid() {
    let canonical = "8a8f3c1e-6a4b-4c1d-9c5e-2b7f1d0e9a11";
    let upper = canonical.to_uppercase();
    let simple = canonical.replace('-', "");
    let braced = format!("{{{canonical}}}");
    let urn = format!("urn:uuid:{canonical}");
    for value in ["", "not-a-uuid", "42", &upper, &simple, &braced, &urn] {
        let mut record = deposit_record(1, 1_00);
        record.command_id = value.to_owned();
        assert_eq!(
            from_record(record.into()),
            Err(not_a_uuid("DepositMoney", "command_id", value)),
        );
    }
}

#[test]
fn a_transfer_id_must_be_a_canonical_uuid() {
    let mut debit = debit_record(1, 1_00);
    debit.transfer_id = "t-1".to_owned();
    assert_eq!(
        from_record(debit.into()),
        Err(not_a_uuid("DebitTransfer", "transfer_id", "t-1"))
    );
    let mut credit = credit_record(1, 1_00);
    credit.transfer_id = String::new();
    assert_eq!(
        from_record(credit.into()),
        Err(not_a_uuid("CreditTransfer", "transfer_id", ""))
    );
    let mut refund = refund_record(1, 1_00, 2_00);
    refund.transfer_id = "T".to_owned();
    assert_eq!(
        from_record(refund.into()),
        Err(not_a_uuid("RefundTransfer", "transfer_id", "T"))
    );
}

#[test]
fn account_and_owner_ids_must_not_be_empty() {
    let empty = |record, field| Err(WireError::EmptyId { record, field });

    let mut close = close_record(1);
    close.account_id = String::new();
    assert_eq!(
        from_record(close.into()),
        empty("CloseAccount", "account_id")
    );

    let mut open = open_record(1, 100_00);
    open.owner_id = String::new();
    assert_eq!(from_record(open.into()), empty("OpenAccount", "owner_id"));

    let mut debit = debit_record(1, 1_00);
    debit.to_account_id = String::new();
    assert_eq!(
        from_record(debit.into()),
        empty("DebitTransfer", "to_account_id")
    );

    let mut credit = credit_record(1, 1_00);
    credit.from_account_id = String::new();
    assert_eq!(
        from_record(credit.into()),
        empty("CreditTransfer", "from_account_id")
    );

    let mut refund = refund_record(1, 1_00, 2_00);
    refund.to_account_id = String::new();
    assert_eq!(
        from_record(refund.into()),
        empty("RefundTransfer", "to_account_id")
    );
}

#[test]
fn a_currency_must_be_shaped_like_an_iso_4217_code() {
    for value in ["", "usd", "US", "USDT", "U$D", "ÜSD", " USD"] {
        let mut record = withdraw_record(1, 1_00);
        record.currency = value.to_owned();
        assert_eq!(
            from_record(record.into()),
            Err(WireError::NotACurrency {
                record: "WithdrawMoney",
                field: "currency",
                value: value.to_owned(),
            }),
        );
    }
}

#[test]
fn an_expected_version_must_not_be_negative() {
    for value in [-1, i64::MIN] {
        let mut record = close_record(1);
        record.expected_version = Some(value);
        assert_eq!(
            from_record(record.into()),
            Err(WireError::OutOfRange {
                record: "CloseAccount",
                field: "expected_version",
                value,
                expected: "0 or more",
            }),
        );
    }
}

#[test]
fn the_error_names_the_record_the_field_and_the_value() {
    let mut record = deposit_record(1, 1_00);
    record.command_id = "oops".to_owned();
    let error = from_record(record.into()).expect_err("malformed");
    assert_eq!(error.record(), "DepositMoney");
    assert_eq!(error.field(), "command_id");
    assert_eq!(error.kind(), "not-a-uuid");
    assert_eq!(
        error.to_string(),
        r#"DepositMoney.command_id: "oops" is not a lower-case hyphenated UUID"#
    );
}

// ------------------------------------------- rejections are not dead letters

#[test]
fn broken_rules_are_left_for_decide() {
    // Each of these is well formed, so it must reach `decide` and be answered with
    // `CommandRejected`, not go to the dead-letter topic.
    let mut stale = deposit_record(2, 1_00);
    stale.expected_version = Some(0);
    let mut unknown_currency = deposit_record(3, 1_00);
    unknown_currency.currency = "XYZ".to_owned();
    let mut to_itself = debit_record(4, 1_00);
    to_itself.to_account_id = ACCOUNT.to_owned();
    let records: [CommandRecord; 8] = [
        open_record(1, 0).into(),
        open_record(1, 99_99).into(),
        deposit_record(1, -5).into(),
        stale.into(),
        unknown_currency.into(),
        withdraw_record(5, i64::MIN).into(),
        to_itself.into(),
        refund_record(6, 1_00, -2_00).into(),
    ];
    for record in records {
        let kept = record.clone();
        let command = from_record(record).expect("well formed");
        assert_eq!(command_to_record(&command), kept);
    }
}

proptest! {
    /// Whatever the strings, conversion never panics, and what it accepts comes back
    /// byte for byte (so results echo the ids that were sent).
    #[test]
    fn accepted_records_come_back_unchanged(
        command_id in prop_oneof![
            any::<u128>().prop_map(|n| Uuid::from_u128(n).to_string()),
            ".{0,40}",
        ],
        account_id in ".{0,8}",
        currency in prop_oneof!["[A-Z]{3}", ".{0,4}"],
        expected_version in any::<Option<i64>>(),
    ) {
        let mut record = deposit_record(1, 1);
        record.command_id = command_id;
        record.account_id = account_id;
        record.currency = currency;
        record.expected_version = expected_version;
        let record = CommandRecord::from(record);
        if let Ok(command) = from_record(record.clone()) {
            prop_assert_eq!(command_to_record(&command), record);
        }
    }
}

#[test]
fn any_canonical_uuid_is_taken() {
    let id = Uuid::from_u128(0xdead_beef_0000_4000_8000_0000_0000_0001);
    let mut record = deposit_record(1, 1_00);
    record.command_id = id.to_string();
    let command = from_record(record.into()).expect("well formed");
    assert_eq!(command.metadata.command_id, CommandId(id));
}
