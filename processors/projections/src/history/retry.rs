//! Every failure of the history sink, and whether retrying it can help — in this
//! one place.
//!
//! Two levels, because a bulk request answers per document:
//!
//! | what failed | retriable | permanent |
//! |---|---|---|
//! | a whole request ([`HistoryError`]) | unreachable, timed out, 408, 429, 5xx, an answer cut short | 400, 401, 403, 404, 413: the request is wrong for this server or this user; the projection stops and says so |
//! | one document of a bulk request ([`ItemOutcome`]) | 408, 429, 5xx: the batch is written again, and only what is not settled is sent | 400 and other 4xx (a mapping error): that event goes to the dead-letter topic; 401, 403 and 404 concern the index, not the document, and stop the projection like a refused request |
//!
//! A 409 on a document is a version conflict under `version_type=external`: the
//! index holds that event already, at the same version — a duplicate, and a
//! success.

use elasticsearch::http::response::Response;
use serde_json::Value;

use super::engine;
use crate::retry::{Classify, Retry};

/// A failed request to the search server, or an index it cannot work with.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// No answer: the connection failed or timed out.
    #[error("{during}: {source}")]
    Transport {
        during: &'static str,
        #[source]
        source: elasticsearch::Error,
    },
    /// The server answered the whole request with an error.
    #[error("{during}: the server answered {status} ({error_type}): {reason}")]
    Refused {
        during: &'static str,
        status: u16,
        /// The server's `error.type` (`index_not_found_exception` ...), or empty.
        error_type: String,
        reason: String,
    },
    /// The answer could not be read as the API describes it.
    #[error("{during}: unreadable answer: {message}")]
    Answer {
        during: &'static str,
        message: String,
    },
    /// Documents of a batch were refused for a reason that goes away (the server
    /// was busy or failing); they are sent again.
    #[error("{count} documents refused for now ({class}), e.g. {example}")]
    Documents {
        class: &'static str,
        count: usize,
        example: String,
    },
    /// Documents were refused for a reason that concerns the index, not the
    /// document (it is missing, blocked, or the user may not write it).
    #[error("index {index} refused documents ({class}): {reason}")]
    Index {
        index: String,
        class: &'static str,
        reason: String,
    },
    /// The client could not be built or a request encoded: a wrong setting.
    #[error("search client: {message}")]
    Client { message: String },
    /// The existing index maps fields differently from the template; writing
    /// into it would fail document by document.
    #[error(
        "index {index} maps fields differently from the template ({conflicts}); \
         write a new index (--index-suffix) and swap the alias when it has caught up"
    )]
    MappingConflict { index: String, conflicts: String },
}

impl HistoryError {
    /// Wraps a transport error with what was being done.
    pub fn during(during: &'static str) -> impl FnOnce(elasticsearch::Error) -> Self {
        move |source| HistoryError::Transport { during, source }
    }
}

/// The JSON of a successful answer; otherwise the server's error (its status,
/// `error.type` and `error.reason`), or why the answer could not be read.
pub async fn read_answer(during: &'static str, response: Response) -> Result<Value, HistoryError> {
    let status = response.status_code().as_u16();
    let text = response
        .text()
        .await
        .map_err(HistoryError::during(during))?;
    let parsed = serde_json::from_str::<Value>(&text);
    if (200..300).contains(&status) {
        return parsed.map_err(|error| HistoryError::Answer {
            during,
            message: format!("{error}: {}", excerpt(&text)),
        });
    }
    let body = parsed.unwrap_or(Value::Null);
    let error = &body["error"];
    let (error_type, reason) = match error {
        Value::String(reason) => (String::new(), reason.clone()),
        Value::Object(_) => (
            error["type"].as_str().unwrap_or_default().to_owned(),
            error["reason"].as_str().unwrap_or_default().to_owned(),
        ),
        _ => (String::new(), excerpt(&text)),
    };
    Err(HistoryError::Refused {
        during,
        status,
        error_type,
        reason,
    })
}

/// The start of `text`, for messages.
pub fn excerpt(text: &str) -> String {
    const MAX: usize = 300;
    match text.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// What retrying a whole request that the server answered with `status` can
/// achieve, and the class of the failure.
pub fn classify_status(status: u16, error_type: &str) -> (Retry, &'static str) {
    match status {
        408 => (Retry::Retriable, "timeout"),
        429 => (Retry::Retriable, "too-many-requests"),
        502..=504 => (Retry::Retriable, "unavailable"),
        500..=599 => (Retry::Retriable, "server-error"),
        401 => (Retry::Permanent, "auth"),
        403 if error_type == "cluster_block_exception" => (Retry::Permanent, "blocked"),
        403 => (Retry::Permanent, "auth"),
        404 => (Retry::Permanent, "missing-index"),
        413 => (Retry::Permanent, "too-large"),
        _ => (Retry::Permanent, "refused"),
    }
}

/// What became of one document of a bulk request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemOutcome {
    /// Indexed.
    Written,
    /// The index holds this event already (409 under external versions).
    Duplicate,
    /// Refused for now: send it again.
    Retry(&'static str),
    /// Refused for good: this event goes to the dead-letter topic.
    Reject(&'static str),
    /// Refused because of the index, not the document: stop.
    Stop(&'static str),
}

/// The outcome of one document answered with `status` and, when it failed,
/// the server's `error.type`.
pub fn classify_item(status: u16, error_type: &str) -> ItemOutcome {
    match status {
        200..=299 => ItemOutcome::Written,
        409 => ItemOutcome::Duplicate,
        408 => ItemOutcome::Retry("timeout"),
        429 => ItemOutcome::Retry("too-many-requests"),
        500..=599 => ItemOutcome::Retry("server-error"),
        401 | 403 | 404 => ItemOutcome::Stop(classify_status(status, error_type).1),
        _ => ItemOutcome::Reject(match error_type {
            mapping if engine::is_mapping_error(mapping) => "mapping",
            "illegal_argument_exception" => "illegal-argument",
            _ => "refused",
        }),
    }
}

fn classify(error: &HistoryError) -> (Retry, &'static str) {
    match error {
        HistoryError::Transport { source, .. } => match source.status_code() {
            Some(status) => classify_status(status.as_u16(), ""),
            None if source.is_timeout() => (Retry::Retriable, "timeout"),
            None if source.is_json() => (Retry::Retriable, "bad-answer"),
            None => (Retry::Retriable, "network"),
        },
        HistoryError::Refused {
            status, error_type, ..
        } => classify_status(*status, error_type),
        // A proxy's error page or an answer cut short: the next one may be whole.
        HistoryError::Answer { .. } => (Retry::Retriable, "bad-answer"),
        HistoryError::Documents { class, .. } => (Retry::Retriable, class),
        HistoryError::Index { class, .. } => (Retry::Permanent, class),
        HistoryError::Client { .. } => (Retry::Permanent, "client"),
        HistoryError::MappingConflict { .. } => (Retry::Permanent, "mapping-conflict"),
    }
}

impl Classify for HistoryError {
    fn retry(&self) -> Retry {
        classify(self).0
    }

    fn class(&self) -> &'static str {
        classify(self).1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(status: u16, error_type: &str) -> HistoryError {
        HistoryError::Refused {
            during: "test",
            status,
            error_type: error_type.to_owned(),
            reason: "r".to_owned(),
        }
    }

    #[test]
    fn busy_slow_or_failing_servers_are_retried() {
        for (status, class) in [
            (408, "timeout"),
            (429, "too-many-requests"),
            (500, "server-error"),
            (502, "unavailable"),
            (503, "unavailable"),
            (504, "unavailable"),
        ] {
            let error = refused(status, "");
            assert_eq!((error.retry(), error.class()), (Retry::Retriable, class));
        }
        let error = HistoryError::Answer {
            during: "test",
            message: "expected value at line 1".to_owned(),
        };
        assert_eq!(error.retry(), Retry::Retriable);
    }

    #[test]
    fn requests_the_server_refuses_for_good_stop_the_projection() {
        for (status, error_type, class) in [
            (400, "parse_exception", "refused"),
            (401, "security_exception", "auth"),
            (403, "security_exception", "auth"),
            (403, "cluster_block_exception", "blocked"),
            (404, "index_not_found_exception", "missing-index"),
            (413, "", "too-large"),
        ] {
            let error = refused(status, error_type);
            assert_eq!(
                (error.retry(), error.class()),
                (Retry::Permanent, class),
                "{status} {error_type}"
            );
        }
        let conflict = HistoryError::MappingConflict {
            index: "transaction-history-v1".to_owned(),
            conflicts: "occurred_at: long, the template date".to_owned(),
        };
        assert_eq!(conflict.retry(), Retry::Permanent);
        assert!(
            conflict.to_string().contains("--index-suffix"),
            "{conflict}"
        );
    }

    #[test]
    fn documents_are_written_duplicates_retried_rejected_or_stopping() {
        assert_eq!(classify_item(201, ""), ItemOutcome::Written);
        assert_eq!(classify_item(200, ""), ItemOutcome::Written);
        assert_eq!(
            classify_item(409, "version_conflict_engine_exception"),
            ItemOutcome::Duplicate
        );
        assert_eq!(
            classify_item(429, "es_rejected_execution_exception"),
            ItemOutcome::Retry("too-many-requests")
        );
        assert_eq!(
            classify_item(503, "unavailable_shards_exception"),
            ItemOutcome::Retry("server-error")
        );
        assert_eq!(
            classify_item(400, "mapper_parsing_exception"),
            ItemOutcome::Reject("mapping")
        );
        assert_eq!(
            classify_item(400, "document_parsing_exception"),
            ItemOutcome::Reject("mapping")
        );
        assert_eq!(
            classify_item(400, "strict_dynamic_mapping_exception"),
            ItemOutcome::Reject("mapping")
        );
        assert_eq!(
            classify_item(400, "illegal_argument_exception"),
            ItemOutcome::Reject("illegal-argument")
        );
        assert_eq!(
            classify_item(404, "index_not_found_exception"),
            ItemOutcome::Stop("missing-index")
        );
        assert_eq!(
            classify_item(403, "cluster_block_exception"),
            ItemOutcome::Stop("blocked")
        );
    }

    #[test]
    fn refused_documents_are_retried_or_stop_as_a_whole() {
        let busy = HistoryError::Documents {
            class: "too-many-requests",
            count: 3,
            example: "rejected execution".to_owned(),
        };
        assert_eq!(
            (busy.retry(), busy.class()),
            (Retry::Retriable, "too-many-requests")
        );
        let missing = HistoryError::Index {
            index: "transaction-history-v1".to_owned(),
            class: "missing-index",
            reason: "no such index".to_owned(),
        };
        assert_eq!(missing.retry(), Retry::Permanent);
    }
}
