//! The schemas this build carries: every version of every record under
//! `schemas/avro/`, embedded at compile time, grouped into subjects.

use std::collections::BTreeMap;

/// The topics the contract covers, by the kind of record they carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Commands,
    Events,
    Results,
}

impl Kind {
    /// The folder under `schemas/avro/`.
    pub const fn folder(self) -> &'static str {
        match self {
            Kind::Commands => "commands",
            Kind::Events => "events",
            Kind::Results => "results",
        }
    }

    /// The topic that carries this kind of record.
    pub const fn topic(self) -> &'static str {
        match self {
            Kind::Commands => crate::topics::COMMANDS,
            Kind::Events => crate::topics::EVENTS,
            Kind::Results => crate::topics::RESULTS,
        }
    }

    fn from_folder(folder: &str) -> Option<Self> {
        [Kind::Commands, Kind::Events, Kind::Results]
            .into_iter()
            .find(|k| k.folder() == folder)
    }
}

/// One `.avsc` file: embedded by the build script, or read by [`read_dir`].
#[derive(Debug, Clone, Copy)]
pub struct CatalogEntry<'a> {
    pub kind: &'a str,
    pub record: &'a str,
    pub version: u32,
    pub json: &'a str,
}

/// Every schema file under `schemas/avro/`, sorted by kind, record and version.
pub static ENTRIES: &[CatalogEntry<'static>] = include!(concat!(env!("OUT_DIR"), "/catalog.rs"));

/// The history of one record type: a subject on its topic.
#[derive(Debug, Clone)]
pub struct Subject<'a> {
    pub kind: Kind,
    /// The record's full name, e.g. `ledgerstream.account.events.MoneyWithdrawn`.
    pub full_name: String,
    /// Every published version, oldest first: `versions[0]` is v1.
    pub versions: Vec<&'a str>,
}

impl<'a> Subject<'a> {
    /// The subject name under TopicRecordNameStrategy: `<topic>-<full name>`.
    pub fn name(&self) -> String {
        subject_name(self.kind.topic(), &self.full_name)
    }

    /// The version producers write now.
    pub fn latest(&self) -> &'a str {
        self.versions.last().copied().unwrap_or_default()
    }
}

/// `<topic>-<record full name>`: the TopicRecordNameStrategy.
pub fn subject_name(topic: &str, full_name: &str) -> String {
    format!("{topic}-{full_name}")
}

/// A catalog that does not hold together.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("schemas/avro/{kind}: not a kind of record; use commands, events or results")]
    UnknownKind { kind: String },
    #[error("schemas/avro/{kind}/{record}/v{version}.avsc: {reason}")]
    BadSchema {
        kind: String,
        record: String,
        version: u32,
        reason: String,
    },
    #[error(
        "schemas/avro/{kind}/{record}: versions must run v1, v2, ... without gaps; found {found:?}"
    )]
    VersionGap {
        kind: String,
        record: String,
        found: Vec<u32>,
    },
}

/// Groups [`ENTRIES`] into subjects, checking that each file parses, names the
/// record of its folder, and that versions have no gaps.
pub fn subjects() -> Result<Vec<Subject<'static>>, CatalogError> {
    subjects_of(ENTRIES)
}

/// Like [`subjects`], over any list of entries.
pub fn subjects_of<'a>(entries: &[CatalogEntry<'a>]) -> Result<Vec<Subject<'a>>, CatalogError> {
    let mut grouped: BTreeMap<(&str, &str), Vec<&CatalogEntry<'a>>> = BTreeMap::new();
    for entry in entries {
        grouped
            .entry((entry.kind, entry.record))
            .or_default()
            .push(entry);
    }
    let mut subjects = Vec::new();
    for ((kind_folder, record), mut files) in grouped {
        let kind = Kind::from_folder(kind_folder).ok_or_else(|| CatalogError::UnknownKind {
            kind: kind_folder.to_owned(),
        })?;
        files.sort_by_key(|entry| entry.version);
        let found: Vec<u32> = files.iter().map(|entry| entry.version).collect();
        if found.iter().enumerate().any(|(i, v)| *v as usize != i + 1) {
            return Err(CatalogError::VersionGap {
                kind: kind_folder.to_owned(),
                record: record.to_owned(),
                found,
            });
        }
        let mut full_name = String::new();
        for entry in &files {
            let bad = |reason: String| CatalogError::BadSchema {
                kind: kind_folder.to_owned(),
                record: record.to_owned(),
                version: entry.version,
                reason,
            };
            let schema =
                apache_avro::Schema::parse_str(entry.json).map_err(|e| bad(e.to_string()))?;
            let apache_avro::Schema::Record(record_schema) = &schema else {
                return Err(bad("the top level must be a record".to_owned()));
            };
            let name = record_schema.name.fullname(None);
            if record_schema.name.name() != record {
                return Err(bad(format!(
                    "the record is named {name}, not {record} like its folder"
                )));
            }
            if !full_name.is_empty() && name != full_name {
                return Err(bad(format!(
                    "renames the record from {full_name} to {name}"
                )));
            }
            full_name = name;
        }
        subjects.push(Subject {
            kind,
            full_name,
            versions: files.iter().map(|e| e.json).collect(),
        });
    }
    Ok(subjects)
}

/// The files of a schema folder laid out like `schemas/avro/`
/// (`<kind>/<Record>/v<N>.avsc`), read from disk.
#[derive(Debug, Default)]
pub struct Files {
    files: Vec<(String, String, u32, String)>,
}

impl Files {
    /// The entries, for [`subjects_of`].
    pub fn entries(&self) -> Vec<CatalogEntry<'_>> {
        self.files
            .iter()
            .map(|(kind, record, version, json)| CatalogEntry {
                kind,
                record,
                version: *version,
                json,
            })
            .collect()
    }
}

/// Reads every `<kind>/<Record>/v<N>.avsc` under `dir`.
pub fn read_dir(dir: &std::path::Path) -> Result<Files, std::io::Error> {
    let mut files = Files::default();
    let name_of = |entry: &std::fs::DirEntry| entry.file_name().to_string_lossy().into_owned();
    for kind in std::fs::read_dir(dir)? {
        let kind = kind?;
        if !kind.file_type()?.is_dir() {
            continue;
        }
        for record in std::fs::read_dir(kind.path())? {
            let record = record?;
            if !record.file_type()?.is_dir() {
                continue;
            }
            for file in std::fs::read_dir(record.path())? {
                let file = file?;
                let name = name_of(&file);
                let Some(version) = name
                    .strip_prefix('v')
                    .and_then(|rest| rest.strip_suffix(".avsc"))
                    .and_then(|n| n.parse().ok())
                else {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!(
                            "{}: schema files are named v<N>.avsc",
                            file.path().display()
                        ),
                    ));
                };
                let json = std::fs::read_to_string(file.path())?;
                files
                    .files
                    .push((name_of(&kind), name_of(&record), version, json));
            }
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_catalog_holds_together() {
        let subjects = subjects().expect("catalog");
        assert_eq!(
            subjects.len(),
            16,
            "{:?}",
            subjects.iter().map(|s| &s.full_name).collect::<Vec<_>>()
        );
        let withdrawn = subjects
            .iter()
            .find(|s| s.full_name == "ledgerstream.account.events.MoneyWithdrawn")
            .expect("MoneyWithdrawn");
        assert_eq!(withdrawn.versions.len(), 2);
        assert_eq!(
            withdrawn.name(),
            "account-events-ledgerstream.account.events.MoneyWithdrawn"
        );
    }

    #[test]
    fn the_files_on_disk_are_the_embedded_ones() {
        let files =
            read_dir(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("avro")).unwrap();
        let mut on_disk: Vec<_> = files
            .entries()
            .iter()
            .map(|e| (e.kind, e.record, e.version, e.json))
            .collect();
        on_disk.sort();
        let embedded: Vec<_> = ENTRIES
            .iter()
            .map(|e| (e.kind, e.record, e.version, e.json))
            .collect();
        assert_eq!(on_disk, embedded);
    }

    const V1: &str = r#"{"type":"record","name":"A","namespace":"n","fields":[]}"#;

    fn entry(record: &'static str, version: u32, json: &'static str) -> CatalogEntry<'static> {
        CatalogEntry {
            kind: "events",
            record,
            version,
            json,
        }
    }

    #[test]
    fn a_gap_in_versions_is_refused() {
        let error = subjects_of(&[entry("A", 1, V1), entry("A", 3, V1)]).unwrap_err();
        assert!(matches!(error, CatalogError::VersionGap { .. }), "{error}");
    }

    #[test]
    fn a_file_in_the_wrong_folder_or_renamed_is_refused() {
        let error = subjects_of(&[entry("B", 1, V1)]).unwrap_err();
        assert!(
            error.to_string().contains("not B like its folder"),
            "{error}"
        );
        let renamed = r#"{"type":"record","name":"A","namespace":"other","fields":[]}"#;
        let error = subjects_of(&[entry("A", 1, V1), entry("A", 2, renamed)]).unwrap_err();
        assert!(error.to_string().contains("renames the record"), "{error}");
    }

    #[test]
    fn an_unparsable_schema_names_its_file() {
        let error = subjects_of(&[entry("A", 1, "{not json")]).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("schemas/avro/events/A/v1.avsc:"),
            "{error}"
        );
    }
}
