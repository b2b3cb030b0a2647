//! Encode and decode of one event in the Confluent wire format.
//!
//! `cargo bench -p ledgerstream-schemas --bench codec`
//!
//! - `codec/*`: the path the pipeline uses (writer schema looked up by id; the
//!   latest schema of a record written and read field by field);
//! - `codec_serde/*`: the same codec with every schema through serde_avro_fast,
//!   the path that older writer schemas still take;
//! - `apache_avro_value/*`: the same record through apache-avro's `Value`
//!   (`to_value` + resolve + write, read + `from_value`), for comparison.

// Test code: a failed unwrap is a failed test, and amounts read as units_cents.
#![allow(clippy::unwrap_used, clippy::inconsistent_digit_grouping)]

use std::hint::black_box;

use apache_avro::Schema;
use criterion::{Criterion, criterion_group, criterion_main};
use ledgerstream_schemas::catalog;
use ledgerstream_schemas::codec::Codec;
use ledgerstream_schemas::records::{EventRecord, MoneyWithdrawn, samples};

fn money_withdrawn_schema() -> &'static str {
    catalog::subjects()
        .expect("catalog")
        .into_iter()
        .find(|s| s.full_name.ends_with(".MoneyWithdrawn"))
        .expect("MoneyWithdrawn")
        .latest()
}

fn codec(c: &mut Criterion) {
    measure(c, "codec", Codec::new(100));
}

fn codec_serde(c: &mut Criterion) {
    measure(c, "codec_serde", Codec::new(100).serde_only());
}

fn measure(c: &mut Criterion, name: &str, mut codec: Codec) {
    codec
        .add_writer(7, money_withdrawn_schema())
        .expect("schema");
    let event = EventRecord::from(samples::money_withdrawn());
    let bytes = codec.encode(&event).expect("encode");

    let mut group = c.benchmark_group(name);
    group.bench_function("encode", |b| {
        b.iter(|| codec.encode(black_box(&event)).unwrap())
    });
    group.bench_function("decode", |b| {
        b.iter(|| codec.decode::<EventRecord>(black_box(&bytes)).unwrap())
    });
    group.bench_function("encode+decode", |b| {
        b.iter(|| {
            let bytes = codec.encode(black_box(&event)).unwrap();
            codec.decode::<EventRecord>(&bytes).unwrap()
        })
    });
    // As the processor does it: one output buffer, reused for every record.
    let mut buffer = Vec::with_capacity(256);
    group.bench_function("encode_into+decode", |b| {
        b.iter(|| {
            let mut bytes = codec
                .encode_into(black_box(&event), std::mem::take(&mut buffer))
                .unwrap();
            let decoded = codec.decode::<EventRecord>(&bytes).unwrap();
            bytes.clear();
            buffer = bytes;
            decoded
        })
    });
    group.finish();
}

fn apache_avro_value(c: &mut Criterion) {
    let schema = Schema::parse_str(money_withdrawn_schema()).expect("schema");
    let event = samples::money_withdrawn();
    let encode = |event: &MoneyWithdrawn| {
        let value = apache_avro::to_value(event)
            .unwrap()
            .resolve(&schema)
            .unwrap();
        apache_avro::writer::datum::GenericDatumWriter::builder(&schema)
            .build()
            .and_then(|writer| writer.write_value_to_vec(value))
            .unwrap()
    };
    let decode = |bytes: &[u8]| {
        let value = apache_avro::reader::datum::GenericDatumReader::builder(&schema)
            .build()
            .and_then(|reader| reader.read_value(&mut &bytes[..]))
            .unwrap();
        apache_avro::from_value::<MoneyWithdrawn>(&value).unwrap()
    };
    assert_eq!(
        decode(&encode(&event)),
        event,
        "the comparison path round-trips"
    );

    let mut group = c.benchmark_group("apache_avro_value");
    group.bench_function("encode+decode", |b| {
        b.iter(|| decode(&encode(black_box(&event))))
    });
    group.finish();
}

criterion_group!(benches, codec, codec_serde, apache_avro_value);
criterion_main!(benches);
