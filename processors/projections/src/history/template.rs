//! The indices and how they are set up at start, every step idempotent.
//!
//! The mapping is `infra/search/transaction-history.template.json`, compiled in
//! and put as the index template `<index>` for the pattern `<index>-*`:
//!
//! 1. the template is put (again): a new release's template takes effect for
//!    every index created from then on;
//! 2. the concrete index `<index>-<suffix>` is created unless it exists; it takes
//!    the alias `<index>` when nothing has it yet (the first start). An alias
//!    that points elsewhere is left alone: this index is a replay, and readers
//!    move to it when the alias is swapped (docs/history.md, "Replays and the alias swap");
//! 3. an index that existed is checked against the template: fields it lacks
//!    are added to its mapping; a field it maps with another type stops the
//!    start (documents would be refused one by one);
//! 4. the checkpoints' index is created unless it exists
//!    (`infra/search/projection-checkpoints.index.json`);
//! 5. the concrete index's uuid is read: checkpoints are kept per uuid, so an
//!    index deleted and created again starts from the beginning of the log.
//!
//! Everything used here is in both Elasticsearch 8 and OpenSearch 2
//! (composable templates, aliases, put mapping, index settings; see [`engine`]).
//!
//! [`engine`]: super::engine

use elasticsearch::Elasticsearch;
use elasticsearch::indices::{
    IndicesCreateParts, IndicesDeleteIndexTemplateParts, IndicesGetMappingParts,
    IndicesPutIndexTemplateParts, IndicesPutMappingParts,
};
use serde_json::{Map, Value, json};
use tracing::{info, warn};

use super::alias::{alias_targets, index_uuid};
use super::config::Indices;
use super::retry::{HistoryError, read_answer};

/// The index template, as the file holds it (its pattern is replaced).
pub const TEMPLATE: &str =
    include_str!("../../../../infra/search/transaction-history.template.json");

/// The checkpoints' index: its settings and mapping.
pub const CHECKPOINTS: &str =
    include_str!("../../../../infra/search/projection-checkpoints.index.json");

fn parse(text: &str, file: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|error| panic!("infra/search/{file}: {error}"))
}

/// The index template for `indices`: the file's, with the pattern of these
/// indices.
pub fn template_body(indices: &Indices) -> Value {
    let mut template = parse(TEMPLATE, "transaction-history.template.json");
    template["index_patterns"] = json!([indices.pattern]);
    template
}

/// The template's mapping.
pub fn mappings() -> Value {
    parse(TEMPLATE, "transaction-history.template.json")["template"]["mappings"].clone()
}

/// How an existing index's mapping differs from the template's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Differences {
    /// Fields of the template the index lacks (added at start).
    pub missing: Vec<String>,
    /// Fields the index maps with another type: `field: index type, template type`.
    pub conflicts: Vec<String>,
}

/// Compares the top-level fields of `existing` (an index's `mappings`) with
/// `wanted` (the template's) by type. Finer parameters are the server's to
/// apply per document.
pub fn differences(existing: &Value, wanted: &Value) -> Differences {
    let empty = Map::new();
    let have = existing["properties"].as_object().unwrap_or(&empty);
    let want = wanted["properties"].as_object().unwrap_or(&empty);
    let mut found = Differences::default();
    for (field, spec) in want {
        let wanted_type = spec["type"].as_str().unwrap_or("object");
        match have.get(field) {
            None => found.missing.push(field.clone()),
            Some(had) => {
                let had_type = had["type"].as_str().unwrap_or("object");
                if had_type != wanted_type {
                    found
                        .conflicts
                        .push(format!("{field}: index {had_type}, template {wanted_type}"));
                }
            }
        }
    }
    found
}

/// What the start found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// The concrete index's uuid.
    pub uuid: String,
    /// Whether the concrete index was created now.
    pub created: bool,
    /// The indices the alias points at now.
    pub alias_targets: Vec<String>,
    /// Fields added to an existing index's mapping.
    pub added_fields: Vec<String>,
}

fn already_exists(error: &HistoryError) -> bool {
    matches!(error, HistoryError::Refused { error_type, .. } if error_type == "resource_already_exists_exception")
}

/// Sets up the template and the indices (see the module's steps).
pub async fn prepare(client: &Elasticsearch, indices: &Indices) -> Result<Prepared, HistoryError> {
    let during = "putting the index template";
    let response = client
        .indices()
        .put_index_template(IndicesPutIndexTemplateParts::Name(&indices.template))
        .body(template_body(indices))
        .send()
        .await
        .map_err(HistoryError::during(during))?;
    read_answer(during, response).await?;

    let mut alias_targets = alias_targets(client, &indices.alias).await?;
    let take_alias = alias_targets.is_empty();
    let body = if take_alias {
        json!({ "aliases": { &indices.alias: {} } })
    } else {
        json!({})
    };
    let during = "creating the history index";
    let response = client
        .indices()
        .create(IndicesCreateParts::Index(&indices.concrete))
        .body(body)
        .send()
        .await
        .map_err(HistoryError::during(during))?;
    let created = match read_answer(during, response).await {
        Ok(_) => true,
        Err(error) if already_exists(&error) => false,
        Err(error) => return Err(error),
    };
    if created {
        info!(index = %indices.concrete, "history index created");
    }
    if take_alias && !created {
        let during = "adding the alias";
        let response = client
            .indices()
            .update_aliases()
            .body(json!({ "actions": [ { "add": { "index": &indices.concrete, "alias": &indices.alias } } ] }))
            .send()
            .await
            .map_err(HistoryError::during(during))?;
        read_answer(during, response).await?;
    }
    if take_alias {
        alias_targets = vec![indices.concrete.clone()];
    } else if !alias_targets.contains(&indices.concrete) {
        warn!(
            alias = %indices.alias,
            points_at = ?alias_targets,
            index = %indices.concrete,
            "the alias points at another index: readers see this one once the alias is swapped"
        );
    }

    let added_fields = if created {
        Vec::new()
    } else {
        align_mapping(client, &indices.concrete).await?
    };

    let during = "creating the checkpoints index";
    let response = client
        .indices()
        .create(IndicesCreateParts::Index(&indices.checkpoints))
        .body(parse(CHECKPOINTS, "projection-checkpoints.index.json"))
        .send()
        .await
        .map_err(HistoryError::during(during))?;
    match read_answer(during, response).await {
        Ok(_) => info!(index = %indices.checkpoints, "checkpoints index created"),
        Err(error) if already_exists(&error) => {}
        Err(error) => return Err(error),
    }

    let uuid = index_uuid(client, &indices.concrete).await?;
    Ok(Prepared {
        uuid,
        created,
        alias_targets,
        added_fields,
    })
}

/// Adds the template's fields an existing index lacks; refuses one that maps a
/// field with another type.
async fn align_mapping(client: &Elasticsearch, index: &str) -> Result<Vec<String>, HistoryError> {
    let during = "reading the index mapping";
    let response = client
        .indices()
        .get_mapping(IndicesGetMappingParts::Index(&[index]))
        .send()
        .await
        .map_err(HistoryError::during(during))?;
    let answer = read_answer(during, response).await?;
    let wanted = mappings();
    let found = differences(&answer[index]["mappings"], &wanted);
    if !found.conflicts.is_empty() {
        return Err(HistoryError::MappingConflict {
            index: index.to_owned(),
            conflicts: found.conflicts.join("; "),
        });
    }
    if found.missing.is_empty() {
        return Ok(found.missing);
    }
    let properties: Map<String, Value> = found
        .missing
        .iter()
        .map(|field| (field.clone(), wanted["properties"][field].clone()))
        .collect();
    let during = "adding fields to the index mapping";
    let response = client
        .indices()
        .put_mapping(IndicesPutMappingParts::Index(&[index]))
        .body(json!({ "properties": properties }))
        .send()
        .await
        .map_err(HistoryError::during(during))?;
    read_answer(during, response).await?;
    info!(index, fields = ?found.missing, "fields added to the history index mapping");
    Ok(found.missing)
}

/// Deletes the concrete index, the checkpoints' index and the template (tests
/// and benchmarks clean up with it); what is missing already is fine.
pub async fn delete_all(client: &Elasticsearch, indices: &Indices) -> Result<(), HistoryError> {
    for index in [&indices.concrete, &indices.checkpoints] {
        super::alias::delete_index(client, index).await?;
    }
    let during = "deleting the index template";
    let response = client
        .indices()
        .delete_index_template(IndicesDeleteIndexTemplateParts::Name(&indices.template))
        .send()
        .await
        .map_err(HistoryError::during(during))?;
    match read_answer(during, response).await {
        Ok(_) | Err(HistoryError::Refused { status: 404, .. }) => Ok(()),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::super::config::HistoryConfig;
    use super::super::documents::{HistoryDocument, Movement};
    use super::*;

    #[test]
    fn the_template_takes_the_pattern_of_the_configured_index() {
        let mut config = HistoryConfig::new("http://127.0.0.1:9200");
        config.index = "history-test".to_owned();
        let body = template_body(&config.indices());
        assert_eq!(body["index_patterns"], json!(["history-test-*"]));
        assert_eq!(body["template"]["mappings"]["dynamic"], "strict");
        let checkpoints = parse(CHECKPOINTS, "projection-checkpoints.index.json");
        assert_eq!(checkpoints["mappings"]["dynamic"], "strict");
    }

    #[test]
    fn every_field_of_a_document_is_mapped() {
        // Every optional field set: a strict mapping refuses any field it lacks.
        let document = HistoryDocument {
            event_id: "e".to_owned(),
            account_id: "a".to_owned(),
            version: 1,
            movement: Movement::TransferOut,
            event_type: "TransferDebited".to_owned(),
            occurred_at: 1,
            currency: "EUR".to_owned(),
            amount_minor: 1,
            fee_minor: 1,
            net_minor: -2,
            balance_after_minor: 0,
            counterparty_account_id: Some("b".to_owned()),
            transfer_id: Some("t".to_owned()),
            reference: Some("r".to_owned()),
            channel: Some("ATM".to_owned()),
            reason_code: Some("X".to_owned()),
            reason: Some("y".to_owned()),
            command_id: "c".to_owned(),
            correlation_id: "r".to_owned(),
            source_partition: 0,
            source_offset: 0,
        };
        let json = serde_json::to_value(&document).expect("serializes");
        let mapped = mappings();
        let fields = json.as_object().expect("an object");
        for field in fields.keys() {
            assert!(
                mapped["properties"].get(field).is_some(),
                "{field} is not in infra/search/transaction-history.template.json"
            );
        }
        assert_eq!(
            fields.len(),
            mapped["properties"].as_object().map_or(0, Map::len),
            "the template maps fields no document has"
        );
    }

    #[test]
    fn differences_are_missing_fields_and_type_conflicts() {
        let wanted = json!({"properties": {
            "account_id": {"type": "keyword"},
            "occurred_at": {"type": "date", "format": "epoch_millis"},
            "channel": {"type": "keyword"},
            "reference": {"type": "text", "fields": {"raw": {"type": "keyword"}}},
        }});
        let existing = json!({"properties": {
            "account_id": {"type": "keyword"},
            "occurred_at": {"type": "long"},
            "reference": {"type": "text", "copy_to": "x"},
            "extra": {"type": "keyword"},
        }});
        assert_eq!(
            differences(&existing, &wanted),
            Differences {
                missing: vec!["channel".to_owned()],
                conflicts: vec!["occurred_at: index long, template date".to_owned()],
            }
        );
        assert_eq!(differences(&wanted, &wanted), Differences::default());
        assert_eq!(
            differences(&json!({}), &wanted).missing.len(),
            4,
            "an index without a mapping lacks every field"
        );
    }
}
