//! Asks each service whether it is really there. A failure names the service, its
//! address, the cause and the fix. HTTP services are asked as the pipeline's user
//! (`LEDGERSTREAM_{REGISTRY_USERNAME,CLICKHOUSE_USER,SEARCH_USER}` and their
//! passwords), trusting their `*_CA_FILE` when set.

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

/// The environment variables of a service's basic-auth user, password and CA file,
/// the ones the pipeline's own clients read.
fn access_variables(service: Service) -> Option<(&'static str, &'static str, &'static str)> {
    match service {
        Service::Registry => Some((
            "LEDGERSTREAM_REGISTRY_USERNAME",
            "LEDGERSTREAM_REGISTRY_PASSWORD",
            "LEDGERSTREAM_REGISTRY_CA_FILE",
        )),
        Service::ClickHouse => Some((
            "LEDGERSTREAM_CLICKHOUSE_USER",
            "LEDGERSTREAM_CLICKHOUSE_PASSWORD",
            "LEDGERSTREAM_CLICKHOUSE_CA_FILE",
        )),
        Service::Search => Some((
            "LEDGERSTREAM_SEARCH_USER",
            "LEDGERSTREAM_SEARCH_PASSWORD",
            "LEDGERSTREAM_SEARCH_CA_FILE",
        )),
        Service::Broker | Service::Prometheus => None,
    }
}

fn variable(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

/// A client for `endpoint` that trusts its CA file, when one is set.
fn http(endpoint: &Endpoint) -> Result<reqwest::Client, ProbeError> {
    let mut builder = reqwest::Client::builder().timeout(PROBE_TIMEOUT);
    if let Some(path) = access_variables(endpoint.service).and_then(|(_, _, ca)| variable(ca)) {
        let pem = std::fs::read(&path).map_err(|e| {
            ProbeError::new(endpoint, format!("cannot read the CA file {path}: {e}"))
        })?;
        for certificate in reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| ProbeError::new(endpoint, format!("the CA file {path}: {e}")))?
        {
            builder = builder.add_root_certificate(certificate);
        }
    }
    builder.build().map_err(|e| ProbeError::new(endpoint, e))
}

/// The answer to `GET path`, with the service's basic-auth user when one is set.
async fn get(endpoint: &Endpoint, path: &str) -> Result<(reqwest::StatusCode, String), ProbeError> {
    let url = format!("{}{path}", endpoint.address);
    let mut request = http(endpoint)?.get(&url);
    if let Some((user, password, _)) = access_variables(endpoint.service) {
        let password = variable(password).or_else(|| {
            // The registry's clients also take it from a file.
            let path = variable(&format!("{password}_FILE"))?;
            let text = std::fs::read_to_string(path).ok()?;
            Some(text.trim_end_matches(['\n', '\r']).to_owned())
        });
        // ClickHouse's clients log in as `default` when no user is named.
        let user = variable(user).or_else(|| {
            (endpoint.service == Service::ClickHouse && password.is_some())
                .then(|| "default".to_owned())
        });
        if let Some(user) = user {
            request = request.basic_auth(user, password);
        }
    }
    // Without the URL in the message: it is the endpoint's, already named.
    let response = request
        .send()
        .await
        .map_err(|e| ProbeError::new(endpoint, e.without_url()))?;
    let status = response.status();
    let body = response
        .text()
        .await
        .map_err(|e| ProbeError::new(endpoint, e.without_url()))?;
    Ok((status, body))
}

async fn get_ok(endpoint: &Endpoint, path: &str) -> Result<String, ProbeError> {
    let (status, body) = get(endpoint, path).await?;
    if !status.is_success() {
        return Err(ProbeError::new(
            endpoint,
            format!("GET {path} answered {status}: {body}"),
        ));
    }
    Ok(body)
}

async fn registry(endpoint: &Endpoint) -> Result<String, ProbeError> {
    let (status, body) = get(endpoint, "/subjects").await?;
    if status == reqwest::StatusCode::UNAUTHORIZED
        && variable("LEDGERSTREAM_REGISTRY_USERNAME").is_none()
    {
        // It is there; whoever calls it next brings credentials.
        return Ok("answers; it asks for credentials".to_owned());
    }
    if !status.is_success() {
        return Err(ProbeError::new(
            endpoint,
            format!("GET /subjects answered {status}: {body}"),
        ));
    }
    let subjects: Vec<String> = serde_json::from_str(&body).map_err(|e| {
        ProbeError::new(
            endpoint,
            format!("GET /subjects is not a JSON list of subjects: {e}"),
        )
    })?;
    Ok(format!("{} subject(s)", subjects.len()))
}

/// `SELECT version()` over the HTTP interface, as the pipeline's user.
async fn clickhouse(endpoint: &Endpoint) -> Result<String, ProbeError> {
    let body = get_ok(endpoint, "/?query=SELECT%20version()").await?;
    Ok(format!("version {}", body.trim()))
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
