//! Schema compatibility as the Confluent Schema Registry defines it.
//!
//! A level says which earlier versions of a subject a new schema is checked against
//! (the latest only, or every one: `_TRANSITIVE`) and in which direction:
//!
//! - `BACKWARD`: the new schema can read data written with the earlier ones
//!   (consumers upgrade first);
//! - `FORWARD`: the earlier schemas can read data written with the new one
//!   (producers upgrade first);
//! - `FULL`: both.
//!
//! The resolution rules are Avro's, through `apache_avro`'s checker. Only a full
//! match counts: a pair that resolves only for some data (`Compatibility::Partial`,
//! e.g. a union that lost a branch) is incompatible, as it is for Confluent.

use std::fmt;
use std::str::FromStr;

use apache_avro::Schema;
use apache_avro::schema_compatibility::{Compatibility, SchemaCompatibility};

/// A subject's compatibility level, named as Confluent names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CompatibilityLevel {
    None,
    Backward,
    BackwardTransitive,
    Forward,
    ForwardTransitive,
    Full,
    FullTransitive,
}

impl CompatibilityLevel {
    /// Every level, in Confluent's order.
    pub const ALL: [CompatibilityLevel; 7] = [
        Self::None,
        Self::Backward,
        Self::BackwardTransitive,
        Self::Forward,
        Self::ForwardTransitive,
        Self::Full,
        Self::FullTransitive,
    ];

    /// Confluent's name: `BACKWARD_TRANSITIVE`, ...
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::Backward => "BACKWARD",
            Self::BackwardTransitive => "BACKWARD_TRANSITIVE",
            Self::Forward => "FORWARD",
            Self::ForwardTransitive => "FORWARD_TRANSITIVE",
            Self::Full => "FULL",
            Self::FullTransitive => "FULL_TRANSITIVE",
        }
    }

    const fn transitive(self) -> bool {
        matches!(
            self,
            Self::BackwardTransitive | Self::ForwardTransitive | Self::FullTransitive
        )
    }

    const fn backward(self) -> bool {
        matches!(
            self,
            Self::Backward | Self::BackwardTransitive | Self::Full | Self::FullTransitive
        )
    }

    const fn forward(self) -> bool {
        matches!(
            self,
            Self::Forward | Self::ForwardTransitive | Self::Full | Self::FullTransitive
        )
    }
}

impl fmt::Display for CompatibilityLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a compatibility level.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{0}' is not a compatibility level; use one of NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE"
)]
pub struct UnknownLevel(pub String);

impl FromStr for CompatibilityLevel {
    type Err = UnknownLevel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|level| level.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownLevel(s.to_owned()))
    }
}

/// One reason a schema is not compatible with an earlier version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incompatibility {
    /// Position of the earlier schema in the list given to [`check`] (0 = oldest).
    pub earlier: usize,
    /// What failed: `"new schema cannot read data written with it"` (backward) or
    /// `"it cannot read data written with the new schema"` (forward).
    pub direction: &'static str,
    /// The resolution error, from Avro's rules.
    pub reason: String,
}

impl fmt::Display for Incompatibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "earlier schema #{}: {}: {}",
            self.earlier, self.direction, self.reason
        )
    }
}

const BACKWARD: &str = "the new schema cannot read data written with it";
const FORWARD: &str = "it cannot read data written with the new schema";

/// Checks `candidate` against `earlier` (oldest first) under `level`; every
/// incompatibility found, or none.
pub fn check(
    level: CompatibilityLevel,
    candidate: &Schema,
    earlier: &[Schema],
) -> Result<(), Vec<Incompatibility>> {
    if level == CompatibilityLevel::None || earlier.is_empty() {
        return Ok(());
    }
    let first = if level.transitive() {
        0
    } else {
        earlier.len() - 1
    };
    let mut problems = Vec::new();
    for (index, old) in earlier.iter().enumerate().skip(first) {
        if level.backward()
            && let Err(reason) = can_read(old, candidate)
        {
            problems.push(Incompatibility {
                earlier: index,
                direction: BACKWARD,
                reason,
            });
        }
        if level.forward()
            && let Err(reason) = can_read(candidate, old)
        {
            problems.push(Incompatibility {
                earlier: index,
                direction: FORWARD,
                reason,
            });
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn can_read(writer: &Schema, reader: &Schema) -> Result<(), String> {
    match SchemaCompatibility::can_read(writer, reader) {
        Ok(Compatibility::Full) => Ok(()),
        Ok(Compatibility::Partial) => {
            Err("only some data would resolve (e.g. a union or enum lost a branch)".to_owned())
        }
        Err(error) => Err(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(fields: &str) -> Schema {
        Schema::parse_str(&format!(
            r#"{{"type":"record","name":"R","fields":[{fields}]}}"#
        ))
        .expect("test schema parses")
    }

    fn v1() -> Schema {
        schema(r#"{"name":"a","type":"long"}"#)
    }

    fn with_default() -> Schema {
        schema(r#"{"name":"a","type":"long"},{"name":"b","type":"string","default":"x"}"#)
    }

    fn without_default() -> Schema {
        schema(r#"{"name":"a","type":"long"},{"name":"b","type":"string"}"#)
    }

    #[test]
    fn levels_parse_from_confluent_names_in_any_case() {
        for level in CompatibilityLevel::ALL {
            assert_eq!(level.as_str().parse::<CompatibilityLevel>(), Ok(level));
            assert_eq!(
                level.as_str().to_lowercase().parse::<CompatibilityLevel>(),
                Ok(level)
            );
        }
        assert!("SIDEWAYS".parse::<CompatibilityLevel>().is_err());
    }

    #[test]
    fn adding_a_field_with_a_default_is_fully_compatible() {
        for level in CompatibilityLevel::ALL {
            assert_eq!(check(level, &with_default(), &[v1()]), Ok(()), "{level}");
        }
    }

    #[test]
    fn adding_a_field_without_a_default_breaks_backward_only() {
        let new = without_default();
        let problems = check(CompatibilityLevel::Backward, &new, &[v1()]).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].direction, BACKWARD);
        assert_eq!(check(CompatibilityLevel::Forward, &new, &[v1()]), Ok(()));
        assert!(check(CompatibilityLevel::Full, &new, &[v1()]).is_err());
        assert_eq!(check(CompatibilityLevel::None, &new, &[v1()]), Ok(()));
    }

    #[test]
    fn removing_a_field_without_a_default_breaks_forward_only() {
        let old = without_default();
        assert_eq!(
            check(
                CompatibilityLevel::Backward,
                &v1(),
                std::slice::from_ref(&old)
            ),
            Ok(())
        );
        let problems = check(CompatibilityLevel::Forward, &v1(), &[old]).unwrap_err();
        assert_eq!(problems[0].direction, FORWARD);
    }

    #[test]
    fn transitive_levels_check_every_earlier_version_plain_ones_the_latest() {
        // v1 has no `b`; v2 adds it with a default; v3 drops the default. v3 reads v2
        // data (it has `b`) but not v1 data.
        let history = [v1(), with_default()];
        let v3 = without_default();
        assert_eq!(check(CompatibilityLevel::Backward, &v3, &history), Ok(()));
        let problems = check(CompatibilityLevel::BackwardTransitive, &v3, &history).unwrap_err();
        assert_eq!(problems.iter().map(|p| p.earlier).collect::<Vec<_>>(), [0]);
    }

    #[test]
    fn changing_a_type_incompatibly_is_reported_with_the_reason() {
        let new = schema(r#"{"name":"a","type":"string"}"#);
        let problems = check(CompatibilityLevel::Full, &new, &[v1()]).unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(!problems[0].reason.is_empty());
    }
}
