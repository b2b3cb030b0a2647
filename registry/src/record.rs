//! The records of the `_schemas` topic and their JSON encoding (see the module doc of
//! [`crate`] for the format).

use serde::{Deserialize, Serialize};

use ledgerstream_schemas::compat::CompatibilityLevel;

/// One record of the topic. A `None` value is a tombstone: the key is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A version of a subject.
    Schema {
        subject: String,
        version: u32,
        value: Option<SchemaValue>,
    },
    /// A compatibility level: of one subject, or the global one (`subject: None`).
    Config {
        subject: Option<String>,
        level: Option<CompatibilityLevel>,
    },
}

/// The value of a `SCHEMA` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaValue {
    pub subject: String,
    pub version: u32,
    pub id: u32,
    pub schema: String,
    /// Absent for Avro, as Confluent writes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_type: Option<String>,
    #[serde(default)]
    pub deleted: bool,
}

/// The value of a `CONFIG` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigValue {
    compatibility_level: Option<CompatibilityLevel>,
}

// Keys are serialized from these structs so that their fields always come in the same
// order: compaction matches keys byte for byte.
#[derive(Serialize)]
struct SchemaKeyOut<'a> {
    keytype: &'static str,
    subject: &'a str,
    version: u32,
    magic: u8,
}

#[derive(Serialize)]
struct ConfigKeyOut<'a> {
    keytype: &'static str,
    subject: Option<&'a str>,
    magic: u8,
}

#[derive(Deserialize)]
struct KeyIn {
    keytype: String,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    version: Option<u32>,
}

const SCHEMA: &str = "SCHEMA";
const CONFIG: &str = "CONFIG";

/// A record that could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// A key type this registry does not use (Confluent's `NOOP`, `MODE`, ...): skip it.
    #[error("key type {0} is not used by this registry")]
    OtherKeyType(String),
    /// Not a record of this format: skip it and say so.
    #[error("not a registry record: {0}")]
    Malformed(String),
}

impl Record {
    /// The key and the value (`None` for a tombstone), as written to the topic.
    pub fn encode(&self) -> Result<(Vec<u8>, Option<Vec<u8>>), serde_json::Error> {
        match self {
            Record::Schema {
                subject,
                version,
                value,
            } => {
                let key = serde_json::to_vec(&SchemaKeyOut {
                    keytype: SCHEMA,
                    subject,
                    version: *version,
                    magic: 1,
                })?;
                let value = value.as_ref().map(serde_json::to_vec).transpose()?;
                Ok((key, value))
            }
            Record::Config { subject, level } => {
                let key = serde_json::to_vec(&ConfigKeyOut {
                    keytype: CONFIG,
                    subject: subject.as_deref(),
                    magic: 0,
                })?;
                let value = level
                    .map(|level| {
                        serde_json::to_vec(&ConfigValue {
                            compatibility_level: Some(level),
                        })
                    })
                    .transpose()?;
                Ok((key, value))
            }
        }
    }

    /// Reads a record back from its key and value (`None` for a tombstone).
    pub fn decode(key: Option<&[u8]>, value: Option<&[u8]>) -> Result<Record, RecordError> {
        let key = key.ok_or_else(|| RecordError::Malformed("the record has no key".into()))?;
        let key: KeyIn =
            serde_json::from_slice(key).map_err(|e| RecordError::Malformed(format!("key: {e}")))?;
        match key.keytype.as_str() {
            SCHEMA => {
                let (Some(subject), Some(version)) = (key.subject, key.version) else {
                    return Err(RecordError::Malformed(
                        "a SCHEMA key needs a subject and a version".into(),
                    ));
                };
                let value = value
                    .map(serde_json::from_slice::<SchemaValue>)
                    .transpose()
                    .map_err(|e| RecordError::Malformed(format!("schema value: {e}")))?;
                Ok(Record::Schema {
                    subject,
                    version,
                    value,
                })
            }
            CONFIG => {
                let value = value
                    .map(serde_json::from_slice::<ConfigValue>)
                    .transpose()
                    .map_err(|e| RecordError::Malformed(format!("config value: {e}")))?;
                Ok(Record::Config {
                    subject: key.subject,
                    level: value.and_then(|v| v.compatibility_level),
                })
            }
            other => Err(RecordError::OtherKeyType(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(deleted: bool) -> SchemaValue {
        SchemaValue {
            subject: "orders-value".into(),
            version: 2,
            id: 7,
            schema: r#"{"type":"string"}"#.into(),
            schema_type: None,
            deleted,
        }
    }

    fn text(bytes: &[u8]) -> &str {
        std::str::from_utf8(bytes).unwrap()
    }

    #[test]
    fn schema_keys_and_values_are_written_as_confluent_writes_them() {
        let record = Record::Schema {
            subject: "orders-value".into(),
            version: 2,
            value: Some(value(false)),
        };
        let (key, value) = record.encode().unwrap();
        assert_eq!(
            text(&key),
            r#"{"keytype":"SCHEMA","subject":"orders-value","version":2,"magic":1}"#
        );
        assert_eq!(
            text(&value.unwrap()),
            r#"{"subject":"orders-value","version":2,"id":7,"schema":"{\"type\":\"string\"}","deleted":false}"#
        );
    }

    #[test]
    fn config_keys_name_the_subject_or_null_for_the_global_level() {
        let global = Record::Config {
            subject: None,
            level: Some(CompatibilityLevel::FullTransitive),
        };
        let (key, value) = global.encode().unwrap();
        assert_eq!(
            text(&key),
            r#"{"keytype":"CONFIG","subject":null,"magic":0}"#
        );
        assert_eq!(
            text(&value.unwrap()),
            r#"{"compatibilityLevel":"FULL_TRANSITIVE"}"#
        );
        let subject = Record::Config {
            subject: Some("s".into()),
            level: None,
        };
        let (key, value) = subject.encode().unwrap();
        assert_eq!(
            text(&key),
            r#"{"keytype":"CONFIG","subject":"s","magic":0}"#
        );
        assert_eq!(value, None, "a deleted level is a tombstone");
    }

    #[test]
    fn every_record_reads_back_as_itself() {
        let records = [
            Record::Schema {
                subject: "a".into(),
                version: 1,
                value: Some(value(true)),
            },
            Record::Schema {
                subject: "a".into(),
                version: 1,
                value: None,
            },
            Record::Config {
                subject: None,
                level: Some(CompatibilityLevel::None),
            },
            Record::Config {
                subject: Some("a".into()),
                level: None,
            },
        ];
        for record in records {
            let (key, value) = record.encode().unwrap();
            let back = Record::decode(Some(&key), value.as_deref()).unwrap();
            assert_eq!(back, record);
        }
    }

    #[test]
    fn values_written_by_confluent_with_extra_fields_are_read() {
        let key = br#"{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}"#;
        let value = br#"{"subject":"s","version":1,"id":3,"schemaType":"AVRO","schema":"\"int\"","references":[],"deleted":false,"ts":1}"#;
        let Record::Schema {
            value: Some(value), ..
        } = Record::decode(Some(key), Some(value)).unwrap()
        else {
            panic!("not a schema record");
        };
        assert_eq!((value.id, value.schema_type.as_deref()), (3, Some("AVRO")));
    }

    #[test]
    fn other_key_types_and_garbage_are_told_apart() {
        let noop = Record::decode(Some(br#"{"keytype":"NOOP","magic":0}"#), None);
        assert!(matches!(noop, Err(RecordError::OtherKeyType(t)) if t == "NOOP"));
        assert!(matches!(
            Record::decode(Some(b"not json"), None),
            Err(RecordError::Malformed(_))
        ));
        assert!(matches!(
            Record::decode(None, Some(b"{}")),
            Err(RecordError::Malformed(_))
        ));
        let no_version = Record::decode(Some(br#"{"keytype":"SCHEMA","subject":"s"}"#), None);
        assert!(matches!(no_version, Err(RecordError::Malformed(_))));
    }
}
