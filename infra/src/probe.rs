//! Asks each service whether it is really there, through the same clients the
//! pipeline uses. A failure names the service, its address, the cause and the fix.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::{Endpoint, Endpoints, Service};

/// How long one probe waits for an answer.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(15);

/// A service that did not answer as it should.
#[derive(Debug, thiserror::Error)]
#[error("{service} at {address} did not answer: {reason}; {hint}")]
pub struct ProbeError {
    pub service: Service,
    pub address: String,
    pub reason: String,
    hint: String,
}

impl ProbeError {
    /// A failure of `endpoint`, with the fix for it.
    pub fn new(endpoint: &Endpoint, reason: impl ToString) -> Self {
        Self {
            service: endpoint.service,
            address: endpoint.address.clone(),
            reason: reason.to_string(),
            hint: endpoint.how_to_start(),
        }
    }
}

/// Probes `endpoint`; on success, says what answered (a version or a count).
pub async fn probe(endpoint: &Endpoint) -> Result<String, ProbeError> {
    match endpoint.service {
        Service::Broker => broker(endpoint).await,
        Service::Registry => registry(endpoint).await,
        Service::ClickHouse => clickhouse(endpoint).await,
        Service::Search => search(endpoint).await,
        Service::Prometheus => prometheus(endpoint).await,
    }
}

/// Probes every service at once, answers in [`Service::ALL`] order.
pub async fn probe_all(endpoints: &Endpoints) -> Vec<(Endpoint, Result<String, ProbeError>)> {
    let probes = endpoints
        .all()
        .map(|endpoint| async move { (endpoint.clone(), probe(endpoint).await) });
    futures::future::join_all(probes).await
}

async fn broker(endpoint: &Endpoint) -> Result<String, ProbeError> {
    let owned = endpoint.clone();
    let metadata = tokio::task::spawn_blocking(move || {
        // A bare client, not one of `ledgerstream_runtime::kafka`'s: this crate
        // sits below every other.
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &owned.address)
            .set("socket.timeout.ms", "5000")
            .create()
            .map_err(|e| ProbeError::new(&owned, e))?;
        consumer
            .fetch_metadata(None, PROBE_TIMEOUT)
            .map_err(|e| ProbeError::new(&owned, e))
    })
    .await
    .map_err(|e| ProbeError::new(endpoint, e))??;
    if metadata.brokers().is_empty() {
        return Err(ProbeError::new(endpoint, "metadata lists no brokers"));
    }
    Ok(format!(
        "{} broker(s), {} topic(s)",
        metadata.brokers().len(),
        metadata.topics().len()
    ))
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(PROBE_TIMEOUT)
        .build()
        .expect("a plain HTTP client always builds")
}

async fn get_ok(endpoint: &Endpoint, path: &str) -> Result<String, ProbeError> {
    let url = format!("{}{path}", endpoint.address);
    let response = http()
        .get(&url)
        .send()
        .await
        .map_err(|e| ProbeError::new(endpoint, e))?;
    let status = response.status();
    let body = response
        .text()
        .await
        .map_err(|e| ProbeError::new(endpoint, e))?;
    if !status.is_success() {
        return Err(ProbeError::new(
            endpoint,
            format!("GET {path} answered {status}: {body}"),
        ));
    }
    Ok(body)
}

async fn registry(endpoint: &Endpoint) -> Result<String, ProbeError> {
    let body = get_ok(endpoint, "/subjects").await?;
    let subjects: Vec<String> = serde_json::from_str(&body).map_err(|e| {
        ProbeError::new(
            endpoint,
            format!("GET /subjects is not a JSON list of subjects: {e}"),
        )
    })?;
    Ok(format!("{} subject(s)", subjects.len()))
}

async fn clickhouse(endpoint: &Endpoint) -> Result<String, ProbeError> {
    let client = clickhouse::Client::default()
        .with_url(&endpoint.address)
        .with_validation(false);
    let version = tokio::time::timeout(
        PROBE_TIMEOUT,
        client.query("SELECT version()").fetch_one::<String>(),
    )
    .await
    .map_err(|_| ProbeError::new(endpoint, "timed out"))?
    .map_err(|e| ProbeError::new(endpoint, e))?;
    Ok(format!("version {version}"))
}

async fn search(endpoint: &Endpoint) -> Result<String, ProbeError> {
    let body = get_ok(endpoint, "/").await?;
    let info: serde_json::Value =
        serde_json::from_str(&body).map_err(|e| ProbeError::new(endpoint, e))?;
    let version = info["version"]["number"].as_str().unwrap_or("unknown");
    Ok(format!("version {version}"))
}

async fn prometheus(endpoint: &Endpoint) -> Result<String, ProbeError> {
    get_ok(endpoint, "/-/ready").await?;
    Ok("ready".to_owned())
}
