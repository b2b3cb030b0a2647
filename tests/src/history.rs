//! The history index for the tests: an alias and checkpoints index of a test's
//! own, read back whole or by query, its checkpoints, and the check that it
//! equals a fold of the event log.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use ledgerstream_infra::Service;
use ledgerstream_projections::history::{HistoryConfig, HistoryDocument, Indices};
use serde_json::{Value, json};

use crate::log::Fold;
use crate::pipeline::ProcessorChild;
use crate::{require, unique_name};

/// An alias, index, template and checkpoints index of a test's own on a search
/// engine (nothing is created: the projection creates them). Made with
/// [`new`](Self::new), on the local stack's engine, they are deleted when it
/// goes (also when a test fails); made with [`at`](Self::at), on an engine of the
/// test's own that goes with its data, nothing is deleted.
#[derive(Debug)]
pub struct HistoryIndex {
    pub url: String,
    pub config: HistoryConfig,
    pub indices: Indices,
    http: reqwest::Client,
    delete_on_drop: bool,
}

impl HistoryIndex {
    /// New names on the local stack's search engine, after checking that it
    /// answers; deleted on drop.
    pub async fn new() -> Self {
        let endpoint = require(Service::Search).await;
        Self::named(endpoint.address, true)
    }

    /// New names on the search engine at `url`; nothing deleted on drop.
    pub fn at(url: impl Into<String>) -> Self {
        Self::named(url.into(), false)
    }

    fn named(url: String, delete_on_drop: bool) -> Self {
        let name = unique_name("history");
        let mut config = HistoryConfig::new(url.clone());
        config.index = name.clone();
        config.checkpoint_index = format!("checkpoints-{name}");
        Self {
            url,
            indices: config.indices(),
            config,
            http: reqwest::Client::new(),
            delete_on_drop,
        }
    }

    /// The flags of `ledgerstream project history` for these indices.
    pub fn flags(&self) -> Vec<String> {
        vec![
            "--history-index".to_owned(),
            self.indices.alias.clone(),
            "--history-checkpoint-index".to_owned(),
            self.indices.checkpoints.clone(),
        ]
    }

    /// `method` on `path` of the engine (waiting 30 s at most), with `body` as
    /// JSON: the status and the JSON answer (`Null` when there is none).
    ///
    /// # Panics
    ///
    /// When the engine does not answer.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}/{path}", self.url))
            .timeout(Duration::from_secs(30));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect(path);
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// [`call`](Self::call), which must succeed: the JSON answer.
    ///
    /// # Panics
    ///
    /// When the engine does not answer, or answers with a status other than 2xx.
    pub async fn request(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let (status, answer) = self.call(method, path, body).await;
        assert!((200..300).contains(&status), "{path}: {status} {answer}");
        answer
    }

    /// A `_search` on the alias: the answer.
    pub async fn search(&self, body: Value) -> Value {
        let path = format!("{}/_search", self.indices.alias);
        self.request(reqwest::Method::POST, &path, Some(body)).await
    }

    /// How many documents behind the alias match `query`
    /// (`json!({ "match_all": {} })` for all).
    pub async fn count(&self, query: Value) -> u64 {
        let path = format!("{}/_count", self.indices.alias);
        let answer = self
            .request(
                reqwest::Method::POST,
                &path,
                Some(json!({ "query": query })),
            )
            .await;
        answer["count"].as_u64().expect("a count")
    }

    /// Every document behind the alias, paged with `search_after`.
    pub async fn documents(&self) -> Vec<HistoryDocument> {
        self.documents_in(&self.indices.alias).await
    }

    /// Every document of `index` (the alias, or one concrete index behind it),
    /// by event id, paged with `search_after`.
    pub async fn documents_in(&self, index: &str) -> Vec<HistoryDocument> {
        let path = format!("{index}/_search");
        let mut documents = Vec::new();
        let mut after: Option<Value> = None;
        loop {
            let mut body = json!({ "size": 1000, "sort": [{ "event_id": "asc" }] });
            if let Some(after) = &after {
                body["search_after"] = after.clone();
            }
            let answer = self.request(reqwest::Method::POST, &path, Some(body)).await;
            let hits = answer["hits"]["hits"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let Some(last) = hits.last() else {
                return documents;
            };
            after = Some(last["sort"].clone());
            for hit in &hits {
                documents.push(serde_json::from_value(hit["_source"].clone()).expect("a document"));
            }
        }
    }

    /// Per partition, the checkpoint's next offset (after a refresh of the
    /// checkpoints index).
    pub async fn checkpoints(&self) -> BTreeMap<i32, i64> {
        // Checkpoints are written without a refresh (the sink reads them by id).
        let refresh = format!("{}/_refresh", self.indices.checkpoints);
        self.request(reqwest::Method::POST, &refresh, None).await;
        let path = format!("{}/_search", self.indices.checkpoints);
        let body = json!({ "size": 100, "query": { "term": { "index": self.indices.concrete } } });
        let answer = self.request(reqwest::Method::POST, &path, Some(body)).await;
        answer["hits"]["hits"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|hit| {
                let source = &hit["_source"];
                (
                    source["partition"].as_i64().expect("a partition") as i32,
                    source["next_offset"].as_i64().expect("a next offset"),
                )
            })
            .collect()
    }

    /// Waits until the alias holds `expected` documents (or more), counting
    /// every 500 ms.
    ///
    /// # Panics
    ///
    /// After 120 s, with the tail of `projector`'s log.
    pub async fn wait_until_projected(&self, expected: usize, projector: &ProcessorChild) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let count = self.count(json!({ "match_all": {} })).await as usize;
            if count >= expected {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{count} of {expected} documents in {} after 120 s; log:\n{}",
                self.indices.alias,
                projector.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Asserts that the index equals the fold of a log in which every event moves
    /// money (every account opened with a deposit, none closed): one document per
    /// event, by event id, with the event's account, version and balance after.
    pub async fn assert_equals_fold(&self, fold: &Fold) {
        let documents = self.documents().await;
        let found: HashMap<String, (String, u64, Option<i64>)> = documents
            .iter()
            .map(|d| {
                (
                    d.event_id.clone(),
                    (d.account_id.clone(), d.version, Some(d.balance_after_minor)),
                )
            })
            .collect();
        assert_eq!(
            documents.len(),
            found.len(),
            "an event id twice in {}",
            self.indices.alias
        );
        let missing: Vec<_> = fold
            .by_event
            .iter()
            .filter(|(id, _)| !found.contains_key(*id))
            .take(10)
            .collect();
        assert!(
            missing.is_empty(),
            "{} of {} events have no document, e.g. {missing:?}",
            fold.by_event.len().saturating_sub(found.len()),
            fold.by_event.len()
        );
        assert_eq!(
            &found, &fold.by_event,
            "the documents of {} are not the fold of the log",
            self.indices.alias
        );
    }
}

impl Drop for HistoryIndex {
    fn drop(&mut self) {
        if !self.delete_on_drop {
            return;
        }
        // Every concrete index behind the alias (a replay makes more than one),
        // the checkpoints index and the template; one already gone is fine.
        let paths = [
            format!("{}/{}", self.url, self.indices.pattern),
            format!("{}/{}", self.url, self.indices.checkpoints),
            format!("{}/_index_template/{}", self.url, self.indices.template),
        ];
        // On a thread of its own: the test's runtime may be gone or busy.
        let deleted = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let http = reqwest::Client::new();
                for path in paths {
                    let response = http
                        .delete(&path)
                        .timeout(Duration::from_secs(30))
                        .send()
                        .await
                        .map_err(std::io::Error::other)?;
                    let status = response.status().as_u16();
                    if !(200..300).contains(&status) && status != 404 {
                        return Err(std::io::Error::other(format!("{path}: {status}")));
                    }
                }
                Ok(())
            })
        })
        .join();
        if !matches!(deleted, Ok(Ok(()))) {
            eprintln!(
                "deleting the test indices of {} failed: {deleted:?}",
                self.indices.alias
            );
        }
    }
}
