//! The topics the pipeline needs, as data: [`TopicsConfig`] (the knobs) turns into
//! one [`TopicSpec`] per topic (name, partitions, replication, configs and the rule
//! each is checked by).

use ledgerstream_schemas::topics;
use serde::{Deserialize, Serialize};

use super::TopicsError;

const HOUR_MS: i64 = 60 * 60 * 1000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// Settings of the pipeline's topics (`ledgerstream topics create`, and what the
/// processor checks at start).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TopicsConfig {
    /// Partitions of `account-commands`, `account-events` and
    /// `account-command-results`, which are co-partitioned and so always share one
    /// count. It bounds how many processor instances work in parallel, and it is
    /// fixed for good once records are keyed into it: adding partitions moves
    /// accounts to other partitions. Default 6.
    pub partitions: i32,
    /// Replicas of every partition. Default 1, for the single local broker;
    /// production wants 3 (and `min.insync.replicas=2` on the cluster), so that one
    /// lost broker loses no event. A topic with fewer replicas than this is a
    /// mismatch; more are fine.
    pub replication: i32,
    /// Partitions of `account-dead-letters`. Nothing is keyed by partition there,
    /// so any count works and an existing topic's count is not checked. Default 3.
    pub dead_letter_partitions: i32,
    /// How long commands are kept, in ms (-1: forever). Commands must outlive an
    /// outage of the processor; a topic that keeps them longer (or forever) is fine,
    /// a shorter one is a mismatch. Default 7 days (604800000, Apache Kafka's
    /// default).
    pub command_retention_ms: i64,
    /// How long command results are kept, in ms (-1: forever). The processor reads
    /// its results partition back on restart to recognise commands it already
    /// answered, and producers wait on them; longer is fine, shorter a mismatch.
    /// Default 7 days.
    pub result_retention_ms: i64,
    /// How long dead letters are kept, in ms (-1: forever): long enough for someone
    /// to look at them and replay what can be fixed. Longer is fine, shorter a
    /// mismatch. Default 30 days (2592000000).
    pub dead_letter_retention_ms: i64,
}

impl Default for TopicsConfig {
    fn default() -> Self {
        Self {
            partitions: 6,
            replication: 1,
            dead_letter_partitions: 3,
            command_retention_ms: 7 * DAY_MS,
            result_retention_ms: 7 * DAY_MS,
            dead_letter_retention_ms: 30 * DAY_MS,
        }
    }
}

impl TopicsConfig {
    /// Checks every field; the error names the first one out of range.
    pub fn validate(&self) -> Result<(), TopicsError> {
        let counts = [
            ("partitions", self.partitions),
            ("replication", self.replication),
            ("dead_letter_partitions", self.dead_letter_partitions),
        ];
        for (field, value) in counts {
            if value < 1 {
                return Err(TopicsError::InvalidConfig {
                    field,
                    reason: format!("is {value}, must be at least 1"),
                });
            }
        }
        let retentions = [
            ("command_retention_ms", self.command_retention_ms),
            ("result_retention_ms", self.result_retention_ms),
            ("dead_letter_retention_ms", self.dead_letter_retention_ms),
        ];
        for (field, value) in retentions {
            if value != -1 && value < HOUR_MS {
                return Err(TopicsError::InvalidConfig {
                    field,
                    reason: format!(
                        "is {value}, must be -1 (forever) or at least {HOUR_MS} (one hour)"
                    ),
                });
            }
        }
        Ok(())
    }

    /// The pipeline's topics under their real names (`ledgerstream_schemas::topics`).
    pub fn specs(&self) -> Result<Vec<TopicSpec>, TopicsError> {
        self.specs_named(&TopicNames::default())
    }

    /// The pipeline's topics under other names (tests use unique ones).
    ///
    /// Order matters to nothing but the report: commands first, as the topic the
    /// co-partitioned ones are compared with.
    pub fn specs_named(&self, names: &TopicNames) -> Result<Vec<TopicSpec>, TopicsError> {
        self.validate()?;
        let delete = |why: &str| ConfigSpec::exactly("cleanup.policy", "delete", why);
        let co_partitioned = Partitioning::CoPartitioned {
            with: names.commands.clone(),
        };
        Ok(vec![
            TopicSpec {
                name: names.commands.clone(),
                partitions: self.partitions,
                partitioning: Partitioning::Pinned,
                replication: self.replication,
                configs: vec![
                    delete("compaction would drop commands that are not processed yet"),
                    ConfigSpec::at_least(
                        "retention.ms",
                        self.command_retention_ms,
                        "commands must outlive an outage of the processor",
                    ),
                ],
            },
            TopicSpec {
                name: names.events.clone(),
                partitions: self.partitions,
                partitioning: co_partitioned.clone(),
                replication: self.replication,
                configs: vec![
                    delete("compaction would keep only the last event of each account"),
                    ConfigSpec::exactly("retention.ms", "-1", "events are kept forever"),
                    ConfigSpec::exactly("retention.bytes", "-1", "events are kept forever"),
                ],
            },
            TopicSpec {
                name: names.results.clone(),
                partitions: self.partitions,
                partitioning: co_partitioned,
                replication: self.replication,
                configs: vec![
                    delete("compaction would keep only the last result of each account"),
                    ConfigSpec::at_least(
                        "retention.ms",
                        self.result_retention_ms,
                        "the processor reads its results back on restart",
                    ),
                ],
            },
            TopicSpec {
                name: names.dead_letters.clone(),
                partitions: self.dead_letter_partitions,
                partitioning: Partitioning::Free,
                replication: self.replication,
                configs: vec![
                    delete("compaction would drop dead letters"),
                    ConfigSpec::at_least(
                        "retention.ms",
                        self.dead_letter_retention_ms,
                        "dead letters wait for someone to look at them",
                    ),
                ],
            },
        ])
    }
}

/// The names of the pipeline's topics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicNames {
    pub commands: String,
    pub events: String,
    pub results: String,
    pub dead_letters: String,
}

impl Default for TopicNames {
    /// The real names, from `ledgerstream_schemas::topics`.
    fn default() -> Self {
        Self {
            commands: topics::COMMANDS.to_owned(),
            events: topics::EVENTS.to_owned(),
            results: topics::RESULTS.to_owned(),
            dead_letters: topics::DEAD_LETTERS.to_owned(),
        }
    }
}

impl TopicNames {
    /// The real names, each followed by `suffix` (`account-events-t1a2b`).
    pub fn with_suffix(suffix: &str) -> Self {
        let real = Self::default();
        Self {
            commands: format!("{}{suffix}", real.commands),
            events: format!("{}{suffix}", real.events),
            results: format!("{}{suffix}", real.results),
            dead_letters: format!("{}{suffix}", real.dead_letters),
        }
    }

    /// Every name: commands, events, results, dead letters.
    pub fn all(&self) -> [&str; 4] {
        [
            &self.commands,
            &self.events,
            &self.results,
            &self.dead_letters,
        ]
    }
}

/// One topic as the pipeline needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    pub name: String,
    /// What a created topic gets; checked as [`TopicSpec::partitioning`] says.
    pub partitions: i32,
    pub partitioning: Partitioning,
    /// What a created topic gets; an existing one may have more, not fewer.
    pub replication: i32,
    /// Set on creation, then checked as each one's [`Rule`] says.
    pub configs: Vec<ConfigSpec>,
}

/// How an existing topic's partition count is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Partitioning {
    /// Must have exactly [`TopicSpec::partitions`]: records are keyed by account,
    /// so the count decides which partition, and so which processor, owns an account.
    Pinned,
    /// Must have as many partitions as the topic `with` (and as configured): the
    /// processor pairs partition p of both.
    CoPartitioned { with: String },
    /// Any count works.
    Free,
}

/// A topic config: the value it is created with, and how an existing one is judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigSpec {
    /// The Kafka topic config name, e.g. `retention.ms`.
    pub key: String,
    pub value: String,
    pub rule: Rule,
    /// Why the pipeline needs it, for the mismatch message.
    pub why: String,
}

/// How an existing topic's config value is compared with [`ConfigSpec::value`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// The same value.
    Exactly,
    /// A number of ms or bytes at least as large, -1 meaning unlimited (so -1
    /// satisfies any requirement, and a requirement of -1 only -1).
    AtLeast,
}

impl ConfigSpec {
    /// `key` must be exactly `value`.
    pub fn exactly(key: &str, value: &str, why: &str) -> Self {
        Self {
            key: key.to_owned(),
            value: value.to_owned(),
            rule: Rule::Exactly,
            why: why.to_owned(),
        }
    }

    /// `key` must be a limit of at least `value` (-1: unlimited).
    pub fn at_least(key: &str, value: i64, why: &str) -> Self {
        Self {
            key: key.to_owned(),
            value: value.to_string(),
            rule: Rule::AtLeast,
            why: why.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec<'a>(specs: &'a [TopicSpec], name: &str) -> &'a TopicSpec {
        specs
            .iter()
            .find(|spec| spec.name == name)
            .unwrap_or_else(|| panic!("no spec for {name}"))
    }

    fn value<'a>(spec: &'a TopicSpec, key: &str) -> &'a str {
        spec.configs
            .iter()
            .find(|config| config.key == key)
            .map(|config| config.value.as_str())
            .unwrap_or_else(|| panic!("{} has no {key}", spec.name))
    }

    #[test]
    fn defaults_match_the_topics_docker_compose_creates() {
        // docker-compose.yml's topic-init: 6, 6 (retention.ms=-1), 6, 3.
        let specs = TopicsConfig::default().specs().expect("defaults are valid");
        let partitions: Vec<(&str, i32)> = specs
            .iter()
            .map(|spec| (spec.name.as_str(), spec.partitions))
            .collect();
        assert_eq!(
            partitions,
            [
                ("account-commands", 6),
                ("account-events", 6),
                ("account-command-results", 6),
                ("account-dead-letters", 3),
            ]
        );
        let events = spec(&specs, topics::EVENTS);
        assert_eq!(value(events, "retention.ms"), "-1");
        assert_eq!(value(events, "retention.bytes"), "-1");
        assert_eq!(value(events, "cleanup.policy"), "delete");
        assert_eq!(
            value(spec(&specs, topics::COMMANDS), "retention.ms"),
            "604800000"
        );
        assert_eq!(
            value(spec(&specs, topics::DEAD_LETTERS), "retention.ms"),
            "2592000000"
        );
    }

    #[test]
    fn events_and_results_are_co_partitioned_with_commands() {
        let specs = TopicsConfig {
            partitions: 12,
            ..TopicsConfig::default()
        }
        .specs()
        .expect("valid");
        for name in [topics::EVENTS, topics::RESULTS] {
            let spec = spec(&specs, name);
            assert_eq!(spec.partitions, 12);
            assert_eq!(
                spec.partitioning,
                Partitioning::CoPartitioned {
                    with: topics::COMMANDS.to_owned()
                }
            );
        }
        assert_eq!(
            spec(&specs, topics::DEAD_LETTERS).partitioning,
            Partitioning::Free
        );
    }

    #[test]
    fn a_suffix_renames_every_topic_and_what_they_are_co_partitioned_with() {
        let names = TopicNames::with_suffix("-t1");
        let specs = TopicsConfig::default().specs_named(&names).expect("valid");
        let all: Vec<&str> = specs.iter().map(|spec| spec.name.as_str()).collect();
        assert_eq!(
            all,
            [
                "account-commands-t1",
                "account-events-t1",
                "account-command-results-t1",
                "account-dead-letters-t1",
            ]
        );
        assert_eq!(
            specs[1].partitioning,
            Partitioning::CoPartitioned {
                with: "account-commands-t1".to_owned()
            }
        );
    }

    #[test]
    fn invalid_values_are_refused_with_the_field_named() {
        let cases = [
            (
                TopicsConfig {
                    partitions: 0,
                    ..TopicsConfig::default()
                },
                "partitions",
            ),
            (
                TopicsConfig {
                    replication: -1,
                    ..TopicsConfig::default()
                },
                "replication",
            ),
            (
                TopicsConfig {
                    dead_letter_retention_ms: 1000,
                    ..TopicsConfig::default()
                },
                "dead_letter_retention_ms",
            ),
        ];
        for (config, field) in cases {
            let error = config.validate().expect_err(field).to_string();
            assert!(error.contains(&format!("`{field}`")), "{error}");
        }
        let forever = TopicsConfig {
            command_retention_ms: -1,
            ..TopicsConfig::default()
        };
        assert!(forever.validate().is_ok(), "-1 means forever");
    }

    #[test]
    fn config_is_read_with_defaults_and_refuses_unknown_fields() {
        let config: TopicsConfig =
            serde_json::from_str(r#"{"partitions": 12}"#).expect("a partial config");
        assert_eq!(config.partitions, 12);
        assert_eq!(config.replication, 1);
        let error = serde_json::from_str::<TopicsConfig>(r#"{"partition": 12}"#)
            .expect_err("a misspelt field");
        assert!(error.to_string().contains("partition"), "{error}");
    }
}
