//! The field-by-field path for the latest schemas against serde_avro_fast, for
//! random records of every type: the same bytes on the wire, the same records read
//! back, and the same verdict on damaged bytes. And every older version of every
//! record in the catalog still decodes, as apache-avro resolves it.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::sync::OnceLock;

use ledgerstream_schemas::catalog::{self, Subject};
use ledgerstream_schemas::codec::Codec;
use ledgerstream_schemas::records::*;
use proptest::prelude::*;

/// The latest version of every subject under the subject's position + 1, each
/// version `v` under 1000 + position * 10 + v.
fn set_up(codec: Codec) -> Codec {
    let mut codec = codec;
    for (position, subject) in subjects().iter().enumerate() {
        codec
            .add_writer(position as u32 + 1, subject.latest())
            .unwrap();
        for (index, json) in subject.versions.iter().enumerate() {
            codec.learn(old_id(position, index), json).unwrap();
        }
    }
    codec
}

fn old_id(position: usize, index: usize) -> u32 {
    1_000 + position as u32 * 10 + index as u32 + 1
}

fn subjects() -> &'static [Subject<'static>] {
    static SUBJECTS: OnceLock<Vec<Subject<'static>>> = OnceLock::new();
    SUBJECTS.get_or_init(|| catalog::subjects().unwrap())
}

/// Field by field for the latest schemas: the codec as the pipeline has it.
fn fast() -> &'static Codec {
    static CODEC: OnceLock<Codec> = OnceLock::new();
    CODEC.get_or_init(|| set_up(Codec::new(1_000)))
}

/// serde_avro_fast for every schema: the reference.
fn serde() -> &'static Codec {
    static CODEC: OnceLock<Codec> = OnceLock::new();
    CODEC.get_or_init(|| set_up(Codec::new(1_000).serde_only()))
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-z0-9-]{1,40}",
        // Any printable text: multi-byte UTF-8, lengths past one varint byte.
        "\\PC{0,80}",
    ]
}

/// A `uuid` logical type: apache-avro checks those.
fn uuid() -> impl Strategy<Value = String> {
    any::<u128>().prop_map(|n| {
        let hex = format!("{n:032x}");
        format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        )
    })
}

fn long() -> impl Strategy<Value = i64> {
    prop_oneof![-200i64..200, any::<i64>(), Just(i64::MIN), Just(i64::MAX),]
}

fn int() -> impl Strategy<Value = i32> {
    prop_oneof![-200i32..200, any::<i32>(), Just(i32::MIN), Just(i32::MAX)]
}

fn account_type() -> impl Strategy<Value = AccountType> {
    prop_oneof![
        Just(AccountType::Checking),
        Just(AccountType::Savings),
        Just(AccountType::Business),
        Just(AccountType::Investment),
    ]
}

fn channel() -> impl Strategy<Value = Channel> {
    prop_oneof![
        Just(Channel::Unknown),
        Just(Channel::Branch),
        Just(Channel::Atm),
        Just(Channel::Online),
        Just(Channel::Api),
    ]
}

fn text_or_none() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(text())
}

// One strategy a record, fields in the schema's order; rustfmt leaves them be.
prop_compose! {
    fn metadata()(
        event_id in uuid(), account_id in text(), version in long(), occurred_at in long(),
        command_id in uuid(), correlation_id in text(), causation_id in text(),
    ) -> EventMetadata {
        EventMetadata { event_id, account_id, version, occurred_at, command_id, correlation_id, causation_id }
    }
}

prop_compose! {
    fn account_opened()(
        metadata in metadata(), owner_id in text(), account_type in account_type(),
        currency in text(), initial_deposit_minor in long(), balance_after_minor in long(),
    ) -> AccountOpened {
        AccountOpened { metadata, owner_id, account_type, currency, initial_deposit_minor, balance_after_minor }
    }
}

prop_compose! {
    fn money_deposited()(
        metadata in metadata(), amount_minor in long(), currency in text(),
        balance_after_minor in long(), reference in text_or_none(),
    ) -> MoneyDeposited {
        MoneyDeposited { metadata, amount_minor, currency, balance_after_minor, reference }
    }
}

prop_compose! {
    fn money_withdrawn()(
        metadata in metadata(), amount_minor in long(), currency in text(), fee_minor in long(),
        balance_after_minor in long(), reference in text_or_none(), channel in channel(),
    ) -> MoneyWithdrawn {
        MoneyWithdrawn { metadata, amount_minor, currency, fee_minor, balance_after_minor, reference, channel }
    }
}

prop_compose! {
    fn transfer_debited()(
        metadata in metadata(), transfer_id in uuid(), to_account_id in text(), amount_minor in long(),
        currency in text(), fee_minor in long(), balance_after_minor in long(), reference in text_or_none(),
    ) -> TransferDebited {
        TransferDebited { metadata, transfer_id, to_account_id, amount_minor, currency, fee_minor, balance_after_minor, reference }
    }
}

prop_compose! {
    fn transfer_credited()(
        metadata in metadata(), transfer_id in uuid(), from_account_id in text(), amount_minor in long(),
        currency in text(), balance_after_minor in long(), reference in text_or_none(),
    ) -> TransferCredited {
        TransferCredited { metadata, transfer_id, from_account_id, amount_minor, currency, balance_after_minor, reference }
    }
}

prop_compose! {
    fn transfer_refunded()(
        metadata in metadata(), transfer_id in uuid(), to_account_id in text(), amount_minor in long(),
        currency in text(), fee_minor in long(), balance_after_minor in long(), reason_code in text(),
        reason in text(),
    ) -> TransferRefunded {
        TransferRefunded { metadata, transfer_id, to_account_id, amount_minor, currency, fee_minor, balance_after_minor, reason_code, reason }
    }
}

prop_compose! {
    fn account_closed()(metadata in metadata(), reason in text_or_none()) -> AccountClosed {
        AccountClosed { metadata, reason }
    }
}

/// The six fields every command starts with.
type Head = (String, String, Option<i64>, i64, String, Option<String>);

fn head() -> impl Strategy<Value = Head> {
    (
        uuid(),
        text(),
        proptest::option::of(long()),
        long(),
        text(),
        text_or_none(),
    )
}

prop_compose! {
    fn open_account()(
        (command_id, account_id, expected_version, issued_at, correlation_id, causation_id) in head(),
        owner_id in text(), account_type in account_type(), initial_deposit_minor in long(), currency in text(),
    ) -> OpenAccount {
        OpenAccount { command_id, account_id, expected_version, issued_at, correlation_id, causation_id, owner_id, account_type, initial_deposit_minor, currency }
    }
}

prop_compose! {
    fn deposit_money()(
        (command_id, account_id, expected_version, issued_at, correlation_id, causation_id) in head(),
        amount_minor in long(), currency in text(), reference in text_or_none(),
    ) -> DepositMoney {
        DepositMoney { command_id, account_id, expected_version, issued_at, correlation_id, causation_id, amount_minor, currency, reference }
    }
}

prop_compose! {
    fn withdraw_money()(
        (command_id, account_id, expected_version, issued_at, correlation_id, causation_id) in head(),
        amount_minor in long(), currency in text(), reference in text_or_none(), channel in channel(),
    ) -> WithdrawMoney {
        WithdrawMoney { command_id, account_id, expected_version, issued_at, correlation_id, causation_id, amount_minor, currency, reference, channel }
    }
}

prop_compose! {
    fn debit_transfer()(
        (command_id, account_id, expected_version, issued_at, correlation_id, causation_id) in head(),
        transfer_id in uuid(), to_account_id in text(), amount_minor in long(), currency in text(),
        reference in text_or_none(),
    ) -> DebitTransfer {
        DebitTransfer { command_id, account_id, expected_version, issued_at, correlation_id, causation_id, transfer_id, to_account_id, amount_minor, currency, reference }
    }
}

prop_compose! {
    fn credit_transfer()(
        (command_id, account_id, expected_version, issued_at, correlation_id, causation_id) in head(),
        transfer_id in uuid(), from_account_id in text(), amount_minor in long(), currency in text(),
        reference in text_or_none(),
    ) -> CreditTransfer {
        CreditTransfer { command_id, account_id, expected_version, issued_at, correlation_id, causation_id, transfer_id, from_account_id, amount_minor, currency, reference }
    }
}

prop_compose! {
    fn refund_transfer()(
        (command_id, account_id, expected_version, issued_at, correlation_id, causation_id) in head(),
        transfer_id in uuid(), to_account_id in text(), amount_minor in long(), currency in text(),
        fee_minor in long(), reason_code in text(), reason in text(),
    ) -> RefundTransfer {
        RefundTransfer { command_id, account_id, expected_version, issued_at, correlation_id, causation_id, transfer_id, to_account_id, amount_minor, currency, fee_minor, reason_code, reason }
    }
}

prop_compose! {
    fn close_account()(
        (command_id, account_id, expected_version, issued_at, correlation_id, causation_id) in head(),
        reason in text_or_none(),
    ) -> CloseAccount {
        CloseAccount { command_id, account_id, expected_version, issued_at, correlation_id, causation_id, reason }
    }
}

prop_compose! {
    fn command_accepted()(
        command_id in uuid(), account_id in text(), correlation_id in text(), decided_at in long(),
        version in long(), event_count in int(), events_partition in int(), first_event_offset in long(),
    ) -> CommandAccepted {
        CommandAccepted { command_id, account_id, correlation_id, decided_at, version, event_count, events_partition, first_event_offset }
    }
}

prop_compose! {
    fn command_rejected()(
        command_id in uuid(), account_id in text(), correlation_id in text(), decided_at in long(),
        reason_code in text(), message in text(), current_version in proptest::option::of(long()),
    ) -> CommandRejected {
        CommandRejected { command_id, account_id, correlation_id, decided_at, reason_code, message, current_version }
    }
}

// Each one boxed: unboxed, the nested strategy types overflow a test thread's stack.
fn events() -> BoxedStrategy<EventRecord> {
    prop_oneof![
        account_opened().prop_map_into().boxed(),
        money_deposited().prop_map_into().boxed(),
        money_withdrawn().prop_map_into().boxed(),
        transfer_debited().prop_map_into().boxed(),
        transfer_credited().prop_map_into().boxed(),
        transfer_refunded().prop_map_into().boxed(),
        account_closed().prop_map_into().boxed(),
    ]
    .boxed()
}

fn commands() -> BoxedStrategy<CommandRecord> {
    prop_oneof![
        open_account().prop_map_into().boxed(),
        deposit_money().prop_map_into().boxed(),
        withdraw_money().prop_map_into().boxed(),
        debit_transfer().prop_map_into().boxed(),
        credit_transfer().prop_map_into().boxed(),
        refund_transfer().prop_map_into().boxed(),
        close_account().prop_map_into().boxed(),
    ]
    .boxed()
}

fn results() -> BoxedStrategy<ResultRecord> {
    prop_oneof![
        command_accepted().prop_map_into().boxed(),
        command_rejected().prop_map_into().boxed(),
    ]
    .boxed()
}

/// Both paths write the same bytes and read them back into the record.
fn same_bytes_and_back<U>(record: &U) -> Result<Vec<u8>, TestCaseError>
where
    U: RecordUnion + PartialEq + std::fmt::Debug,
{
    let bytes = fast().encode(record).unwrap();
    prop_assert_eq!(
        &bytes,
        &serde().encode(record).unwrap(),
        "{}",
        record.full_name()
    );
    prop_assert_eq!(&fast().decode::<U>(&bytes).unwrap(), record);
    prop_assert_eq!(&serde().decode::<U>(&bytes).unwrap(), record);
    Ok(bytes)
}

/// Bytes cut short, flipped or extended decode alike on both paths: the same
/// record, or an error on both.
fn same_verdict<U>(bytes: &[u8]) -> Result<(), TestCaseError>
where
    U: RecordUnion + PartialEq + std::fmt::Debug,
{
    prop_assert_eq!(
        fast().decode::<U>(bytes).ok(),
        serde().decode::<U>(bytes).ok()
    );
    Ok(())
}

/// Damage to a body: bytes set at some places, then the body cut at one.
#[derive(Debug, Clone)]
struct Damage {
    flips: Vec<(prop::sample::Index, u8)>,
    cut: Option<prop::sample::Index>,
    tail: Vec<u8>,
}

fn damage() -> impl Strategy<Value = Damage> {
    (
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        proptest::option::of(any::<prop::sample::Index>()),
        proptest::collection::vec(any::<u8>(), 0..4),
    )
        .prop_map(|(flips, cut, tail)| Damage { flips, cut, tail })
}

fn damaged(mut bytes: Vec<u8>, damage: &Damage) -> Vec<u8> {
    // The header stays, so that the bodies are what gets read.
    let body = bytes.len() - 5;
    for (at, value) in &damage.flips {
        bytes[5 + at.index(body)] = *value;
    }
    if let Some(cut) = &damage.cut {
        bytes.truncate(5 + cut.index(body));
    }
    bytes.extend_from_slice(&damage.tail);
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    #[test]
    fn events_are_written_alike_and_read_back(record in events(), damage in damage()) {
        let bytes = same_bytes_and_back(&record)?;
        same_verdict::<EventRecord>(&damaged(bytes, &damage))?;
    }

    #[test]
    fn commands_are_written_alike_and_read_back(record in commands(), damage in damage()) {
        let bytes = same_bytes_and_back(&record)?;
        same_verdict::<CommandRecord>(&damaged(bytes, &damage))?;
    }

    #[test]
    fn results_are_written_alike_and_read_back(record in results(), damage in damage()) {
        let bytes = same_bytes_and_back(&record)?;
        same_verdict::<ResultRecord>(&damaged(bytes, &damage))?;
    }

    #[test]
    fn random_bodies_get_the_same_verdict(
        id in 1u32..=16,
        body in proptest::collection::vec(any::<u8>(), 0..160),
    ) {
        let mut bytes = vec![0];
        bytes.extend_from_slice(&id.to_be_bytes());
        bytes.extend_from_slice(&body);
        same_verdict::<EventRecord>(&bytes)?;
        same_verdict::<CommandRecord>(&bytes)?;
        same_verdict::<ResultRecord>(&bytes)?;
    }

    #[test]
    fn every_version_of_every_event_still_decodes(record in events()) {
        every_version_decodes(&record)?;
    }

    #[test]
    fn every_version_of_every_command_still_decodes(record in commands()) {
        every_version_decodes(&record)?;
    }

    #[test]
    fn every_version_of_every_result_still_decodes(record in results()) {
        every_version_decodes(&record)?;
    }
}

/// `record` written by apache-avro with each version of its schema decodes through
/// both paths into what apache-avro makes of those bytes read with the latest
/// schema: older versions are resolved, the latest read field by field.
fn every_version_decodes<U>(record: &U) -> Result<(), TestCaseError>
where
    U: RecordUnion + PartialEq + std::fmt::Debug,
{
    let (position, subject) = subjects()
        .iter()
        .enumerate()
        .find(|(_, s)| s.full_name == record.full_name())
        .unwrap();
    let latest = apache_avro::Schema::parse_str(subject.latest()).unwrap();
    let value = avro_read(&latest, None, &fast().encode(record).unwrap()[5..]);
    for (index, json) in subject.versions.iter().enumerate() {
        let version = apache_avro::Schema::parse_str(json).unwrap();
        let mut bytes = vec![0];
        bytes.extend_from_slice(&old_id(position, index).to_be_bytes());
        bytes.extend(avro_write(
            &version,
            value.clone().resolve(&version).unwrap(),
        ));
        let expected = avro_read(&version, Some(&latest), &bytes[5..]);
        for codec in [fast(), serde()] {
            let decoded: U = codec.decode(&bytes).unwrap();
            let again = avro_read(&latest, None, &codec.encode(&decoded).unwrap()[5..]);
            prop_assert_eq!(&again, &expected, "{} v{}", subject.full_name, index + 1);
        }
    }
    Ok(())
}

fn avro_read(
    writer: &apache_avro::Schema,
    reader: Option<&apache_avro::Schema>,
    mut bytes: &[u8],
) -> apache_avro::types::Value {
    apache_avro::reader::datum::GenericDatumReader::builder(writer)
        .maybe_reader_schema(reader)
        .build()
        .and_then(|datum| datum.read_value(&mut bytes))
        .unwrap()
}

fn avro_write(schema: &apache_avro::Schema, value: apache_avro::types::Value) -> Vec<u8> {
    apache_avro::writer::datum::GenericDatumWriter::builder(schema)
        .build()
        .and_then(|writer| writer.write_value_to_vec(value))
        .unwrap()
}

#[test]
fn the_latest_schemas_and_only_they_take_the_field_by_field_path() {
    for (position, subject) in subjects().iter().enumerate() {
        let name = &subject.full_name;
        assert!(fast().writes_field_by_field(name), "{name}");
        assert!(!serde().writes_field_by_field(name), "{name}");
        let latest = subject.versions.len() - 1;
        for index in 0..subject.versions.len() {
            let id = old_id(position, index);
            assert_eq!(
                fast().reads_field_by_field(id),
                index == latest,
                "{name} v{}",
                index + 1
            );
            assert!(!serde().reads_field_by_field(id), "{name}");
        }
    }
}

#[test]
fn a_writer_schema_other_than_the_latest_goes_through_serde() {
    // The latest MoneyWithdrawn with one more optional field: not the layout the
    // field-by-field path knows.
    let subject = subjects()
        .iter()
        .find(|s| s.full_name.ends_with(".MoneyWithdrawn"))
        .unwrap();
    let mut schema: serde_json::Value = serde_json::from_str(subject.latest()).unwrap();
    schema["fields"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"name": "note", "type": ["null", "string"], "default": null}));
    let mut codec = Codec::new(10);
    codec.add_writer(7, &schema.to_string()).unwrap();
    assert!(!codec.writes_field_by_field(&subject.full_name));
    assert!(!codec.reads_field_by_field(7));

    let event = EventRecord::from(samples::money_withdrawn());
    let bytes = codec.encode(&event).unwrap();
    let latest = fast().encode(&event).unwrap();
    assert_eq!(bytes[5..], [&latest[5..], &[0][..]].concat(), "note: null");
    assert_eq!(codec.decode::<EventRecord>(&bytes).unwrap(), event);
}
