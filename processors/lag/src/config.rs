//! The lag monitor's settings: one struct, every field documented, validated at
//! start with an error that names the field.

use std::time::Duration;

use ledgerstream_runtime::kafka::KafkaSettings;
use ledgerstream_runtime::settings::ConfigError;
use serde::Deserialize;

/// Settings of `ledgerstream lag`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LagConfig {
    /// Bootstrap servers of the Kafka cluster.
    pub brokers: String,
    /// The consumer groups to watch. Empty: every group the cluster lists.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Seconds between two samples.
    #[serde(default = "defaults::interval_secs")]
    pub interval_secs: u64,
    /// A partition that is behind and whose lag has not fallen for this many seconds
    /// is stalled, and so is its group.
    #[serde(default = "defaults::stall_after_secs")]
    pub stall_after_secs: u64,
    /// Seconds of samples the trend (rate, direction, ETA) is fitted over.
    #[serde(default = "defaults::trend_window_secs")]
    pub trend_window_secs: u64,
    /// How long one request to the broker may take, in milliseconds.
    #[serde(default = "defaults::kafka_timeout_millis")]
    pub kafka_timeout_millis: u64,
    /// How long one sample may wait for the records at the committed offsets when
    /// reading their timestamps, in milliseconds. A partition whose record does not
    /// arrive in time has no lag in seconds for that sample.
    #[serde(default = "defaults::timestamp_timeout_millis")]
    pub timestamp_timeout_millis: u64,
}

mod defaults {
    pub fn interval_secs() -> u64 {
        5
    }
    pub fn stall_after_secs() -> u64 {
        300
    }
    pub fn trend_window_secs() -> u64 {
        60
    }
    pub fn kafka_timeout_millis() -> u64 {
        10_000
    }
    pub fn timestamp_timeout_millis() -> u64 {
        2_000
    }
}

impl LagConfig {
    /// Every setting at its default, for `brokers`: every group.
    pub fn new(brokers: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            groups: Vec::new(),
            interval_secs: defaults::interval_secs(),
            stall_after_secs: defaults::stall_after_secs(),
            trend_window_secs: defaults::trend_window_secs(),
            kafka_timeout_millis: defaults::kafka_timeout_millis(),
            timestamp_timeout_millis: defaults::timestamp_timeout_millis(),
        }
    }

    /// The settings of its Kafka clients.
    pub fn kafka(&self) -> KafkaSettings {
        KafkaSettings::new(&self.brokers)
    }

    /// Time between two samples.
    pub fn interval(&self) -> Duration {
        Duration::from_secs(self.interval_secs)
    }

    /// How long a lag may go without falling before it is stalled.
    pub fn stall_after(&self) -> Duration {
        Duration::from_secs(self.stall_after_secs)
    }

    /// The span the trend is fitted over.
    pub fn trend_window(&self) -> Duration {
        Duration::from_secs(self.trend_window_secs)
    }

    /// How long one broker request may take.
    pub fn kafka_timeout(&self) -> Duration {
        Duration::from_millis(self.kafka_timeout_millis)
    }

    /// How long one sample may wait for the records whose timestamps it reads.
    pub fn timestamp_timeout(&self) -> Duration {
        Duration::from_millis(self.timestamp_timeout_millis)
    }

    /// Checks the settings, naming the first one that cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let problem = |field, problem: String| Err(ConfigError::new("lag", field, problem));
        if self.brokers.trim().is_empty() {
            return problem("brokers", "no bootstrap servers given".to_owned());
        }
        if let Some(blank) = self.groups.iter().position(|g| g.trim().is_empty()) {
            return problem("groups", format!("group #{} has no name", blank + 1));
        }
        if self.interval_secs == 0 {
            return problem("interval", "must be at least 1 second".to_owned());
        }
        // A fall shows between two samples: a shorter stall time flags every
        // consumer between its commits.
        if self.stall_after_secs < 2 * self.interval_secs {
            return problem(
                "stall-after",
                format!(
                    "{} s is less than two intervals ({} s); a lag can only be seen \
                     falling between two samples",
                    self.stall_after_secs,
                    2 * self.interval_secs
                ),
            );
        }
        if self.trend_window_secs < 2 * self.interval_secs {
            return problem(
                "trend-window",
                format!(
                    "{} s holds fewer than two samples {} s apart",
                    self.trend_window_secs, self.interval_secs
                ),
            );
        }
        if self.kafka_timeout_millis == 0 {
            return problem("kafka-timeout", "must be more than 0 ms".to_owned());
        }
        if self.timestamp_timeout_millis == 0 {
            return problem("timestamp-timeout", "must be more than 0 ms".to_owned());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid() {
        LagConfig::new("127.0.0.1:9092").validate().unwrap();
    }

    /// A field name and how to break it.
    type Breakage = (&'static str, fn(&mut LagConfig));

    #[test]
    fn each_bad_setting_is_named() {
        let base = LagConfig::new("127.0.0.1:9092");
        let cases: [Breakage; 6] = [
            ("brokers", |c| c.brokers = " ".into()),
            ("groups", |c| c.groups = vec!["g".into(), String::new()]),
            ("interval", |c| c.interval_secs = 0),
            ("stall-after", |c| c.stall_after_secs = 9),
            ("trend-window", |c| c.trend_window_secs = 9),
            ("timestamp-timeout", |c| c.timestamp_timeout_millis = 0),
        ];
        for (field, break_it) in cases {
            let mut config = base.clone();
            break_it(&mut config);
            assert_eq!(config.validate().unwrap_err().field, field);
        }
    }

    #[test]
    fn it_reads_from_config_data_and_refuses_unknown_fields() {
        let config: LagConfig =
            serde_json::from_str(r#"{"brokers": "b:9092", "groups": ["g"]}"#).unwrap();
        assert_eq!(config.interval(), Duration::from_secs(5));
        assert_eq!(config.groups, ["g"]);
        let unknown = serde_json::from_str::<LagConfig>(r#"{"brokers": "b", "grups": []}"#);
        assert!(unknown.is_err());
    }
}
