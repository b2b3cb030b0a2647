use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::catalog::Kind;

/// One Avro record type of the contract.
pub trait Record: Serialize + DeserializeOwned {
    /// The record's full name, as in its `.avsc`.
    const FULL_NAME: &'static str;
    /// Which topic's contract it belongs to.
    const KIND: Kind;
}

/// Every record type one topic carries, as one enum.
pub trait RecordUnion: Sized {
    /// The topic's kind of record.
    const KIND: Kind;
    /// The full names of every record the union holds.
    const FULL_NAMES: &'static [&'static str];

    /// The full name of the record inside.
    fn full_name(&self) -> &'static str;

    /// Decodes an Avro body written with `writer` (whose record is `full_name`).
    fn from_datum(
        full_name: &str,
        body: &[u8],
        writer: &serde_avro_fast::Schema,
    ) -> Result<Self, UnionError>;

    /// Encodes the record inside against `schema`, appending to `out`.
    fn to_datum(
        &self,
        out: Vec<u8>,
        schema: &mut serde_avro_fast::ser::SerializerConfig<'_>,
    ) -> Result<Vec<u8>, serde_avro_fast::ser::SerError>;

    /// How many bytes [`RecordUnion::write_latest`] appends.
    fn latest_len(&self) -> usize;

    /// Appends the record inside as its latest schema lays it out, field by field.
    fn write_latest(&self, out: &mut Vec<u8>);

    /// Decodes an Avro body written with the latest schema of `full_name`, field by
    /// field.
    fn read_latest(full_name: &str, body: &[u8]) -> Result<Self, UnionError>;
}

/// Why a body did not decode into a union.
#[derive(Debug, thiserror::Error)]
pub enum UnionError {
    #[error("record {0} is not one this topic carries")]
    UnknownRecord(String),
    #[error(transparent)]
    Body(#[from] serde_avro_fast::de::DeError),
    #[error(transparent)]
    Malformed(#[from] crate::codec::binary::Malformed),
}

/// Declares a union of records: the enum, `From` for each member, and
/// [`RecordUnion`] dispatching on the record's full name.
macro_rules! record_union {
    ($(#[$meta:meta])* $union:ident, $kind:expr, [$($record:ident),+ $(,)?]) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub enum $union {
            $($record($record),)+
        }

        $(
            impl From<$record> for $union {
                fn from(record: $record) -> Self {
                    $union::$record(record)
                }
            }
        )+

        impl $crate::records::RecordUnion for $union {
            const KIND: $crate::catalog::Kind = $kind;
            const FULL_NAMES: &'static [&'static str] =
                &[$(<$record as $crate::records::Record>::FULL_NAME,)+];

            fn full_name(&self) -> &'static str {
                match self {
                    $($union::$record(_) => <$record as $crate::records::Record>::FULL_NAME,)+
                }
            }

            fn from_datum(
                full_name: &str,
                body: &[u8],
                writer: &serde_avro_fast::Schema,
            ) -> Result<Self, $crate::records::union::UnionError> {
                $(
                    if full_name == <$record as $crate::records::Record>::FULL_NAME {
                        let record: $record = serde_avro_fast::from_datum_slice(body, writer)?;
                        return Ok($union::$record(record));
                    }
                )+
                Err($crate::records::union::UnionError::UnknownRecord(full_name.to_owned()))
            }

            fn to_datum(
                &self,
                out: Vec<u8>,
                schema: &mut serde_avro_fast::ser::SerializerConfig<'_>,
            ) -> Result<Vec<u8>, serde_avro_fast::ser::SerError> {
                match self {
                    $($union::$record(record) => serde_avro_fast::to_datum(record, out, schema),)+
                }
            }

            fn latest_len(&self) -> usize {
                match self {
                    $($union::$record(record) => $crate::codec::binary::Binary::encoded_len(record),)+
                }
            }

            fn write_latest(&self, out: &mut Vec<u8>) {
                match self {
                    $($union::$record(record) => $crate::codec::binary::Binary::write(record, out),)+
                }
            }

            fn read_latest(
                full_name: &str,
                mut body: &[u8],
            ) -> Result<Self, $crate::records::union::UnionError> {
                $(
                    if full_name == <$record as $crate::records::Record>::FULL_NAME {
                        let record: $record = $crate::codec::binary::Binary::read(&mut body)?;
                        return Ok($union::$record(record));
                    }
                )+
                Err($crate::records::union::UnionError::UnknownRecord(full_name.to_owned()))
            }
        }
    };
}

/// Implements [`Record`] for wire structs of one kind, under one namespace, and
/// their Avro binary with the fields listed in the order of the latest schema.
macro_rules! records {
    ($kind:expr, $namespace:literal, [$($record:ident { $($field:ident),+ $(,)? }),+ $(,)?]) => {
        $(
            impl $crate::records::Record for $record {
                const FULL_NAME: &'static str = concat!($namespace, ".", stringify!($record));
                const KIND: $crate::catalog::Kind = $kind;
            }

            $crate::codec::binary::binary_record!($record { $($field),+ });
        )+
    };
}

pub(crate) use {record_union, records};
