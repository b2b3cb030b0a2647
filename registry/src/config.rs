//! How a registry runs: where it listens, which broker and topic hold its schemas,
//! who may call it, and how much a request may send and take.

use std::net::SocketAddr;
use std::time::Duration;

use super::auth::Users;

/// Where the local stack serves the registry.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8081";

/// The topic Confluent's registry uses too.
pub const DEFAULT_TOPIC: &str = "_schemas";

/// The largest request body accepted by default: 1 MiB, far above any Avro schema
/// of this project (the largest is under 4 KiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;

/// How long a request may take by default, in seconds.
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 60;

/// The settings of one registry.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    /// Address the REST API listens on.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Kafka bootstrap servers, `host:port[,host:port...]`.
    pub brokers: String,
    /// Compacted, single-partition topic that holds the schemas; created when missing.
    #[serde(default = "default_topic")]
    pub topic: String,
    /// How long a write may wait for the broker to confirm it before the request fails
    /// with 50001.
    #[serde(default = "default_write_timeout", with = "seconds")]
    pub write_timeout: Duration,
    /// The largest request body, in bytes; a larger one is answered 413 before it is
    /// read to the end.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// How long a request may take, from its headers to the answer (reading the body
    /// included), before it is answered 500 with error code 50002; a connection
    /// whose headers are not in by then is closed. A write that already started
    /// still completes. Longer than `write_timeout`.
    #[serde(default = "default_request_timeout", with = "seconds")]
    pub request_timeout: Duration,
    /// Basic authentication: `None` serves everyone (the default, for a registry
    /// listening on loopback only).
    #[serde(default)]
    pub users: Option<Users>,
}

/// A setting that cannot work; the message names the field and what it accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("brokers: empty; set LEDGERSTREAM_BROKERS to the Kafka bootstrap servers")]
    NoBrokers,
    #[error(
        "topic: '{0}' is not a valid Kafka topic name (1 to 249 of a-z A-Z 0-9 . _ -, \
         not '.' or '..')"
    )]
    InvalidTopic(String),
    #[error("write_timeout: must be more than zero")]
    ZeroTimeout,
    #[error("max_body_bytes: must be more than zero")]
    ZeroBodyLimit,
    #[error(
        "request_timeout: {request:?} must be longer than write_timeout ({write:?}), or \
         writes would time out while the broker still confirms them"
    )]
    RequestTimeoutTooShort { request: Duration, write: Duration },
}

impl RegistryConfig {
    /// The defaults, with these brokers.
    pub fn new(brokers: impl Into<String>) -> Self {
        Self {
            listen: default_listen(),
            brokers: brokers.into(),
            topic: default_topic(),
            write_timeout: default_write_timeout(),
            max_body_bytes: default_max_body_bytes(),
            request_timeout: default_request_timeout(),
            users: None,
        }
    }

    /// Checks what can be checked before connecting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.brokers.trim().is_empty() {
            return Err(ConfigError::NoBrokers);
        }
        let topic = &self.topic;
        let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if topic.is_empty()
            || topic.len() > 249
            || topic == "."
            || topic == ".."
            || !topic.chars().all(legal)
        {
            return Err(ConfigError::InvalidTopic(topic.clone()));
        }
        if self.write_timeout.is_zero() {
            return Err(ConfigError::ZeroTimeout);
        }
        if self.max_body_bytes == 0 {
            return Err(ConfigError::ZeroBodyLimit);
        }
        if self.request_timeout <= self.write_timeout {
            return Err(ConfigError::RequestTimeoutTooShort {
                request: self.request_timeout,
                write: self.write_timeout,
            });
        }
        Ok(())
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8081))
}

fn default_topic() -> String {
    DEFAULT_TOPIC.to_owned()
}

fn default_write_timeout() -> Duration {
    Duration::from_secs(30)
}

fn default_max_body_bytes() -> usize {
    DEFAULT_MAX_BODY_BYTES
}

fn default_request_timeout() -> Duration {
    Duration::from_secs(DEFAULT_REQUEST_TIMEOUT_SECS)
}

mod seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_local_stack() {
        let config = RegistryConfig::new("127.0.0.1:9092");
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(config.topic, "_schemas");
        assert_eq!(config.validate(), Ok(()));
    }

    #[test]
    fn unknown_fields_are_refused_and_missing_ones_defaulted() {
        let config: RegistryConfig =
            serde_json::from_str(r#"{"brokers":"b:9092","write_timeout":5}"#).unwrap();
        assert_eq!(config.write_timeout, Duration::from_secs(5));
        assert_eq!(config.topic, DEFAULT_TOPIC);
        let unknown = serde_json::from_str::<RegistryConfig>(r#"{"brokers":"b","tpoic":"x"}"#);
        assert!(unknown.unwrap_err().to_string().contains("tpoic"));
    }

    #[test]
    fn bad_settings_name_their_field() {
        let mut config = RegistryConfig::new(" ");
        assert_eq!(config.validate(), Err(ConfigError::NoBrokers));
        config.brokers = "b:9092".into();
        for topic in ["", ".", "..", "has space", "slash/", &"t".repeat(250)] {
            config.topic = topic.to_owned();
            let error = config.validate().unwrap_err();
            assert!(error.to_string().starts_with("topic:"), "{topic}: {error}");
        }
        config.topic = "_schemas-test.1".into();
        config.write_timeout = Duration::ZERO;
        assert_eq!(config.validate(), Err(ConfigError::ZeroTimeout));
        config.write_timeout = Duration::from_secs(30);
        config.max_body_bytes = 0;
        assert_eq!(config.validate(), Err(ConfigError::ZeroBodyLimit));
        config.max_body_bytes = DEFAULT_MAX_BODY_BYTES;
        config.request_timeout = Duration::from_secs(30);
        let error = config.validate().unwrap_err();
        assert!(error.to_string().starts_with("request_timeout:"), "{error}");
    }
}
