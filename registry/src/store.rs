//! The registry's state in memory: what the `_schemas` topic says, folded record by
//! record ([`Store::apply`]), and the questions the API asks of it. Nothing here does
//! I/O; deciding what to write is [`super::rules`].

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use ledgerstream_schemas::compat::CompatibilityLevel;

use super::error::RegistryError;
use super::record::{Record, SchemaValue};
use super::schema::{AVRO, ParsedSchema};

/// The level that applies when neither the subject nor the registry has one.
pub const DEFAULT_LEVEL: CompatibilityLevel = CompatibilityLevel::Backward;

/// The highest version or id Confluent accepts (a Java `int`).
const MAX_NUMBER: u32 = i32::MAX as u32;

/// A version as a request names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSpec {
    /// The highest version (`latest`, or `-1` as Confluent also accepts).
    Latest,
    Number(u32),
}

impl VersionSpec {
    /// `latest`, `-1`, or a number in [1, 2^31-1]; anything else is 42202.
    pub fn parse(text: &str) -> Result<Self, RegistryError> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("latest") || text == "-1" {
            return Ok(Self::Latest);
        }
        match text.parse::<u32>() {
            Ok(number) if (1..=MAX_NUMBER).contains(&number) => Ok(Self::Number(number)),
            _ => Err(RegistryError::InvalidVersion(text.to_owned())),
        }
    }
}

impl std::fmt::Display for VersionSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Latest => f.write_str("latest"),
            Self::Number(number) => write!(f, "{number}"),
        }
    }
}

/// One version of a subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub id: u32,
    pub deleted: bool,
}

/// A version of a subject, with its schema.
#[derive(Debug, Clone)]
pub struct SubjectVersion {
    pub subject: String,
    pub version: u32,
    pub id: u32,
    pub deleted: bool,
    pub schema: Arc<ParsedSchema>,
}

/// A schema and how many versions (of any subject) use its id.
#[derive(Debug)]
struct Stored {
    schema: Arc<ParsedSchema>,
    uses: usize,
}

/// A record that could not be applied, and so was left out of the state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Skipped {
    #[error("version {version} of '{subject}' has schema type {kind}, which is not served")]
    OtherType {
        subject: String,
        version: u32,
        kind: String,
    },
    #[error("version {version} of '{subject}' holds an invalid schema: {reason}")]
    Invalid {
        subject: String,
        version: u32,
        reason: String,
    },
}

/// Everything the registry knows.
#[derive(Debug, Default)]
pub struct Store {
    /// Subject → version → entry, soft-deleted versions included.
    pub(super) subjects: BTreeMap<String, BTreeMap<u32, Entry>>,
    schemas: HashMap<u32, Stored>,
    /// Form (see [`super::schema`]) → id.
    ids_by_form: HashMap<String, u32>,
    global_level: Option<CompatibilityLevel>,
    subject_levels: BTreeMap<String, CompatibilityLevel>,
    /// The highest id ever seen, tombstoned ones included: ids are never reused while
    /// the registry runs.
    max_id: u32,
}

impl Store {
    /// Folds one record into the state; a record for a key already present replaces it.
    pub fn apply(&mut self, record: Record) -> Result<(), Skipped> {
        match record {
            Record::Schema {
                subject,
                version,
                value,
            } => self.apply_schema(subject, version, value),
            Record::Config { subject, level } => {
                match (subject, level) {
                    (None, level) => self.global_level = level,
                    (Some(subject), Some(level)) => {
                        self.subject_levels.insert(subject, level);
                    }
                    (Some(subject), None) => {
                        self.subject_levels.remove(&subject);
                    }
                }
                Ok(())
            }
        }
    }

    fn apply_schema(
        &mut self,
        subject: String,
        version: u32,
        value: Option<SchemaValue>,
    ) -> Result<(), Skipped> {
        if let Some(versions) = self.subjects.get_mut(&subject)
            && let Some(old) = versions.remove(&version)
        {
            if versions.is_empty() {
                self.subjects.remove(&subject);
            }
            self.release(old.id);
        }
        let Some(value) = value else {
            return Ok(());
        };
        self.max_id = self.max_id.max(value.id);
        if let Some(kind) = value.schema_type.filter(|kind| kind != AVRO) {
            return Err(Skipped::OtherType {
                subject,
                version,
                kind,
            });
        }
        match self.schemas.get_mut(&value.id) {
            Some(stored) => stored.uses += 1,
            None => {
                let schema = ParsedSchema::parse(&value.schema).map_err(|e| Skipped::Invalid {
                    subject: subject.clone(),
                    version,
                    reason: e.to_string(),
                })?;
                self.ids_by_form
                    .entry(schema.form.clone())
                    .or_insert(value.id);
                self.schemas.insert(
                    value.id,
                    Stored {
                        schema: Arc::new(schema),
                        uses: 1,
                    },
                );
            }
        }
        let entry = Entry {
            id: value.id,
            deleted: value.deleted,
        };
        self.subjects
            .entry(subject)
            .or_default()
            .insert(version, entry);
        Ok(())
    }

    /// One version fewer uses `id`; the last one takes the schema with it.
    fn release(&mut self, id: u32) {
        let Some(stored) = self.schemas.get_mut(&id) else {
            return;
        };
        stored.uses -= 1;
        if stored.uses > 0 {
            return;
        }
        if let Some(stored) = self.schemas.remove(&id)
            && self.ids_by_form.get(&stored.schema.form) == Some(&id)
        {
            self.ids_by_form.remove(&stored.schema.form);
        }
    }

    /// Marks `id` as taken although no record holds it (a write that may have reached
    /// the topic without being confirmed).
    pub fn reserve_id(&mut self, id: u32) {
        self.max_id = self.max_id.max(id);
    }

    /// The id a new schema gets.
    pub fn next_id(&self) -> u32 {
        self.max_id + 1
    }

    /// The id of a schema with this form, if any subject holds one.
    pub fn id_of(&self, schema: &ParsedSchema) -> Option<u32> {
        self.ids_by_form.get(&schema.form).copied()
    }

    /// Subjects with a version that is not soft-deleted (or with any, `deleted`).
    pub fn subjects(&self, deleted: bool) -> Vec<String> {
        self.subjects
            .iter()
            .filter(|(_, versions)| deleted || versions.values().any(|e| !e.deleted))
            .map(|(subject, _)| subject.clone())
            .collect()
    }

    /// How many subjects have a live version.
    pub fn live_subject_count(&self) -> usize {
        self.subjects
            .values()
            .filter(|versions| versions.values().any(|e| !e.deleted))
            .count()
    }

    /// How many schemas (ids) the registry holds.
    pub fn schema_count(&self) -> usize {
        self.schemas.len()
    }

    /// The subject's versions, oldest first; 40401 when there are none to show.
    pub fn versions(&self, subject: &str, deleted: bool) -> Result<Vec<u32>, RegistryError> {
        let versions: Vec<u32> = self
            .subjects
            .get(subject)
            .into_iter()
            .flatten()
            .filter(|(_, entry)| deleted || !entry.deleted)
            .map(|(version, _)| *version)
            .collect();
        if versions.is_empty() {
            return Err(RegistryError::SubjectNotFound {
                subject: subject.to_owned(),
            });
        }
        Ok(versions)
    }

    /// Every version of the subject, soft-deleted ones included, oldest first.
    pub fn entries(&self, subject: &str) -> Vec<(u32, Entry)> {
        self.subjects
            .get(subject)
            .into_iter()
            .flatten()
            .map(|(version, entry)| (*version, *entry))
            .collect()
    }

    /// One version: 40401 when the subject has none to show, 40402 when this one is
    /// missing (or soft-deleted, unless `deleted`).
    pub fn version(
        &self,
        subject: &str,
        spec: VersionSpec,
        deleted: bool,
    ) -> Result<SubjectVersion, RegistryError> {
        let versions = self.versions(subject, deleted)?;
        let version = match spec {
            VersionSpec::Latest => versions.last().copied(),
            VersionSpec::Number(number) => versions.contains(&number).then_some(number),
        };
        version
            .and_then(|version| self.subject_version(subject, version))
            .ok_or_else(|| RegistryError::VersionNotFound {
                subject: subject.to_owned(),
                version: spec.to_string(),
            })
    }

    /// The version with its schema, whatever its state.
    pub fn subject_version(&self, subject: &str, version: u32) -> Option<SubjectVersion> {
        let entry = self.subjects.get(subject)?.get(&version)?;
        let stored = self.schemas.get(&entry.id)?;
        Some(SubjectVersion {
            subject: subject.to_owned(),
            version,
            id: entry.id,
            deleted: entry.deleted,
            schema: Arc::clone(&stored.schema),
        })
    }

    /// The schema with this id, soft-deleted versions included (the id stays readable
    /// until every version using it is hard-deleted); 40403 otherwise.
    pub fn schema(&self, id: u32) -> Result<Arc<ParsedSchema>, RegistryError> {
        self.schemas
            .get(&id)
            .map(|stored| Arc::clone(&stored.schema))
            .ok_or_else(|| RegistryError::SchemaNotFound {
                what: format!("schema {id}"),
            })
    }

    /// Every (subject, version) that uses the id; 40403 when the id is unknown.
    pub fn uses_of(&self, id: u32, deleted: bool) -> Result<Vec<(String, u32)>, RegistryError> {
        self.schema(id)?;
        Ok(self
            .subjects
            .iter()
            .flat_map(|(subject, versions)| {
                versions
                    .iter()
                    .filter(move |(_, entry)| entry.id == id && (deleted || !entry.deleted))
                    .map(move |(version, _)| (subject.clone(), *version))
            })
            .collect())
    }

    /// The version of the subject that holds this schema: 40401 when the subject has no
    /// versions to search, 40403 when none matches.
    pub fn lookup(
        &self,
        subject: &str,
        schema: &ParsedSchema,
        deleted: bool,
    ) -> Result<SubjectVersion, RegistryError> {
        let versions = self.versions(subject, deleted)?;
        let id = self.id_of(schema);
        versions
            .into_iter()
            .rev()
            .filter_map(|version| self.subject_version(subject, version))
            .find(|found| Some(found.id) == id)
            .ok_or_else(|| RegistryError::SchemaNotFound {
                what: format!("the schema, under subject '{subject}',"),
            })
    }

    /// The subject's own level, if it has one (`None` subject: the global one, if set).
    pub fn level(&self, subject: Option<&str>) -> Option<CompatibilityLevel> {
        match subject {
            Some(subject) => self.subject_levels.get(subject).copied(),
            None => self.global_level,
        }
    }

    /// The level that applies: the subject's, else the global one, else the default.
    pub fn effective_level(&self, subject: Option<&str>) -> CompatibilityLevel {
        subject
            .and_then(|subject| self.level(Some(subject)))
            .or(self.global_level)
            .unwrap_or(DEFAULT_LEVEL)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub fn schema_text(fields: &str) -> String {
        format!(r#"{{"type":"record","name":"R","fields":[{fields}]}}"#)
    }

    pub fn put(store: &mut Store, subject: &str, version: u32, id: u32, text: &str) {
        store
            .apply(Record::Schema {
                subject: subject.into(),
                version,
                value: Some(SchemaValue {
                    subject: subject.into(),
                    version,
                    id,
                    schema: text.into(),
                    schema_type: None,
                    deleted: false,
                }),
            })
            .unwrap();
    }

    pub fn mark_deleted(store: &mut Store, subject: &str, version: u32) {
        let current = store.subject_version(subject, version).unwrap();
        store
            .apply(Record::Schema {
                subject: subject.into(),
                version,
                value: Some(SchemaValue {
                    subject: subject.into(),
                    version,
                    id: current.id,
                    schema: current.schema.text.clone(),
                    schema_type: None,
                    deleted: true,
                }),
            })
            .unwrap();
    }

    fn tombstone(store: &mut Store, subject: &str, version: u32) {
        store
            .apply(Record::Schema {
                subject: subject.into(),
                version,
                value: None,
            })
            .unwrap();
    }

    #[test]
    fn versions_parse_as_confluent_accepts_them() {
        assert_eq!(VersionSpec::parse("latest"), Ok(VersionSpec::Latest));
        assert_eq!(VersionSpec::parse("-1"), Ok(VersionSpec::Latest));
        assert_eq!(VersionSpec::parse("7"), Ok(VersionSpec::Number(7)));
        assert_eq!(
            VersionSpec::parse("2147483647"),
            Ok(VersionSpec::Number(2_147_483_647))
        );
        for bad in ["0", "-2", "2147483648", "one", "", "1.5"] {
            let error = VersionSpec::parse(bad).unwrap_err();
            assert_eq!(error.error_code(), 42202, "{bad}");
        }
    }

    #[test]
    fn latest_is_the_highest_live_version_and_numbers_must_exist() {
        let mut store = Store::default();
        put(&mut store, "s", 1, 1, &schema_text(""));
        put(
            &mut store,
            "s",
            2,
            2,
            &schema_text(r#"{"name":"a","type":"int"}"#),
        );
        assert_eq!(
            store
                .version("s", VersionSpec::Latest, false)
                .unwrap()
                .version,
            2
        );
        mark_deleted(&mut store, "s", 2);
        assert_eq!(
            store
                .version("s", VersionSpec::Latest, false)
                .unwrap()
                .version,
            1
        );
        assert_eq!(
            store
                .version("s", VersionSpec::Latest, true)
                .unwrap()
                .version,
            2
        );
        let missing = store
            .version("s", VersionSpec::Number(2), false)
            .unwrap_err();
        assert_eq!(missing.error_code(), 40402);
        let unknown = store.version("t", VersionSpec::Latest, false).unwrap_err();
        assert_eq!(unknown.error_code(), 40401);
    }

    #[test]
    fn a_subject_with_only_soft_deleted_versions_is_listed_only_when_asked() {
        let mut store = Store::default();
        put(&mut store, "a", 1, 1, &schema_text(""));
        put(&mut store, "b", 1, 1, &schema_text(""));
        mark_deleted(&mut store, "b", 1);
        assert_eq!(store.subjects(false), ["a"]);
        assert_eq!(store.subjects(true), ["a", "b"]);
        assert_eq!(store.versions("b", false).unwrap_err().error_code(), 40401);
        assert_eq!(store.versions("b", true).unwrap(), [1]);
        assert_eq!(store.live_subject_count(), 1);
    }

    #[test]
    fn ids_outlive_soft_deletes_and_go_with_the_last_hard_delete() {
        let mut store = Store::default();
        let text = schema_text("");
        put(&mut store, "a", 1, 5, &text);
        put(&mut store, "b", 1, 5, &text);
        mark_deleted(&mut store, "a", 1);
        tombstone(&mut store, "a", 1);
        assert_eq!(store.schema(5).unwrap().text, text, "b still uses id 5");
        assert_eq!(store.uses_of(5, true).unwrap(), [("b".to_owned(), 1)]);
        mark_deleted(&mut store, "b", 1);
        assert!(
            store.schema(5).is_ok(),
            "a soft-deleted version keeps its id"
        );
        tombstone(&mut store, "b", 1);
        assert_eq!(store.schema(5).unwrap_err().error_code(), 40403);
        assert!(store.subjects(true).is_empty());
        assert_eq!(
            store.next_id(),
            6,
            "a hard-deleted id is not handed out again"
        );
    }

    #[test]
    fn the_next_id_follows_the_highest_seen_and_reservations() {
        let mut store = Store::default();
        assert_eq!(store.next_id(), 1);
        put(&mut store, "a", 1, 9, &schema_text(""));
        put(
            &mut store,
            "a",
            2,
            3,
            &schema_text(r#"{"name":"a","type":"int"}"#),
        );
        assert_eq!(store.next_id(), 10);
        store.reserve_id(12);
        assert_eq!(store.next_id(), 13);
    }

    #[test]
    fn lookup_finds_the_version_holding_the_same_schema() {
        let mut store = Store::default();
        let v1 = schema_text("");
        put(&mut store, "s", 1, 1, &v1);
        let same = ParsedSchema::parse(&format!(" {v1} ")).unwrap();
        assert_eq!(store.lookup("s", &same, false).unwrap().version, 1);
        let other = ParsedSchema::parse(r#""string""#).unwrap();
        assert_eq!(
            store.lookup("s", &other, false).unwrap_err().error_code(),
            40403
        );
        assert_eq!(
            store.lookup("t", &same, false).unwrap_err().error_code(),
            40401
        );
    }

    #[test]
    fn levels_fall_back_from_subject_to_global_to_backward() {
        let mut store = Store::default();
        assert_eq!(
            store.effective_level(Some("s")),
            CompatibilityLevel::Backward
        );
        store
            .apply(Record::Config {
                subject: None,
                level: Some(CompatibilityLevel::Full),
            })
            .unwrap();
        assert_eq!(store.effective_level(Some("s")), CompatibilityLevel::Full);
        assert_eq!(store.level(Some("s")), None);
        store
            .apply(Record::Config {
                subject: Some("s".into()),
                level: Some(CompatibilityLevel::None),
            })
            .unwrap();
        assert_eq!(store.effective_level(Some("s")), CompatibilityLevel::None);
        store
            .apply(Record::Config {
                subject: Some("s".into()),
                level: None,
            })
            .unwrap();
        assert_eq!(store.effective_level(Some("s")), CompatibilityLevel::Full);
    }

    #[test]
    fn records_of_other_types_or_invalid_schemas_are_skipped_but_keep_their_id() {
        let mut store = Store::default();
        let skipped = store.apply(Record::Schema {
            subject: "p".into(),
            version: 1,
            value: Some(SchemaValue {
                subject: "p".into(),
                version: 1,
                id: 4,
                schema: "syntax = \"proto3\";".into(),
                schema_type: Some("PROTOBUF".into()),
                deleted: false,
            }),
        });
        assert!(matches!(skipped, Err(Skipped::OtherType { .. })));
        assert!(store.subjects(true).is_empty());
        assert_eq!(store.next_id(), 5);
    }
}
