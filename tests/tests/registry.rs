//! The Schema Registry (`ledgerstream registry`) from the outside: the built binary runs
//! as a child process on a free port, against the real broker, each test on a `_schemas`
//! topic of its own so that tests share nothing. Clients are plain HTTP (Confluent's
//! paths, codes and bodies) and `schema_registry_converter`, a Confluent client.
//!
//! The binary is `target/debug/ledgerstream`; `make test` builds it first, otherwise run
//! `cargo build -p ledgerstream`.
//!
//! Each test deletes its topics afterwards.

// Test code: a failed unwrap is a failed test, and amounts read as units_cents.
#![allow(clippy::unwrap_used, clippy::inconsistent_digit_grouping)]

use std::collections::BTreeSet;
use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use apache_avro::types::Value as Avro;
use ledgerstream_infra::{Endpoint, Service};
use ledgerstream_tests::pipeline::free_port;
use ledgerstream_tests::{delete_topics, ledgerstream_bin, require, unique_name};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use reqwest::Method;
use schema_registry_converter::async_impl::avro::{AvroDecoder, AvroEncoder};
use schema_registry_converter::async_impl::schema_registry::SrSettings;
use schema_registry_converter::schema_registry_common::{
    SchemaType, SubjectNameStrategy, SuppliedSchema,
};
use serde_json::{Value, json};

const V1_CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const KAFKA_TIMEOUT: Duration = Duration::from_secs(15);

fn record(fields: &str) -> String {
    format!(
        r#"{{"type":"record","name":"Payment","namespace":"ledgerstream.test","fields":[{fields}]}}"#
    )
}

fn v1() -> String {
    record(r#"{"name":"id","type":"string"},{"name":"amount_minor","type":"long"}"#)
}

/// v1 plus a field with a default: compatible every way.
fn v2() -> String {
    record(
        r#"{"name":"id","type":"string"},{"name":"amount_minor","type":"long"},{"name":"currency","type":"string","default":"EUR"}"#,
    )
}

/// v1 plus a field without a default: v3 cannot read v1 data (not BACKWARD).
fn v3_no_default() -> String {
    record(
        r#"{"name":"id","type":"string"},{"name":"amount_minor","type":"long"},{"name":"channel","type":"string"}"#,
    )
}

fn body(schema: &str) -> Value {
    json!({ "schema": schema })
}

/// A `ledgerstream registry` child process; killed when dropped.
struct Registry {
    child: Child,
    url: String,
    topic: String,
    log: PathBuf,
}

impl Registry {
    /// Starts a registry on `topic` and waits until it serves.
    async fn start(broker: &Endpoint, topic: &str) -> Self {
        Self::start_with(broker, topic, &[], &[]).await
    }

    /// Starts a registry on `topic` with more flags and environment variables, and
    /// waits until it serves.
    async fn start_with(
        broker: &Endpoint,
        topic: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let listen = format!("127.0.0.1:{}", free_port());
        let mut registry = Self::spawn_with(&broker.address, topic, &listen, args, env);
        registry.wait_ready().await;
        registry
    }

    /// Starts a registry without waiting.
    fn spawn(brokers: &str, topic: &str, listen: &str) -> Self {
        Self::spawn_with(brokers, topic, listen, &[], &[])
    }

    fn spawn_with(
        brokers: &str,
        topic: &str,
        listen: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let log = std::env::temp_dir().join(format!("{}.log", unique_name("registry")));
        let out = File::create(&log).expect("create the registry's log file");
        let err = out.try_clone().expect("clone the log file handle");
        let child = Command::new(ledgerstream_bin())
            .args(["registry", "--listen", listen, "--topic", topic])
            .args(args)
            .env("LEDGERSTREAM_BROKERS", brokers)
            .env("LEDGERSTREAM_LOG", "info,rdkafka=warn")
            .env("RUST_BACKTRACE", "0")
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start ledgerstream registry");
        Self {
            child,
            url: format!("http://{listen}"),
            topic: topic.to_owned(),
            log,
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for `/metrics`, which answers once the topic is read, with or without
    /// authentication.
    async fn wait_ready(&mut self) {
        let http = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(response) = http.get(format!("{}/metrics", self.url)).send().await
                && response.status().is_success()
            {
                return;
            }
            if let Some(status) = self.child.try_wait().expect("poll the registry process") {
                panic!(
                    "the registry on {} exited with {status} before serving; its log:\n{}",
                    self.topic,
                    self.log_text()
                );
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the registry on {} is not ready after {READY_TIMEOUT:?}; its log:\n{}",
                self.topic,
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for the process to exit by itself.
    async fn exit_status(&mut self, within: Duration) -> ExitStatus {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the registry process") {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the registry did not exit within {within:?}; its log:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGTERM, then waits for a clean exit.
    async fn terminate(&mut self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM failed");
        let status = self.exit_status(Duration::from_secs(20)).await;
        assert!(
            status.success(),
            "SIGTERM should stop the registry cleanly, it exited with {status}; log:\n{}",
            self.log_text()
        );
    }

    /// Calls the API; answers the status and the JSON body (`Null` when empty).
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let (status, _, text) = self.call_raw(method, path, body, None).await;
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{path} answered {status} with non-JSON {text:?}: {e}"))
        };
        (status, value)
    }

    async fn call_raw(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        accept: Option<&str>,
    ) -> (u16, String, String) {
        let mut request = reqwest::Client::new().request(method, format!("{}{path}", self.url));
        if let Some(body) = body {
            request = request
                .header("content-type", V1_CONTENT_TYPE)
                .body(body.to_string());
        }
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        let response = request.send().await.expect("call the registry");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = response.text().await.expect("read the answer");
        (status, content_type, text)
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.call(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::PUT, path, Some(body)).await
    }

    async fn delete(&self, path: &str) -> (u16, Value) {
        self.call(Method::DELETE, path, None).await
    }

    /// Registers `schema` under `subject`; answers its id.
    async fn register(&self, subject: &str, schema: &str) -> u64 {
        let (status, answer) = self
            .post(&format!("/subjects/{subject}/versions"), body(schema))
            .await;
        assert_eq!(status, 200, "register under {subject}: {answer}");
        answer["id"]
            .as_u64()
            .unwrap_or_else(|| panic!("no id in {answer}"))
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// Asserts a Confluent error answer: status, error code, and that the message says
/// something.
fn assert_error(answer: (u16, Value), status: u16, code: u64, context: &str) {
    assert_eq!(answer.0, status, "{context}: {}", answer.1);
    assert_eq!(
        answer.1["error_code"],
        json!(code),
        "{context}: {}",
        answer.1
    );
    let message = answer.1["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{context}: no message in {}", answer.1);
}

fn admin(broker: &Endpoint) -> AdminClient<DefaultClientContext> {
    ClientConfig::new()
        .set("bootstrap.servers", &broker.address)
        .create()
        .expect("admin client")
}

#[tokio::test(flavor = "multi_thread")]
async fn http_api_serves_subjects_versions_ids_and_lookups_like_confluent() {
    let broker = require(Service::Broker).await;
    let topic = unique_name("_schemas_http");
    let registry = Registry::start(&broker, &topic).await;

    assert_eq!(registry.get("/subjects").await, (200, json!([])));
    assert_eq!(registry.get("/").await, (200, json!({})));
    assert_eq!(registry.get("/schemas/types").await, (200, json!(["AVRO"])));

    let (status, content_type, _) = registry
        .call_raw(
            Method::POST,
            "/subjects/pay-value/versions",
            Some(body(&v1())),
            None,
        )
        .await;
    assert_eq!((status, content_type.as_str()), (200, V1_CONTENT_TYPE));
    let id1 = registry.register("pay-value", &v1()).await;
    let pretty =
        serde_json::to_string_pretty(&serde_json::from_str::<Value>(&v1()).unwrap()).unwrap();
    assert_eq!(
        registry.register("pay-value", &pretty).await,
        id1,
        "the same schema, formatted differently, is the same id"
    );
    assert_eq!(
        registry.get("/subjects/pay-value/versions").await,
        (200, json!([1]))
    );

    let id2 = registry.register("pay-value", &v2()).await;
    assert_eq!(id2, id1 + 1, "a new schema takes the next id");
    assert_eq!(
        registry.register("refund-value", &v1()).await,
        id1,
        "the same schema under another subject keeps its global id"
    );
    assert_eq!(
        registry.get("/subjects").await,
        (200, json!(["pay-value", "refund-value"]))
    );
    assert_eq!(
        registry.get("/subjects/pay-value/versions").await,
        (200, json!([1, 2]))
    );
    assert_eq!(
        registry.get("/subjects/pay-value/versions/1").await,
        (
            200,
            json!({"subject": "pay-value", "version": 1, "id": id1, "schema": v1()})
        )
    );
    for latest in ["latest", "-1"] {
        let (status, found) = registry
            .get(&format!("/subjects/pay-value/versions/{latest}"))
            .await;
        assert_eq!(
            (status, &found["version"], &found["id"]),
            (200, &json!(2), &json!(id2))
        );
    }
    let (status, raw) = registry
        .get("/subjects/pay-value/versions/latest/schema")
        .await;
    assert_eq!((status, raw), (200, serde_json::from_str(&v2()).unwrap()));
    assert_eq!(
        registry.get(&format!("/schemas/ids/{id1}")).await,
        (200, json!({"schema": v1()}))
    );
    assert_eq!(
        registry.get(&format!("/schemas/ids/{id1}/versions")).await,
        (
            200,
            json!([{"subject": "pay-value", "version": 1}, {"subject": "refund-value", "version": 1}])
        )
    );
    assert_eq!(
        registry.get(&format!("/schemas/ids/{id1}/subjects")).await,
        (200, json!(["pay-value", "refund-value"]))
    );

    // Lookup: which version of the subject holds this schema?
    let (status, found) = registry.post("/subjects/pay-value", body(&v2())).await;
    assert_eq!(
        (status, found),
        (
            200,
            json!({"subject": "pay-value", "version": 2, "id": id2, "schema": v2()})
        )
    );
    assert_error(
        registry.post("/subjects/refund-value", body(&v2())).await,
        404,
        40403,
        "lookup of a schema the subject does not hold",
    );
    assert_error(
        registry.post("/subjects/nobody", body(&v1())).await,
        404,
        40401,
        "lookup under an unknown subject",
    );

    // Errors, with Confluent's codes.
    assert_error(
        registry.get("/subjects/nobody/versions").await,
        404,
        40401,
        "unknown subject",
    );
    assert_error(
        registry.get("/subjects/nobody/versions/1").await,
        404,
        40401,
        "version of an unknown subject",
    );
    assert_error(
        registry.get("/subjects/pay-value/versions/9").await,
        404,
        40402,
        "unknown version",
    );
    for bad in ["0", "abc", "2147483648"] {
        assert_error(
            registry
                .get(&format!("/subjects/pay-value/versions/{bad}"))
                .await,
            422,
            42202,
            bad,
        );
    }
    assert_error(
        registry.get("/schemas/ids/999999").await,
        404,
        40403,
        "unknown id",
    );
    assert_error(
        registry
            .post("/subjects/pay-value/versions", body(r#"{"type":"record"}"#))
            .await,
        422,
        42201,
        "invalid Avro",
    );
    assert_error(
        registry
            .post(
                "/subjects/pay-value/versions",
                json!({"schema": "syntax = \"proto3\";", "schemaType": "PROTOBUF"}),
            )
            .await,
        422,
        42201,
        "a schema type other than Avro",
    );
    let (status, _, malformed) = registry
        .call_raw(Method::POST, "/subjects/pay-value/versions", None, None)
        .await;
    assert_eq!(status, 400, "an empty body: {malformed}");
    assert_error(
        registry.get("/no/such/path").await,
        404,
        404,
        "unknown path",
    );
    assert_error(
        registry.call(Method::PATCH, "/subjects", None).await,
        405,
        405,
        "unknown method",
    );

    // A subject with a slash, percent-encoded in the path as clients send it.
    registry.register("team%2Fpay-value", &v1()).await;
    let (_, subjects) = registry.get("/subjects").await;
    assert!(
        subjects
            .as_array()
            .unwrap()
            .contains(&json!("team/pay-value")),
        "{subjects}"
    );

    // A client that accepts only application/json gets it.
    let (_, content_type, _) = registry
        .call_raw(Method::GET, "/subjects", None, Some("application/json"))
        .await;
    assert_eq!(content_type, "application/json");

    // Metrics: requests by route template and status, schemas and subjects held.
    let (status, _, metrics) = registry.call_raw(Method::GET, "/metrics", None, None).await;
    assert_eq!(status, 200);
    for expected in [
        r#"route="/subjects/{subject}/versions",status="200""#,
        r#"route="/subjects/{subject}/versions/{version}",status="404""#,
        "ledgerstream_registry_schemas 2",
        "ledgerstream_registry_subjects 3",
        "ledgerstream_registry_schemas_registered_total 4",
    ] {
        assert!(metrics.contains(expected), "{expected} not in:\n{metrics}");
    }
    drop(registry);
    delete_topics(&broker.address, &[&topic]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn incompatible_changes_are_refused_with_409_and_the_reasons() {
    let broker = require(Service::Broker).await;
    let topic = unique_name("_schemas_compat");
    let registry = Registry::start(&broker, &topic).await;
    registry.register("pay-value", &v1()).await;

    let (status, answer) = registry
        .post("/subjects/pay-value/versions", body(&v3_no_default()))
        .await;
    assert_eq!(
        (status, &answer["error_code"]),
        (409, &json!(409)),
        "{answer}"
    );
    let message = answer["message"].as_str().unwrap();
    assert!(
        message.contains("version 1")
            && message.contains("BACKWARD")
            && message.contains("channel"),
        "the message names the version, the level and the field: {message}"
    );
    assert_eq!(
        registry.get("/subjects/pay-value/versions").await,
        (200, json!([1]))
    );

    // The compatibility endpoints agree, without registering anything.
    let check = |version: &str, schema: String, verbose: bool| {
        let path = format!(
            "/compatibility/subjects/pay-value/versions{version}{}",
            if verbose { "?verbose=true" } else { "" }
        );
        let registry = &registry;
        async move { registry.post(&path, body(&schema)).await }
    };
    assert_eq!(
        check("/latest", v3_no_default(), false).await,
        (200, json!({"is_compatible": false}))
    );
    let (status, verbose) = check("/1", v3_no_default(), true).await;
    assert_eq!((status, &verbose["is_compatible"]), (200, &json!(false)));
    assert!(
        !verbose["messages"].as_array().unwrap().is_empty(),
        "verbose names the reasons: {verbose}"
    );
    assert_eq!(
        check("/latest", v2(), true).await,
        (200, json!({"is_compatible": true, "messages": []}))
    );
    assert_eq!(
        check("", v3_no_default(), false).await,
        (200, json!({"is_compatible": false}))
    );
    assert_error(
        check("/7", v2(), false).await,
        404,
        40402,
        "unknown version",
    );
    assert_error(
        check("/zero", v2(), false).await,
        422,
        42202,
        "invalid version",
    );
    assert_error(
        check("/latest", r#"{"type":"nope"}"#.into(), false).await,
        422,
        42201,
        "invalid schema",
    );
    assert_eq!(
        registry
            .post(
                "/compatibility/subjects/nobody/versions/latest",
                body(&v1())
            )
            .await,
        (200, json!({"is_compatible": true})),
        "anything is compatible with a subject that has no versions"
    );
    assert_error(
        registry
            .post("/compatibility/subjects/nobody/versions/1", body(&v1()))
            .await,
        404,
        40401,
        "a version of an unknown subject",
    );

    // Under FORWARD, the same change is fine: v1 readers can read it.
    registry
        .put("/config/pay-value", json!({"compatibility": "FORWARD"}))
        .await;
    assert_eq!(
        check("/latest", v3_no_default(), false).await.1["is_compatible"],
        json!(true)
    );
    registry.register("pay-value", &v3_no_default()).await;
    assert_eq!(
        registry.get("/subjects/pay-value/versions").await,
        (200, json!([1, 2]))
    );
    drop(registry);
    delete_topics(&broker.address, &[&topic]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn compatibility_levels_round_trip_globally_and_per_subject() {
    let broker = require(Service::Broker).await;
    let topic = unique_name("_schemas_config");
    let registry = Registry::start(&broker, &topic).await;

    assert_eq!(
        registry.get("/config").await,
        (200, json!({"compatibilityLevel": "BACKWARD"}))
    );
    for level in [
        "NONE",
        "BACKWARD",
        "BACKWARD_TRANSITIVE",
        "FORWARD",
        "FORWARD_TRANSITIVE",
        "FULL",
        "FULL_TRANSITIVE",
    ] {
        assert_eq!(
            registry
                .put("/config/pay-value", json!({"compatibility": level}))
                .await,
            (200, json!({"compatibility": level}))
        );
        assert_eq!(
            registry.get("/config/pay-value").await,
            (200, json!({"compatibilityLevel": level}))
        );
    }
    assert_eq!(
        registry
            .put("/config/pay-value", json!({"compatibility": "none"}))
            .await,
        (200, json!({"compatibility": "NONE"})),
        "levels are read in any case"
    );
    assert_error(
        registry
            .put("/config/pay-value", json!({"compatibility": "SIDEWAYS"}))
            .await,
        422,
        42203,
        "unknown level",
    );
    assert_error(
        registry.put("/config", json!({})).await,
        422,
        42203,
        "no level",
    );

    // A subject without its own level: 40408, unless the global one is asked for.
    assert_error(
        registry.get("/config/refund-value").await,
        404,
        40408,
        "no subject level",
    );
    assert_eq!(
        registry
            .get("/config/refund-value?defaultToGlobal=true")
            .await,
        (200, json!({"compatibilityLevel": "BACKWARD"}))
    );
    assert_eq!(
        registry
            .put("/config", json!({"compatibility": "FULL"}))
            .await,
        (200, json!({"compatibility": "FULL"}))
    );
    assert_eq!(
        registry.get("/config").await,
        (200, json!({"compatibilityLevel": "FULL"}))
    );
    assert_eq!(
        registry
            .get("/config/refund-value?defaultToGlobal=true")
            .await,
        (200, json!({"compatibilityLevel": "FULL"}))
    );

    // Deleting the subject's level answers the old one; the global one applies again.
    assert_eq!(
        registry.delete("/config/pay-value").await,
        (200, json!({"compatibilityLevel": "NONE"}))
    );
    assert_error(
        registry.get("/config/pay-value").await,
        404,
        40408,
        "deleted level",
    );
    assert_error(
        registry.delete("/config/pay-value").await,
        404,
        40401,
        "deleting a level twice",
    );
    assert_eq!(
        registry.delete("/config").await,
        (200, json!({"compatibilityLevel": "FULL"}))
    );
    assert_eq!(
        registry.get("/config").await,
        (200, json!({"compatibilityLevel": "BACKWARD"}))
    );
    drop(registry);
    delete_topics(&broker.address, &[&topic]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_is_soft_first_then_permanent() {
    let broker = require(Service::Broker).await;
    let topic = unique_name("_schemas_delete");
    let registry = Registry::start(&broker, &topic).await;
    let id1 = registry.register("pay-value", &v1()).await;
    let id2 = registry.register("pay-value", &v2()).await;

    // A version: soft, then permanent; never permanent first, never soft twice.
    assert_error(
        registry
            .delete("/subjects/pay-value/versions/1?permanent=true")
            .await,
        404,
        40407,
        "permanent before soft",
    );
    assert_eq!(
        registry.delete("/subjects/pay-value/versions/1").await,
        (200, json!(1))
    );
    assert_error(
        registry.delete("/subjects/pay-value/versions/1").await,
        404,
        40406,
        "soft twice",
    );
    assert_eq!(
        registry.get("/subjects/pay-value/versions").await,
        (200, json!([2]))
    );
    assert_eq!(
        registry
            .get("/subjects/pay-value/versions?deleted=true")
            .await,
        (200, json!([1, 2]))
    );
    assert_error(
        registry.get("/subjects/pay-value/versions/1").await,
        404,
        40402,
        "a soft-deleted version",
    );
    let (status, found) = registry
        .get("/subjects/pay-value/versions/1?deleted=true")
        .await;
    assert_eq!((status, &found["id"]), (200, &json!(id1)));
    assert_eq!(
        registry.get(&format!("/schemas/ids/{id1}")).await.0,
        200,
        "a soft-deleted version's id still decodes"
    );
    assert_eq!(
        registry
            .delete("/subjects/pay-value/versions/1?permanent=true")
            .await,
        (200, json!(1))
    );
    assert_eq!(
        registry
            .get("/subjects/pay-value/versions?deleted=true")
            .await,
        (200, json!([2]))
    );
    assert_error(
        registry.get(&format!("/schemas/ids/{id1}")).await,
        404,
        40403,
        "an id no version uses any more",
    );
    assert_error(
        registry.delete("/subjects/pay-value/versions/5").await,
        404,
        40402,
        "unknown version",
    );
    assert_error(
        registry.delete("/subjects/nobody/versions/1").await,
        404,
        40401,
        "unknown subject",
    );

    // A subject: soft, then permanent.
    assert_error(
        registry.delete("/subjects/pay-value?permanent=true").await,
        404,
        40405,
        "permanent before soft",
    );
    assert_eq!(
        registry.delete("/subjects/pay-value").await,
        (200, json!([2]))
    );
    assert_error(
        registry.delete("/subjects/pay-value").await,
        404,
        40404,
        "soft twice",
    );
    assert_eq!(registry.get("/subjects").await, (200, json!([])));
    assert_eq!(
        registry.get("/subjects?deleted=true").await,
        (200, json!(["pay-value"]))
    );
    assert_error(
        registry.get("/subjects/pay-value/versions").await,
        404,
        40401,
        "a soft-deleted subject",
    );
    assert_eq!(
        registry.delete("/subjects/pay-value?permanent=true").await,
        (200, json!([2]))
    );
    assert_eq!(
        registry.get("/subjects?deleted=true").await,
        (200, json!([]))
    );
    assert_error(
        registry.delete("/subjects/pay-value").await,
        404,
        40401,
        "a hard-deleted subject",
    );
    assert_error(
        registry.get(&format!("/schemas/ids/{id2}")).await,
        404,
        40403,
        "a hard-deleted id",
    );

    // Registering after a hard delete starts the subject again, with a new id.
    let again = registry.register("pay-value", &v1()).await;
    assert!(again > id2, "ids are not reused: {again} after {id2}");
    assert_eq!(
        registry.get("/subjects/pay-value/versions").await,
        (200, json!([1]))
    );

    // Re-registering a soft-deleted schema: the same id, the next version.
    let id = registry.register("refund-value", &v1()).await;
    registry.delete("/subjects/refund-value").await;
    assert_eq!(registry.register("refund-value", &v1()).await, id);
    assert_eq!(
        registry.get("/subjects/refund-value/versions").await,
        (200, json!([2]))
    );
    drop(registry);
    delete_topics(&broker.address, &[&topic]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn schema_registry_converter_encodes_and_decodes_through_the_registry() {
    let broker = require(Service::Broker).await;
    let topic = unique_name("_schemas_converter");
    let registry = Registry::start(&broker, &topic).await;

    let settings = SrSettings::new(registry.url.clone());
    let encoder = AvroEncoder::new(settings.clone());
    let supplied = SuppliedSchema::new(
        Some("ledgerstream.test.Payment".to_owned()),
        SchemaType::Avro,
        v2(),
    );
    let strategy =
        SubjectNameStrategy::TopicRecordNameStrategyWithSchema("payments".to_owned(), supplied);
    let fields = vec![
        ("id", Avro::String("p-1".to_owned())),
        ("amount_minor", Avro::Long(12_345)),
        ("currency", Avro::String("EUR".to_owned())),
    ];
    let bytes = encoder
        .encode(fields.clone(), strategy)
        .await
        .expect("encode through the registry");

    // The subject follows TopicRecordNameStrategy, the id is in the wire format.
    let subject = "payments-ledgerstream.test.Payment";
    let (status, latest) = registry
        .get(&format!("/subjects/{subject}/versions/latest"))
        .await;
    assert_eq!(status, 200, "{latest}");
    let id = latest["id"].as_u64().unwrap() as u32;
    assert_eq!(bytes[0], 0, "magic byte");
    assert_eq!(u32::from_be_bytes(bytes[1..5].try_into().unwrap()), id);

    let decoded = AvroDecoder::new(settings.clone())
        .decode(Some(&bytes))
        .await
        .expect("decode through the registry");
    let expected = Avro::Record(
        fields
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect(),
    );
    assert_eq!(decoded.value, expected);

    // Without a schema, the encoder looks up the subject's latest version.
    let by_name = SubjectNameStrategy::TopicRecordNameStrategy(
        "payments".to_owned(),
        "ledgerstream.test.Payment".to_owned(),
    );
    let again = AvroEncoder::new(settings)
        .encode(
            vec![
                ("id", Avro::String("p-1".to_owned())),
                ("amount_minor", Avro::Long(12_345)),
                ("currency", Avro::String("EUR".to_owned())),
            ],
            by_name,
        )
        .await
        .expect("encode with the latest version");
    assert_eq!(again, bytes);
    drop(registry);
    delete_topics(&broker.address, &[&topic]).await;
}

/// Everything the API says about the registry's contents.
async fn snapshot(registry: &Registry) -> Vec<(String, Value)> {
    let mut seen = Vec::new();
    let mut ask = async |path: String| {
        let answer = registry.get(&path).await;
        seen.push((path, json!([answer.0, answer.1])));
        answer.1
    };
    ask("/config".into()).await;
    let subjects = ask("/subjects?deleted=true".into()).await;
    for subject in subjects.as_array().expect("a list of subjects") {
        let subject = subject.as_str().expect("a subject name");
        ask(format!("/config/{subject}")).await;
        let versions = ask(format!("/subjects/{subject}/versions?deleted=true")).await;
        for version in versions.as_array().expect("a list of versions") {
            let found = ask(format!(
                "/subjects/{subject}/versions/{version}?deleted=true"
            ))
            .await;
            ask(format!("/schemas/ids/{}", found["id"])).await;
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_keeps_ids_versions_and_levels() {
    let broker = require(Service::Broker).await;
    let topic = unique_name("_schemas_restart");
    let mut first = Registry::start(&broker, &topic).await;
    first.register("pay-value", &v1()).await;
    first.register("pay-value", &v2()).await;
    first.register("refund-value", r#""string""#).await;
    first.register("refund-value", r#""bytes""#).await; // string → bytes is BACKWARD
    first.register("fee-value", &v2()).await;
    first
        .put("/config", json!({"compatibility": "FULL_TRANSITIVE"}))
        .await;
    first
        .put("/config/pay-value", json!({"compatibility": "FORWARD"}))
        .await;
    first.delete("/subjects/refund-value/versions/1").await;
    first.delete("/subjects/fee-value").await;
    let before = snapshot(&first).await;
    first.terminate().await;
    assert!(
        first.log_text().contains("registry ready"),
        "{}",
        first.log_text()
    );

    let second = Registry::start(&broker, &topic).await;
    assert_eq!(snapshot(&second).await, before);
    let log = second.log_text();
    assert!(
        log.contains("registry ready") && log.contains("schemas=4"),
        "the log says how many schemas were loaded:\n{log}"
    );
    let next = second.register("other-value", r#""int""#).await;
    assert_eq!(next, 5, "the next id follows the highest one read back");
    drop(second);
    delete_topics(&broker.address, &[&topic]).await;
}

fn partition_count(broker: &Endpoint, topic: &str) -> usize {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &broker.address)
        .create()
        .expect("consumer");
    let metadata = consumer
        .fetch_metadata(Some(topic), KAFKA_TIMEOUT)
        .expect("metadata");
    metadata.topics()[0].partitions().len()
}

async fn create_topic(broker: &Endpoint, topic: &str, partitions: i32, policy: &str) {
    let options = AdminOptions::new().operation_timeout(Some(KAFKA_TIMEOUT));
    let new =
        NewTopic::new(topic, partitions, TopicReplication::Fixed(1)).set("cleanup.policy", policy);
    let created = admin(broker)
        .create_topics([&new], &options)
        .await
        .expect("create_topics");
    assert!(created.iter().all(Result::is_ok), "{created:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_topic_is_created_compacted_and_a_topic_that_would_lose_schemas_is_refused() {
    let broker = require(Service::Broker).await;
    let topic = unique_name("_schemas_topic");
    let registry = Registry::start(&broker, &topic).await;
    drop(registry);
    let partitions = tokio::task::block_in_place(|| partition_count(&broker, &topic));
    assert_eq!(partitions, 1);
    let options = AdminOptions::new().operation_timeout(Some(KAFKA_TIMEOUT));
    let described = admin(&broker)
        .describe_configs([&ResourceSpecifier::Topic(&topic)], &options)
        .await
        .expect("describe_configs");
    let config = described[0].as_ref().expect("the topic's configuration");
    assert_eq!(
        config
            .get("cleanup.policy")
            .and_then(|e| e.value.as_deref()),
        Some("compact")
    );

    let spread = unique_name("_schemas_spread");
    create_topic(&broker, &spread, 3, "compact").await;
    let mut refused = Registry::spawn(
        &broker.address,
        &spread,
        &format!("127.0.0.1:{}", free_port()),
    );
    let status = refused.exit_status(Duration::from_secs(60)).await;
    let log = refused.log_text();
    assert!(!status.success(), "{log}");
    assert!(
        log.contains("has 3 partitions") && log.contains("--topic"),
        "the error names the problem and the fix:\n{log}"
    );

    let retained = unique_name("_schemas_retained");
    create_topic(&broker, &retained, 1, "delete").await;
    let mut refused = Registry::spawn(
        &broker.address,
        &retained,
        &format!("127.0.0.1:{}", free_port()),
    );
    let status = refused.exit_status(Duration::from_secs(60)).await;
    let log = refused.log_text();
    assert!(!status.success(), "{log}");
    assert!(
        log.contains("cleanup.policy=delete") && log.contains("compact"),
        "the error names the problem and the fix:\n{log}"
    );
    delete_topics(&broker.address, &[&topic, &spread, &retained]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn startup_errors_say_what_to_fix() {
    // No broker: the probe's message says how to start one.
    let mut no_broker = Registry::spawn("127.0.0.1:1", "_schemas", "127.0.0.1:0");
    let status = no_broker.exit_status(Duration::from_secs(30)).await;
    let log = no_broker.log_text();
    assert!(!status.success(), "{log}");
    assert!(
        log.contains("stack.sh up broker") && log.contains("LEDGERSTREAM_BROKERS"),
        "{log}"
    );

    // A taken port.
    let broker = require(Service::Broker).await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = taken.local_addr().expect("address").to_string();
    let topic = unique_name("_schemas_port");
    let mut clash = Registry::spawn(&broker.address, &topic, &address);
    let status = clash.exit_status(Duration::from_secs(30)).await;
    let log = clash.log_text();
    assert!(!status.success(), "{log}");
    assert!(
        log.contains("cannot listen on") && log.contains("--listen"),
        "{log}"
    );
}

// --- a registry open to a network: authentication, limits, metrics ------------------

const ADMIN: (&str, &str) = ("registry-admin", "adm1n-Pa55-4f7c2e");
const READER: (&str, &str) = ("registry-reader", "r3ader-Pa55-9b1d0a");

/// Calls the API as `user` (or without credentials); answers the status, the
/// `WWW-Authenticate` header and the JSON body (`Null` when not JSON).
async fn call_as(
    registry: &Registry,
    user: Option<(&str, &str)>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Option<String>, Value) {
    let mut request = reqwest::Client::new().request(method, format!("{}{path}", registry.url));
    if let Some((name, password)) = user {
        request = request.basic_auth(name, Some(password));
    }
    if let Some(body) = body {
        request = request
            .header("content-type", V1_CONTENT_TYPE)
            .body(body.to_string());
    }
    let response = request.send().await.expect("call the registry");
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response.text().await.expect("read the answer");
    (
        status,
        challenge,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn basic_auth_lets_the_reader_read_and_only_the_admin_change_anything() {
    let broker = require(Service::Broker).await;
    let topic = unique_name("_schemas_auth");
    let password_file = std::env::temp_dir().join(unique_name("registry-admin-password"));
    std::fs::write(&password_file, format!("{}\n", ADMIN.1)).expect("write the password file");
    let password_path = password_file.display().to_string();
    let registry = Registry::start_with(
        &broker,
        &topic,
        &[],
        &[
            ("LEDGERSTREAM_REGISTRY_ADMIN_USER", ADMIN.0),
            ("LEDGERSTREAM_REGISTRY_ADMIN_PASSWORD_FILE", &password_path),
            ("LEDGERSTREAM_REGISTRY_READER_USER", READER.0),
            ("LEDGERSTREAM_REGISTRY_READER_PASSWORD", READER.1),
            ("LEDGERSTREAM_LOG", "debug,rdkafka=warn"),
        ],
    )
    .await;
    let subject = "auth-value";
    let versions = format!("/subjects/{subject}/versions");

    // Nobody gets in without the right credentials; the answer says how to log in.
    let wrong = (READER.0, ADMIN.1);
    for user in [None, Some(wrong), Some((ADMIN.0, READER.1))] {
        let (status, challenge, answer) =
            call_as(&registry, user, Method::GET, "/subjects", None).await;
        assert_eq!(
            (status, &answer["error_code"]),
            (401, &json!(401)),
            "{answer}"
        );
        assert!(
            challenge
                .as_deref()
                .is_some_and(|c| c.starts_with("Basic ")),
            "{challenge:?}"
        );
    }
    // Registering is a change: the admin's.
    let (status, _, answer) = call_as(
        &registry,
        Some(READER),
        Method::POST,
        &versions,
        Some(body(&v1())),
    )
    .await;
    assert_eq!(
        (status, &answer["error_code"]),
        (403, &json!(40301)),
        "{answer}"
    );
    let (status, _, answer) = call_as(
        &registry,
        Some(ADMIN),
        Method::POST,
        &versions,
        Some(body(&v1())),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let (status, _, answer) = call_as(
        &registry,
        Some(ADMIN),
        Method::POST,
        &versions,
        Some(body(&v2())),
    )
    .await;
    assert_eq!(status, 200, "{answer}");

    // The reader reads, looks up and checks compatibility.
    let reads = [
        (Method::GET, "/subjects".to_owned(), None),
        (Method::GET, format!("{versions}/1"), None),
        (Method::GET, "/config".to_owned(), None),
        (
            Method::POST,
            format!("/subjects/{subject}"),
            Some(body(&v1())),
        ),
        (
            Method::POST,
            format!("/compatibility/subjects/{subject}/versions/latest"),
            Some(body(&v2())),
        ),
    ];
    for (method, path, request) in reads {
        let (status, _, answer) =
            call_as(&registry, Some(READER), method.clone(), &path, request).await;
        assert_eq!(status, 200, "reader {method} {path}: {answer}");
    }

    // Deletes and level changes are the admin's.
    let level = json!({"compatibility": "FULL"});
    let changes = [
        (Method::PUT, "/config".to_owned(), Some(level.clone())),
        (Method::PUT, format!("/config/{subject}"), Some(level)),
        (Method::DELETE, format!("/config/{subject}"), None),
        (Method::DELETE, format!("{versions}/1"), None),
        (Method::DELETE, format!("/subjects/{subject}"), None),
    ];
    for (method, path, request) in changes {
        let (status, _, answer) = call_as(
            &registry,
            Some(READER),
            method.clone(),
            &path,
            request.clone(),
        )
        .await;
        assert_eq!(
            (status, &answer["error_code"]),
            (403, &json!(40301)),
            "reader {method} {path}: {answer}"
        );
        let (status, _, answer) =
            call_as(&registry, Some(ADMIN), method.clone(), &path, request).await;
        assert_eq!(status, 200, "admin {method} {path}: {answer}");
    }

    // Prometheus scrapes without credentials; no credential is in the metrics or the
    // log, even at debug level.
    let (status, _, metrics) = registry.call_raw(Method::GET, "/metrics", None, None).await;
    assert_eq!(status, 200);
    let log = registry.log_text();
    for secret in [ADMIN.1, READER.1] {
        assert!(!metrics.contains(secret), "{metrics}");
        assert!(!log.contains(secret), "the log holds a password:\n{log}");
    }
    assert!(log.contains("authentication=true"), "{log}");
    drop(registry);
    let _ = std::fs::remove_file(&password_file);
    delete_topics(&broker.address, &[&topic]).await;
}

/// A record schema of about `bytes` bytes: one field per 40 bytes or so.
fn schema_of_about(bytes: usize) -> String {
    let fields: Vec<String> = (0..bytes / 40)
        .map(|i| format!(r#"{{"name":"field_{i:05}","type":"long"}}"#))
        .collect();
    record(&fields.join(","))
}

/// Sends `request` as it is on a connection of its own, then reads the answer until
/// the registry closes the connection or answers; `None` when it never does within
/// `within` (a deadline for the test, not a measurement).
async fn raw_exchange(registry: &Registry, request: &[u8], within: Duration) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = registry.url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect to the registry");
    stream.write_all(request).await.expect("send the request");
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(read)) => {
                answer.extend_from_slice(&chunk[..read]);
                let text = String::from_utf8_lossy(&answer);
                if let Some((head, body)) = text.split_once("\r\n\r\n")
                    && body.contains('}')
                    && head.starts_with("HTTP/1.1")
                {
                    break;
                }
            }
        }
    }
    Some(String::from_utf8_lossy(&answer).into_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_above_the_limit_is_refused_with_413_whether_its_length_is_declared_or_not() {
    let broker = require(Service::Broker).await;
    let topic = unique_name("_schemas_limit");
    let registry = Registry::start_with(&broker, &topic, &["--max-body-bytes", "8192"], &[]).await;

    let small = schema_of_about(4_000);
    let large = schema_of_about(20_000);
    assert!(body(&small).to_string().len() < 8192 && body(&large).to_string().len() > 8192);
    let (status, answer) = registry
        .post("/subjects/limit-value/versions", body(&large))
        .await;
    assert_eq!(
        (status, &answer["error_code"]),
        (413, &json!(413)),
        "{answer}"
    );
    assert!(
        answer["message"]
            .as_str()
            .unwrap_or_default()
            .contains("8192"),
        "the message names the limit: {answer}"
    );

    // The same body in chunks, without a Content-Length.
    let payload = body(&large).to_string();
    let request = format!(
        "POST /subjects/limit-value/versions HTTP/1.1\r\nhost: registry\r\n\
         content-type: {V1_CONTENT_TYPE}\r\ntransfer-encoding: chunked\r\n\r\n\
         {:x}\r\n{payload}\r\n0\r\n\r\n",
        payload.len()
    );
    let answer = raw_exchange(&registry, request.as_bytes(), Duration::from_secs(60))
        .await
        .expect("the registry answers a chunked body above the limit");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");

    // Below the limit, and after the refusals, the registry works as before.
    registry.register("limit-value", &small).await;
    assert_eq!(
        registry.get("/subjects").await,
        (200, json!(["limit-value"]))
    );
    drop(registry);
    delete_topics(&broker.address, &[&topic]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_that_outlasts_the_timeout_is_answered_50002_and_the_registry_serves_on() {
    // The body's part: answered 50002. The headers' part: the connection is closed.
    let broker = require(Service::Broker).await;
    let topic = unique_name("_schemas_timeout");
    let registry = Registry::start_with(
        &broker,
        &topic,
        &["--write-timeout", "1", "--request-timeout", "2"],
        &[],
    )
    .await;

    // A client that announces 100 bytes and sends 10, then stalls: without a timeout
    // the request would hold its connection and task forever.
    let request = format!(
        "POST /subjects/slow-value/versions HTTP/1.1\r\nhost: registry\r\n\
         content-type: {V1_CONTENT_TYPE}\r\ncontent-length: 100\r\n\r\n{{\"schema\":"
    );
    let answer = raw_exchange(&registry, request.as_bytes(), Duration::from_secs(60))
        .await
        .expect("the registry answers a stalled request by itself");
    assert!(answer.starts_with("HTTP/1.1 500"), "{answer}");
    assert!(answer.contains("50002"), "{answer}");

    // A client that never finishes its headers is cut off too.
    let headers = "GET /subjects HTTP/1.1\r\nhost: registry\r\nx-slow: ";
    let answer = raw_exchange(&registry, headers.as_bytes(), Duration::from_secs(60)).await;
    assert!(
        answer.is_some(),
        "the registry still holds a connection whose headers never ended"
    );

    registry.register("slow-value", &v1()).await;
    let (_, _, metrics) = registry.call_raw(Method::GET, "/metrics", None, None).await;
    assert!(
        metrics.contains(r#"route="/subjects/{subject}/versions",status="500""#),
        "the timed-out request is counted:\n{metrics}"
    );
    assert!(registry.log_text().contains("request timed out"));
    drop(registry);
    delete_topics(&broker.address, &[&topic]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn invented_methods_share_one_metrics_label() {
    let broker = require(Service::Broker).await;
    let topic = unique_name("_schemas_methods");
    let registry = Registry::start(&broker, &topic).await;
    for i in 0..50 {
        let method = Method::from_bytes(format!("INVENTED{i}").as_bytes()).unwrap();
        let (status, _) = registry.call(method, "/subjects", None).await;
        assert_eq!(status, 405);
    }
    registry
        .call(Method::from_bytes(b"PATCH").unwrap(), "/nowhere", None)
        .await;
    registry.get("/subjects").await;

    let (_, _, metrics) = registry.call_raw(Method::GET, "/metrics", None, None).await;
    let methods: BTreeSet<&str> = metrics
        .lines()
        .filter(|line| line.starts_with("ledgerstream_registry_http_requests_total{"))
        .filter_map(|line| line.split("method=\"").nth(1)?.split('"').next())
        .collect();
    let known: BTreeSet<&str> = ["GET", "POST", "PUT", "DELETE", "other"].into();
    assert!(methods.is_subset(&known), "{methods:?}\n{metrics}");
    assert!(
        metrics.contains(r#"method="other",route="/subjects",status="405"} 50"#),
        "{metrics}"
    );
    drop(registry);
    delete_topics(&broker.address, &[&topic]).await;
}

/// The client every producer and the processor use (`RegistryClient`, configured by
/// `LEDGERSTREAM_REGISTRY_*`), against a registry with users behind TLS of a CA of
/// its own.
#[tokio::test(flavor = "multi_thread")]
async fn the_client_reaches_a_registry_behind_tls_with_basic_auth_and_a_ca_file() {
    use ledgerstream_schemas::client::{RegistryClient, RegistryConfig, RegistryError};
    use ledgerstream_tests::tls::{Certificates, tls_front};

    let broker = require(Service::Broker).await;
    let topic = unique_name("_schemas_client_tls");
    let registry = Registry::start_with(
        &broker,
        &topic,
        &[],
        &[
            ("LEDGERSTREAM_REGISTRY_ADMIN_USER", ADMIN.0),
            ("LEDGERSTREAM_REGISTRY_ADMIN_PASSWORD", ADMIN.1),
            ("LEDGERSTREAM_REGISTRY_READER_USER", READER.0),
            ("LEDGERSTREAM_REGISTRY_READER_PASSWORD", READER.1),
        ],
    )
    .await;
    let certificates = Certificates::make("registry");
    let upstream = registry.url.trim_start_matches("http://").parse().unwrap();
    let (front, _task) = tls_front(&certificates, upstream).await;
    // By name, as a deployment would; the certificate holds both localhost and the IP.
    let url = format!("https://localhost:{}", front.port());
    let client = |user: Option<(&str, &str)>, ca: bool| {
        let mut config = RegistryConfig::new(url.clone());
        config.username = user.map(|(name, _)| name.to_owned());
        config.password = user.map(|(_, password)| password.to_owned().into());
        config.ca_file = ca.then(|| certificates.ca.clone());
        RegistryClient::new(config).expect("a client")
    };

    let admin = client(Some(ADMIN), true);
    let id = admin.register("tls-value", &v1()).await.expect("register");
    let found = admin.lookup("tls-value", &v1()).await.expect("lookup");
    assert_eq!((found.id, found.version), (id, 1));
    assert!(!format!("{admin:?}").contains(ADMIN.1));

    let reader = client(Some(READER), true);
    let schema = reader.schema_by_id(id).await.expect("read by id");
    assert!(schema.contains("Payment"), "{schema}");
    let denied = reader.register("tls-value", &v2()).await.unwrap_err();
    assert_eq!(denied.error_code(), Some(40301), "{denied}");
    assert!(!denied.is_retriable());

    let wrong = client(Some((READER.0, "not-the-password")), true);
    let refused = wrong.schema_by_id(id).await.unwrap_err();
    assert!(
        matches!(refused, RegistryError::Api { status: 401, .. }),
        "{refused}"
    );
    assert!(!refused.to_string().contains("not-the-password"));

    // Without the CA the certificate is not trusted: a clear failure, not a fallback.
    let untrusting = client(Some(ADMIN), false);
    let untrusted = untrusting.schema_by_id(id).await.unwrap_err();
    assert!(
        matches!(untrusted, RegistryError::Unreachable { .. })
            && untrusted.to_string().contains("certificate"),
        "{untrusted}"
    );
    assert!(!untrusted.to_string().contains(ADMIN.1));
    drop(registry);
    delete_topics(&broker.address, &[&topic]).await;
}
