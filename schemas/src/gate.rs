//! The evolution gate behind `ledgerstream schemas check`: every schema version in
//! the catalog must be BACKWARD_TRANSITIVE-compatible with every earlier version of
//! its subject — those kept in the repo and, when a registry is given, those
//! registered there. A consumer built from the latest schemas can then read every
//! event ever written, which is what replaying a topic from offset zero needs.

use std::fmt;

use apache_avro::Schema;

use crate::catalog::Subject;
use crate::client::{RegistryClient, RegistryError};
use crate::compat::{self, CompatibilityLevel};

/// The level the gate holds every subject to.
pub const LEVEL: CompatibilityLevel = CompatibilityLevel::BackwardTransitive;

/// A schema that breaks the gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The subject, e.g. `account-events-ledgerstream.account.events.MoneyWithdrawn`.
    pub subject: String,
    /// The version that is refused (`v2`, or `latest` against the registry).
    pub version: String,
    /// The earlier version it cannot read (`v1`, or `registry v3 (id 12)`).
    pub earlier: String,
    /// Why, from Avro's resolution rules.
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: cannot read data written with {}: {}",
            self.subject, self.version, self.earlier, self.reason
        )
    }
}

/// Checks each version of each subject against every earlier version in the repo.
pub fn check_catalog(subjects: &[Subject<'_>]) -> Vec<Problem> {
    let mut problems = Vec::new();
    for subject in subjects {
        let parsed: Vec<Schema> = subject
            .versions
            .iter()
            .map(|json| {
                Schema::parse_str(json).expect("the catalog checks that every schema parses")
            })
            .collect();
        for (index, schema) in parsed.iter().enumerate().skip(1) {
            let Err(found) = compat::check(LEVEL, schema, &parsed[..index]) else {
                continue;
            };
            problems.extend(found.into_iter().map(|problem| Problem {
                subject: subject.name(),
                version: format!("v{}", index + 1),
                earlier: format!("v{}", problem.earlier + 1),
                reason: problem.reason,
            }));
        }
    }
    problems
}

/// Checks the latest version of each subject against every version the registry
/// holds for it. A subject the registry does not know yet passes.
pub async fn check_registry(
    subjects: &[Subject<'_>],
    client: &RegistryClient,
) -> Result<Vec<Problem>, RegistryError> {
    let mut problems = Vec::new();
    for subject in subjects {
        let name = subject.name();
        let versions = match client.versions(&name).await {
            Ok(versions) => versions,
            Err(error) if error.error_code() == Some(40401) => continue,
            Err(error) => return Err(error),
        };
        let latest = Schema::parse_str(subject.latest())
            .expect("the catalog checks that every schema parses");
        for version in versions {
            let registered = client.version(&name, version).await?;
            let earlier = format!("registry v{version} (id {})", registered.id);
            let schema = match Schema::parse_str(&registered.schema) {
                Ok(schema) => schema,
                Err(error) => {
                    problems.push(Problem {
                        subject: name.clone(),
                        version: "latest".to_owned(),
                        earlier,
                        reason: format!("the registered schema does not parse: {error}"),
                    });
                    continue;
                }
            };
            if let Err(found) = compat::check(LEVEL, &latest, &[schema]) {
                problems.extend(found.into_iter().map(|problem| Problem {
                    subject: name.clone(),
                    version: format!("latest (v{})", subject.versions.len()),
                    earlier: earlier.clone(),
                    reason: problem.reason,
                }));
            }
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{self, CatalogEntry, subjects_of};

    const V1: &str = r#"{"type":"record","name":"Thing","namespace":"t","fields":[
        {"name":"a","type":"long"}]}"#;
    const V2_WITH_DEFAULT: &str = r#"{"type":"record","name":"Thing","namespace":"t","fields":[
        {"name":"a","type":"long"},{"name":"b","type":"string","default":""}]}"#;
    const V3_WITHOUT_DEFAULT: &str = r#"{"type":"record","name":"Thing","namespace":"t","fields":[
        {"name":"a","type":"long"},{"name":"b","type":"string"}]}"#;

    fn entries(versions: &[&'static str]) -> Vec<CatalogEntry<'static>> {
        versions
            .iter()
            .enumerate()
            .map(|(i, json)| CatalogEntry {
                kind: "events",
                record: "Thing",
                version: i as u32 + 1,
                json,
            })
            .collect()
    }

    #[test]
    fn the_shipped_catalog_passes() {
        assert_eq!(check_catalog(&catalog::subjects().unwrap()), []);
    }

    #[test]
    fn adding_a_field_with_a_default_passes() {
        let subjects = subjects_of(&entries(&[V1, V2_WITH_DEFAULT])).unwrap();
        assert_eq!(check_catalog(&subjects), []);
    }

    #[test]
    fn a_version_that_cannot_read_an_earlier_one_is_refused() {
        let subjects = subjects_of(&entries(&[V1, V2_WITH_DEFAULT, V3_WITHOUT_DEFAULT])).unwrap();
        let problems = check_catalog(&subjects);
        // Transitive: v3 reads v2 data (which has `b`), but not v1 data.
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].subject, "account-events-t.Thing");
        assert_eq!(
            (problems[0].version.as_str(), problems[0].earlier.as_str()),
            ("v3", "v1")
        );
        assert!(
            problems[0]
                .to_string()
                .contains("cannot read data written with v1")
        );
    }
}
