use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{OnceLock, RwLock};

use super::error::{DecodeError, EncodeError, ResolveError};
use super::wire::{HEADER_LEN, split_header, write_header};
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
    writers: HashMap<String, Writer, Keys>,
    readers: RwLock<HashMap<u32, Reader, Keys>>,
    cache_capacity: usize,
    /// Off only to compare the field-by-field path with serde's.
    field_by_field: bool,
}

#[derive(Debug)]
struct Writer {
    id: u32,
    schema: serde_avro_fast::Schema,
    layout: Layout,
}

#[derive(Debug)]
struct Reader {
    full_name: String,
    schema: serde_avro_fast::Schema,
    layout: Layout,
}

/// How the records of one schema are written or read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// The record's latest embedded schema, which the Rust record mirrors: field by
    /// field (`codec::binary`).
    Latest,
    /// Any other (an older version, or a schema this build does not carry):
    /// serde_avro_fast, resolving by field name.
    Resolved,
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
            writers: HashMap::default(),
            readers: RwLock::default(),
            cache_capacity,
            field_by_field: true,
        }
    }

    /// Writes and reads every schema through serde_avro_fast, the latest ones too:
    /// the reference that tests and benchmarks hold the field-by-field path to.
    /// Call it before adding schemas.
    #[cfg(any(test, feature = "testing"))]
    pub fn serde_only(mut self) -> Self {
        self.field_by_field = false;
        self
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
        let reader = self.parse(id, schema_json)?;
        let schema = schema_json
            .parse()
            .map_err(|e: serde_avro_fast::schema::SchemaError| unreadable(id, e))?;
        let writer = Writer {
            id,
            schema,
            layout: reader.layout,
        };
        self.writers.insert(reader.full_name.clone(), writer);
        self.insert_reader(id, reader);
        Ok(())
    }

    /// Remembers the writer schema with `id`, so that records written with it decode.
    pub fn learn(&self, id: u32, schema_json: &str) -> Result<(), DecodeError> {
        let reader = self.parse(id, schema_json)?;
        self.insert_reader(id, reader);
        Ok(())
    }

    fn parse(&self, id: u32, schema_json: &str) -> Result<Reader, DecodeError> {
        let parsed = apache_avro::Schema::parse_str(schema_json).map_err(|e| unreadable(id, e))?;
        let apache_avro::Schema::Record(record) = &parsed else {
            return Err(unreadable(id, "the top level is not a record"));
        };
        let full_name = record.name.fullname(None);
        let schema = schema_json
            .parse()
            .map_err(|e: serde_avro_fast::schema::SchemaError| unreadable(id, e))?;
        let latest = latest_forms().get(&full_name) == Some(&parsed.canonical_form());
        let layout = if latest && self.field_by_field {
            Layout::Latest
        } else {
            Layout::Resolved
        };
        Ok(Reader {
            full_name,
            schema,
            layout,
        })
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

    /// Whether records of `full_name` are written field by field: their writer
    /// schema is the latest embedded one.
    #[cfg(any(test, feature = "testing"))]
    pub fn writes_field_by_field(&self, full_name: &str) -> bool {
        self.writers
            .get(full_name)
            .is_some_and(|writer| writer.layout == Layout::Latest)
    }

    /// Whether records written with schema `id` are read field by field.
    #[cfg(any(test, feature = "testing"))]
    pub fn reads_field_by_field(&self, id: u32) -> bool {
        let readers = self
            .readers
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        readers
            .get(&id)
            .is_some_and(|reader| reader.layout == Layout::Latest)
    }

    /// The id `record`'s schema is written under.
    pub fn writer_id(&self, full_name: &str) -> Option<u32> {
        self.writers.get(full_name).map(|writer| writer.id)
    }

    /// Encodes `record` into a new buffer.
    pub fn encode<U: RecordUnion>(&self, record: &U) -> Result<Vec<u8>, EncodeError> {
        self.encode_into(record, Vec::new())
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
        if writer.layout == Layout::Latest {
            out.reserve(HEADER_LEN + record.latest_len());
            write_header(&mut out, writer.id);
            record.write_latest(&mut out);
            return Ok(out);
        }
        out.reserve(128); // serde grows it past that
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
        let record = match reader.layout {
            Layout::Latest => U::read_latest(&reader.full_name, body),
            Layout::Resolved => U::from_datum(&reader.full_name, body, &reader.schema),
        };
        record.map_err(|e| match e {
            crate::records::union::UnionError::UnknownRecord(full_name) => {
                DecodeError::UnexpectedRecord {
                    id,
                    full_name,
                    topic: U::KIND.topic(),
                }
            }
            e @ (crate::records::union::UnionError::Body(_)
            | crate::records::union::UnionError::Malformed(_)) => DecodeError::Body {
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

/// The codec's maps are keyed by the record names and schema ids it was set up with
/// or learned from the registry, never by anything a record alone can add, so they
/// hash a word at a time (as rustc's FxHash does) rather than with SipHash, which
/// was an eighth of an encode.
type Keys = BuildHasherDefault<KeyHasher>;

#[derive(Debug, Default, Clone, Copy)]
struct KeyHasher(u64);

impl KeyHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut buffer = [0u8; 8];
            buffer.copy_from_slice(word);
            self.add(u64::from_le_bytes(buffer));
        }
        let rest = words.remainder();
        let mut buffer = [0u8; 8];
        buffer[..rest.len()].copy_from_slice(rest);
        self.add(u64::from_le_bytes(buffer));
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The Parsing Canonical Form of every record's latest embedded schema, by full
/// name. A writer schema of the same form lays records out byte for byte as the
/// latest one: what the field-by-field path writes and reads.
fn latest_forms() -> &'static HashMap<String, String> {
    static FORMS: OnceLock<HashMap<String, String>> = OnceLock::new();
    FORMS.get_or_init(|| {
        // A broken catalog (its own tests catch that) only costs the fast path.
        let subjects = catalog::subjects().unwrap_or_default();
        subjects
            .iter()
            .filter_map(|subject| {
                let schema = apache_avro::Schema::parse_str(subject.latest()).ok()?;
                Some((subject.full_name.clone(), schema.canonical_form()))
            })
            .collect()
    })
}
