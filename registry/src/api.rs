//! The REST API, on Confluent's paths with Confluent's bodies and error codes.
//!
//! Request bodies are read as JSON whatever their content type says (Confluent's
//! clients send `application/vnd.schemaregistry.v1+json`, others `application/json`
//! or nothing); answers are `application/vnd.schemaregistry.v1+json`, or
//! `application/json` for a client that asks only for that.
//!
//! Around every route, outermost first: the metrics and content-type layer, the
//! request timeout, basic authentication (when users are configured, see
//! [`super::auth`]), and the body limit.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use tracing::{debug, warn};

use super::auth::{self, Denied, Users};
use super::config::RegistryConfig;
use super::error::RegistryError;
use super::handlers;
use super::metrics::Metrics;
use super::reply::{BodyLimit, Shared, v1};
use super::service::Registry;

/// What every request passes before its handler.
#[derive(Debug, Clone)]
pub struct Guard {
    /// Who may call; `None` lets everyone in.
    pub users: Option<Arc<Users>>,
    /// How long a request may take.
    pub request_timeout: Duration,
    /// The largest body read.
    pub max_body_bytes: usize,
}

impl Guard {
    /// The guard a registry with `config` runs behind.
    pub fn new(config: &RegistryConfig) -> Self {
        Self {
            users: config.users.clone().map(Arc::new),
            request_timeout: config.request_timeout,
            max_body_bytes: config.max_body_bytes,
        }
    }
}

/// Every route, with the guard and the metrics and content-type layer around them.
pub fn router(registry: Arc<Registry>, guard: Guard) -> Router {
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
        .layer(DefaultBodyLimit::max(guard.max_body_bytes))
        .layer(Extension(BodyLimit(guard.max_body_bytes)))
        .layer(middleware::from_fn_with_state(guard.users, authenticate))
        .layer(middleware::from_fn_with_state(
            guard.request_timeout,
            deadline,
        ))
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
    let method = method_label(request.method());
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
        .with_label_values(&[method, route.as_str(), status.as_str()])
        .inc();
    metrics
        .request_seconds
        .with_label_values(&[route.as_str()])
        .observe(started.elapsed().as_secs_f64());
    debug!(method, route, status = status.as_u16(), "request answered");
    response
}

/// The `method` label: one of the methods the API serves, or `other`, so that a
/// client inventing methods cannot grow the number of series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        _ => "other",
    }
}

/// Answers 50002 when the request, body included, is not done within `timeout`.
async fn deadline(State(timeout): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            warn!(?timeout, "request timed out");
            RegistryError::Timeout(timeout).into_response()
        }
    }
}

/// Lets a request through when its credentials carry the role it needs (or when no
/// users are configured). The `Authorization` header is never logged.
async fn authenticate(
    State(users): State<Option<Arc<Users>>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(users) = users else {
        return next.run(request).await;
    };
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    if auth::is_open(route) {
        return next.run(request).await;
    }
    let needs = auth::required_role(request.method().as_str(), route);
    let credentials = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    match users.admit(credentials, needs) {
        Ok(_) => next.run(request).await,
        Err(Denied::Unauthenticated) => {
            debug!(route, "request without valid credentials");
            let mut response = RegistryError::Unauthorized.into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"ledgerstream-registry\""),
            );
            response
        }
        Err(Denied::Forbidden) => {
            debug!(route, ?needs, "request denied to a user without the role");
            RegistryError::Forbidden.into_response()
        }
    }
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

    #[test]
    fn methods_outside_the_api_share_one_label() {
        assert_eq!(method_label(&Method::DELETE), "DELETE");
        for method in ["PATCH", "HEAD", "FOOBAR", "X-1234"] {
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            assert_eq!(method_label(&method), "other");
        }
    }
}
