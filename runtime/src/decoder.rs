//! Decoding on the processor's thread: writer schemas the codec already knows are
//! read at once; an unknown one is fetched from the registry (blocking this thread,
//! which is not a runtime worker, on the runtime's handle).

use std::sync::Arc;

use ledgerstream_schemas::client::RegistryClient;
use ledgerstream_schemas::codec::{Codec, DecodeError, ResolveError};
use ledgerstream_schemas::records::RecordUnion;

/// The codec, and how to reach the registry for schemas it has not seen.
#[derive(Debug, Clone)]
pub struct Decoder {
    pub codec: Arc<Codec>,
    pub registry: RegistryClient,
    pub runtime: tokio::runtime::Handle,
}

impl Decoder {
    /// Decodes a record of `U`'s topic.
    pub fn decode<U: RecordUnion>(&self, bytes: &[u8]) -> Result<U, ResolveError> {
        match self.codec.decode(bytes) {
            Err(DecodeError::UnknownSchemaId { .. }) => self
                .runtime
                .block_on(self.codec.decode_resolving(bytes, &self.registry)),
            other => Ok(other?),
        }
    }
}
