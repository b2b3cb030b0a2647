//! `ledgerstream_runtime::topics` against the broker on `LEDGERSTREAM_BROKERS`:
//! creating the pipeline's topics is idempotent, and topics that are missing or not
//! co-partitioned are refused with a sentence naming them.
//!
//! Each test works on the pipeline's topics renamed with a unique suffix, and
//! deletes them afterwards.

// Test code: a failed unwrap is a failed test, and amounts read as units_cents.
#![allow(clippy::unwrap_used, clippy::inconsistent_digit_grouping)]

use std::time::Duration;

use ledgerstream_infra::Service;
use ledgerstream_runtime::topics::{
    self, Admin, Mismatch, TopicNames, TopicSpec, TopicStatus, TopicsConfig, TopicsError,
};
use ledgerstream_tests::{delete_topics, ledgerstream_bin, require, unique_name};
use rdkafka::ClientConfig;
use rdkafka::admin::{
    AdminClient, AdminOptions, ConfigSource, NewTopic, ResourceSpecifier, TopicReplication,
};
use rdkafka::client::DefaultClientContext;

const KAFKA_TIMEOUT: Duration = Duration::from_secs(15);

/// The pipeline's topic names, each with a suffix of its own to this call.
fn unique_names() -> TopicNames {
    TopicNames::with_suffix(&format!("-{}", unique_name("t")))
}

fn specs(names: &TopicNames) -> Vec<TopicSpec> {
    TopicsConfig::default()
        .specs_named(names)
        .expect("the default config is valid")
}

async fn admin() -> Admin {
    let broker = require(Service::Broker).await;
    Admin::connect(&broker.address).expect("admin client")
}

fn raw_admin(brokers: &str) -> AdminClient<DefaultClientContext> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("admin client")
}

/// Deletes the topics of `names`.
async fn delete(names: &TopicNames) {
    let broker = require(Service::Broker).await;
    delete_topics(&broker.address, &names.all()).await;
}

fn statuses(report: &topics::Report) -> Vec<(String, TopicStatus)> {
    report
        .topics
        .iter()
        .map(|row| (row.name.clone(), row.status))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn create_makes_every_topic_then_finds_them_all_existing() {
    let admin = admin().await;
    let names = unique_names();
    let specs = specs(&names);

    let first = topics::create(&admin, &specs).await.expect("first create");
    assert!(first.is_ok(), "first create: {:?}", first.mismatches);
    let made: Vec<(String, TopicStatus, Option<i32>)> = first
        .topics
        .iter()
        .map(|row| (row.name.clone(), row.status, row.partitions))
        .collect();
    assert_eq!(
        made,
        [
            (names.commands.clone(), TopicStatus::Created, Some(6)),
            (names.events.clone(), TopicStatus::Created, Some(6)),
            (names.results.clone(), TopicStatus::Created, Some(6)),
            (names.dead_letters.clone(), TopicStatus::Created, Some(3)),
        ]
    );
    let events = &first.topics[1];
    assert!(
        events
            .configs
            .contains(&("retention.ms".to_owned(), Some("-1".to_owned()))),
        "{} as reported: {:?}",
        events.name,
        events.configs
    );
    // Every config is set on the topic itself, the broker's defaults included:
    // a broker whose default changes does not change the topics.
    let broker = require(Service::Broker).await;
    let resources: Vec<ResourceSpecifier<'_>> = specs
        .iter()
        .map(|spec| ResourceSpecifier::Topic(&spec.name))
        .collect();
    let described = raw_admin(&broker.address)
        .describe_configs(&resources, &AdminOptions::new())
        .await
        .expect("DescribeConfigs");
    for (spec, resource) in specs.iter().zip(described) {
        let resource = resource.expect("the topic's configs");
        for config in &spec.configs {
            let entry = resource.get(&config.key).expect("a reported config");
            assert_eq!(
                (entry.value.as_deref(), &entry.source),
                (Some(config.value.as_str()), &ConfigSource::DynamicTopic),
                "{} {}",
                spec.name,
                config.key
            );
        }
    }

    let second = topics::create(&admin, &specs).await.expect("second create");
    assert!(second.is_ok(), "second create: {:?}", second.mismatches);
    assert!(
        second
            .topics
            .iter()
            .all(|row| row.status == TopicStatus::Exists),
        "second create: {:?}",
        statuses(&second)
    );
    topics::check(&admin, &specs)
        .await
        .expect("check after create");
    delete(&names).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn events_not_co_partitioned_with_commands_are_refused_naming_both() {
    let broker = require(Service::Broker).await;
    let names = unique_names();
    let specs = specs(&names);

    // Made behind the library's back, as an operator might have.
    let made = raw_admin(&broker.address)
        .create_topics(
            &[
                NewTopic::new(&names.commands, 6, TopicReplication::Fixed(1)),
                NewTopic::new(&names.events, 3, TopicReplication::Fixed(1))
                    .set("cleanup.policy", "delete")
                    .set("retention.ms", "-1")
                    .set("retention.bytes", "-1"),
            ],
            &AdminOptions::new().operation_timeout(Some(KAFKA_TIMEOUT)),
        )
        .await
        .expect("create_topics request");
    assert!(made.iter().all(Result::is_ok), "{made:?}");

    let admin = Admin::connect(&broker.address).expect("admin client");
    let report = topics::create(&admin, &specs).await.expect("create");
    assert_eq!(
        report.mismatches,
        [Mismatch::CoPartitioning {
            topic: names.events.clone(),
            partitions: 3,
            with: names.commands.clone(),
            with_partitions: 6,
        }]
    );
    assert_eq!(
        statuses(&report),
        [
            (names.commands.clone(), TopicStatus::Exists),
            (names.events.clone(), TopicStatus::Mismatch),
            (names.results.clone(), TopicStatus::Created),
            (names.dead_letters.clone(), TopicStatus::Created),
        ],
        "the missing topics are still created, the existing ones left alone"
    );

    let error = topics::check(&admin, &specs)
        .await
        .expect_err("check must refuse the topics");
    assert!(matches!(error, TopicsError::Mismatch(_)), "{error:?}");
    let message = error.to_string();
    let expected = format!(
        "{} has 3 partitions, {} 6: they must be equal (co-partitioned)",
        names.events, names.commands
    );
    assert!(message.contains(&expected), "{message}");
    delete(&names).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_topics_are_reported_by_name() {
    let admin = admin().await;
    let names = unique_names();
    let specs = specs(&names);

    let nothing = topics::inspect(&admin, &specs).await.expect("inspect");
    assert_eq!(
        nothing.mismatches,
        specs
            .iter()
            .map(|spec| Mismatch::Missing {
                topic: spec.name.clone()
            })
            .collect::<Vec<_>>()
    );

    let all_but_dead_letters: Vec<TopicSpec> = specs
        .iter()
        .filter(|spec| spec.name != names.dead_letters)
        .cloned()
        .collect();
    let made = topics::create(&admin, &all_but_dead_letters)
        .await
        .expect("create");
    assert!(made.is_ok(), "{:?}", made.mismatches);

    let error = topics::check(&admin, &specs)
        .await
        .expect_err("the dead-letter topic is missing");
    let TopicsError::Mismatch(mismatches) = &error else {
        panic!("expected a mismatch, got {error:?}");
    };
    assert_eq!(
        mismatches,
        &[Mismatch::Missing {
            topic: names.dead_letters.clone()
        }]
    );
    assert!(
        error
            .to_string()
            .contains(&format!("{} is missing", names.dead_letters)),
        "{error}"
    );
    delete(&names).await;
}

#[test]
fn every_topics_flag_has_help() {
    for action in ["create", "check"] {
        let output = std::process::Command::new(ledgerstream_bin())
            .args(["topics", action, "--help"])
            .output()
            .expect("run ledgerstream");
        assert!(output.status.success(), "topics {action} --help failed");
        let help = String::from_utf8_lossy(&output.stdout);
        for flag in [
            "--partitions",
            "--replication",
            "--dead-letter-partitions",
            "--topic-suffix",
        ] {
            let line = help
                .lines()
                .find(|line| line.trim_start().starts_with(flag))
                .unwrap_or_else(|| panic!("topics {action} --help has no {flag}:\n{help}"));
            assert!(
                line.len() > flag.len() + 10,
                "{flag} has no help text: {line}"
            );
        }
    }
}

/// The command with `--topic-suffix`: the four topics of a pipeline run with the
/// same suffix, created and then checked by name.
#[tokio::test(flavor = "multi_thread")]
async fn the_command_creates_and_checks_the_topics_of_a_suffix() {
    let broker = require(Service::Broker).await;
    let suffix = format!("-{}", unique_name("t"));
    let names = TopicNames::with_suffix(&suffix);
    let run = |action: &str| {
        let output = std::process::Command::new(ledgerstream_bin())
            .args(["topics", action, "--partitions", "2"])
            .arg(format!("--topic-suffix={suffix}"))
            .env("LEDGERSTREAM_BROKERS", &broker.address)
            .output()
            .expect("run ledgerstream");
        let printed = String::from_utf8_lossy(&output.stdout).into_owned();
        (output.status.success(), printed, output.stderr)
    };
    let (created, printed, stderr) = run("create");
    assert!(
        created,
        "topics create --topic-suffix failed:\n{printed}\n{}",
        String::from_utf8_lossy(&stderr)
    );
    for topic in names.all() {
        assert!(printed.contains(topic), "{topic} not in:\n{printed}");
    }
    let report = topics::inspect(&admin().await, &specs_with(&names, 2))
        .await
        .expect("inspect");
    assert!(report.is_ok(), "{:?}", report.mismatches);
    let (checked, printed, _) = run("check");
    assert!(checked, "topics check --topic-suffix failed:\n{printed}");
    delete(&names).await;
}

fn specs_with(names: &TopicNames, partitions: i32) -> Vec<TopicSpec> {
    TopicsConfig {
        partitions,
        ..TopicsConfig::default()
    }
    .specs_named(names)
    .expect("a valid config")
}
