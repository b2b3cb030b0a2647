//! The REST API, on Confluent's paths with Confluent's bodies and error codes.
//!
//! Request bodies are read as JSON whatever their content type says (Confluent's
//! clients send `application/vnd.schemaregistry.v1+json`, others `application/json`
//! or nothing); answers are `application/vnd.schemaregistry.v1+json`, or
//! `application/json` for a client that asks only for that.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tracing::debug;

use super::error::RegistryError;
use super::handlers;
use super::metrics::Metrics;
use super::reply::{Shared, v1};
use super::service::Registry;

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
}
