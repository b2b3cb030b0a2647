//! The REST API, on Confluent's paths with Confluent's bodies and error codes.
//!
//! Request bodies are read as JSON whatever their content type says (Confluent's
//! clients send `application/vnd.schemaregistry.v1+json`, others `application/json`
//! or nothing); answers are `application/vnd.schemaregistry.v1+json`, or
//! `application/json` for a client that asks only for that.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{MatchedPath, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use tracing::{debug, warn};

use super::error::RegistryError;
use super::handlers;
use super::metrics::Metrics;
use super::service::Registry;

/// The content type of every JSON answer.
pub const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

pub(super) type Shared = State<Arc<Registry>>;
pub(super) type Params = Query<HashMap<String, String>>;
pub(super) type Answer = Result<Response, RegistryError>;

/// Every route, with the metrics and content-type layer around them.
pub fn router(registry: Arc<Registry>) -> Router {
    Router::new()
        .route("/", get(handlers::root))
        .route("/subjects", get(handlers::list_subjects))
        .route(
            "/subjects/{subject}",
            post(handlers::lookup).delete(handlers::delete_subject),
        )
        .route(
            "/subjects/{subject}/versions",
            get(handlers::list_versions).post(handlers::register),
        )
        .route(
            "/subjects/{subject}/versions/{version}",
            get(handlers::get_version).delete(handlers::delete_version),
        )
        .route(
            "/subjects/{subject}/versions/{version}/schema",
            get(handlers::get_version_schema),
        )
        .route(
            "/subjects/{subject}/versions/{version}/referencedby",
            get(handlers::referenced_by),
        )
        .route("/schemas/types", get(handlers::schema_types))
        .route("/schemas/ids/{id}", get(handlers::schema_by_id))
        .route("/schemas/ids/{id}/schema", get(handlers::raw_schema_by_id))
        .route("/schemas/ids/{id}/versions", get(handlers::versions_of_id))
        .route("/schemas/ids/{id}/subjects", get(handlers::subjects_of_id))
        .route(
            "/compatibility/subjects/{subject}/versions",
            post(handlers::check_against_subject),
        )
        .route(
            "/compatibility/subjects/{subject}/versions/{version}",
            post(handlers::check_against_version),
        )
        .route(
            "/config",
            get(handlers::get_global_level)
                .put(handlers::put_global_level)
                .delete(handlers::delete_global_level),
        )
        .route(
            "/config/{subject}",
            get(handlers::get_subject_level)
                .put(handlers::put_subject_level)
                .delete(handlers::delete_subject_level),
        )
        .route("/metrics", get(metrics))
        .fallback(no_such_endpoint)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            Arc::clone(&registry),
            observe,
        ))
        .with_state(registry)
}

/// Counts and times every request by route template, and answers in the JSON flavour
/// the client accepts.
async fn observe(State(registry): Shared, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let plain_json = wants_plain_json(request.headers().get(header::ACCEPT));
    let mut response = next.run(request).await;
    if plain_json && response.headers().get(header::CONTENT_TYPE) == Some(&v1()) {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    let status = response.status();
    let metrics: &Metrics = registry.metrics();
    metrics
        .requests
        .with_label_values(&[method.as_str(), route.as_str(), status.as_str()])
        .inc();
    metrics
        .request_seconds
        .with_label_values(&[route.as_str()])
        .observe(started.elapsed().as_secs_f64());
    debug!(%method, route, status = status.as_u16(), "request answered");
    response
}

/// A client that lists `application/json` and no registry type (nor `*/*`).
fn wants_plain_json(accept: Option<&HeaderValue>) -> bool {
    let Some(accept) = accept.and_then(|value| value.to_str().ok()) else {
        return false;
    };
    accept.contains("application/json")
        && !accept.contains("application/vnd.schemaregistry")
        && !accept.contains("*/*")
}

fn v1() -> HeaderValue {
    HeaderValue::from_static(CONTENT_TYPE)
}

/// A JSON answer with the registry's content type.
pub(super) fn reply<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, v1())], bytes).into_response(),
        Err(error) => RegistryError::Store(format!("encoding the answer: {error}")).into_response(),
    }
}

pub(super) fn ok<T: Serialize>(body: &T) -> Answer {
    Ok(reply(StatusCode::OK, body))
}

/// A schema's own text as the body (what `.../schema` endpoints answer).
pub(super) fn raw(text: &str) -> Answer {
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, v1())],
        text.to_owned(),
    )
        .into_response())
}

impl IntoResponse for RegistryError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            warn!(error = %self, "request failed");
        }
        let body = json!({"error_code": self.error_code(), "message": self.to_string()});
        reply(status, &body)
    }
}

/// A query flag: `true` in any case; anything else, or absent, is false.
pub(super) fn flag(params: &HashMap<String, String>, name: &str) -> bool {
    params
        .get(name)
        .is_some_and(|value| value.trim().eq_ignore_ascii_case("true"))
}

pub(super) fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, RegistryError> {
    serde_json::from_slice(bytes).map_err(|e| RegistryError::MalformedRequest(e.to_string()))
}

async fn metrics(State(registry): Shared) -> Response {
    match registry.metrics().render() {
        Ok(text) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, Metrics::content_type())],
            text,
        )
            .into_response(),
        Err(error) => RegistryError::Store(format!("rendering metrics: {error}")).into_response(),
    }
}

async fn no_such_endpoint(request: Request) -> RegistryError {
    RegistryError::NoSuchEndpoint(request.uri().path().to_owned())
}

async fn method_not_allowed() -> RegistryError {
    RegistryError::MethodNotAllowed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_json_only_for_clients_that_ask_for_nothing_else() {
        let wants = |accept: &str| wants_plain_json(Some(&HeaderValue::from_str(accept).unwrap()));
        assert!(wants("application/json"));
        assert!(!wants(
            "application/vnd.schemaregistry.v1+json, application/json"
        ));
        assert!(!wants("*/*"));
        assert!(!wants_plain_json(None));
    }

    #[test]
    fn flags_are_true_only_when_they_say_so() {
        let params: HashMap<String, String> = [("deleted", "TRUE"), ("permanent", "yes")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert!(flag(&params, "deleted"));
        assert!(!flag(&params, "permanent"));
        assert!(!flag(&params, "verbose"));
    }
}
