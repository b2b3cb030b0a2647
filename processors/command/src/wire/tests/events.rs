//! Domain events to `account-events` records and back.

use ledgerstream_domain::testing::*;
use ledgerstream_domain::{
    AccountEvent, AccountType, Channel, CommandId, EventBody, EventId, EventMetadata, Timestamp,
};
use ledgerstream_schemas::records::{EventRecord, samples};
use uuid::Uuid;

use crate::wire::{WireError, event_from_record, event_to_record};

/// Every event body the fixtures make, with every account type and channel.
fn every_event_body() -> Vec<EventBody> {
    let mut bodies = vec![
        deposited(2_50, 102_50),
        withdrawn(1_000_01, 5_00, 0),
        debited(transfer(1), OTHER_ACCOUNT, 300_00, 2_00, 698_00),
        credited(transfer(2), OTHER_ACCOUNT, 50_00, 748_00),
        refunded(transfer(1), OTHER_ACCOUNT, 300_00, 2_00, 1_050_00),
        closed(),
    ];
    for account_type in [
        AccountType::Checking,
        AccountType::Savings,
        AccountType::Business,
        AccountType::Investment,
    ] {
        bodies.push(opened(account_type, 100_00));
    }
    for channel in [
        Channel::Unknown,
        Channel::Branch,
        Channel::Atm,
        Channel::Online,
        Channel::Api,
    ] {
        bodies.push(withdrawn_via(channel, 1_00, 0, 99_00));
    }
    // With the optional and free-form fields filled in as well.
    for body in &mut bodies {
        match body {
            EventBody::MoneyDeposited(e) => e.reference = Some("salary".to_owned()),
            EventBody::TransferDebited(e) => e.reference = Some("rent".to_owned()),
            EventBody::AccountClosed(e) => e.reason = Some("moved abroad".to_owned()),
            _ => {}
        }
    }
    bodies
}

/// `body` as the `version`-th event of [`ACCOUNT`].
fn event(version: u64, body: EventBody) -> AccountEvent {
    let command_id = CommandId(Uuid::from_u128(0xc0de_0000_0000_4000_8000_0000_0000_0000));
    let account = account_id(ACCOUNT);
    AccountEvent {
        metadata: EventMetadata {
            event_id: EventId::derive(&account, command_id, 0),
            account_id: account,
            version,
            occurred_at: NOW,
            command_id,
            correlation_id: CORRELATION.to_owned(),
            causation_id: command_id.to_string(),
        },
        body,
    }
}

#[test]
fn every_domain_event_comes_back_as_it_was() {
    for (version, body) in (1..).zip(every_event_body()) {
        let original = event(version, body);
        let record = event_to_record(&original);
        assert_eq!(record.metadata().version, i64::try_from(version).unwrap());
        assert_eq!(event_from_record(record), Ok(original));
    }
}

#[test]
fn the_variants_covered_are_all_of_them() {
    // Adding an event type fails to compile here until the list above has one.
    let names: Vec<&str> = every_event_body()
        .iter()
        .map(|body| match body {
            EventBody::AccountOpened(_)
            | EventBody::MoneyDeposited(_)
            | EventBody::MoneyWithdrawn(_)
            | EventBody::TransferDebited(_)
            | EventBody::TransferCredited(_)
            | EventBody::TransferRefunded(_)
            | EventBody::AccountClosed(_) => body.name(),
        })
        .collect();
    for name in [
        "AccountOpened",
        "MoneyDeposited",
        "MoneyWithdrawn",
        "TransferDebited",
        "TransferCredited",
        "TransferRefunded",
        "AccountClosed",
    ] {
        assert!(names.contains(&name), "{name} is not covered");
    }
}

#[test]
fn decided_events_come_back_as_they_were() {
    let history = given([])
        .when(open(AccountType::Savings, 5_000_00))
        .then_accepted()
        .when(withdraw(1_000_01).via(Channel::Atm));
    let mut events = history.events().to_vec();
    let debit = history
        .then_accepted()
        .when(debit_transfer(transfer(1), OTHER_ACCOUNT, 500_00));
    events.extend(debit.events().iter().cloned());
    let refund =
        debit
            .then_accepted()
            .when(refund_transfer(transfer(1), OTHER_ACCOUNT, 500_00, 2_00));
    events.extend(refund.events().iter().cloned());
    assert_eq!(events.len(), 3);
    for original in events {
        let record = event_to_record(&original);
        assert_eq!(event_from_record(record), Ok(original));
    }
}

#[test]
fn every_sample_event_comes_back_as_it_was_read() {
    for sample in samples::events() {
        let event = event_from_record(sample.clone()).expect("a well-formed sample");
        assert_eq!(
            event.metadata.event_id.to_string(),
            sample.metadata().event_id
        );
        assert_eq!(
            event.metadata.occurred_at,
            Timestamp::from_millis(sample.metadata().occurred_at)
        );
        assert_eq!(event_to_record(&event), sample);
    }
}

// ------------------------------------------------------------ malformed events

/// The sample `TransferDebited`, changed by `change`, read back.
fn read_debited_with(change: impl FnOnce(&mut EventRecord)) -> Result<AccountEvent, WireError> {
    let mut record = samples::events().remove(3);
    change(&mut record);
    event_from_record(record)
}

fn debited_mut(record: &mut EventRecord) -> &mut ledgerstream_schemas::records::TransferDebited {
    match record {
        EventRecord::TransferDebited(e) => e,
        other => panic!("expected TransferDebited, got {other:?}"),
    }
}

#[test]
fn a_version_below_1_is_refused() {
    for value in [0, -1] {
        let read = read_debited_with(|r| debited_mut(r).metadata.version = value);
        assert_eq!(
            read,
            Err(WireError::OutOfRange {
                record: "TransferDebited",
                field: "metadata.version",
                value,
                expected: "1 or more",
            })
        );
    }
}

#[test]
fn ids_that_are_not_uuids_are_refused() {
    let not_a_uuid = |field, value: &str| {
        Err(WireError::NotAUuid {
            record: "TransferDebited",
            field,
            value: value.to_owned(),
        })
    };
    assert_eq!(
        read_debited_with(|r| debited_mut(r).metadata.event_id = "e-1".to_owned()),
        not_a_uuid("metadata.event_id", "e-1")
    );
    assert_eq!(
        read_debited_with(|r| debited_mut(r).metadata.command_id = "c-1".to_owned()),
        not_a_uuid("metadata.command_id", "c-1")
    );
    assert_eq!(
        read_debited_with(|r| debited_mut(r).transfer_id = "t-1".to_owned()),
        not_a_uuid("transfer_id", "t-1")
    );
}

#[test]
fn empty_ids_and_misshapen_currencies_are_refused() {
    assert_eq!(
        read_debited_with(|r| debited_mut(r).metadata.account_id = String::new()),
        Err(WireError::EmptyId {
            record: "TransferDebited",
            field: "metadata.account_id",
        })
    );
    assert_eq!(
        read_debited_with(|r| debited_mut(r).to_account_id = String::new()),
        Err(WireError::EmptyId {
            record: "TransferDebited",
            field: "to_account_id",
        })
    );
    assert_eq!(
        read_debited_with(|r| debited_mut(r).currency = "usd".to_owned()),
        Err(WireError::NotACurrency {
            record: "TransferDebited",
            field: "currency",
            value: "usd".to_owned(),
        })
    );
}

#[test]
fn facts_are_taken_as_they_are() {
    // Amounts and balances were checked when the event was decided; reading it back
    // does not judge them again.
    let read = read_debited_with(|r| {
        let e = debited_mut(r);
        e.amount_minor = -1;
        e.balance_after_minor = i64::MIN;
        e.metadata.correlation_id = String::new();
    })
    .expect("well formed");
    let EventBody::TransferDebited(debit) = read.body else {
        panic!("expected TransferDebited");
    };
    assert_eq!(debit.amount_minor, -1);
    assert_eq!(debit.balance_after_minor, i64::MIN);
}
