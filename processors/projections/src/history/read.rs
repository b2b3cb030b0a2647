//! Reading the history index: a page of an account's movements
//! ([`HistoryReader`]), and waiting until a version is reflected ([`wait_for`],
//! read your writes).
//!
//! Versions order an account's events exactly (timestamps may tie), so a search
//! sorts by `version` alone and the cursor of a page is the version of its last
//! row: stable while documents arrive.
//!
//! A version is reflected when either
//!
//! 1. a document of the account with a version ≥ V answers a search, or
//! 2. the projection's checkpoints (those of the index behind the alias) have
//!    reached the log's end as it was when the wait started — every event in
//!    the log then has been written, or found to move no money — and V is the
//!    version right after the account's last movement: the close, the only
//!    version that can lack a document (every other version moves money).

use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use elasticsearch::{CountParts, Elasticsearch, MgetParts, SearchParts};
use serde_json::{Value, json};

use super::alias::{self, checkpoint_id, index_uuid};
use super::retry::read_answer;
use super::{HistoryConfig, HistoryDocument};
use crate::clickhouse::read::Pauses;
use crate::rebuild::positions::{self, EventLog, Marks, Positions};

/// Deeper than this, `from`/`size` paging is refused by the server
/// (`index.max_result_window`); `--after` pages on.
pub const MAX_RESULT_WINDOW: u64 = 10_000;

/// Which page to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    /// `from`/`size`: page N (from 1).
    Number(u32),
    /// `search_after`: the movements below this version.
    After(u64),
}

/// What a search for movements asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub account: String,
    /// Epoch milliseconds, inclusive.
    pub from_ms: Option<i64>,
    /// Epoch milliseconds, exclusive.
    pub to_ms: Option<i64>,
    pub size: u32,
    pub paging: Paging,
}

impl Request {
    /// The filter: the account, and the time range when there is one.
    fn filter(&self) -> Value {
        let mut filter = vec![json!({ "term": { "account_id": self.account } })];
        if self.from_ms.is_some() || self.to_ms.is_some() {
            let mut range = json!({ "format": "epoch_millis" });
            if let Some(from) = self.from_ms {
                range["gte"] = json!(from);
            }
            if let Some(to) = self.to_ms {
                range["lt"] = json!(to);
            }
            filter.push(json!({ "range": { "occurred_at": range } }));
        }
        json!({ "bool": { "filter": filter } })
    }

    /// The `_search` body.
    pub fn body(&self) -> Value {
        let mut body = json!({
            "size": self.size,
            "query": self.filter(),
            "sort": [{ "version": "desc" }],
            "track_total_hits": true,
        });
        match self.paging {
            Paging::Number(page) => {
                body["from"] = json!(u64::from(page - 1) * u64::from(self.size));
            }
            Paging::After(version) => body["search_after"] = json!([version]),
        }
        body
    }
}

/// One page of movements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Movements matching the filter, on every page.
    pub total: u64,
    pub movements: Vec<HistoryDocument>,
    /// The cursor of the next page, when this one is full.
    pub next_after: Option<u64>,
}

/// Reads the history behind one alias.
#[derive(Clone)]
pub struct HistoryReader {
    client: Elasticsearch,
    alias: String,
    checkpoints: String,
}

impl std::fmt::Debug for HistoryReader {
    // The client holds the credentials: it is left out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistoryReader")
            .field("alias", &self.alias)
            .finish()
    }
}

impl HistoryReader {
    pub fn new(config: &HistoryConfig) -> anyhow::Result<Self> {
        let indices = config.indices();
        Ok(Self {
            client: super::client(config)?,
            alias: indices.alias,
            checkpoints: indices.checkpoints,
        })
    }

    pub fn client(&self) -> &Elasticsearch {
        &self.client
    }

    pub fn alias(&self) -> &str {
        &self.alias
    }

    /// One page of the account's movements.
    pub async fn page(&self, request: &Request) -> anyhow::Result<Page> {
        let during = "searching the history";
        let response = self
            .client
            .search(SearchParts::Index(&[&self.alias]))
            .body(request.body())
            .send()
            .await
            .map_err(super::HistoryError::during(during))?;
        let answer = read_answer(during, response).await?;
        let hits = answer["hits"]["hits"]
            .as_array()
            .map_or(&[][..], Vec::as_slice);
        let mut movements = Vec::with_capacity(hits.len());
        for hit in hits {
            let document: HistoryDocument = serde_json::from_value(hit["_source"].clone())
                .with_context(|| format!("reading document {}", hit["_id"]))?;
            movements.push(document);
        }
        let total = answer["hits"]["total"]["value"]
            .as_u64()
            .unwrap_or(movements.len() as u64);
        let full = movements.len() == request.size as usize;
        let next_after = movements
            .last()
            .filter(|_| full)
            .map(|document| document.version);
        Ok(Page {
            total,
            movements,
            next_after,
        })
    }

    /// How many documents `query` matches.
    async fn count(&self, query: Value) -> anyhow::Result<u64> {
        let during = "counting movements";
        let response = self
            .client
            .count(CountParts::Index(&[&self.alias]))
            .body(json!({ "query": query }))
            .send()
            .await
            .map_err(super::HistoryError::during(during))?;
        let answer = read_answer(during, response).await?;
        answer["count"]
            .as_u64()
            .ok_or_else(|| anyhow!("{during}: no count in {answer}"))
    }

    /// How many movements the account has, whenever they were.
    pub async fn movements_of(&self, account: &str) -> anyhow::Result<u64> {
        self.count(json!({ "term": { "account_id": account } }))
            .await
    }

    /// Whether a document of the account with a version ≥ `version` answers.
    pub async fn has_version(&self, account: &str, version: u64) -> anyhow::Result<bool> {
        let query = json!({ "bool": { "filter": [
            { "term": { "account_id": account } },
            { "range": { "version": { "gte": version } } },
        ] } });
        Ok(self.count(query).await? > 0)
    }

    /// The highest version of the account's documents (0: none).
    pub async fn last_version(&self, account: &str) -> anyhow::Result<u64> {
        let request = Request {
            account: account.to_owned(),
            from_ms: None,
            to_ms: None,
            size: 1,
            paging: Paging::Number(1),
        };
        let page = self.page(&request).await?;
        Ok(page
            .movements
            .first()
            .map_or(0, |document| document.version))
    }

    /// The concrete index behind the alias.
    pub async fn concrete(&self) -> anyhow::Result<String> {
        let targets = alias::alias_targets(&self.client, &self.alias).await?;
        match targets.as_slice() {
            [one] => Ok(one.clone()),
            [] => bail!(
                "the alias {} does not exist: has `ledgerstream project history` started?",
                self.alias
            ),
            many => bail!("the alias {} points at {many:?}, not one index", self.alias),
        }
    }

    /// The positions the checkpoints of `concrete` hold for `topic`'s
    /// `partitions` (read by id, as the projector does: checkpoints are written
    /// without a refresh). A partition without one is left out.
    pub async fn checkpoints(
        &self,
        concrete: &str,
        topic: &str,
        partitions: &[i32],
    ) -> anyhow::Result<Positions> {
        let uuid = index_uuid(&self.client, concrete).await?;
        let ids: Vec<String> = partitions
            .iter()
            .map(|partition| checkpoint_id(concrete, &uuid, topic, *partition))
            .collect();
        let during = "reading checkpoints";
        let response = self
            .client
            .mget(MgetParts::Index(&self.checkpoints))
            .body(json!({ "ids": ids }))
            .send()
            .await
            .map_err(super::HistoryError::during(during))?;
        let answer = match read_answer(during, response).await {
            Ok(answer) => answer,
            // No checkpoints index yet: no checkpoint.
            Err(super::HistoryError::Refused { status: 404, .. }) => return Ok(Positions::new()),
            Err(error) => return Err(error.into()),
        };
        let mut found = Positions::new();
        for doc in answer["docs"].as_array().map_or(&[][..], Vec::as_slice) {
            if doc["found"].as_bool() != Some(true) {
                continue;
            }
            let source = &doc["_source"];
            if let (Some(partition), Some(next)) =
                (source["partition"].as_i64(), source["next_offset"].as_i64())
            {
                found.insert(i32::try_from(partition).unwrap_or(i32::MAX), next);
            }
        }
        Ok(found)
    }
}

/// What a wait for a version came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Waited {
    /// A document with the version or a later one answers.
    Found,
    /// No document has it, but the projection has written everything the log
    /// held when the wait started: the version is the one after the account's
    /// last movement, which moves no money (the close), or does not exist.
    Covered,
    /// The time ran out; how far behind the projection was, in words.
    TimedOut { lag: String },
}

/// The log the projection reads, and its end when the wait started.
struct LogEnd {
    topic: String,
    partitions: Vec<i32>,
    marks: Marks,
}

/// Waits until `version` of `account` is reflected (see the module
/// documentation), for at most `timeout`; `events_topic` on `brokers` is the
/// log the projection reads.
pub async fn wait_for(
    reader: &HistoryReader,
    account: &str,
    version: u64,
    (brokers, events_topic): (&str, &str),
    timeout: Duration,
) -> anyhow::Result<Waited> {
    let deadline = Instant::now() + timeout;
    if reader.has_version(account, version).await? {
        return Ok(Waited::Found);
    }
    let topic = events_topic.to_owned();
    let log = EventLog::connect(brokers, &topic)?;
    let partitions = log.partitions().await?;
    let end = LogEnd {
        marks: log.marks(&partitions).await?,
        topic,
        partitions,
    };
    let mut pauses = Pauses::default();
    loop {
        if reader.has_version(account, version).await? {
            return Ok(Waited::Found);
        }
        let concrete = reader.concrete().await?;
        let at = reader
            .checkpoints(&concrete, &end.topic, &end.partitions)
            .await?;
        let caught_up = positions::reached(&at, &end.marks);
        if caught_up {
            // The document may have landed between the two reads.
            if reader.has_version(account, version).await? {
                return Ok(Waited::Found);
            }
            if may_lack_a_document(version, reader.last_version(account).await?) {
                return Ok(Waited::Covered);
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let lag = if caught_up {
                format!(
                    "the history projection into {concrete} has written all of {} as it was when \
                     the query started, and the version is beyond the account's last movement: \
                     it may not exist (yet)",
                    end.topic
                )
            } else {
                let behind = positions::lag(&at, &end.marks);
                format!(
                    "the history projection into {concrete} is {} offset{} behind {} as it was \
                     when the query started, events and transaction markers (is `ledgerstream \
                     project history` running?)",
                    behind,
                    if behind == 1 { "" } else { "s" },
                    end.topic
                )
            };
            return Ok(Waited::TimedOut { lag });
        }
        tokio::time::sleep(pauses.next().min(left)).await;
    }
}

/// Whether `version` may have no document when the account's last movement is at
/// version `last` (0: none): only the version right after it, the close, moves no
/// money. An account without movements has not been opened (every opening
/// deposits).
fn may_lack_a_document(version: u64, last: u64) -> bool {
    last > 0 && version == last + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_version_after_the_last_movement_may_lack_a_document() {
        assert!(may_lack_a_document(5, 4), "the close");
        assert!(!may_lack_a_document(4, 4), "a movement has its document");
        assert!(!may_lack_a_document(6, 4), "past the close");
        assert!(!may_lack_a_document(1, 0), "an opening is a movement");
    }
}
