//! Settings of the history projection, and the names of its indices.

use std::path::{Path, PathBuf};

use elasticsearch::cert::Certificate;
use secrecy::SecretString;
use serde::Deserialize;

/// Settings of the history sink.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryConfig {
    /// The search server's HTTP endpoint (`http://127.0.0.1:9200`), or its HTTPS
    /// one (`https://search.internal:9200`).
    pub url: String,
    /// For an `https://` URL: a PEM file of the CAs to trust beside the system's, for
    /// a server with a certificate of the deployment's own CA
    /// (`LEDGERSTREAM_SEARCH_CA_FILE`).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The user to authenticate as (basic authentication); none when unset.
    #[serde(default)]
    pub user: Option<String>,
    /// That user's password; never printed.
    #[serde(default)]
    pub password: Option<SecretString>,
    /// The alias readers query (`transaction-history`). It is also the name of
    /// the index template and the prefix of the concrete indices.
    #[serde(default = "defaults::index")]
    pub index: String,
    /// The concrete index written is `<index>-<index_suffix>`
    /// (`transaction-history-v1`). A replay writes a new one (`v2`) beside it;
    /// readers move when the alias is swapped.
    #[serde(default = "defaults::index_suffix")]
    pub index_suffix: String,
    /// The index holding the checkpoints, one document per projection, index
    /// and partition; shared by every history index on the server.
    #[serde(default = "defaults::checkpoint_index")]
    pub checkpoint_index: String,
    /// A batch is sent in bulk requests of at most this many documents ...
    #[serde(default = "defaults::bulk_documents")]
    pub bulk_documents: usize,
    /// ... with up to this many of them in flight at once.
    #[serde(default = "defaults::bulk_concurrency")]
    pub bulk_concurrency: usize,
    /// How long one request may take before it counts as failed (and is
    /// retried). A bulk request waits for a refresh, so this is well above the
    /// server's refresh interval (1 s by default on both engines).
    #[serde(default = "defaults::request_timeout_millis")]
    pub request_timeout_millis: u64,
}

/// Documents per bulk request unless configured ([`HistoryConfig::bulk_documents`]):
/// about 3 MB of JSON.
pub const DEFAULT_BULK_DOCUMENTS: usize = 5_000;

/// Bulk requests in flight at once unless configured
/// ([`HistoryConfig::bulk_concurrency`]). Each request waits for a refresh
/// (every second), so a batch is written at about the documents in flight per
/// second until the engine's own indexing rate takes over: on OpenSearch 2.19.6,
/// 5,000 x 8 wrote 10,700 events/s (median of 6 runs), 5,000 x 4 8,600 and
/// 5,000 x 2 6,900 (BENCHMARKS.md).
pub const DEFAULT_BULK_CONCURRENCY: usize = 8;

mod defaults {
    pub fn index() -> String {
        "transaction-history".to_owned()
    }
    pub fn index_suffix() -> String {
        "v1".to_owned()
    }
    pub fn checkpoint_index() -> String {
        "ledgerstream-projection-checkpoints".to_owned()
    }
    pub fn bulk_documents() -> usize {
        super::DEFAULT_BULK_DOCUMENTS
    }
    pub fn bulk_concurrency() -> usize {
        super::DEFAULT_BULK_CONCURRENCY
    }
    pub fn request_timeout_millis() -> u64 {
        30_000
    }
}

/// The certificates of a PEM file, for the client's trust; `Err` says what is wrong
/// with the file.
pub fn ca_certificate(path: &Path) -> Result<Certificate, String> {
    let pem =
        std::fs::read(path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
        return Err(format!("{} holds no PEM certificate", path.display()));
    }
    Certificate::from_pem(&pem).map_err(|error| {
        format!(
            "{} is not a PEM certificate bundle: {error}",
            path.display()
        )
    })
}

/// A setting that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("history setting {field}: {problem}")]
pub struct ConfigError {
    pub field: &'static str,
    pub problem: String,
}

impl HistoryConfig {
    /// Every setting at its default, for the server at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ca_file: None,
            user: None,
            password: None,
            index: defaults::index(),
            index_suffix: defaults::index_suffix(),
            checkpoint_index: defaults::checkpoint_index(),
            bulk_documents: defaults::bulk_documents(),
            bulk_concurrency: defaults::bulk_concurrency(),
            request_timeout_millis: defaults::request_timeout_millis(),
        }
    }

    /// Sets the password (an empty one counts as none).
    pub fn set_password(&mut self, password: Option<String>) {
        self.password = password.filter(|p| !p.is_empty()).map(SecretString::from);
    }

    /// Sets the CA file (an empty path counts as none).
    pub fn set_ca_file(&mut self, path: Option<String>) {
        self.ca_file = path.filter(|p| !p.trim().is_empty()).map(PathBuf::from);
    }

    /// Checks the settings, naming the first one that cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let problem = |field, problem: String| Err(ConfigError { field, problem });
        let scheme_ok = self.url.starts_with("http://") || self.url.starts_with("https://");
        if !scheme_ok || elasticsearch::http::Url::parse(&self.url).is_err() {
            return problem(
                "url",
                format!("{:?} is not an http:// or https:// URL", self.url),
            );
        }
        if let Some(path) = &self.ca_file {
            if !self.url.starts_with("https://") {
                return problem(
                    "ca_file",
                    format!("set for {:?}, which is not an https:// URL", self.url),
                );
            }
            if let Err(why) = ca_certificate(path) {
                return problem("ca_file", why);
            }
        }
        if self.password.is_some() && self.user.is_none() {
            return problem("user", "a password is set without a user".to_owned());
        }
        for (field, name) in [
            ("index", &self.index),
            ("index_suffix", &self.index_suffix),
            ("checkpoint_index", &self.checkpoint_index),
        ] {
            if let Err(why) = check_index_name(name) {
                return problem(field, format!("{name:?} {why}"));
            }
        }
        let indices = self.indices();
        if indices
            .checkpoints
            .starts_with(&format!("{}-", indices.alias))
        {
            return problem(
                "checkpoint_index",
                format!(
                    "{:?} would take the history template (pattern {:?}); pick a name outside it",
                    indices.checkpoints, indices.pattern
                ),
            );
        }
        if indices.concrete.len() > 255 {
            return problem(
                "index_suffix",
                "index and suffix together exceed 255 bytes".to_owned(),
            );
        }
        if !(1..=100_000).contains(&self.bulk_documents) {
            return problem("bulk_documents", "must be between 1 and 100000".to_owned());
        }
        if !(1..=16).contains(&self.bulk_concurrency) {
            return problem("bulk_concurrency", "must be between 1 and 16".to_owned());
        }
        if self.request_timeout_millis < 2_000 {
            return problem(
                "request_timeout_millis",
                "must be at least 2000: a bulk request waits for a refresh".to_owned(),
            );
        }
        Ok(())
    }

    /// The names of the indices this configuration uses.
    pub fn indices(&self) -> Indices {
        Indices {
            alias: self.index.clone(),
            template: self.index.clone(),
            pattern: format!("{}-*", self.index),
            concrete: format!("{}-{}", self.index, self.index_suffix),
            checkpoints: self.checkpoint_index.clone(),
        }
    }
}

/// Why `name` cannot name an index (Elasticsearch's rules: lower case, no
/// spaces or `\ / * ? " < > | , #`, not starting with `-`, `_` or `+`).
fn check_index_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("is empty");
    }
    if name.starts_with(['-', '_', '+']) {
        return Err("starts with -, _ or +");
    }
    if name.chars().any(|c| c.is_ascii_uppercase()) {
        return Err("has upper-case letters");
    }
    if name
        .chars()
        .any(|c| c.is_whitespace() || "\\/*?\"<>|,#:".contains(c))
    {
        return Err("has a space or one of \\ / * ? \" < > | , # :");
    }
    if name == "." || name == ".." {
        return Err("is . or ..");
    }
    Ok(())
}

/// The indices of one history projection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indices {
    /// What readers query: an alias of the concrete index.
    pub alias: String,
    /// The index template's name.
    pub template: String,
    /// The template's index pattern: every concrete index of the alias.
    pub pattern: String,
    /// The index written.
    pub concrete: String,
    /// The checkpoints' index.
    pub checkpoints: String,
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn https_settings_name_the_field_that_cannot_work_and_hide_the_password() {
        let mut config = HistoryConfig::new("http://127.0.0.1:9200");
        config.set_ca_file(Some("/etc/hostname".to_owned()));
        assert_eq!(config.validate().unwrap_err().field, "ca_file");
        config.url = "https://search.internal:9200".to_owned();
        for path in ["/nonexistent/ca.pem", "/etc/hostname"] {
            config.set_ca_file(Some(path.to_owned()));
            let error = config.validate().unwrap_err();
            assert_eq!(error.field, "ca_file", "{error}");
            assert!(error.problem.contains(path), "{error}");
        }
        config.set_ca_file(Some(String::new()));
        assert_eq!(config.ca_file, None);
        config.set_password(Some("s3arch-secret".to_owned()));
        assert_eq!(config.validate().unwrap_err().field, "user");
        config.user = Some("projector".to_owned());
        assert_eq!(config.validate(), Ok(()));
        assert!(!format!("{config:?}").contains("s3arch-secret"));
    }

    #[test]
    fn defaults_are_valid_and_name_the_v1_index_behind_the_alias() {
        let config = HistoryConfig::new("http://127.0.0.1:9200");
        assert_eq!(config.validate(), Ok(()));
        let indices = config.indices();
        assert_eq!(indices.alias, "transaction-history");
        assert_eq!(indices.concrete, "transaction-history-v1");
        assert_eq!(indices.pattern, "transaction-history-*");
        assert_eq!(indices.checkpoints, "ledgerstream-projection-checkpoints");
    }

    #[test]
    fn a_bad_setting_names_its_field() {
        let field = |change: fn(&mut HistoryConfig)| {
            let mut config = HistoryConfig::new("http://127.0.0.1:9200");
            change(&mut config);
            config.validate().unwrap_err().field
        };
        assert_eq!(field(|c| c.url = "127.0.0.1:9200".to_owned()), "url");
        assert_eq!(field(|c| c.index = "Transactions".to_owned()), "index");
        assert_eq!(field(|c| c.index_suffix = "v 2".to_owned()), "index_suffix");
        assert_eq!(field(|c| c.index_suffix = "_v2".to_owned()), "index_suffix");
        assert_eq!(
            field(|c| c.checkpoint_index = "transaction-history-checkpoints".to_owned()),
            "checkpoint_index"
        );
        assert_eq!(field(|c| c.bulk_documents = 0), "bulk_documents");
        assert_eq!(field(|c| c.bulk_concurrency = 0), "bulk_concurrency");
        assert_eq!(
            field(|c| c.request_timeout_millis = 500),
            "request_timeout_millis"
        );
    }

    #[test]
    fn the_password_is_never_printed() {
        let config: HistoryConfig =
            serde_json::from_str(r#"{"url":"http://h:9200","user":"u","password":"hunter2"}"#)
                .unwrap();
        assert!(!format!("{config:?}").contains("hunter2"));
        assert_eq!(config.password.unwrap().expose_secret(), "hunter2");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let error = serde_json::from_str::<HistoryConfig>(r#"{"url":"http://h","refresh":"true"}"#)
            .unwrap_err();
        assert!(error.to_string().contains("refresh"), "{error}");
    }
}
