//! The broker side: what topics exist (metadata, DescribeConfigs) and creating the
//! missing ones (CreateTopics), through rdkafka's admin client.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::types::RDKafkaRespErr;
use tokio::time::Instant;
use tracing::{info, warn};

use super::TopicsError;
use super::spec::TopicSpec;
use super::verify::{ActualTopic, Report, verify};
use crate::kafka::KafkaSettings;

/// How long one admin request may take, unless [`Admin::with_timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Pause between two metadata requests while a created topic is not visible yet.
const SETTLE_PAUSE: Duration = Duration::from_millis(200);

/// A Kafka admin client. Cheap to clone; build one per process.
#[derive(Debug, Clone)]
pub struct Admin {
    client: Arc<AdminClient<DefaultClientContext>>,
    timeout: Duration,
}

impl Admin {
    /// An admin client of the brokers at `brokers` (bootstrap servers).
    pub fn connect(brokers: &str) -> Result<Self, TopicsError> {
        Self::from_config(&KafkaSettings::new(brokers).client())
    }

    /// An admin client with these client settings (security settings, for one).
    pub fn from_config(config: &ClientConfig) -> Result<Self, TopicsError> {
        let mut config = config.clone();
        // Asking about a missing topic must never create it with the broker's defaults.
        config.set("allow.auto.create.topics", "false");
        let client = config.create().map_err(|source| TopicsError::Client {
            brokers: config
                .get("bootstrap.servers")
                .unwrap_or("(no bootstrap.servers)")
                .to_owned(),
            source,
        })?;
        Ok(Self {
            client: Arc::new(client),
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// The same client, each request allowed `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The broker's view of the topics named in `specs` that exist.
    pub async fn describe(
        &self,
        specs: &[TopicSpec],
    ) -> Result<BTreeMap<String, ActualTopic>, TopicsError> {
        self.describe_waiting_for(specs, &BTreeSet::new()).await
    }

    /// Like [`Admin::describe`], but first waits (up to the timeout) until the
    /// metadata shows every topic of `expected`: a topic just created may take a
    /// moment to reach every broker.
    async fn describe_waiting_for(
        &self,
        specs: &[TopicSpec],
        expected: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, ActualTopic>, TopicsError> {
        let wanted: BTreeSet<String> = specs.iter().map(|spec| spec.name.clone()).collect();
        let deadline = Instant::now() + self.timeout;
        let shapes = loop {
            let shapes = self.metadata(&wanted).await?;
            let settled = shapes.values().all(Option::is_some)
                && expected.iter().all(|name| shapes.contains_key(name));
            if settled || Instant::now() >= deadline {
                break shapes;
            }
            tokio::time::sleep(SETTLE_PAUSE).await;
        };
        let existing: Vec<&str> = shapes.keys().map(String::as_str).collect();
        let mut configs = self.configs(&existing).await?;
        Ok(shapes
            .into_iter()
            .map(|(name, shape)| {
                let (partitions, replication) = shape.unwrap_or((0, 0));
                let topic = ActualTopic {
                    configs: configs.remove(&name).unwrap_or_default(),
                    name: name.clone(),
                    partitions,
                    replication,
                };
                (name, topic)
            })
            .collect())
    }

    /// Partition count and fewest replicas of each topic of `wanted` that exists;
    /// `None` for one the broker lists with an error (not ready yet).
    async fn metadata(
        &self,
        wanted: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, Option<(i32, i32)>>, TopicsError> {
        let client = Arc::clone(&self.client);
        let timeout = self.timeout;
        // Metadata of every topic, not of each wanted one: asking about a missing
        // topic by name can make a broker create it.
        let metadata =
            tokio::task::spawn_blocking(move || client.inner().fetch_metadata(None, timeout))
                .await
                .unwrap_or_else(|join| match join.try_into_panic() {
                    Ok(panic) => std::panic::resume_unwind(panic),
                    Err(_) => Err(KafkaError::Canceled),
                })
                .map_err(|source| TopicsError::Broker {
                    operation: "Metadata",
                    source,
                })?;
        let mut shapes = BTreeMap::new();
        for topic in metadata.topics() {
            if !wanted.contains(topic.name()) {
                continue;
            }
            let shape = match topic.error() {
                Some(RDKafkaRespErr::RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) => continue,
                Some(_) => None,
                None if topic.partitions().is_empty() => None,
                None => {
                    let partitions = topic.partitions().len();
                    let replication = topic
                        .partitions()
                        .iter()
                        .map(|partition| partition.replicas().len())
                        .min()
                        .unwrap_or(0);
                    Some((
                        i32::try_from(partitions).unwrap_or(i32::MAX),
                        i32::try_from(replication).unwrap_or(i32::MAX),
                    ))
                }
            };
            shapes.insert(topic.name().to_owned(), shape);
        }
        Ok(shapes)
    }

    /// The configs the broker reports for each of `names`. A broker that does not
    /// answer DescribeConfigs, or not for some topic, leaves those unknown.
    async fn configs(
        &self,
        names: &[&str],
    ) -> Result<BTreeMap<String, BTreeMap<String, String>>, TopicsError> {
        if names.is_empty() {
            return Ok(BTreeMap::new());
        }
        let resources: Vec<ResourceSpecifier<'_>> = names
            .iter()
            .map(|name| ResourceSpecifier::Topic(name))
            .collect();
        let answers = match self
            .client
            .describe_configs(&resources, &self.options())
            .await
        {
            Ok(answers) => answers,
            Err(KafkaError::AdminOp(
                code @ (RDKafkaErrorCode::UnsupportedFeature
                | RDKafkaErrorCode::UnsupportedVersion
                | RDKafkaErrorCode::InvalidRequest),
            )) => {
                warn!(error = %code, "the broker does not describe topic configs, none checked");
                return Ok(BTreeMap::new());
            }
            Err(source) => {
                return Err(TopicsError::Broker {
                    operation: "DescribeConfigs",
                    source,
                });
            }
        };
        let mut configs = BTreeMap::new();
        for (name, answer) in names.iter().zip(answers) {
            match answer {
                Ok(resource) => {
                    let values = resource
                        .entries
                        .into_iter()
                        .filter_map(|entry| Some((entry.name, entry.value?)))
                        .collect();
                    configs.insert((*name).to_owned(), values);
                }
                Err(code) => {
                    warn!(topic = name, error = %code, "topic configs not reported, not checked");
                }
            }
        }
        Ok(configs)
    }

    /// Creates each of `specs`; answers the names created. One that another client
    /// created meanwhile is not an error, and not in the answer.
    async fn create_topics(&self, specs: &[&TopicSpec]) -> Result<BTreeSet<String>, TopicsError> {
        if specs.is_empty() {
            return Ok(BTreeSet::new());
        }
        let new_topics: Vec<NewTopic<'_>> = specs
            .iter()
            .map(|spec| {
                spec.configs.iter().fold(
                    NewTopic::new(
                        &spec.name,
                        spec.partitions,
                        TopicReplication::Fixed(spec.replication),
                    ),
                    |topic, config| topic.set(&config.key, &config.value),
                )
            })
            .collect();
        let answers = self
            .client
            .create_topics(&new_topics, &self.options())
            .await
            .map_err(|source| TopicsError::Broker {
                operation: "CreateTopics",
                source,
            })?;
        let mut created = BTreeSet::new();
        for answer in answers {
            match answer {
                Ok(topic) => {
                    info!(topic, "topic created");
                    created.insert(topic);
                }
                Err((topic, RDKafkaErrorCode::TopicAlreadyExists)) => {
                    info!(topic, "topic created meanwhile by another client");
                }
                Err((topic, code)) => return Err(TopicsError::CreateRefused { topic, code }),
            }
        }
        Ok(created)
    }

    fn options(&self) -> AdminOptions {
        AdminOptions::new()
            .request_timeout(Some(self.timeout))
            .operation_timeout(Some(self.timeout))
    }
}

/// Creates the topics of `specs` that are missing, leaves existing ones alone, then
/// checks them all. Idempotent: a second run reports every topic as existing.
///
/// Mismatches are in the report (see [`Report::into_result`]), not an error: the
/// caller shows them. The error is for a broker that failed to answer or refused.
pub async fn create(admin: &Admin, specs: &[TopicSpec]) -> Result<Report, TopicsError> {
    let before = admin.describe(specs).await?;
    let missing: Vec<&TopicSpec> = specs
        .iter()
        .filter(|spec| !before.contains_key(&spec.name))
        .collect();
    if missing.is_empty() {
        return Ok(verify(specs, &before, &BTreeSet::new()));
    }
    let created = admin.create_topics(&missing).await?;
    // Those not created here were created meanwhile by another client: wait for all.
    let expected = missing.iter().map(|spec| spec.name.clone()).collect();
    let after = admin.describe_waiting_for(specs, &expected).await?;
    Ok(verify(specs, &after, &created))
}

/// Deletes the topics `names` (a benchmark's or a test's own); one that is not
/// there is not an error.
pub async fn delete(admin: &Admin, names: &[&str]) -> Result<(), TopicsError> {
    let answers = admin
        .client
        .delete_topics(names, &admin.options())
        .await
        .map_err(|source| TopicsError::Broker {
            operation: "DeleteTopics",
            source,
        })?;
    for answer in answers {
        match answer {
            Ok(topic) => info!(topic, "topic deleted"),
            Err((_, RDKafkaErrorCode::UnknownTopicOrPartition)) => {}
            Err((topic, code)) => return Err(TopicsError::DeleteRefused { topic, code }),
        }
    }
    Ok(())
}

/// Checks the topics of `specs` without changing anything.
pub async fn inspect(admin: &Admin, specs: &[TopicSpec]) -> Result<Report, TopicsError> {
    let actual = admin.describe(specs).await?;
    Ok(verify(specs, &actual, &BTreeSet::new()))
}

/// Whether the topics of `specs` are there and as needed: the processor calls it
/// before it consumes anything, and refuses to run on [`TopicsError::Mismatch`],
/// which lists every mismatch. Two requests: metadata and DescribeConfigs.
pub async fn check(admin: &Admin, specs: &[TopicSpec]) -> Result<(), TopicsError> {
    let report = inspect(admin, specs).await?;
    for (topic, config) in report.unknown_configs() {
        warn!(
            topic,
            config, "config not reported by the broker, not checked"
        );
    }
    report.into_result().map(drop)
}
