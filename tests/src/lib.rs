//! Helpers shared by the integration tests under `tests/tests/`.
//!
//! The tests talk to real services found through [`Endpoints::from_env`] (the local
//! stack of `make up` by default, or docker-compose's when the `LEDGERSTREAM_*`
//! variables point there). Each test names its own topics, tables and indices with
//! [`unique_name`], so that tests running at the same time share nothing, and may
//! remove them after itself ([`delete_topics`] for topics). A missing service fails
//! the test with the probe's message, which says how to start it — nothing is
//! skipped.

use std::time::Duration;

use ledgerstream_infra::{Endpoint, Endpoints, Service, probe};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;

/// `LEDGERSTREAM_LOG` of the `ledgerstream` processes a test runs for long
/// (processors, projectors, exporters): debug logs of the pipeline's crates,
/// for the tails that failure messages show.
pub const CHILD_LOG: &str =
    "info,ledgerstream_processor=debug,ledgerstream_projections=debug,ledgerstream_lag=debug";

/// Where the services under test are.
pub fn endpoints() -> Endpoints {
    Endpoints::from_env()
}

/// `prefix` followed by a random suffix, safe as a topic, table or index name.
pub fn unique_name(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}_{}", &id[..12])
}

/// The endpoint of `service`, after checking that it answers.
///
/// # Panics
///
/// When the service does not answer: the message names it and says how to start it.
pub async fn require(service: Service) -> Endpoint {
    let endpoints = endpoints();
    let endpoint = endpoints
        .all()
        .into_iter()
        .find(|endpoint| endpoint.service == service)
        .cloned()
        .expect("every service has an endpoint");
    if let Err(error) = probe::probe(&endpoint).await {
        panic!("{error}");
    }
    endpoint
}

/// Deletes `topics`, which a test made; one already gone is not an error.
///
/// # Panics
///
/// When the broker does not answer or refuses.
pub async fn delete_topics(brokers: &str, topics: &[&str]) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("admin client");
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let answers = admin
        .delete_topics(topics, &options)
        .await
        .expect("DeleteTopics request");
    for answer in answers {
        match answer {
            Ok(_) | Err((_, RDKafkaErrorCode::UnknownTopicOrPartition)) => {}
            Err((topic, code)) => panic!("deleting topic {topic} failed: {code}"),
        }
    }
}

/// The `ledgerstream` binary of this workspace's debug build.
///
/// # Panics
///
/// When it has not been built: the message says how to build it.
pub fn ledgerstream_bin() -> std::path::PathBuf {
    debug_binary("ledgerstream")
}

/// The `ledgerstream-bench` binary (benchmarks, load generator) of this
/// workspace's debug build.
///
/// # Panics
///
/// When it has not been built: the message says how to build it.
pub fn ledgerstream_bench_bin() -> std::path::PathBuf {
    debug_binary("ledgerstream-bench")
}

fn debug_binary(package: &str) -> std::path::PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let binary = target.join("debug").join(package);
    assert!(
        binary.exists(),
        "{} is missing; build it with `cargo build -p {package}` (`make test` does)",
        binary.display()
    );
    binary
}

/// A finished process's exit status, standard output and standard error, as
/// text for a failure message.
pub fn output_text(output: &std::process::Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Waits, off the runtime's threads, for `child` to exit, and returns its
/// status and output. No deadline of its own: the command's own timeout bounds it.
///
/// # Panics
///
/// When its output cannot be read.
pub async fn wait_output(child: std::process::Child) -> std::process::Output {
    tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("the waiting task")
        .expect("the command's output")
}

/// A fresh, empty folder under the system's temporary folder, removed on drop.
#[derive(Debug)]
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    /// Creates `<tmp>/<prefix>_<random>`.
    pub fn new(prefix: &str) -> Self {
        let path = std::env::temp_dir().join(unique_name(prefix));
        std::fs::create_dir_all(&path).expect("create a temporary folder");
        Self(path)
    }

    /// Where it is.
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub mod audit;
pub mod broker;
pub mod chdb;
pub mod clickhouse;
pub mod history;
pub mod log;
pub mod pipeline;
pub mod prometheus;
pub mod services;
pub mod tls;
pub mod workload;
