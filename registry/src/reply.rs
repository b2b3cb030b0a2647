//! How the API answers: JSON with the registry's content type, Confluent's error
//! bodies, and the request pieces the handlers share. [`super::api`] routes to
//! [`super::handlers`]; both answer through here.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use tracing::warn;

use super::error::RegistryError;
use super::service::Registry;

/// The content type of every JSON answer.
pub const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

pub(super) type Shared = State<Arc<Registry>>;
pub(super) type Params = Query<HashMap<String, String>>;
pub(super) type Answer = Result<Response, RegistryError>;

pub(super) fn v1() -> HeaderValue {
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

/// The body limit in force, put in every request's extensions by the router, for the
/// message of a refused body.
#[derive(Debug, Clone, Copy)]
pub(super) struct BodyLimit(pub usize);

/// A request's whole body, read up to the limit; a larger one is [`RegistryError::BodyTooLarge`].
#[derive(Debug)]
pub(super) struct Body(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = RegistryError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let limit = request.extensions().get::<BodyLimit>().map(|limit| limit.0);
        match Bytes::from_request(request, state).await {
            Ok(bytes) => Ok(Self(bytes)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(RegistryError::BodyTooLarge(limit.unwrap_or_default()))
            }
            Err(rejection) => Err(RegistryError::MalformedRequest(rejection.body_text())),
        }
    }
}

pub(super) fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, RegistryError> {
    serde_json::from_slice(bytes).map_err(|e| RegistryError::MalformedRequest(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

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
