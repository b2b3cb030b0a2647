//! A client of the Confluent Schema Registry REST API: what producers and
//! processors need (register, look up, fetch by id), against Confluent's registry,
//! Confluent Cloud (basic auth) or `ledgerstream registry` alike, over `http://` or
//! `https://` (the system's roots, or a CA file of the deployment's own).

use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// How to reach the registry (the deployment's environment is read by
/// `ledgerstream_runtime::settings::registry_from_env`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    /// Base URL, e.g. `http://127.0.0.1:8081` (`LEDGERSTREAM_REGISTRY_URL`).
    pub url: String,
    /// Basic-auth user; a Confluent Cloud API key (`LEDGERSTREAM_REGISTRY_USERNAME`).
    #[serde(default)]
    pub username: Option<String>,
    /// Basic-auth password; a Confluent Cloud API secret
    /// (`LEDGERSTREAM_REGISTRY_PASSWORD`). Never printed: `Debug` shows it redacted.
    #[serde(default)]
    pub password: Option<SecretString>,
    /// A PEM file of the certificate authorities to trust for an `https://` URL, on
    /// top of the system's roots: a registry with a certificate of the deployment's
    /// own CA (`LEDGERSTREAM_REGISTRY_CA_FILE`). Read when the client is made.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// How long one request may take, in milliseconds.
    #[serde(default = "RegistryConfig::default_timeout_ms")]
    pub timeout_ms: u64,
    /// How many writer schemas a decoder keeps by id (`LEDGERSTREAM_REGISTRY_CACHE`).
    #[serde(default = "RegistryConfig::default_cache_capacity")]
    pub cache_capacity: usize,
}

impl RegistryConfig {
    const fn default_timeout_ms() -> u64 {
        10_000
    }

    const fn default_cache_capacity() -> usize {
        1_000
    }

    /// A config for `url` with every other setting at its default.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            username: None,
            password: None,
            ca_file: None,
            timeout_ms: Self::default_timeout_ms(),
            cache_capacity: Self::default_cache_capacity(),
        }
    }

    /// Checks the settings, naming the one that is wrong.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            return Err(ConfigError {
                field: "url",
                problem: format!("'{}' is not an http:// or https:// URL", self.url),
            });
        }
        if self.password.is_some() && self.username.is_none() {
            return Err(ConfigError {
                field: "username",
                problem: "a password is set without a username".to_owned(),
            });
        }
        if self.ca_file.is_some() && !self.url.starts_with("https://") {
            return Err(ConfigError {
                field: "ca_file",
                problem: format!(
                    "a CA file is set for '{}', which is not an https:// URL",
                    self.url
                ),
            });
        }
        if self.timeout_ms == 0 {
            return Err(ConfigError {
                field: "timeout_ms",
                problem: "must be above 0".to_owned(),
            });
        }
        if self.cache_capacity == 0 {
            return Err(ConfigError {
                field: "cache_capacity",
                problem: "must hold at least one schema".to_owned(),
            });
        }
        Ok(())
    }
}

/// A registry setting that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("schema registry setting {field}: {problem}")]
pub struct ConfigError {
    pub field: &'static str,
    pub problem: String,
}

/// What went wrong talking to the registry.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry could not be reached or did not answer in time: retry, or check
    /// that it runs (`make up`) and `LEDGERSTREAM_REGISTRY_URL`.
    #[error("schema registry at {url} did not answer: {reason}")]
    Unreachable { url: String, reason: String },
    /// The registry answered with an error: 4xx are permanent (fix the request or the
    /// schema), 5xx may pass.
    #[error("schema registry answered {status} (error code {error_code}): {message}")]
    Api {
        status: u16,
        error_code: u32,
        message: String,
    },
    /// The answer was not what the API promises.
    #[error("schema registry at {url} gave an answer that is not the Confluent API: {reason}")]
    Protocol { url: String, reason: String },
}

impl RegistryError {
    /// Whether trying again later may succeed.
    pub fn is_retriable(&self) -> bool {
        match self {
            RegistryError::Unreachable { .. } => true,
            RegistryError::Api { status, .. } => *status >= 500 || *status == 429,
            RegistryError::Protocol { .. } => false,
        }
    }

    /// The Confluent error code, when the registry gave one.
    pub fn error_code(&self) -> Option<u32> {
        match self {
            RegistryError::Api { error_code, .. } => Some(*error_code),
            _ => None,
        }
    }
}

/// A registered schema as the registry reports it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RegisteredSchema {
    pub subject: String,
    pub id: u32,
    pub version: u32,
    pub schema: String,
}

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// A Schema Registry client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RegistryClient {
    config: RegistryConfig,
    http: reqwest::Client,
}

impl RegistryClient {
    /// A client for `config` (validated first).
    pub fn new(config: RegistryConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let mut http = reqwest::Client::builder().timeout(Duration::from_millis(config.timeout_ms));
        if let Some(path) = &config.ca_file {
            for certificate in ca_certificates(path)? {
                http = http.add_root_certificate(certificate);
            }
        }
        let http = http.build().map_err(|e| ConfigError {
            field: "url",
            problem: e.to_string(),
        })?;
        Ok(Self { config, http })
    }

    /// The settings this client was made with.
    pub fn config(&self) -> &RegistryConfig {
        &self.config
    }

    /// Registers `schema` (Avro JSON) under `subject`; its global id. Registering a
    /// schema that is already there returns the id it has.
    pub async fn register(&self, subject: &str, schema: &str) -> Result<u32, RegistryError> {
        #[derive(Deserialize)]
        struct Registered {
            id: u32,
        }
        let path = format!("/subjects/{}/versions", encode(subject));
        let body = serde_json::json!({ "schema": schema, "schemaType": "AVRO" });
        let registered: Registered = self
            .send(self.http.post(self.url(&path)).json(&body))
            .await?;
        Ok(registered.id)
    }

    /// Finds `schema` among the versions of `subject` (without registering it).
    pub async fn lookup(
        &self,
        subject: &str,
        schema: &str,
    ) -> Result<RegisteredSchema, RegistryError> {
        let path = format!("/subjects/{}", encode(subject));
        let body = serde_json::json!({ "schema": schema, "schemaType": "AVRO" });
        self.send(self.http.post(self.url(&path)).json(&body)).await
    }

    /// The schema (Avro JSON) with global id `id`.
    pub async fn schema_by_id(&self, id: u32) -> Result<String, RegistryError> {
        #[derive(Deserialize)]
        struct ById {
            schema: String,
        }
        let by_id: ById = self
            .send(self.http.get(self.url(&format!("/schemas/ids/{id}"))))
            .await?;
        Ok(by_id.schema)
    }

    /// Every version number registered under `subject` (40401 when there is none).
    pub async fn versions(&self, subject: &str) -> Result<Vec<u32>, RegistryError> {
        let path = format!("/subjects/{}/versions", encode(subject));
        self.send(self.http.get(self.url(&path))).await
    }

    /// Version `version` of `subject`.
    pub async fn version(
        &self,
        subject: &str,
        version: u32,
    ) -> Result<RegisteredSchema, RegistryError> {
        let path = format!("/subjects/{}/versions/{version}", encode(subject));
        self.send(self.http.get(self.url(&path))).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.url.trim_end_matches('/'))
    }

    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, RegistryError> {
        let mut request = request.header(reqwest::header::ACCEPT, CONTENT_TYPE);
        if let Some(username) = &self.config.username {
            let password = self.config.password.as_ref().map(|p| p.expose_secret());
            request = request.basic_auth(username, password);
        }
        let unreachable = |e: reqwest::Error| RegistryError::Unreachable {
            url: self.config.url.clone(),
            // Without the URL: reqwest's message would repeat it, and must never carry
            // credentials. With the causes: "error sending request" alone does not say
            // that a certificate was refused.
            reason: with_causes(&e.without_url()),
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let body = response.bytes().await.map_err(unreachable)?;
        if !status.is_success() {
            #[derive(Deserialize)]
            struct ApiError {
                error_code: u32,
                message: String,
            }
            let (error_code, message) = match serde_json::from_slice::<ApiError>(&body) {
                Ok(error) => (error.error_code, error.message),
                Err(_) => (
                    u32::from(status.as_u16()),
                    String::from_utf8_lossy(&body).into_owned(),
                ),
            };
            return Err(RegistryError::Api {
                status: status.as_u16(),
                error_code,
                message,
            });
        }
        serde_json::from_slice(&body).map_err(|e| RegistryError::Protocol {
            url: self.config.url.clone(),
            reason: e.to_string(),
        })
    }
}

/// An error's message followed by its causes, as `a: b: c`.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let text = inner.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        cause = inner.source();
    }
    message
}

/// Every certificate of a PEM file.
fn ca_certificates(path: &std::path::Path) -> Result<Vec<reqwest::Certificate>, ConfigError> {
    let problem = |problem: String| ConfigError {
        field: "ca_file",
        problem,
    };
    let pem = std::fs::read(path)
        .map_err(|error| problem(format!("cannot read {}: {error}", path.display())))?;
    let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|error| {
        problem(format!(
            "{} is not a PEM certificate bundle: {}",
            path.display(),
            error.without_url()
        ))
    })?;
    if certificates.is_empty() {
        return Err(problem(format!(
            "{} holds no PEM certificate",
            path.display()
        )));
    }
    Ok(certificates)
}

/// Percent-encodes a subject for a URL path (subjects hold dots and dashes only in
/// this project, but may hold anything in others').
fn encode(subject: &str) -> String {
    let mut out = String::with_capacity(subject.len());
    for byte in subject.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_never_shows_in_debug_output() {
        let mut config = RegistryConfig::new("http://127.0.0.1:8081");
        config.username = Some("key".to_owned());
        config.password = Some(SecretString::from("hunter2-secret"));
        let client = RegistryClient::new(config.clone()).expect("client");
        for shown in [format!("{config:?}"), format!("{client:?}")] {
            assert!(!shown.contains("hunter2-secret"), "{shown}");
        }
    }

    #[test]
    fn a_ca_file_must_be_readable_pem_for_an_https_url() {
        let mut config = RegistryConfig::new("http://127.0.0.1:8081");
        config.ca_file = Some(PathBuf::from("/etc/hostname"));
        assert_eq!(config.validate().unwrap_err().field, "ca_file");
        config.url = "https://registry.internal:8081".to_owned();
        for path in ["/nonexistent/ca.pem", "/etc/hostname"] {
            config.ca_file = Some(PathBuf::from(path));
            let error = RegistryClient::new(config.clone()).unwrap_err();
            assert_eq!(error.field, "ca_file", "{path}: {error}");
            assert!(error.problem.contains(path), "{error}");
        }
    }

    #[test]
    fn subjects_are_escaped_in_paths() {
        assert_eq!(encode("account-events-a.b.C"), "account-events-a.b.C");
        assert_eq!(encode("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn only_server_side_and_network_failures_are_retriable() {
        let api = |status| RegistryError::Api {
            status,
            error_code: 0,
            message: String::new(),
        };
        assert!(api(503).is_retriable());
        assert!(!api(409).is_retriable());
        assert!(!api(404).is_retriable());
        let down = RegistryError::Unreachable {
            url: String::new(),
            reason: String::new(),
        };
        assert!(down.is_retriable());
    }
}
