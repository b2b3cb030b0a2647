//! The decoder never panics, whatever the bytes: random input, and valid records
//! with bytes flipped, cut short or extended. Any failure is a typed error.

// Test code: a failed unwrap is a failed test, and amounts read as units_cents.
#![allow(clippy::unwrap_used, clippy::inconsistent_digit_grouping)]

use ledgerstream_schemas::catalog;
use ledgerstream_schemas::codec::Codec;
use ledgerstream_schemas::records::{
    CommandRecord, EventRecord, RecordUnion, ResultRecord, samples,
};
use std::sync::OnceLock;

use proptest::prelude::*;

/// Built once: parsing the schemas costs far more than one decode.
fn codec() -> &'static Codec {
    static CODEC: OnceLock<Codec> = OnceLock::new();
    CODEC.get_or_init(|| {
        let mut codec = Codec::new(100);
        for (position, subject) in catalog::subjects().expect("catalog").iter().enumerate() {
            codec
                .add_writer(position as u32 + 1, subject.latest())
                .expect("schema");
        }
        codec
    })
}

fn valid_records() -> &'static [Vec<u8>] {
    static RECORDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    RECORDS.get_or_init(|| {
        let codec = codec();
        let mut records: Vec<Vec<u8>> = Vec::new();
        records.extend(samples::events().iter().map(|r| codec.encode(r).unwrap()));
        records.extend(samples::commands().iter().map(|r| codec.encode(r).unwrap()));
        records.extend(samples::results().iter().map(|r| codec.encode(r).unwrap()));
        records
    })
}

/// Decodes `bytes` as every topic's records; only checks that nothing panics and
/// that a success is a record of the right topic.
fn decode_all(codec: &Codec, bytes: &[u8]) {
    if let Ok(record) = codec.decode::<EventRecord>(bytes) {
        assert!(EventRecord::FULL_NAMES.contains(&record.full_name()));
    }
    let _ = codec.decode::<CommandRecord>(bytes);
    let _ = codec.decode::<ResultRecord>(bytes);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        decode_all(codec(), &bytes);
    }

    #[test]
    fn a_known_header_with_a_random_body_never_panics(
        id in 1u32..=16,
        body in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let mut bytes = vec![0];
        bytes.extend_from_slice(&id.to_be_bytes());
        bytes.extend_from_slice(&body);
        decode_all(codec(), &bytes);
    }

    #[test]
    fn mutated_valid_records_never_panic(
        which in any::<prop::sample::Index>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        tail in proptest::collection::vec(any::<u8>(), 0..8),
    ) {
        let codec = codec();
        let mut bytes = which.get(valid_records()).clone();
        for (at, value) in flips {
            // The header stays valid, so that the bodies get exercised.
            let index = 5 + at.index(bytes.len() - 5);
            bytes[index] = value;
        }
        decode_all(codec, &bytes);
        let short = cut.index(bytes.len());
        decode_all(codec, &bytes[..short]);
        bytes.extend_from_slice(&tail);
        decode_all(codec, &bytes);
    }
}
