//! Every record and every schema version through the codec, the v1 → v2 upcast,
//! and agreement on the wire with apache-avro (the reference implementation).

// Test code: a failed unwrap is a failed test, and amounts read as units_cents.
#![allow(clippy::unwrap_used, clippy::inconsistent_digit_grouping)]

use ledgerstream_schemas::catalog::{self, Kind, Subject};
use ledgerstream_schemas::codec::{Codec, DecodeError};
use ledgerstream_schemas::records::{
    Channel, CommandRecord, EventMetadata, EventRecord, MoneyWithdrawn, RecordUnion, ResultRecord,
    samples,
};
use serde::Serialize;

/// A codec writing the latest version of every subject, the subject's position in the
/// catalog as its id; earlier versions readable under 1000 + that id * 10 + version.
fn codec() -> (Codec, Vec<Subject<'static>>) {
    let subjects = catalog::subjects().expect("catalog");
    let mut codec = Codec::new(1_000);
    for (position, subject) in subjects.iter().enumerate() {
        codec
            .add_writer(position as u32 + 1, subject.latest())
            .expect("latest schema");
        for (index, json) in subject.versions.iter().enumerate() {
            let id = 1_000 + position as u32 * 10 + index as u32 + 1;
            codec.learn(id, json).expect("earlier schema");
        }
    }
    (codec, subjects)
}

fn round_trip<U: RecordUnion + PartialEq + std::fmt::Debug>(codec: &Codec, records: Vec<U>) {
    let mut seen: Vec<&str> = records.iter().map(RecordUnion::full_name).collect();
    seen.sort_unstable();
    let mut expected = U::FULL_NAMES.to_vec();
    expected.sort_unstable();
    assert_eq!(
        seen,
        expected,
        "the samples cover every record of {:?}",
        U::KIND
    );
    for record in records {
        let bytes = codec.encode(&record).expect("encode");
        assert_eq!(bytes[0], 0, "magic byte");
        let back: U = codec.decode(&bytes).expect("decode");
        assert_eq!(back, record);
    }
}

#[test]
fn every_record_round_trips_through_its_latest_schema() {
    let (codec, _) = codec();
    round_trip::<EventRecord>(&codec, samples::events());
    round_trip::<CommandRecord>(&codec, samples::commands());
    round_trip::<ResultRecord>(&codec, samples::results());
}

#[test]
fn every_subject_has_a_rust_record_and_every_rust_record_a_subject() {
    let (_, subjects) = codec();
    let mut in_catalog: Vec<&str> = subjects.iter().map(|s| s.full_name.as_str()).collect();
    in_catalog.sort_unstable();
    let mut in_rust: Vec<&str> = [
        EventRecord::FULL_NAMES,
        CommandRecord::FULL_NAMES,
        ResultRecord::FULL_NAMES,
    ]
    .concat();
    in_rust.sort_unstable();
    assert_eq!(in_catalog, in_rust);
    for subject in &subjects {
        let kind_names = match subject.kind {
            Kind::Commands => CommandRecord::FULL_NAMES,
            Kind::Events => EventRecord::FULL_NAMES,
            Kind::Results => ResultRecord::FULL_NAMES,
        };
        assert!(
            kind_names.contains(&subject.full_name.as_str()),
            "{} in the wrong folder",
            subject.full_name
        );
    }
}

/// What a producer built before `channel` existed wrote: MoneyWithdrawn v1.
#[derive(Serialize)]
struct MoneyWithdrawnV1 {
    metadata: EventMetadata,
    amount_minor: i64,
    currency: String,
    fee_minor: i64,
    balance_after_minor: i64,
    reference: Option<String>,
}

fn withdrawn_subject<'a>(subjects: &'a [Subject<'static>]) -> (usize, &'a Subject<'static>) {
    subjects
        .iter()
        .enumerate()
        .find(|(_, s)| s.full_name.ends_with(".MoneyWithdrawn"))
        .expect("MoneyWithdrawn subject")
}

#[test]
fn money_withdrawn_v1_is_upcast_on_read_with_the_default_channel() {
    let (codec, subjects) = codec();
    let (position, subject) = withdrawn_subject(&subjects);
    let v1_id = 1_000 + position as u32 * 10 + 1;
    let v1_schema: serde_avro_fast::Schema = subject.versions[0].parse().unwrap();
    let latest = samples::money_withdrawn();
    let old = MoneyWithdrawnV1 {
        metadata: latest.metadata.clone(),
        amount_minor: latest.amount_minor,
        currency: latest.currency.clone(),
        fee_minor: latest.fee_minor,
        balance_after_minor: latest.balance_after_minor,
        reference: latest.reference.clone(),
    };
    let mut bytes = vec![0];
    bytes.extend_from_slice(&v1_id.to_be_bytes());
    let bytes = serde_avro_fast::to_datum(
        &old,
        bytes,
        &mut serde_avro_fast::ser::SerializerConfig::new(&v1_schema),
    )
    .expect("v1 encodes");

    let EventRecord::MoneyWithdrawn(read) =
        codec.decode::<EventRecord>(&bytes).expect("v1 decodes")
    else {
        panic!("v1 bytes decoded as another event");
    };
    assert_eq!(
        read,
        MoneyWithdrawn {
            channel: Channel::Unknown,
            ..latest
        }
    );
}

#[test]
fn the_codec_and_apache_avro_agree_on_the_wire_for_every_record() {
    let (codec, subjects) = codec();
    let mut encoded: Vec<(&str, Vec<u8>)> = Vec::new();
    encoded.extend(
        samples::events()
            .iter()
            .map(|r| (r.full_name(), codec.encode(r).unwrap())),
    );
    encoded.extend(
        samples::commands()
            .iter()
            .map(|r| (r.full_name(), codec.encode(r).unwrap())),
    );
    encoded.extend(
        samples::results()
            .iter()
            .map(|r| (r.full_name(), codec.encode(r).unwrap())),
    );
    assert_eq!(encoded.len(), subjects.len());
    for (full_name, bytes) in &encoded {
        let subject = subjects.iter().find(|s| s.full_name == *full_name).unwrap();
        let schema = apache_avro::Schema::parse_str(subject.latest()).unwrap();
        // apache-avro reads what the codec wrote ...
        let value = avro_read(&schema, None, &bytes[5..])
            .unwrap_or_else(|e| panic!("apache-avro cannot read {full_name}: {e}"));
        // ... and writes the very same bytes for it.
        let again = avro_write(&schema, value);
        assert_eq!(again, bytes[5..], "{full_name}");
    }
}

#[test]
fn apache_avro_resolves_v1_bytes_to_v2_like_the_codec() {
    let (codec, subjects) = codec();
    let (_, subject) = withdrawn_subject(&subjects);
    let v1 = apache_avro::Schema::parse_str(subject.versions[0]).unwrap();
    let v2 = apache_avro::Schema::parse_str(subject.versions[1]).unwrap();
    let latest = samples::money_withdrawn();
    let bytes = codec.encode(&EventRecord::from(latest)).unwrap();
    // v2 bytes read as v1 (forward) and v1 bytes read as v2 (backward) both resolve.
    let as_v1 = avro_read(&v2, Some(&v1), &bytes[5..]).expect("v2 → v1");
    let v1_bytes = avro_write(&v1, as_v1);
    let as_v2 = avro_read(&v1, Some(&v2), &v1_bytes).expect("v1 → v2");
    let apache_avro::types::Value::Record(fields) = as_v2 else {
        panic!("not a record")
    };
    let channel = fields
        .iter()
        .find(|(name, _)| name == "channel")
        .map(|(_, v)| v.clone());
    assert_eq!(
        channel,
        Some(apache_avro::types::Value::Enum(0, "UNKNOWN".to_owned()))
    );
}

/// The exact bytes of `samples::money_withdrawn()` under MoneyWithdrawn v2 with
/// schema id 7. A change here is a change of the wire format: never accidental.
const GOLDEN_MONEY_WITHDRAWN: &str = concat!(
    "0000000007", // magic 0, schema id 7
    "48",
    "65326234633664382d303030302d343030302d383030302d303030303030303030303037", // event_id
    "14",
    "6163632d303030303432", // account_id "acc-000042"
    "0e",                   // version 7
    "80e8c8e4d466",         // occurred_at 1763726400000
    "48",
    "38613866336331652d366134622d346331642d396335652d326237663164306539613131", // command_id
    "48",
    "35623165326636302d336437612d346538622d386339642d306131623263336434653566", // correlation_id
    "48",
    "38613866336331652d366134622d346331642d396335652d326237663164306539613131", // causation_id
    "90a10f", // amount_minor 125000
    "06",
    "555344", // currency "USD"
    "e807",   // fee_minor 500
    "88e06a", // balance_after_minor 874500
    "02",
    "1c",
    "61746d20377468206176656e7565", // reference: branch 1, "atm 7th avenue"
    "04",                           // channel: symbol 2, ATM
);

#[test]
fn money_withdrawn_v2_has_the_golden_bytes() {
    let (mut codec, _) = codec();
    let v2 = catalog::subjects()
        .unwrap()
        .into_iter()
        .find(|s| s.full_name.ends_with(".MoneyWithdrawn"))
        .unwrap()
        .latest();
    codec.add_writer(7, v2).unwrap();
    let bytes = codec
        .encode(&EventRecord::from(samples::money_withdrawn()))
        .unwrap();
    assert_eq!(hex(&bytes), GOLDEN_MONEY_WITHDRAWN);
}

#[test]
fn malformed_records_are_typed_errors() {
    let (codec, _) = codec();
    let good = codec
        .encode(&EventRecord::from(samples::money_withdrawn()))
        .unwrap();
    let decode = |bytes: &[u8]| codec.decode::<EventRecord>(bytes).unwrap_err();

    assert!(matches!(decode(&[]), DecodeError::Truncated { len: 0 }));
    assert!(matches!(
        decode(&good[..3]),
        DecodeError::Truncated { len: 3 }
    ));
    let mut bad_magic = good.clone();
    bad_magic[0] = 1;
    assert!(matches!(
        decode(&bad_magic),
        DecodeError::BadMagic { found: 1 }
    ));
    let mut unknown = good.clone();
    unknown[1..5].copy_from_slice(&999_999u32.to_be_bytes());
    assert!(matches!(
        decode(&unknown),
        DecodeError::UnknownSchemaId { id: 999_999 }
    ));
    assert!(matches!(
        decode(&good[..good.len() - 3]),
        DecodeError::Body { .. }
    ));
    let command = codec.encode(&samples::commands()[0]).unwrap();
    let error = decode(&command);
    assert!(
        matches!(
            error,
            DecodeError::UnexpectedRecord {
                topic: "account-events",
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(error.class(), "unexpected-record");
}

fn avro_read(
    writer: &apache_avro::Schema,
    reader: Option<&apache_avro::Schema>,
    mut bytes: &[u8],
) -> Result<apache_avro::types::Value, apache_avro::Error> {
    apache_avro::reader::datum::GenericDatumReader::builder(writer)
        .maybe_reader_schema(reader)
        .build()?
        .read_value(&mut bytes)
}

fn avro_write(schema: &apache_avro::Schema, value: apache_avro::types::Value) -> Vec<u8> {
    apache_avro::writer::datum::GenericDatumWriter::builder(schema)
        .build()
        .and_then(|writer| writer.write_value_to_vec(value))
        .expect("apache-avro writes")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
