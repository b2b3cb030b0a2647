//! Avro binary written and read field by field, for the latest schema of each
//! record: no schema in hand and no serde dispatch per field. `long` and `int` are
//! zig-zag varints, `string` a length then UTF-8, a `["null", T]` union its branch
//! index then the value, an enum its symbol index.
//!
//! The codec takes this path only when a writer schema has the Parsing Canonical
//! Form of the record's latest embedded schema, the shape the Rust records mirror;
//! any other writer schema goes through serde_avro_fast, which resolves by field
//! name. Reading accepts what serde_avro_fast accepts for the same schema (varints
//! of up to 10 bytes, bytes after the record ignored), so which path a record takes
//! never decides whether it decodes.

/// A value laid out as the latest schema of its record says.
pub(crate) trait Binary: Sized {
    /// How many bytes [`Binary::write`] appends.
    fn encoded_len(&self) -> usize;
    /// Appends the value to `out`.
    fn write(&self, out: &mut Vec<u8>);
    /// Reads a value from the front of `input`, leaving the rest there.
    fn read(input: &mut &[u8]) -> Result<Self, Malformed>;
}

/// A body that is not Avro binary of the record its schema id names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("the body ends inside a value")]
    Truncated,
    #[error("a varint runs past 64 bits")]
    Varint,
    #[error("{0} is out of range for an Avro int")]
    Int(i64),
    #[error("a string's length is {0}")]
    Length(i64),
    #[error("a string is not valid UTF-8")]
    Utf8,
    #[error("branch {0} of a [\"null\", T] union")]
    Branch(i64),
    #[error("symbol {index} of an enum of {symbols} symbols")]
    Symbol { index: i64, symbols: usize },
}

/// The most bytes a varint of 64 bits takes.
const MAX_VARINT_LEN: usize = 10;

fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn unzigzag(n: u64) -> i64 {
    ((n >> 1) as i64) ^ -((n & 1) as i64)
}

fn varint_len(n: u64) -> usize {
    // 7 bits a byte; 0 still takes one.
    (64 - (n | 1).leading_zeros() as usize).div_ceil(7)
}

fn write_varint(out: &mut Vec<u8>, mut n: u64) {
    // Byte by byte: the capacity is reserved, and a copy from a stack buffer costs
    // a call to memcpy for one or two bytes.
    while n >= 0x80 {
        out.push(n as u8 | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Reads a varint as serde_avro_fast does: the tenth byte, if it comes to that,
/// must be 0 or 1 (the 64th bit) and ends it.
fn read_varint(input: &mut &[u8]) -> Result<u64, Malformed> {
    // Most are one byte: lengths, branches, symbols, small numbers.
    if let Some((&byte, rest)) = input.split_first()
        && byte < 0x80
    {
        *input = rest;
        return Ok(u64::from(byte));
    }
    let mut value = 0u64;
    for (index, &byte) in input.iter().enumerate().take(MAX_VARINT_LEN) {
        value |= u64::from(byte & 0x7f) << (7 * index);
        if index == MAX_VARINT_LEN - 1 {
            if byte > 1 {
                return Err(Malformed::Varint);
            }
        } else if byte & 0x80 != 0 {
            continue;
        }
        *input = &input[index + 1..];
        return Ok(value);
    }
    Err(Malformed::Truncated)
}

fn read_long(input: &mut &[u8]) -> Result<i64, Malformed> {
    read_varint(input).map(unzigzag)
}

impl Binary for i64 {
    fn encoded_len(&self) -> usize {
        varint_len(zigzag(*self))
    }

    fn write(&self, out: &mut Vec<u8>) {
        write_varint(out, zigzag(*self));
    }

    fn read(input: &mut &[u8]) -> Result<Self, Malformed> {
        read_long(input)
    }
}

impl Binary for i32 {
    fn encoded_len(&self) -> usize {
        i64::from(*self).encoded_len()
    }

    fn write(&self, out: &mut Vec<u8>) {
        i64::from(*self).write(out);
    }

    fn read(input: &mut &[u8]) -> Result<Self, Malformed> {
        let long = read_long(input)?;
        i32::try_from(long).map_err(|_| Malformed::Int(long))
    }
}

impl Binary for String {
    fn encoded_len(&self) -> usize {
        let len = self.len();
        (len as i64).encoded_len() + len
    }

    fn write(&self, out: &mut Vec<u8>) {
        (self.len() as i64).write(out);
        out.extend_from_slice(self.as_bytes());
    }

    fn read(input: &mut &[u8]) -> Result<Self, Malformed> {
        let len = read_long(input)?;
        let size = usize::try_from(len).map_err(|_| Malformed::Length(len))?;
        let Some((text, rest)) = input.split_at_checked(size) else {
            return Err(Malformed::Truncated);
        };
        let text = std::str::from_utf8(text).map_err(|_| Malformed::Utf8)?;
        *input = rest;
        Ok(text.to_owned())
    }
}

/// `["null", T]`: branch 0 is `None`, branch 1 the value.
impl<T: Binary> Binary for Option<T> {
    fn encoded_len(&self) -> usize {
        1 + self.as_ref().map_or(0, Binary::encoded_len)
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(0),
            Some(value) => {
                out.push(2); // branch 1, zig-zagged
                value.write(out);
            }
        }
    }

    fn read(input: &mut &[u8]) -> Result<Self, Malformed> {
        match read_long(input)? {
            0 => Ok(None),
            1 => T::read(input).map(Some),
            branch => Err(Malformed::Branch(branch)),
        }
    }
}

/// An Avro enum whose symbols are the Rust variants in the order listed here,
/// which must be the schema's.
macro_rules! binary_enum {
    ($enum:ident [$($variant:ident),+ $(,)?]) => {
        impl $crate::codec::binary::Binary for $enum {
            fn encoded_len(&self) -> usize {
                const { assert!([$($enum::$variant),+].len() < 64, "one byte a symbol") };
                1
            }

            fn write(&self, out: &mut Vec<u8>) {
                // Exhaustive: a variant missing from the list does not compile.
                match self {
                    $($enum::$variant)|+ => {}
                }
                const SYMBOLS: &[$enum] = &[$($enum::$variant),+];
                let index = SYMBOLS
                    .iter()
                    .position(|symbol| symbol == self)
                    .expect("every variant is listed");
                out.push((index as u8) << 1); // zig-zagged
            }

            fn read(input: &mut &[u8]) -> Result<Self, $crate::codec::binary::Malformed> {
                const SYMBOLS: &[$enum] = &[$($enum::$variant),+];
                let index = <i64 as $crate::codec::binary::Binary>::read(input)?;
                usize::try_from(index)
                    .ok()
                    .and_then(|at| SYMBOLS.get(at))
                    .copied()
                    .ok_or($crate::codec::binary::Malformed::Symbol {
                        index,
                        symbols: SYMBOLS.len(),
                    })
            }
        }
    };
}

/// An Avro record whose fields are the Rust fields in the order listed here,
/// which must be the latest schema's. The compiler checks that every field is
/// listed once; the tests check the order against the schema, byte for byte.
macro_rules! binary_record {
    ($record:ident { $($field:ident),+ $(,)? }) => {
        impl $crate::codec::binary::Binary for $record {
            fn encoded_len(&self) -> usize {
                0 $(+ $crate::codec::binary::Binary::encoded_len(&self.$field))+
            }

            fn write(&self, out: &mut Vec<u8>) {
                $($crate::codec::binary::Binary::write(&self.$field, out);)+
            }

            fn read(input: &mut &[u8]) -> Result<Self, $crate::codec::binary::Malformed> {
                // Fields are evaluated in the order written: the schema's.
                Ok(Self {
                    $($field: $crate::codec::binary::Binary::read(input)?,)+
                })
            }
        }
    };
}

pub(crate) use {binary_enum, binary_record};

#[cfg(test)]
mod tests {
    use super::*;

    fn written<T: Binary>(value: T) -> Vec<u8> {
        let mut out = Vec::new();
        value.write(&mut out);
        assert_eq!(out.len(), value.encoded_len(), "encoded_len is exact");
        out
    }

    fn read<T: Binary>(mut bytes: &[u8]) -> Result<(T, usize), Malformed> {
        let value = T::read(&mut bytes)?;
        Ok((value, bytes.len()))
    }

    #[test]
    fn longs_are_zig_zag_varints() {
        assert_eq!(written(0i64), [0x00]);
        assert_eq!(written(-1i64), [0x01]);
        assert_eq!(written(1i64), [0x02]);
        assert_eq!(written(-64i64), [0x7f]);
        assert_eq!(written(64i64), [0x80, 0x01]);
        assert_eq!(
            written(i64::MAX),
            [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]
        );
        assert_eq!(
            written(i64::MIN),
            [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]
        );
        for n in [0, 1, -1, 63, -64, 64, 8191, -8192, i64::MAX, i64::MIN] {
            assert_eq!(read::<i64>(&written(n)), Ok((n, 0)));
        }
    }

    #[test]
    fn varints_end_where_serde_avro_fast_ends_them() {
        // Not the shortest form, still read: 0 in two bytes.
        assert_eq!(read::<i64>(&[0x80, 0x00, 0x2a]), Ok((0, 1)));
        // The tenth byte may only carry the 64th bit.
        let mut ten = [0xff; 10];
        ten[9] = 0x02;
        assert_eq!(read::<i64>(&ten), Err(Malformed::Varint));
        ten[9] = 0x81;
        assert_eq!(read::<i64>(&ten), Err(Malformed::Varint));
        assert_eq!(read::<i64>(&[0xff; 11]), Err(Malformed::Varint));
        assert_eq!(read::<i64>(&[0x80, 0x80]), Err(Malformed::Truncated));
        assert_eq!(read::<i64>(&[]), Err(Malformed::Truncated));
    }

    #[test]
    fn ints_out_of_range_are_refused() {
        assert_eq!(
            read::<i32>(&written(i64::from(i32::MIN))),
            Ok((i32::MIN, 0))
        );
        assert_eq!(
            read::<i32>(&written(i64::from(i32::MAX) + 1)),
            Err(Malformed::Int(1 << 31))
        );
    }

    #[test]
    fn strings_are_a_length_then_utf8() {
        assert_eq!(written(String::from("USD")), b"\x06USD");
        assert_eq!(written(String::new()), [0]);
        let long = "é".repeat(40); // 80 bytes: a two-byte length
        assert_eq!(written(long.clone())[..2], [0xa0, 0x01]);
        assert_eq!(read::<String>(&written(long.clone())), Ok((long, 0)));
        assert_eq!(read::<String>(b"\x06US"), Err(Malformed::Truncated));
        assert_eq!(read::<String>(b"\x01"), Err(Malformed::Length(-1)));
        assert_eq!(read::<String>(b"\x04\xc3\x28"), Err(Malformed::Utf8));
    }

    #[test]
    fn optional_values_are_a_branch_index_then_the_value() {
        assert_eq!(written(None::<i64>), [0]);
        assert_eq!(written(Some(1i64)), [2, 2]);
        assert_eq!(read::<Option<i64>>(&[0, 9]), Ok((None, 1)));
        assert_eq!(read::<Option<i64>>(&[2, 2]), Ok((Some(1), 0)));
        assert_eq!(read::<Option<i64>>(&[4, 2]), Err(Malformed::Branch(2)));
        assert_eq!(read::<Option<i64>>(&[1]), Err(Malformed::Branch(-1)));
    }
}
