//! The bytes on disk. Every stored value is framed the same way: a format byte,
//! the payload, and a CRC-32 (big-endian) of the format byte and payload.
//!
//! | value | format byte | payload |
//! |---|---|---|
//! | account | [`ACCOUNT_FORMAT`] | the [`AccountState`] in postcard |
//! | checkpoint | [`CHECKPOINT_FORMAT`] | events offset, results offset (i64, big-endian) |
//!
//! postcard is not self-describing: a field added to, removed from or moved in any
//! type an `AccountState` is made of (ids, `Account`, `TransferLeg`,
//! `RecentCommands`, ...) changes what the bytes mean without any error. So any
//! such change must bump [`ACCOUNT_FORMAT`]; the pinned encoding in the tests below
//! fails until it does. A value with another format byte is refused, and the
//! processor rebuilds the store from the event log.
//!
//! The checksum is there because postcard reads most damaged bytes as some other
//! valid value (a flipped bit in a balance is just another balance), and the LSM
//! tree under fjall 2 does not check its table blocks when it reads them.

use ledgerstream_domain::AccountState;

use super::Checkpoint;

/// The layout of account values written by this build.
pub(super) const ACCOUNT_FORMAT: u8 = 2;

/// The layout of the checkpoint written by this build.
pub(super) const CHECKPOINT_FORMAT: u8 = 1;

const CHECKSUM_LEN: usize = 4;
const CHECKPOINT_LEN: usize = 1 + 8 + 8 + CHECKSUM_LEN;

/// Why stored bytes could not be read back.
#[derive(Debug, thiserror::Error)]
pub(super) enum CodecError {
    /// Written by another layout: not damage, but unreadable all the same.
    #[error("format {found}, this build reads format {expected}")]
    UnknownFormat { found: u8, expected: u8 },
    #[error("{found} bytes, expected {expected}")]
    WrongLength { found: usize, expected: usize },
    #[error("checksum mismatch: stored {stored:08x}, computed {computed:08x}")]
    Checksum { stored: u32, computed: u32 },
    #[error("malformed: {0}")]
    Malformed(#[from] postcard::Error),
    #[error("{0} unexpected bytes after the value")]
    TrailingBytes(usize),
    #[error("invalid checkpoint: {0}")]
    InvalidCheckpoint(#[from] super::CheckpointError),
}

/// The stored form of `state`, written into `buf` (cleared first) so that a batch
/// reuses one allocation.
pub(super) fn encode_account(
    state: &AccountState,
    mut buf: Vec<u8>,
) -> Result<Vec<u8>, postcard::Error> {
    buf.clear();
    buf.push(ACCOUNT_FORMAT);
    let mut buf = postcard::to_extend(state, buf)?;
    seal(&mut buf);
    Ok(buf)
}

pub(super) fn decode_account(bytes: &[u8]) -> Result<AccountState, CodecError> {
    let payload = open(bytes, ACCOUNT_FORMAT, None)?;
    let (state, rest) = postcard::take_from_bytes(payload)?;
    if !rest.is_empty() {
        return Err(CodecError::TrailingBytes(rest.len()));
    }
    Ok(state)
}

pub(super) fn encode_checkpoint(checkpoint: &Checkpoint) -> Vec<u8> {
    let mut buf = Vec::with_capacity(CHECKPOINT_LEN);
    buf.push(CHECKPOINT_FORMAT);
    buf.extend_from_slice(&checkpoint.events_offset().to_be_bytes());
    buf.extend_from_slice(&checkpoint.results_offset().to_be_bytes());
    seal(&mut buf);
    buf
}

pub(super) fn decode_checkpoint(bytes: &[u8]) -> Result<Checkpoint, CodecError> {
    let payload = open(bytes, CHECKPOINT_FORMAT, Some(CHECKPOINT_LEN))?;
    let wrong_length = || CodecError::WrongLength {
        found: bytes.len(),
        expected: CHECKPOINT_LEN,
    };
    let (events, results) = payload.split_first_chunk::<8>().ok_or_else(wrong_length)?;
    let results = <[u8; 8]>::try_from(results).map_err(|_| wrong_length())?;
    Ok(Checkpoint::new(
        i64::from_be_bytes(*events),
        i64::from_be_bytes(results),
    )?)
}

/// Appends the checksum of everything in `buf`.
fn seal(buf: &mut Vec<u8>) {
    let checksum = crc32fast::hash(buf);
    buf.extend_from_slice(&checksum.to_be_bytes());
}

/// The payload of a framed value, once its format byte, length (when fixed) and
/// checksum are what they should be. The format comes first: another format may
/// frame its bytes differently.
fn open(bytes: &[u8], format: u8, len: Option<usize>) -> Result<&[u8], CodecError> {
    let wrong_length = |expected| CodecError::WrongLength {
        found: bytes.len(),
        expected,
    };
    let Some(&found) = bytes.first() else {
        return Err(wrong_length(len.unwrap_or(1 + CHECKSUM_LEN)));
    };
    if found != format {
        return Err(CodecError::UnknownFormat {
            found,
            expected: format,
        });
    }
    if let Some(len) = len
        && bytes.len() != len
    {
        return Err(wrong_length(len));
    }
    let Some((sealed, checksum)) = bytes.split_last_chunk::<CHECKSUM_LEN>() else {
        return Err(wrong_length(1 + CHECKSUM_LEN));
    };
    let Some((_, payload)) = sealed.split_first() else {
        return Err(wrong_length(1 + CHECKSUM_LEN));
    };
    let stored = u32::from_be_bytes(*checksum);
    let computed = crc32fast::hash(sealed);
    if stored != computed {
        return Err(CodecError::Checksum { stored, computed });
    }
    Ok(payload)
}

#[cfg(test)]
// Amounts in minor units read best grouped as units and cents: 500_00 is 500.00.
#[allow(clippy::inconsistent_digit_grouping)]
mod tests {
    use ledgerstream_domain::testing::{
        OTHER_ACCOUNT, debited, deposited, given_with_window, opened, transfer,
    };
    use ledgerstream_domain::{AccountType, TransferLeg};

    use super::*;

    /// An account with a bit of everything: a transfer, and a window with one
    /// command in it (more would make the bytes depend on `HashMap` order).
    fn sample() -> AccountState {
        given_with_window(
            1,
            [
                opened(AccountType::Savings, 500_00),
                deposited(25_00, 525_00),
                debited(transfer(1), OTHER_ACCOUNT, 100_00, 2_00, 423_00),
            ],
        )
        .state()
        .clone()
    }

    fn encoded(state: &AccountState) -> Vec<u8> {
        encode_account(state, Vec::new()).expect("encodable")
    }

    /// `payload` framed as an account value, checksum and all.
    fn sealed(payload: &[u8]) -> Vec<u8> {
        let mut bytes = vec![ACCOUNT_FORMAT];
        bytes.extend_from_slice(payload);
        seal(&mut bytes);
        bytes
    }

    #[test]
    fn an_account_round_trips() {
        let state = sample();
        assert!(matches!(
            state.account().and_then(|a| a.transfer(transfer(1))),
            Some(TransferLeg::Debited { .. })
        ));
        assert_eq!(decode_account(&encoded(&state)).expect("decodes"), state);
    }

    #[test]
    fn an_account_not_opened_round_trips() {
        let state = AccountState::new(10);
        assert_eq!(decode_account(&encoded(&state)).expect("decodes"), state);
    }

    #[test]
    fn encoding_reuses_and_clears_the_buffer() {
        let first = encoded(&sample());
        let again = encode_account(&sample(), vec![7; 1_000]).expect("encodable");
        assert_eq!(again, first);
    }

    /// The layout is the contract with every store on disk. If this fails, a type
    /// inside `AccountState` changed shape: bump `ACCOUNT_FORMAT` and pin the new
    /// bytes here.
    #[test]
    fn the_account_layout_is_pinned() {
        let hex: String = encoded(&sample())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex, PINNED_SAMPLE,
            "account layout changed: bump ACCOUNT_FORMAT"
        );
    }

    const PINNED_SAMPLE: &str = "020301056163632d31076f776e65722d310103555344f894050001107e57000000000000000000000000000100056163632d32a09c01900300b09f010101109e7e000000000000000000000000000301109e7e0000000000000000000000000003030100008885680f";

    #[test]
    fn an_unknown_account_format_is_refused() {
        let mut bytes = encoded(&sample());
        bytes[0] = ACCOUNT_FORMAT + 1;
        assert!(matches!(
            decode_account(&bytes),
            Err(CodecError::UnknownFormat { found, expected: ACCOUNT_FORMAT })
                if found == ACCOUNT_FORMAT + 1
        ));
    }

    #[test]
    fn every_flipped_bit_is_caught() {
        let bytes = encoded(&sample());
        for at in 1..bytes.len() {
            for bit in 0..8 {
                let mut damaged = bytes.clone();
                damaged[at] ^= 1 << bit;
                assert!(
                    matches!(decode_account(&damaged), Err(CodecError::Checksum { .. })),
                    "byte {at} bit {bit}"
                );
            }
        }
    }

    #[test]
    fn short_or_malformed_account_bytes_are_an_error() {
        let bytes = encoded(&sample());
        assert!(matches!(
            decode_account(&[]),
            Err(CodecError::WrongLength { found: 0, .. })
        ));
        assert!(matches!(
            decode_account(&[ACCOUNT_FORMAT, 0, 0]),
            Err(CodecError::WrongLength { found: 3, .. })
        ));
        for len in 1..bytes.len() {
            assert!(decode_account(&bytes[..len]).is_err(), "length {len}");
        }
        assert!(matches!(
            decode_account(&sealed(&[0xff, 0xff])),
            Err(CodecError::Malformed(_))
        ));
    }

    #[test]
    fn bytes_after_the_account_are_an_error() {
        let mut payload = postcard::to_stdvec(&sample()).expect("encodable");
        payload.extend_from_slice(&[0, 0]);
        assert!(matches!(
            decode_account(&sealed(&payload)),
            Err(CodecError::TrailingBytes(2))
        ));
    }

    #[test]
    fn a_checkpoint_round_trips() {
        let checkpoint = Checkpoint::new(1_234_567_890_123, 42).expect("valid");
        let bytes = encode_checkpoint(&checkpoint);
        assert_eq!(bytes.len(), CHECKPOINT_LEN);
        assert_eq!(bytes[0], CHECKPOINT_FORMAT);
        assert_eq!(decode_checkpoint(&bytes).expect("decodes"), checkpoint);
    }

    #[test]
    fn damaged_checkpoint_bytes_are_an_error() {
        let bytes = encode_checkpoint(&Checkpoint::START);
        assert!(matches!(
            decode_checkpoint(&bytes[..10]),
            Err(CodecError::WrongLength {
                found: 10,
                expected: CHECKPOINT_LEN
            })
        ));
        let mut other = bytes.clone();
        other[0] = 9;
        assert!(matches!(
            decode_checkpoint(&other),
            Err(CodecError::UnknownFormat { found: 9, .. })
        ));
        let mut flipped = bytes.clone();
        flipped[5] ^= 0x10;
        assert!(matches!(
            decode_checkpoint(&flipped),
            Err(CodecError::Checksum { .. })
        ));
    }

    #[test]
    fn a_negative_offset_read_back_is_an_error() {
        let mut bytes = vec![CHECKPOINT_FORMAT];
        bytes.extend_from_slice(&(-1_i64).to_be_bytes());
        bytes.extend_from_slice(&0_i64.to_be_bytes());
        seal(&mut bytes);
        assert!(matches!(
            decode_checkpoint(&bytes),
            Err(CodecError::InvalidCheckpoint(_))
        ));
    }
}
