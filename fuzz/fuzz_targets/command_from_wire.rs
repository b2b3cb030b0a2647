//! The command conversion: whatever a decoded command record holds, turning it
//! into the domain's command (and checking its text limits, then turning it back)
//! answers or refuses it, never panics.
#![no_main]

#[path = "../common/mod.rs"]
mod common;

use ledgerstream_domain::OwnerSnapshot;
use ledgerstream_processor::wire::{command_from_record, command_to_record, limits};
use ledgerstream_schemas::records::CommandRecord;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (codec, _) = common::codec();
    let Ok(record) = codec.decode::<CommandRecord>(&common::framed(data)) else {
        return;
    };
    let owner = |_: &_| OwnerSnapshot { open_accounts: 0 };
    if let Ok(command) = command_from_record(record, owner) {
        let _ = limits::too_long(&command);
        let _ = codec.encode(&command_to_record(&command));
    }
});
