//! The endpoints: each reads the request, asks the state or the service, and answers
//! as Confluent's registry does. Routes are [`super::api`]'s; content types and errors [`super::reply`]'s.

use std::future::Future;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use serde_json::json;

use ledgerstream_schemas::compat::{self, CompatibilityLevel};

use super::error::RegistryError;
use super::reply::{Answer, Body, Params, Shared, body, flag, ok, raw};
use super::schema::{AVRO, ParsedSchema};
use super::store::{Store, VersionSpec};

/// The body of register, lookup and compatibility requests. Other fields Confluent's
/// clients send (`metadata`, `ruleSet`, `normalize`, ...) are accepted and ignored.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SchemaRequest {
    schema: Option<String>,
    schema_type: Option<String>,
    #[serde(default)]
    references: Vec<serde_json::Value>,
}

impl SchemaRequest {
    fn parse(bytes: &Bytes) -> Result<ParsedSchema, RegistryError> {
        let request: Self = body(bytes)?;
        if !request.references.is_empty() {
            return Err(RegistryError::InvalidSchema(
                "schema references are not supported by this registry; inline the \
                 referenced types"
                    .into(),
            ));
        }
        let text = request
            .schema
            .ok_or_else(|| RegistryError::InvalidSchema("the request has no \"schema\"".into()))?;
        ParsedSchema::parse_typed(&text, request.schema_type.as_deref())
    }
}

/// Runs a write to its end even when the request is abandoned (its client went away,
/// or it timed out): the state must hold every record the topic holds, and a write
/// dropped between produce and apply would leave it behind.
async fn detached<T: Send + 'static>(
    write: impl Future<Output = Result<T, RegistryError>> + Send + 'static,
) -> Result<T, RegistryError> {
    tokio::spawn(write)
        .await
        .map_err(|failure| RegistryError::Store(format!("the write stopped: {failure}")))?
}

/// One version of a subject, as Confluent answers it (`schemaType` absent for Avro).
#[derive(Debug, Serialize)]
struct VersionBody<'a> {
    subject: &'a str,
    version: u32,
    id: u32,
    schema: &'a str,
}

pub(super) async fn root() -> Answer {
    ok(&json!({}))
}

pub(super) async fn list_subjects(State(registry): Shared, Query(params): Params) -> Answer {
    let prefix = params.get("subjectPrefix").map_or("", String::as_str);
    let subjects: Vec<String> = registry
        .read()
        .await
        .subjects(flag(&params, "deleted"))
        .into_iter()
        .filter(|subject| subject.starts_with(prefix))
        .collect();
    ok(&subjects)
}

pub(super) async fn list_versions(
    State(registry): Shared,
    Path(subject): Path<String>,
    Query(params): Params,
) -> Answer {
    ok(&registry
        .read()
        .await
        .versions(&subject, flag(&params, "deleted"))?)
}

pub(super) async fn get_version(
    State(registry): Shared,
    Path((subject, version)): Path<(String, String)>,
    Query(params): Params,
) -> Answer {
    let spec = VersionSpec::parse(&version)?;
    let found = registry
        .read()
        .await
        .version(&subject, spec, flag(&params, "deleted"))?;
    ok(&VersionBody {
        subject: &found.subject,
        version: found.version,
        id: found.id,
        schema: &found.schema.text,
    })
}

pub(super) async fn get_version_schema(
    State(registry): Shared,
    Path((subject, version)): Path<(String, String)>,
    Query(params): Params,
) -> Answer {
    let spec = VersionSpec::parse(&version)?;
    let found = registry
        .read()
        .await
        .version(&subject, spec, flag(&params, "deleted"))?;
    raw(&found.schema.text)
}

/// Schemas that reference this version: none, as references are not supported.
pub(super) async fn referenced_by(
    State(registry): Shared,
    Path((subject, version)): Path<(String, String)>,
) -> Answer {
    let spec = VersionSpec::parse(&version)?;
    registry.read().await.version(&subject, spec, true)?;
    ok(&Vec::<u32>::new())
}

pub(super) async fn register(
    State(registry): Shared,
    Path(subject): Path<String>,
    Body(bytes): Body,
) -> Answer {
    let schema = SchemaRequest::parse(&bytes)?;
    let registered = detached(async move { registry.register(&subject, &schema).await }).await?;
    ok(&json!({"id": registered.id}))
}

pub(super) async fn lookup(
    State(registry): Shared,
    Path(subject): Path<String>,
    Query(params): Params,
    Body(bytes): Body,
) -> Answer {
    let schema = SchemaRequest::parse(&bytes)?;
    let found = registry
        .read()
        .await
        .lookup(&subject, &schema, flag(&params, "deleted"))?;
    ok(&VersionBody {
        subject: &found.subject,
        version: found.version,
        id: found.id,
        schema: &found.schema.text,
    })
}

pub(super) async fn delete_subject(
    State(registry): Shared,
    Path(subject): Path<String>,
    Query(params): Params,
) -> Answer {
    let permanent = flag(&params, "permanent");
    ok(&detached(async move { registry.delete_subject(&subject, permanent).await }).await?)
}

pub(super) async fn delete_version(
    State(registry): Shared,
    Path((subject, version)): Path<(String, String)>,
    Query(params): Params,
) -> Answer {
    let spec = VersionSpec::parse(&version)?;
    let permanent = flag(&params, "permanent");
    ok(&detached(async move { registry.delete_version(&subject, spec, permanent).await }).await?)
}

pub(super) async fn schema_types() -> Answer {
    ok(&[AVRO])
}

/// An id from the path; one that is not a number is as unknown as a missing one.
fn schema_id(text: &str) -> Result<u32, RegistryError> {
    text.trim()
        .parse()
        .map_err(|_| RegistryError::SchemaNotFound {
            what: format!("schema {text}"),
        })
}

pub(super) async fn schema_by_id(State(registry): Shared, Path(id): Path<String>) -> Answer {
    let schema = registry.read().await.schema(schema_id(&id)?)?;
    ok(&json!({"schema": schema.text}))
}

pub(super) async fn raw_schema_by_id(State(registry): Shared, Path(id): Path<String>) -> Answer {
    let schema = registry.read().await.schema(schema_id(&id)?)?;
    raw(&schema.text)
}

pub(super) async fn versions_of_id(
    State(registry): Shared,
    Path(id): Path<String>,
    Query(params): Params,
) -> Answer {
    let uses = registry
        .read()
        .await
        .uses_of(schema_id(&id)?, flag(&params, "deleted"))?;
    let body: Vec<_> = uses
        .into_iter()
        .map(|(subject, version)| json!({"subject": subject, "version": version}))
        .collect();
    ok(&body)
}

pub(super) async fn subjects_of_id(
    State(registry): Shared,
    Path(id): Path<String>,
    Query(params): Params,
) -> Answer {
    let uses = registry
        .read()
        .await
        .uses_of(schema_id(&id)?, flag(&params, "deleted"))?;
    let mut subjects: Vec<String> = uses.into_iter().map(|(subject, _)| subject).collect();
    subjects.dedup();
    ok(&subjects)
}

/// Compatibility of the posted schema with every live version of the subject, at its
/// level: what registering it would check.
pub(super) async fn check_against_subject(
    State(registry): Shared,
    Path(subject): Path<String>,
    Query(params): Params,
    Body(bytes): Body,
) -> Answer {
    let store = registry.read().await;
    let versions = store.versions(&subject, false).unwrap_or_default();
    compatibility_answer(
        &store,
        &subject,
        &versions,
        &bytes,
        flag(&params, "verbose"),
    )
}

/// Compatibility of the posted schema with one version, in the direction(s) of the
/// subject's level. `latest` of a subject without versions is compatible.
pub(super) async fn check_against_version(
    State(registry): Shared,
    Path((subject, version)): Path<(String, String)>,
    Query(params): Params,
    Body(bytes): Body,
) -> Answer {
    let spec = VersionSpec::parse(&version)?;
    let store = registry.read().await;
    let versions = match store.version(&subject, spec, false) {
        Ok(found) => vec![found.version],
        Err(RegistryError::SubjectNotFound { .. }) if spec == VersionSpec::Latest => vec![],
        Err(error) => return Err(error),
    };
    compatibility_answer(
        &store,
        &subject,
        &versions,
        &bytes,
        flag(&params, "verbose"),
    )
}

fn compatibility_answer(
    store: &Store,
    subject: &str,
    versions: &[u32],
    bytes: &Bytes,
    verbose: bool,
) -> Answer {
    let schema = match SchemaRequest::parse(bytes) {
        Ok(schema) => schema,
        Err(error @ RegistryError::InvalidSchema(_)) if verbose => {
            return ok(&json!({"is_compatible": false, "messages": [error.to_string()]}));
        }
        Err(error) => return Err(error),
    };
    let earlier: Vec<_> = versions
        .iter()
        .filter_map(|version| store.subject_version(subject, *version))
        .collect();
    let schemas: Vec<_> = earlier
        .iter()
        .map(|found| found.schema.avro.clone())
        .collect();
    let level = store.effective_level(Some(subject));
    let messages: Vec<String> = match compat::check(level, &schema.avro, &schemas) {
        Ok(()) => vec![],
        Err(problems) => problems
            .iter()
            .map(|problem| {
                format!(
                    "version {}: {}: {} (compatibility level {level})",
                    earlier[problem.earlier].version, problem.direction, problem.reason
                )
            })
            .collect(),
    };
    if verbose {
        ok(&json!({"is_compatible": messages.is_empty(), "messages": messages}))
    } else {
        ok(&json!({"is_compatible": messages.is_empty()}))
    }
}

#[derive(Debug, Deserialize)]
struct LevelRequest {
    compatibility: Option<String>,
}

fn level_of(bytes: &Bytes) -> Result<CompatibilityLevel, RegistryError> {
    let request: LevelRequest = body(bytes)?;
    let name = request.compatibility.unwrap_or_default();
    name.parse()
        .map_err(|_| RegistryError::InvalidCompatibilityLevel(name))
}

pub(super) async fn get_global_level(State(registry): Shared) -> Answer {
    let level = registry.read().await.effective_level(None);
    ok(&json!({"compatibilityLevel": level}))
}

pub(super) async fn put_global_level(State(registry): Shared, Body(bytes): Body) -> Answer {
    let level = level_of(&bytes)?;
    detached(async move { registry.set_level(None, level).await }).await?;
    ok(&json!({"compatibility": level}))
}

pub(super) async fn delete_global_level(State(registry): Shared) -> Answer {
    let old = detached(async move { registry.delete_global_level().await }).await?;
    ok(&json!({"compatibilityLevel": old}))
}

pub(super) async fn get_subject_level(
    State(registry): Shared,
    Path(subject): Path<String>,
    Query(params): Params,
) -> Answer {
    let store = registry.read().await;
    let level = if flag(&params, "defaultToGlobal") {
        Some(store.effective_level(Some(&subject)))
    } else {
        store.level(Some(&subject))
    };
    let level = level.ok_or(RegistryError::SubjectLevelNotConfigured { subject })?;
    ok(&json!({"compatibilityLevel": level}))
}

pub(super) async fn put_subject_level(
    State(registry): Shared,
    Path(subject): Path<String>,
    Body(bytes): Body,
) -> Answer {
    let level = level_of(&bytes)?;
    detached(async move { registry.set_level(Some(&subject), level).await }).await?;
    ok(&json!({"compatibility": level}))
}

pub(super) async fn delete_subject_level(
    State(registry): Shared,
    Path(subject): Path<String>,
) -> Answer {
    let old = detached(async move { registry.delete_subject_level(&subject).await }).await?;
    ok(&json!({"compatibilityLevel": old}))
}

/// Takes `body` apart as every request body the API reads (a schema to register,
/// look up or check; a compatibility level) and `segment` as every path parameter
/// it parses (a schema id, a version), as the handlers do, and says what each
/// parse answered. Public for the fuzz targets (`fuzz/`): whatever a client sends,
/// none of it may panic; each bad input is an error the client is answered with.
#[doc(hidden)]
pub fn parse_untrusted(body: &[u8], segment: &str) -> [Result<(), RegistryError>; 4] {
    let bytes = Bytes::copy_from_slice(body);
    [
        SchemaRequest::parse(&bytes).map(drop),
        level_of(&bytes).map(drop),
        schema_id(segment).map(drop),
        VersionSpec::parse(segment).map(drop),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_requests_need_a_schema_and_no_references() {
        let parse = |text: &str| SchemaRequest::parse(&Bytes::from(text.to_owned()));
        assert!(parse(r#"{"schema":"\"int\"","schemaType":"AVRO","metadata":{}}"#).is_ok());
        assert_eq!(parse("{}").unwrap_err().error_code(), 42201);
        let referenced =
            r#"{"schema":"\"int\"","references":[{"name":"x","subject":"y","version":1}]}"#;
        assert_eq!(parse(referenced).unwrap_err().error_code(), 42201);
        assert_eq!(parse("{not json").unwrap_err().error_code(), 400);
    }

    #[test]
    fn level_requests_name_a_known_level() {
        let level = |text: &str| level_of(&Bytes::from(text.to_owned()));
        assert_eq!(
            level(r#"{"compatibility":"full_transitive"}"#),
            Ok(CompatibilityLevel::FullTransitive)
        );
        assert_eq!(
            level(r#"{"compatibility":"SIDEWAYS"}"#)
                .unwrap_err()
                .error_code(),
            42203
        );
        assert_eq!(level("{}").unwrap_err().error_code(), 42203);
    }

    #[test]
    fn untrusted_bodies_and_path_segments_are_answered_with_errors() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let deep_schema = format!(
            r#"{{"schema":{}}}"#,
            serde_json::to_string(&format!(
                "{}\"int\"{}",
                r#"{"type":"array","items":"#.repeat(1_000),
                "}".repeat(1_000)
            ))
            .unwrap_or_default()
        );
        for (body, segment) in [
            (&b""[..], ""),
            (&b"\xff\xfe{"[..], "\u{0}"),
            (deep.as_bytes(), "99999999999999999999"),
            (deep_schema.as_bytes(), "-2"),
            (
                br#"{"schema":"{\"type\":\"record\"}","schemaType":"PROTOBUF"}"#,
                "latest ",
            ),
        ] {
            let answers = parse_untrusted(body, segment);
            assert!(answers[0].is_err() && answers[1].is_err(), "{answers:?}");
        }
    }
}
