use std::collections::HashMap;
use std::sync::RwLock;

use super::error::{DecodeError, EncodeError, ResolveError};
use super::wire::{split_header, write_header};
use crate::catalog::{self, Kind};
use crate::client::{RegistryClient, RegistryError};
use crate::records::RecordUnion;

/// How a [`Codec`] learns the ids of the schemas it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// Register the latest schemas (producers, by default): a schema the registry
    /// already has keeps its id; an incompatible one is refused by the registry.
    Register,
    /// Only look them up (processors): a schema that is not registered is an error.
    LookUp,
}

/// Encodes and decodes records in the Confluent wire format. Shared by reference
/// between tasks; decoding only takes a read lock, except when it learns a schema.
#[derive(Debug)]
pub struct Codec {
    writers: HashMap<String, Writer>,
    readers: RwLock<HashMap<u32, Reader>>,
    cache_capacity: usize,
}

#[derive(Debug)]
struct Writer {
    id: u32,
    schema: serde_avro_fast::Schema,
}

#[derive(Debug)]
struct Reader {
    full_name: String,
    schema: serde_avro_fast::Schema,
}

/// A schema the codec could not be set up with.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("subject {subject}: {source}{hint}")]
    Registry {
        subject: String,
        source: RegistryError,
        hint: &'static str,
    },
    #[error("the embedded schema catalog is broken: {0}")]
    Catalog(#[from] catalog::CatalogError),
    #[error(
        "subject {subject}: the registry's id {id} is for a schema the codec cannot use: {reason}"
    )]
    Schema {
        subject: String,
        id: u32,
        reason: String,
    },
}

const NOT_REGISTERED_HINT: &str = "; register the schemas first: start a producer (it registers \
     at start) or run `ledgerstream schemas register`";

impl Codec {
    /// A codec that knows no schema yet; `cache_capacity` bounds the writer schemas
    /// it keeps for decoding.
    pub fn new(cache_capacity: usize) -> Self {
        Self {
            writers: HashMap::new(),
            readers: RwLock::default(),
            cache_capacity,
        }
    }

    /// A codec that writes every record of each kind, on the topic given with it,
    /// with its latest embedded schema, under the id `client`'s registry has for its
    /// subject (`<topic>-<record>`; registering it first with [`Setup::Register`]),
    /// and reads any version the registry knows.
    pub async fn connect(
        client: &RegistryClient,
        topics: &[(Kind, &str)],
        setup: Setup,
    ) -> Result<Self, SetupError> {
        let mut codec = Self::new(client.config().cache_capacity);
        for subject in catalog::subjects()? {
            let Some((_, topic)) = topics.iter().find(|(kind, _)| *kind == subject.kind) else {
                continue;
            };
            let name = catalog::subject_name(topic, &subject.full_name);
            let registry = |source: RegistryError| {
                let hint = match source.error_code() {
                    Some(40401 | 40403) => NOT_REGISTERED_HINT,
                    _ => "",
                };
                SetupError::Registry {
                    subject: name.clone(),
                    source,
                    hint,
                }
            };
            let id = match setup {
                Setup::Register => client
                    .register(&name, subject.latest())
                    .await
                    .map_err(registry)?,
                Setup::LookUp => {
                    client
                        .lookup(&name, subject.latest())
                        .await
                        .map_err(registry)?
                        .id
                }
            };
            codec
                .add_writer(id, subject.latest())
                .map_err(|e| SetupError::Schema {
                    subject: name.clone(),
                    id,
                    reason: e.to_string(),
                })?;
        }
        Ok(codec)
    }

    /// Writes the record named in `schema_json` with that schema under `id` (and
    /// reads `id` with it too).
    pub fn add_writer(&mut self, id: u32, schema_json: &str) -> Result<(), DecodeError> {
        let reader = parse(id, schema_json)?;
        let schema = schema_json
            .parse()
            .map_err(|e: serde_avro_fast::schema::SchemaError| unreadable(id, e))?;
        self.writers
            .insert(reader.full_name.clone(), Writer { id, schema });
        self.insert_reader(id, reader);
        Ok(())
    }

    /// Remembers the writer schema with `id`, so that records written with it decode.
    pub fn learn(&self, id: u32, schema_json: &str) -> Result<(), DecodeError> {
        let reader = parse(id, schema_json)?;
        self.insert_reader(id, reader);
        Ok(())
    }

    fn insert_reader(&self, id: u32, reader: Reader) {
        let mut readers = self
            .readers
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if readers.len() >= self.cache_capacity && !readers.contains_key(&id) {
            // Schemas are few and ids stable: dropping any one only costs a lookup.
            if let Some(&evicted) = readers.keys().next() {
                readers.remove(&evicted);
            }
        }
        readers.insert(id, reader);
    }

    /// The id `record`'s schema is written under.
    pub fn writer_id(&self, full_name: &str) -> Option<u32> {
        self.writers.get(full_name).map(|writer| writer.id)
    }

    /// Encodes `record` into a new buffer.
    pub fn encode<U: RecordUnion>(&self, record: &U) -> Result<Vec<u8>, EncodeError> {
        self.encode_into(record, Vec::with_capacity(128))
    }

    /// Encodes `record`, appending to `out` (whose allocation is reused).
    pub fn encode_into<U: RecordUnion>(
        &self,
        record: &U,
        mut out: Vec<u8>,
    ) -> Result<Vec<u8>, EncodeError> {
        let full_name = record.full_name();
        let writer = self
            .writers
            .get(full_name)
            .ok_or(EncodeError::NotSetUp { full_name })?;
        write_header(&mut out, writer.id);
        let mut config = serde_avro_fast::ser::SerializerConfig::new(&writer.schema);
        record
            .to_datum(out, &mut config)
            .map_err(|e| EncodeError::Body {
                full_name,
                reason: e.to_string(),
            })
    }

    /// Decodes a record of `U`'s topic, with writer schemas already known.
    pub fn decode<U: RecordUnion>(&self, bytes: &[u8]) -> Result<U, DecodeError> {
        let (id, body) = split_header(bytes)?;
        // Decoded under the read lock: learning a schema (the only
        // writer) is rare, and decoding is the hot path.
        let readers = self
            .readers
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let reader = readers
            .get(&id)
            .ok_or(DecodeError::UnknownSchemaId { id })?;
        U::from_datum(&reader.full_name, body, &reader.schema).map_err(|e| match e {
            crate::records::union::UnionError::UnknownRecord(full_name) => {
                DecodeError::UnexpectedRecord {
                    id,
                    full_name,
                    topic: U::KIND.topic(),
                }
            }
            crate::records::union::UnionError::Body(e) => DecodeError::Body {
                id,
                full_name: reader.full_name.clone(),
                reason: e.to_string(),
            },
        })
    }

    /// Decodes like [`Codec::decode`], fetching an unknown writer schema from the
    /// registry first.
    pub async fn decode_resolving<U: RecordUnion>(
        &self,
        bytes: &[u8],
        client: &RegistryClient,
    ) -> Result<U, ResolveError> {
        match self.decode(bytes) {
            Err(DecodeError::UnknownSchemaId { id }) => {
                let schema = match client.schema_by_id(id).await {
                    Ok(schema) => schema,
                    Err(e) if e.error_code() == Some(40403) => {
                        return Err(DecodeError::UnknownSchemaId { id }.into());
                    }
                    Err(e) => return Err(e.into()),
                };
                self.learn(id, &schema)?;
                Ok(self.decode(bytes)?)
            }
            other => Ok(other?),
        }
    }
}

fn unreadable(id: u32, reason: impl ToString) -> DecodeError {
    DecodeError::UnreadableSchema {
        id,
        reason: reason.to_string(),
    }
}

fn parse(id: u32, schema_json: &str) -> Result<Reader, DecodeError> {
    let parsed = apache_avro::Schema::parse_str(schema_json).map_err(|e| unreadable(id, e))?;
    let apache_avro::Schema::Record(record) = &parsed else {
        return Err(unreadable(id, "the top level is not a record"));
    };
    let schema = schema_json
        .parse()
        .map_err(|e: serde_avro_fast::schema::SchemaError| unreadable(id, e))?;
    Ok(Reader {
        full_name: record.name.fullname(None),
        schema,
    })
}
