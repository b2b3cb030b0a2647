//! What each write means for the `_schemas` topic: given the state and a request, the
//! records to append (or the rejection), decided without side effects. The caller
//! writes them in order and applies each once the broker has it.

use ledgerstream_schemas::compat::{self, CompatibilityLevel};

use super::error::RegistryError;
use super::record::{Record, SchemaValue};
use super::schema::ParsedSchema;
use super::store::{Store, VersionSpec};

/// The outcome of registering a schema under a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    /// The subject already holds this schema: nothing to write.
    Existing { id: u32, version: u32 },
    /// A new version: write `records`, the first of which creates it.
    New {
        id: u32,
        version: u32,
        records: Vec<Record>,
    },
}

/// Registers `schema` under `subject`: the existing version when the subject holds the
/// same schema; otherwise a new version, if it is compatible with the subject's live
/// versions at the level that applies (409 if not). The id is the one any subject
/// already uses for this schema, or a new one.
pub fn register(
    store: &Store,
    subject: &str,
    schema: &ParsedSchema,
) -> Result<Registration, RegistryError> {
    let known_id = store.id_of(schema);
    let entries = store.entries(subject);
    if let Some(id) = known_id {
        let live_match = entries
            .iter()
            .rev()
            .find(|(_, entry)| entry.id == id && !entry.deleted);
        if let Some((version, _)) = live_match {
            return Ok(Registration::Existing {
                id,
                version: *version,
            });
        }
    }

    let live: Vec<_> = entries
        .iter()
        .filter(|(_, entry)| !entry.deleted)
        .filter_map(|(version, _)| store.subject_version(subject, *version))
        .collect();
    let level = store.effective_level(Some(subject));
    let earlier: Vec<_> = live.iter().map(|found| found.schema.avro.clone()).collect();
    if let Err(problems) = compat::check(level, &schema.avro, &earlier) {
        let reasons = problems
            .iter()
            .map(|problem| {
                format!(
                    "version {}: {}: {}",
                    live[problem.earlier].version, problem.direction, problem.reason
                )
            })
            .collect();
        return Err(RegistryError::Incompatible {
            subject: subject.to_owned(),
            level: level.to_string(),
            reasons,
        });
    }

    let id = known_id.unwrap_or_else(|| store.next_id());
    let version = entries.last().map_or(1, |(version, _)| version + 1);
    // One id keeps one text: a later registration with other whitespace reuses the
    // first one's.
    let text = match known_id.and_then(|id| store.schema(id).ok()) {
        Some(known) => known.text.clone(),
        None => schema.text.clone(),
    };
    let mut records = vec![schema_record(subject, version, id, text, false)];
    // As Confluent does: a soft-deleted version with the same id is superseded by the
    // new one, so it goes.
    records.extend(
        entries
            .iter()
            .filter(|(_, entry)| entry.deleted && entry.id == id)
            .map(|(old, _)| tombstone(subject, *old)),
    );
    Ok(Registration::New {
        id,
        version,
        records,
    })
}

/// Deletes one version: soft (40406 if it already is), or `permanent` (40407 unless it
/// was soft-deleted first). `latest` means the highest live version for a soft delete,
/// the highest of all for a permanent one.
pub fn delete_version(
    store: &Store,
    subject: &str,
    spec: VersionSpec,
    permanent: bool,
) -> Result<(u32, Record), RegistryError> {
    let entries = store.entries(subject);
    if entries.is_empty() {
        return Err(RegistryError::SubjectNotFound {
            subject: subject.to_owned(),
        });
    }
    let not_found = || RegistryError::VersionNotFound {
        subject: subject.to_owned(),
        version: spec.to_string(),
    };
    let (version, entry) = match spec {
        VersionSpec::Latest => entries
            .iter()
            .rev()
            .find(|(_, entry)| permanent || !entry.deleted)
            .copied()
            .ok_or_else(not_found)?,
        VersionSpec::Number(number) => entries
            .iter()
            .find(|(version, _)| *version == number)
            .copied()
            .ok_or_else(not_found)?,
    };
    match (permanent, entry.deleted) {
        (false, true) => Err(RegistryError::VersionSoftDeleted {
            subject: subject.to_owned(),
            version,
        }),
        (true, false) => Err(RegistryError::VersionNotSoftDeleted {
            subject: subject.to_owned(),
            version,
        }),
        (true, true) => Ok((version, tombstone(subject, version))),
        (false, false) => {
            let found = store
                .subject_version(subject, version)
                .ok_or_else(not_found)?;
            let record = schema_record(subject, version, entry.id, found.schema.text.clone(), true);
            Ok((version, record))
        }
    }
}

/// Deletes a subject: soft marks every live version deleted and drops the subject's
/// level, as Confluent does (40404 if nothing is live); `permanent` removes every
/// version (40405 while one is live). Answers the versions deleted.
pub fn delete_subject(
    store: &Store,
    subject: &str,
    permanent: bool,
) -> Result<(Vec<u32>, Vec<Record>), RegistryError> {
    let entries = store.entries(subject);
    if entries.is_empty() {
        return Err(RegistryError::SubjectNotFound {
            subject: subject.to_owned(),
        });
    }
    let any_live = entries.iter().any(|(_, entry)| !entry.deleted);
    let mut versions = Vec::new();
    let mut records = Vec::new();
    if permanent {
        if any_live {
            return Err(RegistryError::SubjectNotSoftDeleted {
                subject: subject.to_owned(),
            });
        }
        for (version, _) in &entries {
            versions.push(*version);
            records.push(tombstone(subject, *version));
        }
    } else {
        if !any_live {
            return Err(RegistryError::SubjectSoftDeleted {
                subject: subject.to_owned(),
            });
        }
        for (version, entry) in entries.iter().filter(|(_, entry)| !entry.deleted) {
            let Some(found) = store.subject_version(subject, *version) else {
                continue;
            };
            versions.push(*version);
            records.push(schema_record(
                subject,
                *version,
                entry.id,
                found.schema.text.clone(),
                true,
            ));
        }
    }
    if store.level(Some(subject)).is_some() {
        records.push(set_level(Some(subject), None));
    }
    Ok((versions, records))
}

/// Sets (`Some`) or removes (`None`) a level: of the subject, or the global one.
pub fn set_level(subject: Option<&str>, level: Option<CompatibilityLevel>) -> Record {
    Record::Config {
        subject: subject.map(str::to_owned),
        level,
    }
}

/// Removes the subject's own level; 40401 when it has none (Confluent answers so).
pub fn delete_subject_level(
    store: &Store,
    subject: &str,
) -> Result<(CompatibilityLevel, Record), RegistryError> {
    let level = store
        .level(Some(subject))
        .ok_or_else(|| RegistryError::SubjectNotFound {
            subject: subject.to_owned(),
        })?;
    Ok((level, set_level(Some(subject), None)))
}

fn schema_record(subject: &str, version: u32, id: u32, schema: String, deleted: bool) -> Record {
    Record::Schema {
        subject: subject.to_owned(),
        version,
        value: Some(SchemaValue {
            subject: subject.to_owned(),
            version,
            id,
            schema,
            schema_type: None,
            deleted,
        }),
    }
}

fn tombstone(subject: &str, version: u32) -> Record {
    Record::Schema {
        subject: subject.to_owned(),
        version,
        value: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::{mark_deleted, put, schema_text};

    fn parsed(text: &str) -> ParsedSchema {
        ParsedSchema::parse(text).unwrap()
    }

    /// Registers and applies, as the service does.
    fn register_ok(store: &mut Store, subject: &str, text: &str) -> (u32, u32) {
        match register(store, subject, &parsed(text)).unwrap() {
            Registration::Existing { id, version } => (id, version),
            Registration::New {
                id,
                version,
                records,
            } => {
                for record in records {
                    store.apply(record).unwrap();
                }
                (id, version)
            }
        }
    }

    fn apply_all(store: &mut Store, records: Vec<Record>) {
        for record in records {
            store.apply(record).unwrap();
        }
    }

    fn v1() -> String {
        schema_text(r#"{"name":"a","type":"long"}"#)
    }

    fn v2() -> String {
        schema_text(r#"{"name":"a","type":"long"},{"name":"b","type":"string","default":""}"#)
    }

    #[test]
    fn the_same_schema_under_the_same_subject_keeps_its_id_and_version() {
        let mut store = Store::default();
        assert_eq!(register_ok(&mut store, "s", &v1()), (1, 1));
        let again = register(&store, "s", &parsed(&format!("\n{}\n", v1()))).unwrap();
        assert_eq!(again, Registration::Existing { id: 1, version: 1 });
    }

    #[test]
    fn the_same_schema_under_another_subject_reuses_the_global_id() {
        let mut store = Store::default();
        register_ok(&mut store, "a", &v1());
        register_ok(&mut store, "a", &v2());
        assert_eq!(register_ok(&mut store, "b", &v2()), (2, 1));
        assert_eq!(register_ok(&mut store, "c", r#""string""#), (3, 1));
    }

    #[test]
    fn an_incompatible_schema_is_refused_with_the_version_it_breaks() {
        let mut store = Store::default();
        register_ok(&mut store, "s", &v1());
        let breaking = schema_text(r#"{"name":"a","type":"long"},{"name":"c","type":"int"}"#);
        let error = register(&store, "s", &parsed(&breaking)).unwrap_err();
        let RegistryError::Incompatible { level, reasons, .. } = &error else {
            panic!("{error}");
        };
        assert_eq!(level, "BACKWARD");
        assert!(reasons[0].starts_with("version 1: "), "{reasons:?}");
        store
            .apply(set_level(Some("s"), Some(CompatibilityLevel::None)))
            .unwrap();
        assert_eq!(register_ok(&mut store, "s", &breaking), (2, 2));
    }

    #[test]
    fn soft_deleted_versions_are_not_checked_against_and_versions_keep_counting() {
        let mut store = Store::default();
        register_ok(&mut store, "s", &v1());
        mark_deleted(&mut store, "s", 1);
        let unrelated = r#""string""#;
        assert_eq!(register_ok(&mut store, "s", unrelated), (2, 2));
    }

    #[test]
    fn re_registering_a_soft_deleted_schema_makes_a_new_version_and_drops_the_old() {
        let mut store = Store::default();
        register_ok(&mut store, "s", &v1());
        mark_deleted(&mut store, "s", 1);
        let Registration::New {
            id,
            version,
            records,
        } = register(&store, "s", &parsed(&v1())).unwrap()
        else {
            panic!("a soft-deleted version is not the subject's any more");
        };
        assert_eq!((id, version), (1, 2));
        assert_eq!(records.len(), 2);
        assert_eq!(records[1], tombstone("s", 1));
    }

    #[test]
    fn a_hard_deleted_subject_starts_again_at_version_one() {
        let mut store = Store::default();
        register_ok(&mut store, "s", &v1());
        let (_, records) = delete_subject(&store, "s", false).unwrap();
        apply_all(&mut store, records);
        let (_, records) = delete_subject(&store, "s", true).unwrap();
        apply_all(&mut store, records);
        assert_eq!(
            register_ok(&mut store, "s", &v1()),
            (2, 1),
            "a new id, though"
        );
    }

    #[test]
    fn a_version_is_soft_deleted_once_then_hard_deleted_once() {
        let mut store = Store::default();
        register_ok(&mut store, "s", &v1());
        register_ok(&mut store, "s", &v2());
        let hard_first = delete_version(&store, "s", VersionSpec::Number(1), true).unwrap_err();
        assert_eq!(hard_first.error_code(), 40407);
        let (version, record) = delete_version(&store, "s", VersionSpec::Latest, false).unwrap();
        assert_eq!(version, 2);
        store.apply(record).unwrap();
        let again = delete_version(&store, "s", VersionSpec::Number(2), false).unwrap_err();
        assert_eq!(again.error_code(), 40406);
        let (version, record) = delete_version(&store, "s", VersionSpec::Latest, true).unwrap();
        assert_eq!((version, record), (2, tombstone("s", 2)));
        let missing = delete_version(&store, "s", VersionSpec::Number(9), false).unwrap_err();
        assert_eq!(missing.error_code(), 40402);
        let unknown = delete_version(&store, "t", VersionSpec::Latest, false).unwrap_err();
        assert_eq!(unknown.error_code(), 40401);
    }

    #[test]
    fn a_subject_is_soft_deleted_before_it_is_hard_deleted() {
        let mut store = Store::default();
        register_ok(&mut store, "s", &v1());
        register_ok(&mut store, "s", &v2());
        store
            .apply(set_level(Some("s"), Some(CompatibilityLevel::Full)))
            .unwrap();
        let hard_first = delete_subject(&store, "s", true).unwrap_err();
        assert_eq!(hard_first.error_code(), 40405);

        let (versions, records) = delete_subject(&store, "s", false).unwrap();
        assert_eq!(versions, [1, 2]);
        assert_eq!(records.last(), Some(&set_level(Some("s"), None)));
        apply_all(&mut store, records);
        assert_eq!(
            store.level(Some("s")),
            None,
            "a soft delete drops the level"
        );
        assert!(store.schema(1).is_ok(), "ids stay readable");
        let again = delete_subject(&store, "s", false).unwrap_err();
        assert_eq!(again.error_code(), 40404);

        let (versions, records) = delete_subject(&store, "s", true).unwrap();
        assert_eq!(versions, [1, 2]);
        apply_all(&mut store, records);
        assert_eq!(store.schema(1).unwrap_err().error_code(), 40403);
        let gone = delete_subject(&store, "s", false).unwrap_err();
        assert_eq!(gone.error_code(), 40401);
    }

    #[test]
    fn deleting_a_subject_level_needs_one() {
        let mut store = Store::default();
        assert_eq!(
            delete_subject_level(&store, "s").unwrap_err().error_code(),
            40401
        );
        store
            .apply(set_level(Some("s"), Some(CompatibilityLevel::Forward)))
            .unwrap();
        let (old, record) = delete_subject_level(&store, "s").unwrap();
        assert_eq!(old, CompatibilityLevel::Forward);
        assert_eq!(record, set_level(Some("s"), None));
    }

    #[test]
    fn a_new_id_follows_the_highest_even_after_that_one_was_deleted() {
        let mut store = Store::default();
        put(&mut store, "s", 1, 41, &v1());
        mark_deleted(&mut store, "s", 1);
        let (_, records) = delete_subject(&store, "s", true).unwrap();
        apply_all(&mut store, records);
        assert_eq!(register_ok(&mut store, "t", &v2()), (42, 1));
    }
}
