use super::DecodeError;

/// The first byte of every record in the Confluent wire format.
pub const MAGIC: u8 = 0;
/// Magic byte plus schema id.
pub const HEADER_LEN: usize = 5;

/// Splits a record into its writer schema id and Avro body.
pub fn split_header(bytes: &[u8]) -> Result<(u32, &[u8]), DecodeError> {
    let Some((header, body)) = bytes.split_first_chunk::<HEADER_LEN>() else {
        return Err(DecodeError::Truncated { len: bytes.len() });
    };
    let [magic, id @ ..] = *header;
    if magic != MAGIC {
        return Err(DecodeError::BadMagic { found: magic });
    }
    Ok((u32::from_be_bytes(id), body))
}

/// Appends the header for schema `id` to `out`.
pub fn write_header(out: &mut Vec<u8>, id: u32) {
    out.push(MAGIC);
    out.extend_from_slice(&id.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_round_trips() {
        let mut bytes = Vec::new();
        write_header(&mut bytes, 0x0102_0304);
        bytes.extend_from_slice(b"body");
        assert_eq!(bytes[..5], [0, 1, 2, 3, 4]);
        assert_eq!(split_header(&bytes).unwrap(), (0x0102_0304, &b"body"[..]));
    }

    #[test]
    fn short_records_and_other_formats_are_refused() {
        assert!(matches!(
            split_header(&[]),
            Err(DecodeError::Truncated { len: 0 })
        ));
        assert!(matches!(
            split_header(&[0, 0, 0, 1]),
            Err(DecodeError::Truncated { len: 4 })
        ));
        assert!(matches!(
            split_header(b"{\"json\":1}"),
            Err(DecodeError::BadMagic { found: b'{' })
        ));
    }
}
