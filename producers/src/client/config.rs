use std::time::Duration;

use ledgerstream_schemas::topics;
use serde::{Deserialize, Serialize};

use super::ClientError;

/// Settings of a [`CommandClient`](super::CommandClient).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CommandClientConfig {
    /// Kafka bootstrap servers, comma-separated. Default `127.0.0.1:9092` (the
    /// pipeline's processes read `LEDGERSTREAM_BROKERS`).
    pub brokers: String,
    /// Where commands are sent. Default `account-commands`.
    pub commands_topic: String,
    /// Where their results are read. Default `account-command-results`.
    pub results_topic: String,
    /// How long [`Submitted::result`](super::Submitted::result) waits, counted from
    /// when the command was queued, in ms. Default 30,000.
    pub result_timeout_ms: u64,
    /// How long Kafka may take to acknowledge a command before its delivery fails,
    /// in ms (librdkafka's `message.timeout.ms`). Default 30,000.
    pub delivery_timeout_ms: u64,
    /// How long connecting may take to read both topics' metadata and the results'
    /// end offsets, in ms. Default 10,000.
    pub connect_timeout_ms: u64,
    /// How long the broker may hold a fetch of results while it has none, in ms
    /// (`fetch.wait.max.ms`). The broker answers as soon as a result is committed,
    /// so this only paces the requests of an idle reader. Default 500 (librdkafka's).
    pub fetch_wait_ms: u32,
    /// Register the command schemas at start, as producers do (true), or only look
    /// them up (false: the registry must have them already). Default true.
    pub register_schemas: bool,
}

impl Default for CommandClientConfig {
    fn default() -> Self {
        Self {
            brokers: "127.0.0.1:9092".to_owned(),
            commands_topic: topics::COMMANDS.to_owned(),
            results_topic: topics::RESULTS.to_owned(),
            result_timeout_ms: 30_000,
            delivery_timeout_ms: 30_000,
            connect_timeout_ms: 10_000,
            fetch_wait_ms: 500,
            register_schemas: true,
        }
    }
}

impl CommandClientConfig {
    /// The defaults, on `brokers`.
    pub fn new(brokers: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            ..Self::default()
        }
    }

    /// The pipeline's topic names with `suffix` appended, as `--topic-suffix` does
    /// for the processor.
    pub fn with_topic_suffix(mut self, suffix: &str) -> Self {
        self.commands_topic = format!("{}{suffix}", topics::COMMANDS);
        self.results_topic = format!("{}{suffix}", topics::RESULTS);
        self
    }

    /// Checks every field; the error names the first one that is wrong.
    pub fn validate(&self) -> Result<(), ClientError> {
        let config = |field: &'static str, problem: &str| {
            Err(ClientError::Config {
                field,
                problem: problem.to_owned(),
            })
        };
        if self.brokers.trim().is_empty() {
            return config("brokers", "is empty; name at least one host:port");
        }
        if self.commands_topic.is_empty() {
            return config("commands_topic", "is empty");
        }
        if self.results_topic.is_empty() {
            return config("results_topic", "is empty");
        }
        let at_least_one = [
            ("result_timeout_ms", self.result_timeout_ms),
            ("delivery_timeout_ms", self.delivery_timeout_ms),
            ("connect_timeout_ms", self.connect_timeout_ms),
        ];
        for (field, value) in at_least_one {
            if value == 0 {
                return config(field, "is 0; it must be at least 1 ms");
            }
        }
        // librdkafka's bounds.
        if self.delivery_timeout_ms > i32::MAX as u64 {
            return config("delivery_timeout_ms", "is above 2147483647");
        }
        if self.fetch_wait_ms > 300_000 {
            return config("fetch_wait_ms", "is above 300000 (librdkafka's limit)");
        }
        Ok(())
    }

    pub fn result_timeout(&self) -> Duration {
        Duration::from_millis(self.result_timeout_ms)
    }

    pub fn delivery_timeout(&self) -> Duration {
        Duration::from_millis(self.delivery_timeout_ms)
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_name_the_real_topics() {
        let config = CommandClientConfig::default();
        config.validate().unwrap();
        assert_eq!(config.commands_topic, "account-commands");
        assert_eq!(config.results_topic, "account-command-results");
    }

    #[test]
    fn a_suffix_goes_on_both_topics() {
        let config = CommandClientConfig::new("b:9092").with_topic_suffix("-t1");
        assert_eq!(config.commands_topic, "account-commands-t1");
        assert_eq!(config.results_topic, "account-command-results-t1");
    }

    #[test]
    fn the_error_names_the_field() {
        let config = CommandClientConfig {
            result_timeout_ms: 0,
            ..CommandClientConfig::default()
        };
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("result_timeout_ms"), "{error}");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let parsed: Result<CommandClientConfig, _> =
            serde_json::from_str(r#"{"brokers": "b:9092", "result_timeout": 5}"#);
        assert!(parsed.is_err());
        let parsed: CommandClientConfig = serde_json::from_str(r#"{"brokers": "b:9092"}"#).unwrap();
        assert_eq!(parsed.result_timeout_ms, 30_000);
    }
}
