//! What a request can fail with, as Confluent's registry numbers it.
//!
//! Every error answers with an HTTP status and a body `{"error_code": N, "message":
//! "..."}`; `N` is the status itself or the status followed by two digits (`40401` is a
//! 404). Clients branch on `error_code`, people read `message`.

/// A request the registry turned down, or could not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// 40401: no such subject (or only soft-deleted versions, unless asked for those).
    /// The caller named the wrong subject, or must register a schema first.
    #[error("subject '{subject}' not found")]
    SubjectNotFound { subject: String },

    /// 40402: the subject exists, the version does not (or is soft-deleted).
    #[error("version {version} of subject '{subject}' not found")]
    VersionNotFound { subject: String, version: String },

    /// 40403: no schema with this id, or (lookup) the subject does not hold this schema.
    #[error("{what} not found")]
    SchemaNotFound { what: String },

    /// 40404: the subject is already soft-deleted; delete it with `permanent=true`.
    #[error("subject '{subject}' was soft deleted; set permanent=true to delete it permanently")]
    SubjectSoftDeleted { subject: String },

    /// 40405: a permanent delete of a subject that was not soft-deleted first.
    #[error(
        "subject '{subject}' was not soft deleted first; delete it without permanent=true, \
         then with it"
    )]
    SubjectNotSoftDeleted { subject: String },

    /// 40406: the version is already soft-deleted; delete it with `permanent=true`.
    #[error(
        "version {version} of subject '{subject}' was soft deleted; set permanent=true to \
         delete it permanently"
    )]
    VersionSoftDeleted { subject: String, version: u32 },

    /// 40407: a permanent delete of a version that was not soft-deleted first.
    #[error(
        "version {version} of subject '{subject}' was not soft deleted first; delete it \
         without permanent=true, then with it"
    )]
    VersionNotSoftDeleted { subject: String, version: u32 },

    /// 40408: the subject has no level of its own; ask with `defaultToGlobal=true` for
    /// the level that applies to it.
    #[error(
        "subject '{subject}' does not have subject-level compatibility configured; add \
         defaultToGlobal=true for the level that applies to it"
    )]
    SubjectLevelNotConfigured { subject: String },

    /// 409: the schema breaks the subject's compatibility level. The producer must change
    /// the schema (or an operator the level); retrying does not help.
    #[error(
        "schema being registered is incompatible with an earlier schema for subject \
         '{subject}' at compatibility level {level}: {}", reasons.join("; ")
    )]
    Incompatible {
        subject: String,
        level: String,
        reasons: Vec<String>,
    },

    /// 42201: not a valid Avro schema, or a schema type or feature this registry does not
    /// serve. The caller must fix the schema.
    #[error("invalid schema: {0}")]
    InvalidSchema(String),

    /// 42202: a version that is neither a number in [1, 2^31-1] nor `latest`.
    #[error("'{0}' is not a valid version; use a number between 1 and 2147483647, or 'latest'")]
    InvalidVersion(String),

    /// 42203: not one of the seven compatibility levels.
    #[error(
        "invalid compatibility level '{0}'; use one of NONE, BACKWARD, BACKWARD_TRANSITIVE, \
         FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE"
    )]
    InvalidCompatibilityLevel(String),

    /// 401: no credentials, or ones that match no user, on a registry with
    /// authentication on. The caller must send the right basic-auth credentials.
    #[error("unauthorized: send basic-auth credentials of a registry user")]
    Unauthorized,

    /// 40301: a user who may read asked to register, delete or change a level. The
    /// caller needs the admin's credentials.
    #[error(
        "this user is denied the operation: registering, deleting and changing levels need the admin user"
    )]
    Forbidden,

    /// 413: a request body above the registry's limit. Not retriable as it is.
    #[error("request body larger than the limit of {0} bytes")]
    BodyTooLarge(usize),

    /// 400: a body that is not the JSON the endpoint expects.
    #[error("malformed request: {0}")]
    MalformedRequest(String),

    /// 404: no endpoint at this path.
    #[error("HTTP 404 Not Found: no endpoint at {0}")]
    NoSuchEndpoint(String),

    /// 405: the path exists, the method does not.
    #[error("HTTP 405 Method Not Allowed")]
    MethodNotAllowed,

    /// 50001: the `_schemas` topic could not be written. Technical and usually
    /// transient (broker down or slow): the caller may retry; nothing was changed in
    /// memory that the topic does not hold.
    #[error("error in the backend data store: {0}")]
    Store(String),

    /// 50002: the request took longer than the registry's request timeout (a slow
    /// client, or a write waiting for the broker). A write that had started still
    /// completes: read before retrying it.
    #[error("operation timed out after {0:?}")]
    Timeout(std::time::Duration),
}

impl RegistryError {
    /// Confluent's `error_code` for this error.
    pub const fn error_code(&self) -> u32 {
        match self {
            Self::SubjectNotFound { .. } => 40401,
            Self::VersionNotFound { .. } => 40402,
            Self::SchemaNotFound { .. } => 40403,
            Self::SubjectSoftDeleted { .. } => 40404,
            Self::SubjectNotSoftDeleted { .. } => 40405,
            Self::VersionSoftDeleted { .. } => 40406,
            Self::VersionNotSoftDeleted { .. } => 40407,
            Self::SubjectLevelNotConfigured { .. } => 40408,
            Self::Incompatible { .. } => 409,
            Self::InvalidSchema(_) => 42201,
            Self::InvalidVersion(_) => 42202,
            Self::InvalidCompatibilityLevel(_) => 42203,
            Self::Unauthorized => 401,
            Self::Forbidden => 40301,
            Self::BodyTooLarge(_) => 413,
            Self::MalformedRequest(_) => 400,
            Self::NoSuchEndpoint(_) => 404,
            Self::MethodNotAllowed => 405,
            Self::Store(_) => 50001,
            Self::Timeout(_) => 50002,
        }
    }

    /// The HTTP status: the first three digits of the error code.
    pub const fn http_status(&self) -> u16 {
        let code = self.error_code();
        if code >= 1000 {
            (code / 100) as u16
        } else {
            code as u16
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_is_the_first_three_digits_of_the_code() {
        let subject = "s".to_owned();
        let cases = [
            (RegistryError::SubjectNotFound { subject }, 40401, 404),
            (RegistryError::InvalidSchema("x".into()), 42201, 422),
            (RegistryError::Store("down".into()), 50001, 500),
            (
                RegistryError::Incompatible {
                    subject: "s".into(),
                    level: "BACKWARD".into(),
                    reasons: vec![],
                },
                409,
                409,
            ),
        ];
        for (error, code, status) in cases {
            assert_eq!(error.error_code(), code, "{error}");
            assert_eq!(error.http_status(), status, "{error}");
        }
    }

    #[test]
    fn an_incompatibility_lists_every_reason() {
        let error = RegistryError::Incompatible {
            subject: "s".into(),
            level: "FULL".into(),
            reasons: vec!["one".into(), "two".into()],
        };
        let message = error.to_string();
        assert!(
            message.contains("FULL") && message.contains("one; two"),
            "{message}"
        );
    }
}
