//! The history sink: a batch of events becomes documents of the concrete index,
//! sent in bulk requests, then checkpoint documents.
//!
//! Each document's id is its event id and its version the account's version,
//! written with `version_type=external`: writing an event again — a retried
//! batch, a replay after a crash — is answered 409 and changes nothing, so it
//! counts as done (`ledgerstream_projection_duplicates_skipped_total`). The live
//! projection's bulk requests wait for a refresh (`refresh=wait_for`): when a
//! batch is reported written, its documents answer searches. A replay's index
//! answers no search before the alias swap, so its bulk requests do not wait
//! ([`HistorySink::without_refresh_per_bulk`]); the index is refreshed once
//! before each checkpoint instead, so a checkpoint still means searchable.
//!
//! The server answers per document ([`classify_item`]). What it refuses for
//! now (429, 5xx) fails the write as retriable; the runner writes the batch
//! again and only documents without an answer yet are sent. What it refuses
//! for good (a mapping error) is returned as refused: the runner sends those
//! events to the dead-letter topic.
//!
//! The sink keeps no state about accounts: the index needs none, and a
//! duplicate is the server's to detect. Version gaps are the ClickHouse
//! projection's to report.

use std::collections::HashMap;
use std::time::Duration;

use elasticsearch::auth::Credentials;
use elasticsearch::cert::CertificateValidation;
use elasticsearch::http::Url;
use elasticsearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use elasticsearch::indices::IndicesRefreshParts;
use elasticsearch::params::{Refresh, VersionType};
use elasticsearch::{BulkOperation, BulkOperations, BulkParts, Elasticsearch, MgetParts};
use futures::StreamExt;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tracing::{info, warn};

use super::config::{HistoryConfig, Indices};
use super::documents::HistoryDocument;
use super::engine::{self, Engine};
use super::retry::{HistoryError, ItemOutcome, classify_item, read_answer};
use super::template::{self, Prepared};
use crate::checkpoint::Checkpoint;
use crate::metrics::ProjectionMetrics;
use crate::sink::{Refused, Rejected, Sink, SourcedEvent, Written};

/// The projection's name: metrics label, checkpoint key.
pub const NAME: &str = "history";

/// The `table` label of the documents written.
pub const DOCUMENTS: &str = "transaction-history";

/// The parts of a bulk answer the sink reads.
const BULK_ANSWER: &[&str] = &[
    "errors",
    "items.*.status",
    "items.*.error.type",
    "items.*.error.reason",
];

/// One document waiting in a batch, and where its event was read.
#[derive(Debug, Clone)]
struct Pending {
    partition: i32,
    offset: i64,
    document: HistoryDocument,
}

/// The documents of one batch.
#[derive(Debug, Default)]
pub struct Batch {
    documents: Vec<Pending>,
}

impl Batch {
    /// Documents in the batch (events that moved no money have none).
    pub fn len(&self) -> usize {
        self.documents.len()
    }

    /// Whether the batch holds no document.
    pub fn is_empty(&self) -> bool {
        self.documents.is_empty()
    }
}

/// What the server answered for one document of the batch being written.
#[derive(Debug, Clone)]
enum Settled {
    Written,
    Duplicate,
    Refused(Rejected),
}

/// One checkpoint document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct CheckpointDocument {
    projection: String,
    index: String,
    index_uuid: String,
    topic: String,
    partition: i32,
    next_offset: i64,
    last_event_at_ms: i64,
    updated_at_ms: i64,
}

/// Writes `account-events` into the history index.
pub struct HistorySink {
    client: Elasticsearch,
    /// Which engine answered at connect.
    engine: Engine,
    indices: Indices,
    /// The concrete index's uuid: checkpoints are kept per uuid.
    uuid: String,
    bulk_documents: usize,
    bulk_concurrency: usize,
    /// Whether each bulk request waits for a refresh (the live projection), or
    /// the index is refreshed once before each checkpoint (a replay).
    refresh_per_bulk: bool,
    metrics: ProjectionMetrics,
    /// Per event id, the answers to the batch being written: a retried write
    /// sends only the rest. Emptied when a write succeeds.
    settled: HashMap<String, Settled>,
}

impl std::fmt::Debug for HistorySink {
    // The client holds the credentials: it is left out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistorySink")
            .field("engine", &self.engine)
            .field("indices", &self.indices)
            .field("uuid", &self.uuid)
            .field("bulk_documents", &self.bulk_documents)
            .field("bulk_concurrency", &self.bulk_concurrency)
            .field("refresh_per_bulk", &self.refresh_per_bulk)
            .field("settled", &self.settled.len())
            .finish()
    }
}

/// A client for `config`'s server: basic authentication when a user is set, and
/// for an `https://` URL the CA file's certificates trusted beside the system's.
pub fn client(config: &HistoryConfig) -> Result<Elasticsearch, HistoryError> {
    let url = Url::parse(&config.url).map_err(|error| HistoryError::Client {
        message: format!("url {:?}: {error}", config.url),
    })?;
    let mut transport = TransportBuilder::new(SingleNodeConnectionPool::new(url))
        .timeout(Duration::from_millis(config.request_timeout_millis));
    if let Some(path) = &config.ca_file {
        let certificate =
            super::config::ca_certificate(path).map_err(|why| HistoryError::Client {
                message: format!("ca_file: {why}"),
            })?;
        transport = transport.cert_validation(CertificateValidation::Full(certificate));
    }
    if let Some(user) = &config.user {
        let password = config
            .password
            .as_ref()
            .map(|p| p.expose_secret().to_owned())
            .unwrap_or_default();
        transport = transport.auth(Credentials::Basic(user.clone(), password));
    }
    let transport = transport.build().map_err(|error| HistoryError::Client {
        message: error.to_string(),
    })?;
    Ok(Elasticsearch::new(transport))
}

impl HistorySink {
    /// Connects, says which engine answers, and sets up the template and the
    /// indices (see [`template`]).
    pub async fn connect(
        config: &HistoryConfig,
        metrics: ProjectionMetrics,
    ) -> Result<(Self, Prepared), HistoryError> {
        let client = client(config)?;
        let engine = engine::detect(&client).await?;
        info!(%engine, "search server");
        let indices = config.indices();
        let prepared = template::prepare(&client, &indices).await?;
        let sink = Self {
            client,
            engine,
            indices,
            uuid: prepared.uuid.clone(),
            bulk_documents: config.bulk_documents,
            bulk_concurrency: config.bulk_concurrency,
            refresh_per_bulk: true,
            metrics,
            settled: HashMap::new(),
        };
        Ok((sink, prepared))
    }

    /// For an index that answers no search yet (a replay's, before the alias
    /// swap): bulk requests do not wait for a refresh; the index is refreshed
    /// once before each checkpoint is saved.
    pub fn without_refresh_per_bulk(mut self) -> Self {
        self.refresh_per_bulk = false;
        self
    }

    /// Makes everything written to the concrete index searchable.
    async fn refresh(&self) -> Result<(), HistoryError> {
        let during = "refreshing the index";
        let response = self
            .client
            .indices()
            .refresh(IndicesRefreshParts::Index(&[&self.indices.concrete]))
            .send()
            .await
            .map_err(HistoryError::during(during))?;
        read_answer(during, response).await.map(|_| ())
    }

    /// Which engine answered at connect.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The indices written.
    pub fn indices(&self) -> &Indices {
        &self.indices
    }

    /// The id of a partition's checkpoint document.
    fn checkpoint_id(&self, topic: &str, partition: i32) -> String {
        super::alias::checkpoint_id(&self.indices.concrete, &self.uuid, topic, partition)
    }

    /// Sends one bulk request; per document, what the server answered and why.
    async fn send(&self, chunk: &[&Pending]) -> Result<Vec<(ItemOutcome, String)>, HistoryError> {
        let during = "writing documents";
        let mut body = BulkOperations::new();
        for pending in chunk {
            let document = &pending.document;
            let operation = BulkOperation::index(document)
                .id(&document.event_id)
                .version(i64::try_from(document.version).unwrap_or(i64::MAX))
                .version_type(VersionType::External);
            body.push(operation).map_err(|error| HistoryError::Client {
                message: format!("encoding document {}: {error}", document.event_id),
            })?;
        }
        let refresh = if self.refresh_per_bulk {
            Refresh::WaitFor
        } else {
            Refresh::False
        };
        let response = self
            .client
            .bulk(BulkParts::Index(&self.indices.concrete))
            .body(vec![body])
            .refresh(refresh)
            .filter_path(BULK_ANSWER)
            .send()
            .await
            .map_err(HistoryError::during(during))?;
        let answer = read_answer(during, response).await?;
        items(during, &answer, chunk.len())
    }
}

/// Per item of a bulk answer, its outcome and the server's reason.
fn items(
    during: &'static str,
    answer: &Value,
    expected: usize,
) -> Result<Vec<(ItemOutcome, String)>, HistoryError> {
    let items = answer["items"].as_array().map_or(&[][..], Vec::as_slice);
    if items.len() != expected {
        return Err(HistoryError::Answer {
            during,
            message: format!("{} items for {expected} documents", items.len()),
        });
    }
    let mut outcomes = Vec::with_capacity(items.len());
    for item in items {
        // {"index": {"status": 201}} — one key, the operation.
        let result = item
            .as_object()
            .and_then(|operation| operation.values().next())
            .unwrap_or(&Value::Null);
        let Some(status) = result["status"].as_u64() else {
            return Err(HistoryError::Answer {
                during,
                message: format!("an item without a status: {item}"),
            });
        };
        let error_type = result["error"]["type"].as_str().unwrap_or_default();
        let reason = result["error"]["reason"].as_str().unwrap_or_default();
        let status = u16::try_from(status).unwrap_or(u16::MAX);
        let reason = if error_type.is_empty() {
            reason.to_owned()
        } else {
            format!("{error_type}: {reason}")
        };
        outcomes.push((classify_item(status, error_type), reason));
    }
    Ok(outcomes)
}

impl Sink for HistorySink {
    type Batch = Batch;
    type Error = HistoryError;

    fn name(&self) -> &'static str {
        NAME
    }

    fn add(&mut self, batch: &mut Batch, event: SourcedEvent) -> Result<(), Rejected> {
        let (partition, offset) = (event.partition, event.offset);
        if let Some(document) = HistoryDocument::from_event(event)? {
            batch.documents.push(Pending {
                partition,
                offset,
                document,
            });
        }
        Ok(())
    }

    async fn write(&mut self, batch: &Batch) -> Result<Written, HistoryError> {
        let pending: Vec<&Pending> = batch
            .documents
            .iter()
            .filter(|p| !self.settled.contains_key(&p.document.event_id))
            .collect();
        let answers: Vec<_> = {
            let this = &*self;
            futures::stream::iter(pending.chunks(this.bulk_documents))
                .map(|chunk| async move { (chunk, this.send(chunk).await) })
                .buffer_unordered(this.bulk_concurrency)
                .collect()
                .await
        };

        let mut tally = Tally::default();
        for (chunk, answer) in answers {
            tally.count(&mut self.settled, &self.indices.concrete, chunk, answer);
        }
        self.metrics
            .duplicates_skipped
            .with_label_values(&[NAME])
            .inc_by(tally.duplicates);
        let written = tally.written;
        tally.outcome()?;
        let refused = batch
            .documents
            .iter()
            .filter_map(|p| match self.settled.get(&p.document.event_id) {
                Some(Settled::Refused(rejected)) => Some(Refused {
                    partition: p.partition,
                    offset: p.offset,
                    rejected: rejected.clone(),
                }),
                Some(Settled::Written | Settled::Duplicate) | None => None,
            })
            .collect();
        self.settled.clear();
        Ok(Written {
            rows: vec![(DOCUMENTS, written)],
            refused,
        })
    }

    async fn load_checkpoints(
        &mut self,
        topic: &str,
        partitions: &[i32],
    ) -> Result<Vec<Checkpoint>, HistoryError> {
        let during = "reading checkpoints";
        let ids: Vec<String> = partitions
            .iter()
            .map(|&partition| self.checkpoint_id(topic, partition))
            .collect();
        let response = self
            .client
            .mget(MgetParts::Index(&self.indices.checkpoints))
            .body(json!({ "ids": ids }))
            .send()
            .await
            .map_err(HistoryError::during(during))?;
        let answer = read_answer(during, response).await?;
        let docs = answer["docs"].as_array().map_or(&[][..], Vec::as_slice);
        let mut found = Vec::with_capacity(partitions.len());
        for doc in docs {
            if let Some(error) = doc.get("error") {
                return Err(HistoryError::Index {
                    index: self.indices.checkpoints.clone(),
                    class: "checkpoints",
                    reason: error.to_string(),
                });
            }
            if doc["found"] != Value::Bool(true) {
                continue;
            }
            let stored: CheckpointDocument = serde_json::from_value(doc["_source"].clone())
                .map_err(|error| HistoryError::Answer {
                    during,
                    message: format!("checkpoint {}: {error}", doc["_id"]),
                })?;
            found.push(Checkpoint {
                partition: stored.partition,
                next_offset: stored.next_offset,
                last_event_at_ms: stored.last_event_at_ms,
                updated_at_ms: stored.updated_at_ms,
            });
        }
        // The index and its checkpoints live and go together (a new index has
        // a new uuid): a partition without
        // a checkpoint has nothing in this index, and starts at the log's
        // beginning, whatever the group committed for an index now gone.
        for &partition in partitions {
            if !found.iter().any(|c| c.partition == partition) {
                found.push(Checkpoint::start(partition));
            }
        }
        Ok(found)
    }

    async fn save_checkpoints(
        &mut self,
        topic: &str,
        checkpoints: &[Checkpoint],
    ) -> Result<(), HistoryError> {
        if checkpoints.is_empty() {
            return Ok(());
        }
        if !self.refresh_per_bulk {
            self.refresh().await?;
        }
        let during = "saving checkpoints";
        let mut body = BulkOperations::new();
        for checkpoint in checkpoints {
            let document = CheckpointDocument {
                projection: NAME.to_owned(),
                index: self.indices.concrete.clone(),
                index_uuid: self.uuid.clone(),
                topic: topic.to_owned(),
                partition: checkpoint.partition,
                next_offset: checkpoint.next_offset,
                last_event_at_ms: checkpoint.last_event_at_ms,
                updated_at_ms: checkpoint.updated_at_ms,
            };
            // external_gte: a checkpoint never moves back, even when a projector
            // that lost its partitions writes late.
            let operation = BulkOperation::index(document)
                .id(self.checkpoint_id(topic, checkpoint.partition))
                .version(checkpoint.next_offset)
                .version_type(VersionType::ExternalGte);
            body.push(operation).map_err(|error| HistoryError::Client {
                message: format!("encoding a checkpoint: {error}"),
            })?;
        }
        let response = self
            .client
            .bulk(BulkParts::Index(&self.indices.checkpoints))
            .body(vec![body])
            .filter_path(BULK_ANSWER)
            .send()
            .await
            .map_err(HistoryError::during(during))?;
        let answer = read_answer(during, response).await?;
        for (checkpoint, (outcome, reason)) in
            checkpoints
                .iter()
                .zip(items(during, &answer, checkpoints.len())?)
        {
            match outcome {
                ItemOutcome::Written => {}
                ItemOutcome::Duplicate => warn!(
                    projection = NAME,
                    partition = checkpoint.partition,
                    next_offset = checkpoint.next_offset,
                    "the stored checkpoint is ahead already; another projector wrote it"
                ),
                ItemOutcome::Retry(class) => {
                    return Err(HistoryError::Documents {
                        class,
                        count: 1,
                        example: reason,
                    });
                }
                ItemOutcome::Reject(class) | ItemOutcome::Stop(class) => {
                    return Err(HistoryError::Index {
                        index: self.indices.checkpoints.clone(),
                        class,
                        reason,
                    });
                }
            }
        }
        Ok(())
    }

    fn revoked(&mut self, _partitions: &[i32]) {
        // The open batch is finished or dropped before partitions go.
        self.settled.clear();
    }
}

/// What the bulk answers of one batch came to.
#[derive(Debug, Default)]
struct Tally {
    written: u64,
    duplicates: u64,
    /// Documents refused for now: the first class and reason, and how many.
    retry: Option<(&'static str, usize, String)>,
    /// The index refused a document in a way that needs a person.
    stop: Option<HistoryError>,
    /// A bulk request failed as a whole.
    failed: Option<HistoryError>,
}

impl Tally {
    /// Counts one bulk request's `answer` for the documents of `chunk`, and
    /// records in `settled` each document written, duplicate or refused.
    fn count(
        &mut self,
        settled: &mut HashMap<String, Settled>,
        index: &str,
        chunk: &[&Pending],
        answer: Result<Vec<(ItemOutcome, String)>, HistoryError>,
    ) {
        let outcomes = match answer {
            Ok(outcomes) => outcomes,
            Err(error) => {
                self.failed.get_or_insert(error);
                return;
            }
        };
        for (pending, (outcome, reason)) in chunk.iter().zip(outcomes) {
            let id = pending.document.event_id.clone();
            match outcome {
                ItemOutcome::Written => {
                    self.written += 1;
                    settled.insert(id, Settled::Written);
                }
                ItemOutcome::Duplicate => {
                    self.duplicates += 1;
                    settled.insert(id, Settled::Duplicate);
                }
                ItemOutcome::Reject(class) => {
                    let rejected = Rejected {
                        class,
                        message: reason,
                    };
                    settled.insert(id, Settled::Refused(rejected));
                }
                ItemOutcome::Retry(class) => {
                    let (_, count, _) = self.retry.get_or_insert((class, 0, reason));
                    *count += 1;
                }
                ItemOutcome::Stop(class) => {
                    self.stop.get_or_insert(HistoryError::Index {
                        index: index.to_owned(),
                        class,
                        reason,
                    });
                }
            }
        }
    }

    /// A refusal of the index stops; a failed request says why it failed;
    /// documents refused for now are sent again (the batch is retried).
    fn outcome(self) -> Result<(), HistoryError> {
        if let Some(error) = self.stop.or(self.failed) {
            return Err(error);
        }
        match self.retry {
            Some((class, count, example)) => Err(HistoryError::Documents {
                class,
                count,
                example,
            }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_items_are_read_in_order_with_their_reasons() {
        let answer = json!({"errors": true, "items": [
            {"index": {"status": 201}},
            {"index": {"status": 409, "error": {"type": "version_conflict_engine_exception", "reason": "[e2]: version conflict"}}},
            {"index": {"status": 400, "error": {"type": "mapper_parsing_exception", "reason": "failed to parse field [amount_minor]"}}},
            {"index": {"status": 429, "error": {"type": "es_rejected_execution_exception", "reason": "queue full"}}},
        ]});
        let outcomes = items("test", &answer, 4).expect("readable");
        assert_eq!(
            outcomes.iter().map(|(o, _)| *o).collect::<Vec<_>>(),
            [
                ItemOutcome::Written,
                ItemOutcome::Duplicate,
                ItemOutcome::Reject("mapping"),
                ItemOutcome::Retry("too-many-requests"),
            ]
        );
        assert_eq!(
            outcomes[2].1,
            "mapper_parsing_exception: failed to parse field [amount_minor]"
        );
    }

    #[test]
    fn an_answer_that_does_not_match_the_request_is_an_error() {
        let short = json!({"errors": false, "items": [{"index": {"status": 201}}]});
        assert!(matches!(
            items("test", &short, 2),
            Err(HistoryError::Answer { .. })
        ));
        let no_status = json!({"items": [{"index": {}}]});
        assert!(items("test", &no_status, 1).is_err());
    }
}
