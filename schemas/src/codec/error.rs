use crate::client::RegistryError;

/// A record that cannot be decoded: permanent for that record, which belongs on the
/// dead-letter topic. [`DecodeError::class`] names the kind for its headers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("record of {len} bytes is shorter than the 5-byte Confluent wire-format header")]
    Truncated { len: usize },
    #[error("first byte is {found:#04x}, not the magic byte 0: not Confluent wire format")]
    BadMagic { found: u8 },
    #[error("schema id {id} is unknown to the registry")]
    UnknownSchemaId { id: u32 },
    #[error("schema id {id} is not an Avro record the codec can read: {reason}")]
    UnreadableSchema { id: u32, reason: String },
    #[error("schema id {id} is {full_name}, which is not a record of {topic}")]
    UnexpectedRecord {
        id: u32,
        full_name: String,
        topic: &'static str,
    },
    #[error("body does not match its schema (id {id}, {full_name}): {reason}")]
    Body {
        id: u32,
        full_name: String,
        reason: String,
    },
}

impl DecodeError {
    /// A short, stable name of the kind of failure, for dead-letter headers and metrics.
    pub fn class(&self) -> &'static str {
        match self {
            DecodeError::Truncated { .. } => "truncated",
            DecodeError::BadMagic { .. } => "bad-magic",
            DecodeError::UnknownSchemaId { .. } => "unknown-schema-id",
            DecodeError::UnreadableSchema { .. } => "unreadable-schema",
            DecodeError::UnexpectedRecord { .. } => "unexpected-record",
            DecodeError::Body { .. } => "bad-body",
        }
    }
}

/// A record that could not be encoded: a bug or a setup mistake, never the data's.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("no schema id for {full_name}: the codec was not set up for it")]
    NotSetUp { full_name: &'static str },
    #[error("{full_name} does not fit its own schema: {reason}")]
    Body {
        full_name: &'static str,
        reason: String,
    },
}

/// Decoding with the registry's help: either the record is bad (dead-letter it) or
/// the registry could not be asked (retry or stop; the record may be fine).
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
}
