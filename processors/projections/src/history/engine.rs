//! Which search engine answers, and what this client does where Elasticsearch 8
//! and OpenSearch 2 differ — decided here and nowhere else.
//!
//! docker-compose runs Elasticsearch 8; the local stack runs OpenSearch 2.19,
//! which speaks the Elasticsearch 7.10 REST API. Every request the projection,
//! the replay and `query history` send (composable index templates, aliases,
//! `_bulk` with external versions and `refresh=wait_for`, `_mget`, put mapping,
//! `_search` with `search_after`, `_count`) is in both APIs with the same
//! meaning. Where the two answer differently for what this client does:
//!
//! | | Elasticsearch 8 | OpenSearch 2.19 | what the client does |
//! |---|---|---|---|
//! | `GET /` | no `version.distribution`; header `X-Elastic-Product: Elasticsearch` | `version.distribution: "opensearch"`; no such header | [`Engine::from_root`] reads both; the `elasticsearch` crate checks neither, so it talks to OpenSearch as it is |
//! | a value the mapping cannot take | `document_parsing_exception` (8.8 on; `mapper_parsing_exception` before) | `mapper_parsing_exception` | both are the class `mapping` ([`is_mapping_error`]), as is `strict_dynamic_mapping_exception` (a field the mapping lacks) on both |
//! | `_aliases` `remove` of an alias the index does not have | 200 unless `must_exist: true` (8.14 on; 404 before) | 404 `aliases_not_found_exception`, with `must_exist` or without | [`remove_alias`] sets `must_exist: true`: 404 on both |
//! | point in time | `POST <index>/_pit`, `DELETE /_pit` | `POST <index>/_search/point_in_time`, `DELETE /_search/point_in_time` | none is used: pages are `search_after` on `version`, a total order per account |
//! | the compatible media type `application/vnd.elasticsearch+json;compatible-with=8` | accepted | a body sent with it: 406 Not Acceptable | never sent: requests are `application/json` (the `elasticsearch` crate's default), which both take |
//!
//! The OpenSearch column was checked against the local OpenSearch 2.19.6; the
//! Elasticsearch column comes from its documentation and changelogs (no
//! Elasticsearch server runs on the development machines).
//!
//! Nothing the client sends depends on the engine: each difference above is met
//! by a request both answer alike. The engine is read at start ([`detect`]) to
//! say which one answered, in the log and in the benchmarks' output.

use elasticsearch::Elasticsearch;
use serde_json::{Value, json};

use super::retry::{HistoryError, read_answer};

/// The header Elasticsearch (7.14 on) puts on every answer; OpenSearch does not.
const PRODUCT_HEADER: &str = "x-elastic-product";

/// The search engine behind the configured URL, as `GET /` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Engine {
    /// Answers with `X-Elastic-Product: Elasticsearch`.
    Elasticsearch { version: String },
    /// Answers with `version.distribution: "opensearch"`.
    OpenSearch { version: String },
    /// `GET /` was refused (a user without the `monitor` privilege may not read
    /// it) or named neither; the client works the same.
    Unknown { why: String },
}

impl Engine {
    /// The engine `GET /` describes: its `X-Elastic-Product` header (if any)
    /// and its body.
    pub fn from_root(product: Option<&str>, root: &Value) -> Self {
        let version = root["version"]["number"].as_str().unwrap_or("?").to_owned();
        if root["version"]["distribution"].as_str() == Some("opensearch") {
            return Self::OpenSearch { version };
        }
        if product == Some("Elasticsearch") {
            return Self::Elasticsearch { version };
        }
        Self::Unknown {
            why: format!("GET / names version {version}, neither OpenSearch nor Elasticsearch"),
        }
    }
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Elasticsearch { version } => write!(f, "Elasticsearch {version}"),
            Self::OpenSearch { version } => write!(f, "OpenSearch {version}"),
            Self::Unknown { why } => write!(f, "unknown engine ({why})"),
        }
    }
}

/// Asks the server which engine it is (`GET /`). A refusal (401, 403) is an
/// [`Engine::Unknown`]; no answer at all is an error, as for any request.
pub async fn detect(client: &Elasticsearch) -> Result<Engine, HistoryError> {
    let during = "reading the server's version";
    let response = client
        .info()
        .send()
        .await
        .map_err(HistoryError::during(during))?;
    let product = response
        .headers()
        .get(PRODUCT_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    match read_answer(during, response).await {
        Ok(root) => Ok(Engine::from_root(product.as_deref(), &root)),
        Err(HistoryError::Refused {
            status: status @ (401 | 403),
            ..
        }) => Ok(Engine::Unknown {
            why: format!("GET / answered {status}"),
        }),
        Err(error) => Err(error),
    }
}

/// Whether a document was refused because the mapping cannot take it: a value
/// of another type, or a field the strict mapping lacks.
pub fn is_mapping_error(error_type: &str) -> bool {
    matches!(
        error_type,
        "mapper_parsing_exception"
            | "document_parsing_exception"
            | "strict_dynamic_mapping_exception"
    )
}

/// The `_aliases` action that takes `alias` off `index`, refused (404) on both
/// engines when the index does not have it.
pub fn remove_alias(index: &str, alias: &str) -> Value {
    json!({ "remove": { "index": index, "alias": alias, "must_exist": true } })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_answer_names_the_engine() {
        // What the local OpenSearch answers (shortened), and Elasticsearch 8's.
        let opensearch = json!({"name": "search", "version": {"distribution": "opensearch", "number": "2.19.6", "lucene_version": "9.12.3"}, "tagline": "The OpenSearch Project: https://opensearch.org/"});
        let elasticsearch = json!({"name": "es01", "version": {"number": "8.15.3", "build_flavor": "default", "lucene_version": "9.11.1"}, "tagline": "You Know, for Search"});
        assert_eq!(
            Engine::from_root(None, &opensearch),
            Engine::OpenSearch {
                version: "2.19.6".to_owned()
            }
        );
        assert_eq!(
            Engine::from_root(Some("Elasticsearch"), &elasticsearch),
            Engine::Elasticsearch {
                version: "8.15.3".to_owned()
            }
        );
        assert_eq!(
            Engine::from_root(Some("Elasticsearch"), &elasticsearch).to_string(),
            "Elasticsearch 8.15.3"
        );
        // Without the header, a body that looks like Elasticsearch's is not
        // taken on trust.
        assert!(matches!(
            Engine::from_root(None, &elasticsearch),
            Engine::Unknown { .. }
        ));
        assert!(matches!(
            Engine::from_root(None, &json!({})),
            Engine::Unknown { .. }
        ));
    }

    #[test]
    fn either_engines_mapping_errors_are_mapping_errors() {
        for error_type in [
            "mapper_parsing_exception",
            "document_parsing_exception",
            "strict_dynamic_mapping_exception",
        ] {
            assert!(is_mapping_error(error_type), "{error_type}");
        }
        assert!(!is_mapping_error("illegal_argument_exception"));
        assert!(!is_mapping_error(""));
    }

    #[test]
    fn an_alias_is_removed_only_where_it_exists() {
        assert_eq!(
            remove_alias("th-v1", "th"),
            json!({"remove": {"index": "th-v1", "alias": "th", "must_exist": true}})
        );
    }
}
