//! Settings of the ClickHouse projection, and the names of its tables.

use std::path::PathBuf;

use ledgerstream_runtime::settings::ConfigError;
use secrecy::SecretString;
use serde::Deserialize;

/// Settings of the ClickHouse sink.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClickHouseConfig {
    /// The HTTP interface (`http://127.0.0.1:8123`), or its HTTPS one
    /// (`https://clickhouse.internal:8443`).
    pub url: String,
    /// For an `https://` URL: a PEM file of the CAs to trust beside the public roots,
    /// for a server with a certificate of the deployment's own CA
    /// (`LEDGERSTREAM_CLICKHOUSE_CA_FILE`).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The database the tables live in.
    #[serde(default = "defaults::database")]
    pub database: String,
    /// The user to connect as; ClickHouse's `default` when unset.
    #[serde(default)]
    pub user: Option<String>,
    /// That user's password; never printed.
    #[serde(default)]
    pub password: Option<SecretString>,
    /// Appended to every table name as `<base>_<suffix>` (`account_events_v1`):
    /// several table sets side by side, e.g. a replay into a new version. Empty
    /// for the plain names. Letters, digits and `_` only.
    #[serde(default)]
    pub table_suffix: String,
    /// How long one insert or query may take before it counts as failed (and is
    /// retried).
    #[serde(default = "defaults::request_timeout_millis")]
    pub request_timeout_millis: u64,
    /// How many accounts' current state are kept in memory (owner, type and
    /// currency are denormalized onto every event row); beyond, the accounts met
    /// least are evicted a few at a time and read back from `account_balances`
    /// when met again.
    #[serde(default = "defaults::cached_accounts")]
    pub cached_accounts: usize,
    /// LZ4-compress what is sent: less network, more CPU on both ends.
    #[serde(default = "defaults::compression")]
    pub compression: bool,
}

mod defaults {
    pub fn database() -> String {
        "default".to_owned()
    }
    pub fn request_timeout_millis() -> u64 {
        30_000
    }
    pub fn cached_accounts() -> usize {
        1_000_000
    }
    pub fn compression() -> bool {
        true
    }
}

impl ClickHouseConfig {
    /// Every setting at its default, for the server at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ca_file: None,
            database: defaults::database(),
            user: None,
            password: None,
            table_suffix: String::new(),
            request_timeout_millis: defaults::request_timeout_millis(),
            cached_accounts: defaults::cached_accounts(),
            compression: defaults::compression(),
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
        let problem = |field, problem: String| Err(ConfigError::new("clickhouse", field, problem));
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
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
            if let Err(why) = super::tls::roots_with(path) {
                return problem("ca_file", why);
            }
        }
        if !is_identifier(&self.database) || self.database.is_empty() {
            return problem(
                "database",
                format!("{:?} is not a plain identifier", self.database),
            );
        }
        if !is_identifier(&self.table_suffix) {
            return problem(
                "table_suffix",
                format!(
                    "{:?} may hold only letters, digits and _",
                    self.table_suffix
                ),
            );
        }
        if self.request_timeout_millis < 1_000 {
            return problem("request_timeout_millis", "must be at least 1000".to_owned());
        }
        if self.cached_accounts == 0 {
            return problem("cached_accounts", "must be above 0".to_owned());
        }
        Ok(())
    }

    /// The names of the tables this configuration writes.
    pub fn tables(&self) -> Tables {
        Tables::with_suffix(&self.table_suffix)
    }
}

fn is_identifier(text: &str) -> bool {
    text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The tables (and views) of one table set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    /// What `${suffix}` stands for in the migrations: `_<suffix>`, or nothing.
    pub suffix: String,
    pub events: String,
    pub balances: String,
    pub checkpoints: String,
    pub daily_stats: String,
    pub type_daily_stats: String,
    pub migrations: String,
}

impl Tables {
    /// The names `<base>_<suffix>`, or the bases alone for an empty suffix.
    pub fn with_suffix(suffix: &str) -> Self {
        let suffix = if suffix.is_empty() {
            String::new()
        } else {
            format!("_{suffix}")
        };
        let name = |base: &str| format!("{base}{suffix}");
        Self {
            events: name("account_events"),
            balances: name("account_balances"),
            checkpoints: name("projection_checkpoints"),
            daily_stats: name("account_daily_stats"),
            type_daily_stats: name("account_type_daily_stats"),
            migrations: name("ledgerstream_migrations"),
            suffix,
        }
    }

    /// Every table and view, views first: the order to drop them in.
    pub fn all(&self) -> [&str; 6] {
        [
            &self.daily_stats,
            &self.type_daily_stats,
            &self.events,
            &self.balances,
            &self.checkpoints,
            &self.migrations,
        ]
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(
            ClickHouseConfig::new("http://127.0.0.1:8123").validate(),
            Ok(())
        );
    }

    #[test]
    fn names_are_base_underscore_suffix() {
        let tables = Tables::with_suffix("v1");
        assert_eq!(tables.events, "account_events_v1");
        assert_eq!(tables.suffix, "_v1");
        assert_eq!(Tables::with_suffix("").balances, "account_balances");
    }

    #[test]
    fn a_bad_setting_names_its_field() {
        let mut config = ClickHouseConfig::new("http://127.0.0.1:8123");
        config.table_suffix = "v1; DROP TABLE x".to_owned();
        assert_eq!(config.validate().unwrap_err().field, "table_suffix");
        assert_eq!(
            ClickHouseConfig::new("127.0.0.1:8123")
                .validate()
                .unwrap_err()
                .field,
            "url"
        );
    }

    #[test]
    fn the_password_is_never_printed() {
        let config: ClickHouseConfig =
            serde_json::from_str(r#"{"url":"http://h:8123","password":"hunter2"}"#).unwrap();
        assert!(!format!("{config:?}").contains("hunter2"));
        assert_eq!(config.password.unwrap().expose_secret(), "hunter2");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let error = serde_json::from_str::<ClickHouseConfig>(r#"{"url":"http://h","tables":"x"}"#)
            .unwrap_err();
        assert!(error.to_string().contains("tables"), "{error}");
    }
}
