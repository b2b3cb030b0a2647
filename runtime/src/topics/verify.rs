//! Compares the topics the broker has with the ones the pipeline needs. Pure: the
//! broker's answers come in as [`ActualTopic`]s, a [`Report`] goes out.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::TopicsError;
use super::spec::{Partitioning, Rule, TopicSpec};

/// What the broker says about one existing topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActualTopic {
    pub name: String,
    pub partitions: i32,
    /// The fewest replicas any of its partitions has.
    pub replication: i32,
    /// The configs the broker reported. One it did not report (DescribeConfigs
    /// refused) is unknown, and is not checked.
    pub configs: BTreeMap<String, String>,
}

/// The outcome of `create` or `check`: a row per topic, and every mismatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub topics: Vec<TopicRow>,
    pub mismatches: Vec<Mismatch>,
}

/// One topic of a [`Report`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicRow {
    pub name: String,
    pub status: TopicStatus,
    /// `None` when the topic is missing.
    pub partitions: Option<i32>,
    /// `None` when the topic is missing.
    pub replication: Option<i32>,
    /// The checked configs as the broker reports them; `None` when it does not
    /// (unknown, so not checked) or the topic is missing.
    pub configs: Vec<(String, Option<String>)>,
}

/// Where a topic stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicStatus {
    /// Created just now, and as needed.
    Created,
    /// Was there already, and as needed.
    Exists,
    /// Not there.
    Missing,
    /// There, but not as needed: see the report's mismatches.
    Mismatch,
}

impl fmt::Display for TopicStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TopicStatus::Created => "created",
            TopicStatus::Exists => "exists",
            TopicStatus::Missing => "MISSING",
            TopicStatus::Mismatch => "MISMATCH",
        })
    }
}

/// One way a topic differs from what the pipeline needs. Its `Display` is a
/// sentence that says what is wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    Missing {
        topic: String,
    },
    /// Differs from the topic it is co-partitioned with.
    CoPartitioning {
        topic: String,
        partitions: i32,
        with: String,
        with_partitions: i32,
    },
    /// Differs from the configured count.
    Partitions {
        topic: String,
        actual: i32,
        expected: i32,
    },
    /// Fewer replicas than configured.
    Replication {
        topic: String,
        actual: i32,
        expected: i32,
    },
    Config {
        topic: String,
        key: String,
        actual: String,
        expected: String,
        rule: Rule,
        why: String,
    },
}

impl Mismatch {
    /// The topic it is about.
    pub fn topic(&self) -> &str {
        match self {
            Mismatch::Missing { topic }
            | Mismatch::CoPartitioning { topic, .. }
            | Mismatch::Partitions { topic, .. }
            | Mismatch::Replication { topic, .. }
            | Mismatch::Config { topic, .. } => topic,
        }
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Missing { topic } => {
                write!(f, "{topic} is missing; run `ledgerstream topics create`")
            }
            Mismatch::CoPartitioning {
                topic,
                partitions,
                with,
                with_partitions,
            } => write!(
                f,
                "{topic} has {partitions} partitions, {with} {with_partitions}: they must be \
                 equal (co-partitioned); recreate one of them with the other's count, e.g. \
                 delete {topic} and run `ledgerstream topics create --partitions \
                 {with_partitions}`"
            ),
            Mismatch::Partitions {
                topic,
                actual,
                expected,
            } => write!(
                f,
                "{topic} has {actual} partitions, {expected} configured: run with \
                 --partitions {actual} to use it as it is (partitions cannot be removed, and \
                 adding some moves accounts to other partitions)"
            ),
            Mismatch::Replication {
                topic,
                actual,
                expected,
            } => write!(
                f,
                "{topic} has {actual} replica(s) per partition, {expected} configured: add \
                 replicas with kafka-reassign-partitions, or run with --replication {actual}"
            ),
            Mismatch::Config {
                topic,
                key,
                actual,
                expected,
                rule,
                why,
            } => {
                write!(f, "{topic} {key} is {actual}, must be ")?;
                match rule {
                    Rule::AtLeast if expected != "-1" => {
                        write!(f, "at least {expected}")?;
                        if let Some(readable) = readable_ms(key, expected) {
                            write!(f, " ({readable})")?;
                        }
                        write!(f, " or -1")?;
                    }
                    Rule::AtLeast | Rule::Exactly => write!(f, "{expected}")?,
                }
                write!(
                    f,
                    " ({why}); set it with `kafka-configs.sh --alter --entity-type topics \
                     --entity-name {topic} --add-config {key}={expected}`"
                )
            }
        }
    }
}

/// `604800000` as "7 days", for keys in ms.
fn readable_ms(key: &str, value: &str) -> Option<String> {
    const HOUR: i64 = 60 * 60 * 1000;
    const DAY: i64 = 24 * HOUR;
    let ms: i64 = value.parse().ok().filter(|_| key.ends_with(".ms"))?;
    let (count, unit) = match ms {
        ms if ms > 0 && ms % DAY == 0 => (ms / DAY, "day"),
        ms if ms > 0 && ms % HOUR == 0 => (ms / HOUR, "hour"),
        _ => return None,
    };
    Some(format!(
        "{count} {unit}{}",
        if count == 1 { "" } else { "s" }
    ))
}

impl Report {
    /// Whether every topic is there and as needed.
    pub fn is_ok(&self) -> bool {
        self.mismatches.is_empty()
    }

    /// The report, or the error listing every mismatch.
    pub fn into_result(self) -> Result<Self, TopicsError> {
        if self.is_ok() {
            Ok(self)
        } else {
            Err(TopicsError::Mismatch(self.mismatches))
        }
    }

    /// `(topic, config)` of every checked config the broker did not report.
    pub fn unknown_configs(&self) -> Vec<(&str, &str)> {
        self.topics
            .iter()
            .filter(|row| row.status != TopicStatus::Missing)
            .flat_map(|row| {
                row.configs
                    .iter()
                    .filter(|(_, value)| value.is_none())
                    .map(|(key, _)| (row.name.as_str(), key.as_str()))
            })
            .collect()
    }
}

/// Compares `actual` (the broker's topics, any others among them ignored) with
/// `specs`; `created` names the topics made just now, for their status.
pub fn verify(
    specs: &[TopicSpec],
    actual: &BTreeMap<String, ActualTopic>,
    created: &BTreeSet<String>,
) -> Report {
    let mut topics = Vec::with_capacity(specs.len());
    let mut mismatches = Vec::new();
    for spec in specs {
        let Some(topic) = actual.get(&spec.name) else {
            mismatches.push(Mismatch::Missing {
                topic: spec.name.clone(),
            });
            topics.push(TopicRow {
                name: spec.name.clone(),
                status: TopicStatus::Missing,
                partitions: None,
                replication: None,
                configs: spec
                    .configs
                    .iter()
                    .map(|config| (config.key.clone(), None))
                    .collect(),
            });
            continue;
        };
        let before = mismatches.len();
        mismatches.extend(partition_mismatch(spec, topic, actual));
        if topic.replication < spec.replication {
            mismatches.push(Mismatch::Replication {
                topic: spec.name.clone(),
                actual: topic.replication,
                expected: spec.replication,
            });
        }
        let mut configs = Vec::with_capacity(spec.configs.len());
        for config in &spec.configs {
            let reported = topic.configs.get(&config.key);
            if let Some(value) = reported
                && !satisfies(config.rule, value, &config.value)
            {
                mismatches.push(Mismatch::Config {
                    topic: spec.name.clone(),
                    key: config.key.clone(),
                    actual: value.clone(),
                    expected: config.value.clone(),
                    rule: config.rule,
                    why: config.why.clone(),
                });
            }
            configs.push((config.key.clone(), reported.cloned()));
        }
        let status = if mismatches.len() > before {
            TopicStatus::Mismatch
        } else if created.contains(&spec.name) {
            TopicStatus::Created
        } else {
            TopicStatus::Exists
        };
        topics.push(TopicRow {
            name: spec.name.clone(),
            status,
            partitions: Some(topic.partitions),
            replication: Some(topic.replication),
            configs,
        });
    }
    Report { topics, mismatches }
}

fn partition_mismatch(
    spec: &TopicSpec,
    topic: &ActualTopic,
    actual: &BTreeMap<String, ActualTopic>,
) -> Option<Mismatch> {
    let against_config = || {
        (topic.partitions != spec.partitions).then(|| Mismatch::Partitions {
            topic: spec.name.clone(),
            actual: topic.partitions,
            expected: spec.partitions,
        })
    };
    match &spec.partitioning {
        Partitioning::Free => None,
        Partitioning::Pinned => against_config(),
        Partitioning::CoPartitioned { with } => match actual.get(with) {
            Some(other) if other.partitions != topic.partitions => Some(Mismatch::CoPartitioning {
                topic: spec.name.clone(),
                partitions: topic.partitions,
                with: with.clone(),
                with_partitions: other.partitions,
            }),
            _ => against_config(),
        },
    }
}

/// Whether a reported value passes `rule` against the needed one.
fn satisfies(rule: Rule, actual: &str, expected: &str) -> bool {
    match rule {
        Rule::Exactly => actual == expected,
        Rule::AtLeast => match (actual.parse::<i64>(), expected.parse::<i64>()) {
            (Ok(-1), _) => true,
            (Ok(_), Ok(-1)) => false,
            (Ok(actual), Ok(expected)) => actual >= expected,
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topics::{TopicNames, TopicsConfig};

    const DAY_MS: &str = "86400000";

    fn specs() -> Vec<TopicSpec> {
        TopicsConfig::default()
            .specs_named(&TopicNames::default())
            .expect("defaults are valid")
    }

    /// The broker's view of `spec` as created, every config reported.
    fn as_created(spec: &TopicSpec) -> ActualTopic {
        ActualTopic {
            name: spec.name.clone(),
            partitions: spec.partitions,
            replication: spec.replication,
            configs: spec
                .configs
                .iter()
                .map(|config| (config.key.clone(), config.value.clone()))
                .collect(),
        }
    }

    fn all_as_created(specs: &[TopicSpec]) -> BTreeMap<String, ActualTopic> {
        specs
            .iter()
            .map(|spec| (spec.name.clone(), as_created(spec)))
            .collect()
    }

    fn topic<'a>(actual: &'a mut BTreeMap<String, ActualTopic>, name: &str) -> &'a mut ActualTopic {
        actual.get_mut(name).expect("a topic of the spec")
    }

    fn sentences(report: &Report) -> Vec<String> {
        report.mismatches.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn topics_as_created_pass_and_say_created_or_exists() {
        let specs = specs();
        let created = BTreeSet::from(["account-events".to_owned()]);
        let report = verify(&specs, &all_as_created(&specs), &created);
        assert!(report.is_ok(), "{:?}", sentences(&report));
        let statuses: Vec<_> = report.topics.iter().map(|row| row.status).collect();
        assert_eq!(
            statuses,
            [
                TopicStatus::Exists,
                TopicStatus::Created,
                TopicStatus::Exists,
                TopicStatus::Exists
            ]
        );
        assert!(report.unknown_configs().is_empty());
    }

    #[test]
    fn a_missing_topic_is_reported_by_name() {
        let specs = specs();
        let mut actual = all_as_created(&specs);
        actual.remove("account-command-results");
        let report = verify(&specs, &actual, &BTreeSet::new());
        assert_eq!(
            sentences(&report),
            ["account-command-results is missing; run `ledgerstream topics create`"]
        );
        assert_eq!(report.topics[2].status, TopicStatus::Missing);
        assert!(report.into_result().is_err());
    }

    #[test]
    fn events_with_fewer_partitions_than_commands_are_refused_naming_both() {
        let specs = specs();
        let mut actual = all_as_created(&specs);
        topic(&mut actual, "account-events").partitions = 3;
        let report = verify(&specs, &actual, &BTreeSet::new());
        assert_eq!(report.mismatches.len(), 1, "{:?}", sentences(&report));
        let sentence = &sentences(&report)[0];
        assert!(
            sentence.starts_with(
                "account-events has 3 partitions, account-commands 6: they must be equal \
                 (co-partitioned)"
            ),
            "{sentence}"
        );
        assert!(sentence.contains("--partitions 6"), "{sentence}");
        assert_eq!(report.topics[1].status, TopicStatus::Mismatch);
    }

    #[test]
    fn co_partitioned_topics_that_agree_but_differ_from_the_config_are_each_reported() {
        let specs = specs();
        let mut actual = all_as_created(&specs);
        for name in [
            "account-commands",
            "account-events",
            "account-command-results",
        ] {
            topic(&mut actual, name).partitions = 3;
        }
        let report = verify(&specs, &actual, &BTreeSet::new());
        let expected: Vec<Mismatch> = [
            "account-commands",
            "account-events",
            "account-command-results",
        ]
        .into_iter()
        .map(|name| Mismatch::Partitions {
            topic: name.to_owned(),
            actual: 3,
            expected: 6,
        })
        .collect();
        assert_eq!(report.mismatches, expected);
        assert!(
            sentences(&report)[0].contains("run with --partitions 3"),
            "{:?}",
            sentences(&report)
        );
    }

    #[test]
    fn results_are_compared_with_commands_even_when_events_are_missing() {
        let specs = specs();
        let mut actual = all_as_created(&specs);
        actual.remove("account-events");
        topic(&mut actual, "account-command-results").partitions = 12;
        let report = verify(&specs, &actual, &BTreeSet::new());
        assert_eq!(
            report.mismatches,
            [
                Mismatch::Missing {
                    topic: "account-events".to_owned()
                },
                Mismatch::CoPartitioning {
                    topic: "account-command-results".to_owned(),
                    partitions: 12,
                    with: "account-commands".to_owned(),
                    with_partitions: 6,
                },
            ]
        );
    }

    #[test]
    fn dead_letters_take_any_partition_count() {
        let specs = specs();
        let mut actual = all_as_created(&specs);
        topic(&mut actual, "account-dead-letters").partitions = 1;
        assert!(verify(&specs, &actual, &BTreeSet::new()).is_ok());
    }

    #[test]
    fn finite_event_retention_is_refused_with_the_reason() {
        let specs = specs();
        let mut actual = all_as_created(&specs);
        topic(&mut actual, "account-events")
            .configs
            .insert("retention.ms".to_owned(), "604800000".to_owned());
        let report = verify(&specs, &actual, &BTreeSet::new());
        let sentences = sentences(&report);
        assert_eq!(sentences.len(), 1, "{sentences:?}");
        assert!(
            sentences[0].starts_with(
                "account-events retention.ms is 604800000, must be -1 (events are kept forever)"
            ),
            "{}",
            sentences[0]
        );
        assert!(
            sentences[0].contains("--add-config retention.ms=-1"),
            "{}",
            sentences[0]
        );
    }

    #[test]
    fn compaction_is_refused_on_every_topic() {
        let specs = specs();
        let mut actual = all_as_created(&specs);
        for row in actual.values_mut() {
            row.configs
                .insert("cleanup.policy".to_owned(), "compact".to_owned());
        }
        let report = verify(&specs, &actual, &BTreeSet::new());
        assert_eq!(report.mismatches.len(), 4, "{:?}", sentences(&report));
        assert!(
            report
                .mismatches
                .iter()
                .all(|m| matches!(m, Mismatch::Config { key, .. } if key == "cleanup.policy"))
        );
    }

    #[test]
    fn longer_or_unlimited_retention_passes_where_at_least_is_asked() {
        let specs = specs();
        let mut actual = all_as_created(&specs);
        topic(&mut actual, "account-commands")
            .configs
            .insert("retention.ms".to_owned(), "-1".to_owned());
        topic(&mut actual, "account-dead-letters")
            .configs
            .insert("retention.ms".to_owned(), "31536000000".to_owned());
        assert!(verify(&specs, &actual, &BTreeSet::new()).is_ok());
    }

    #[test]
    fn shorter_retention_is_refused_where_at_least_is_asked() {
        let specs = specs();
        let mut actual = all_as_created(&specs);
        topic(&mut actual, "account-commands")
            .configs
            .insert("retention.ms".to_owned(), DAY_MS.to_owned());
        topic(&mut actual, "account-dead-letters")
            .configs
            .insert("retention.ms".to_owned(), "not-a-number".to_owned());
        let sentences = sentences(&verify(&specs, &actual, &BTreeSet::new()));
        assert_eq!(sentences.len(), 2, "{sentences:?}");
        assert!(
            sentences[0].starts_with(
                "account-commands retention.ms is 86400000, must be at least 604800000 \
                 (7 days) or -1 (commands must outlive an outage of the processor)"
            ),
            "{}",
            sentences[0]
        );
        assert!(
            sentences[1].contains("is not-a-number, must be at least 2592000000 (30 days)"),
            "{}",
            sentences[1]
        );
    }

    #[test]
    fn configs_the_broker_does_not_report_are_unknown_and_tolerated() {
        let specs = specs();
        let mut actual = all_as_created(&specs);
        topic(&mut actual, "account-events").configs.clear();
        topic(&mut actual, "account-commands")
            .configs
            .remove("retention.ms");
        let report = verify(&specs, &actual, &BTreeSet::new());
        assert!(report.is_ok(), "{:?}", sentences(&report));
        assert_eq!(
            report.unknown_configs(),
            [
                ("account-commands", "retention.ms"),
                ("account-events", "cleanup.policy"),
                ("account-events", "retention.ms"),
                ("account-events", "retention.bytes"),
            ]
        );
        assert_eq!(
            report.topics[1].configs[1],
            ("retention.ms".to_owned(), None)
        );
    }

    #[test]
    fn unknown_configs_do_not_hide_a_partition_mismatch() {
        let specs = specs();
        let mut actual = all_as_created(&specs);
        let events = topic(&mut actual, "account-events");
        events.configs.clear();
        events.partitions = 3;
        let report = verify(&specs, &actual, &BTreeSet::new());
        assert!(matches!(
            report.mismatches[..],
            [Mismatch::CoPartitioning { .. }]
        ));
    }

    #[test]
    fn fewer_replicas_than_configured_are_refused_more_are_fine() {
        let specs = TopicsConfig {
            replication: 3,
            ..TopicsConfig::default()
        }
        .specs()
        .expect("valid");
        let mut actual = all_as_created(&specs);
        topic(&mut actual, "account-events").replication = 1;
        topic(&mut actual, "account-commands").replication = 5;
        let report = verify(&specs, &actual, &BTreeSet::new());
        assert_eq!(
            report.mismatches,
            [Mismatch::Replication {
                topic: "account-events".to_owned(),
                actual: 1,
                expected: 3,
            }]
        );
        assert!(sentences(&report)[0].contains("--replication 1"));
    }

    #[test]
    fn other_topics_on_the_broker_are_ignored() {
        let specs = specs();
        let mut actual = all_as_created(&specs);
        let stray = ActualTopic {
            name: "_schemas".to_owned(),
            partitions: 1,
            replication: 1,
            configs: BTreeMap::new(),
        };
        actual.insert(stray.name.clone(), stray);
        let report = verify(&specs, &actual, &BTreeSet::new());
        assert!(report.is_ok());
        assert_eq!(report.topics.len(), 4);
    }

    #[test]
    fn the_error_lists_every_mismatch() {
        let specs = specs();
        let mut actual = all_as_created(&specs);
        actual.remove("account-dead-letters");
        topic(&mut actual, "account-events").partitions = 3;
        let error = verify(&specs, &actual, &BTreeSet::new())
            .into_result()
            .expect_err("two mismatches")
            .to_string();
        assert!(error.contains("account-events has 3 partitions"), "{error}");
        assert!(error.contains("account-dead-letters is missing"), "{error}");
    }
}
