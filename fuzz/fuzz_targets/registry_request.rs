//! The registry's request parsing: any body and path segment a client sends is
//! parsed as the handlers parse them (schemas, compatibility levels, ids,
//! versions), and any record of the `_schemas` topic as the store reads it, into
//! a value or an error, never a panic.
#![no_main]

use ledgerstream_registry::parse_untrusted;
use ledgerstream_registry::record::Record;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Up to the first NUL: a path segment (and a record key); the rest: a body.
    let (head, body) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (&[][..], data),
    };
    let segment = String::from_utf8_lossy(head);
    let _ = parse_untrusted(body, &segment);
    let _ = Record::decode(Some(head), Some(body));
    let _ = Record::decode(Some(head), None);
});
