//! A schema as the registry holds it: the text it was registered with, parsed, and the
//! form that decides whether two texts are the same schema.
//!
//! The form is the parsed schema written back as JSON with sorted keys: whitespace, key
//! order and how a name is spelled (`"ns.R"` or `"R"` with `"namespace": "ns"`) do not
//! count, everything else does. Avro's Parsing Canonical Form
//! ([`apache_avro::Schema::canonical_form`]) is not enough here: it drops `default`,
//! `doc`, `aliases` and `logicalType`, so a field that lost its default — which decides
//! compatibility — or a `long` that became a `timestamp-millis` would get the id of the
//! schema before the change. Confluent's registry tells those apart too.

use apache_avro::Schema;
use serde_json::Value;

use super::error::RegistryError;

/// The only schema type this registry serves.
pub const AVRO: &str = "AVRO";

/// A parsed, valid Avro schema.
#[derive(Debug, Clone)]
pub struct ParsedSchema {
    /// The text as it was registered.
    pub text: String,
    /// Equal forms mean the same schema (see the module doc).
    pub form: String,
    /// The schema, for compatibility checks.
    pub avro: Schema,
}

impl ParsedSchema {
    /// Parses `text` as an Avro schema.
    pub fn parse(text: &str) -> Result<Self, RegistryError> {
        let avro = Schema::parse_str(text)
            .map_err(|e| RegistryError::InvalidSchema(format!("not a valid Avro schema: {e}")))?;
        let json = serde_json::to_value(&avro).map_err(|e| {
            RegistryError::InvalidSchema(format!("the schema cannot be written back: {e}"))
        })?;
        let mut form = String::with_capacity(text.len());
        write_sorted(&json, &mut form);
        Ok(Self {
            text: text.to_owned(),
            form,
            avro,
        })
    }

    /// Checks a request's `schemaType` (absent means Avro), then parses.
    pub fn parse_typed(text: &str, schema_type: Option<&str>) -> Result<Self, RegistryError> {
        match schema_type {
            None => {}
            Some(kind) if kind.eq_ignore_ascii_case(AVRO) => {}
            Some(kind) => {
                return Err(RegistryError::InvalidSchema(format!(
                    "schema type '{kind}' is not supported; this registry serves {AVRO} only"
                )));
            }
        }
        Self::parse(text)
    }
}

/// Compact JSON with every object's keys in order; arrays keep theirs (field order is
/// part of a record schema).
fn write_sorted(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_unstable_by_key(|(key, _)| *key);
            out.push('{');
            for (index, (key, value)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_sorted(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_sorted(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(text: &str) -> String {
        ParsedSchema::parse(text).unwrap().form
    }

    #[test]
    fn whitespace_key_order_and_name_spelling_do_not_make_a_new_schema() {
        let a = r#"{"type":"record","name":"ns.R","fields":[{"name":"a","type":"long"}]}"#;
        let b = r#"{
            "fields": [ { "type": "long", "name": "a" } ],
            "namespace": "ns", "name": "R", "type": "record"
        }"#;
        assert_eq!(form(a), form(b));
    }

    #[test]
    fn defaults_docs_and_logical_types_do() {
        let plain = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"long"}]}"#;
        let variants = [
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"long","default":0}]}"#,
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"long","doc":"x"}]}"#,
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":{"type":"long","logicalType":"timestamp-millis"}}]}"#,
        ];
        for variant in variants {
            assert_ne!(form(plain), form(variant), "{variant}");
        }
        // ... where Parsing Canonical Form merges a default or a doc away.
        let canonical = |text| ParsedSchema::parse(text).unwrap().avro.canonical_form();
        assert_eq!(canonical(plain), canonical(variants[0]));
        assert_eq!(canonical(plain), canonical(variants[1]));
    }

    #[test]
    fn field_order_counts() {
        let ab = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"int"}]}"#;
        let ba = r#"{"type":"record","name":"R","fields":[{"name":"b","type":"int"},{"name":"a","type":"int"}]}"#;
        assert_ne!(form(ab), form(ba));
    }

    #[test]
    fn primitive_schemas_are_schemas() {
        assert_eq!(form(r#""string""#), form(r#"{"type":"string"}"#));
    }

    #[test]
    fn invalid_schemas_and_other_types_are_42201() {
        for (text, kind) in [
            (r#"{"type":"record","name":"R"}"#, None),
            ("not json", None),
            (r#""string""#, Some("PROTOBUF")),
        ] {
            let error = ParsedSchema::parse_typed(text, kind).unwrap_err();
            assert_eq!(error.error_code(), 42201, "{error}");
        }
        assert!(ParsedSchema::parse_typed(r#""int""#, Some("avro")).is_ok());
    }
}
