//! The Confluent wire format: magic byte `0`, the writer schema's id as a 4-byte
//! big-endian integer, then the Avro binary body.
//!
//! Encoding writes each record with the latest schema of its subject, under the id
//! the registry gave it. Decoding looks the writer schema up by id (a bounded cache,
//! filled from the registry on a miss) and reads the body into the latest Rust shape
//! of the record, Avro-resolving by field name: fields the writer lacks take their
//! defaults (the upcast of old versions), fields the reader lacks are skipped.
//!
//! The latest schemas, which the Rust records mirror, are written and read field by
//! field (`binary`), with no schema walk and no serde dispatch per field; any other
//! writer schema goes through serde_avro_fast. Both give the same bytes and the
//! same records (`tests/binary.rs` holds them to it).
//!
//! Anything that is not a well-formed record of the expected topic is a
//! [`DecodeError`], never a panic; callers send those to the dead-letter topic.

pub(crate) mod binary;
#[allow(clippy::module_inception)] // the codec itself, beside its wire format and errors
mod codec;
mod error;
mod wire;

pub use codec::{Codec, Setup, SetupError};
pub use error::{DecodeError, EncodeError, ResolveError};
pub use wire::{HEADER_LEN, MAGIC, split_header, write_header};
