//! A codec that knows every schema of the catalog, every version of it, under ids
//! of its own; and the fuzz input turned into a record of the wire format.

use std::sync::OnceLock;

use ledgerstream_schemas::catalog;
use ledgerstream_schemas::codec::{Codec, write_header};

/// The codec, and the ids it knows: the latest version of each record through
/// [`Codec::add_writer`], older ones through [`Codec::learn`] (read by resolution).
pub fn codec() -> &'static (Codec, Vec<u32>) {
    static CODEC: OnceLock<(Codec, Vec<u32>)> = OnceLock::new();
    CODEC.get_or_init(|| {
        let mut codec = Codec::new(1_000);
        let mut ids = Vec::new();
        let mut next = 1;
        for subject in catalog::subjects().expect("the catalog") {
            let (latest, older) = subject.versions.split_last().expect("a version");
            for schema in older {
                codec.learn(next, schema).expect("an older version");
                ids.push(next);
                next += 1;
            }
            codec.add_writer(next, latest).expect("the latest version");
            ids.push(next);
            next += 1;
        }
        (codec, ids)
    })
}

/// The first byte picks a known schema id (or, past them, leaves the header to
/// the input); the rest is the body after the Confluent header.
pub fn framed(data: &[u8]) -> Vec<u8> {
    let (_, ids) = codec();
    match data.split_first() {
        Some((&pick, body)) if usize::from(pick) < ids.len() => {
            let mut bytes = Vec::with_capacity(body.len() + 5);
            write_header(&mut bytes, ids[usize::from(pick)]);
            bytes.extend_from_slice(body);
            bytes
        }
        Some((_, rest)) => rest.to_vec(),
        None => Vec::new(),
    }
}
