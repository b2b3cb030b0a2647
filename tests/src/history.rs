//! The history index for the tests: an alias and checkpoints index of a test's
//! own, read back whole, and the check that it equals a fold of the event log.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ledgerstream_projections::history::{HistoryConfig, HistoryDocument, Indices};
use serde_json::{Value, json};

use crate::log::Fold;
use crate::pipeline::ProcessorChild;
use crate::unique_name;

/// The names of an index set of its own on the search engine at `url` (nothing
/// is created: the projection creates them). Nothing is deleted either: meant for
/// a search engine of the test's own, which goes with its data.
#[derive(Debug)]
pub struct HistoryIndex {
    pub url: String,
    pub indices: Indices,
    http: reqwest::Client,
}

impl HistoryIndex {
    /// New names on the search engine at `url`.
    pub fn at(url: impl Into<String>) -> Self {
        let url = url.into();
        let name = unique_name("history");
        let mut config = HistoryConfig::new(url.clone());
        config.index = name.clone();
        config.checkpoint_index = format!("checkpoints-{name}");
        Self {
            url,
            indices: config.indices(),
            http: reqwest::Client::new(),
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

    async fn post(&self, path: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}/{}/{path}", self.url, self.indices.alias))
            .timeout(Duration::from_secs(30))
            .json(&body)
            .send()
            .await
            .expect(path);
        let status = response.status();
        let answer: Value = response.json().await.expect("a JSON answer");
        assert!(status.is_success(), "{path}: {status} {answer}");
        answer
    }

    /// How many documents the alias holds.
    pub async fn count(&self) -> u64 {
        let answer = self
            .post("_count", json!({ "query": { "match_all": {} } }))
            .await;
        answer["count"].as_u64().expect("a count")
    }

    /// Every document behind the alias, paged with `search_after`.
    pub async fn documents(&self) -> Vec<HistoryDocument> {
        let mut documents = Vec::new();
        let mut after: Option<Value> = None;
        loop {
            let mut body = json!({ "size": 1000, "sort": [{ "event_id": "asc" }] });
            if let Some(after) = &after {
                body["search_after"] = after.clone();
            }
            let answer = self.post("_search", body).await;
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

    /// Waits until the alias holds `expected` documents (or more).
    ///
    /// # Panics
    ///
    /// After 120 s, with the tail of `projector`'s log.
    pub async fn wait_until_projected(&self, expected: usize, projector: &ProcessorChild) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let count = self.count().await as usize;
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
