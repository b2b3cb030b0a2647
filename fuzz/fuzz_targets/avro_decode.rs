//! The Avro decoder: any bytes, decoded as a record of each topic by its writer
//! schema id, are a record or a `DecodeError`, never a panic or a hang.
#![no_main]

#[path = "../common/mod.rs"]
mod common;

use ledgerstream_schemas::records::{CommandRecord, EventRecord, ResultRecord};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (codec, _) = common::codec();
    let bytes = common::framed(data);
    let _ = codec.decode::<CommandRecord>(&bytes);
    let _ = codec.decode::<EventRecord>(&bytes);
    let _ = codec.decode::<ResultRecord>(&bytes);
});
