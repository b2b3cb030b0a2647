//! The history index checked against the log (`ledgerstream audit history`),
//! and repaired.
//!
//! The expected documents are made by the sink's own code
//! ([`HistoryDocument::from_event`]) from the account's events. Every document
//! of an account is read through the alias (ids too: a document's id must be
//! its event id), so a document no event made is found as well as one missing.
//!
//! Repair, in bulk requests: documents no event made are deleted by id; every
//! document of the account's events that is missing or differs is written
//! again under its event id with the server's own versioning, which replaces
//! whatever sits there — a wrong document at the right version, or the
//! tombstone a hand-made delete left (with `external` versions the server would
//! refuse both for a while). The live projector writes the same documents with
//! `version_type=external`: whichever comes second is a 409 (a duplicate, to
//! the projector) or the same document again, so the two writers cannot undo
//! each other. Repairing twice changes nothing: the second finds nothing to
//! write.

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, bail};
use elasticsearch::params::Refresh;
use elasticsearch::{BulkOperation, BulkOperations, BulkParts, SearchParts};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};

use super::documents::HistoryDocument;
use super::read::HistoryReader;
use super::retry::{HistoryError, read_answer};
use crate::audit::check::{
    Finding, ReadModel, StatementEntry, Subject, Verdict, covered_version, statement_breaks,
};
use crate::rebuild::positions::Positions;

/// Accounts per search.
const CHUNK: usize = 1_000;

/// Documents per page of a search, and operations per bulk request of a repair.
const PAGE: usize = 5_000;

/// Searches of a read in flight at once.
const IN_FLIGHT: usize = 4;

/// One document of the index, as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundDocument {
    /// The document's `_id`.
    pub id: String,
    /// The document, or why it is not one the projection writes.
    pub document: Result<HistoryDocument, String>,
}

/// What the index holds of one account.
pub type Found = Vec<FoundDocument>;

/// The documents the projector writes for an account's events, by event id.
pub fn expected(subject: &Subject<'_>) -> BTreeMap<String, (i64, HistoryDocument)> {
    subject
        .history
        .events
        .iter()
        .filter_map(|sourced| {
            let document = HistoryDocument::from_event(sourced.clone()).ok()??;
            Some((document.event_id.clone(), (sourced.offset, document)))
        })
        .collect()
}

fn show(document: &HistoryDocument) -> String {
    format!(
        "{} {:?} {} amount={} fee={} net={} balance_after={} event_id={}",
        document.version,
        document.movement,
        document.event_type,
        document.amount_minor,
        document.fee_minor,
        document.net_minor,
        document.balance_after_minor,
        document.event_id
    )
}

/// Compares what the index holds of an account with its events.
pub fn compare(subject: Subject<'_>, found: Option<&Found>) -> Verdict {
    let expected = expected(&subject);
    let covered = covered_version(&subject);
    let last = subject.history.last_version();
    let mut findings = Vec::new();
    let mut ahead = false;
    let mut by_version: BTreeMap<u64, &HistoryDocument> = BTreeMap::new();
    let mut seen = 0;
    for found in found.map_or(&[][..], Vec::as_slice) {
        let document = match &found.document {
            Ok(document) => document,
            Err(why) => {
                findings.push(Finding::new(
                    format!("document {}", found.id),
                    "a movement",
                    why,
                ));
                continue;
            }
        };
        if found.id != document.event_id {
            findings.push(Finding::new(
                format!("document {}", found.id),
                "its id is its event id",
                format!("event id {}", document.event_id),
            ));
        }
        if let Some(other) = by_version.insert(document.version, document) {
            findings.push(Finding::new(
                format!("version {}", document.version),
                "one document",
                format!("{} / {}", show(other), show(document)),
            ));
        }
        match expected.get(&document.event_id) {
            Some((_, want)) if want == document => seen += 1,
            Some((_, want)) => {
                seen += 1;
                findings.push(Finding::new(
                    format!("version {}", want.version),
                    show(want),
                    show(document),
                ));
            }
            None if document.version > last => ahead = true,
            None => findings.push(Finding::new(
                format!("document {}", found.id),
                "no document: no such event",
                show(document),
            )),
        }
    }
    let present: std::collections::HashSet<&str> = found
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .filter_map(|f| f.document.as_ref().ok())
        .map(|d| d.event_id.as_str())
        .collect();
    let missing: Vec<u64> = expected
        .values()
        .filter(|(_, d)| d.version <= covered && !present.contains(d.event_id.as_str()))
        .map(|(_, d)| d.version)
        .collect();
    if !missing.is_empty() {
        let want = expected
            .values()
            .filter(|(_, d)| d.version <= covered)
            .count();
        findings.push(Finding::new(
            "movements",
            format!("{want} documents up to version {covered} (written per the checkpoint)"),
            format!("{seen} of them; missing versions {missing:?}"),
        ));
    }
    // Between consecutive versions: a missing document is reported above.
    findings.extend(statement_breaks(by_version.values().map(|document| {
        StatementEntry {
            version: document.version,
            movement: document.net_minor,
            balance_after: document.balance_after_minor,
            checked: true,
        }
    })));
    if !findings.is_empty() {
        Verdict::Divergent(findings)
    } else if ahead {
        Verdict::Ahead
    } else {
        Verdict::Consistent
    }
}

/// The history index, for the audit.
#[derive(Debug, Clone)]
pub struct Audited {
    reader: HistoryReader,
}

impl Audited {
    pub fn new(reader: HistoryReader) -> Self {
        Self { reader }
    }

    async fn search(&self, body: Value) -> anyhow::Result<Value> {
        let during = "searching the history";
        let response = self
            .reader
            .client()
            .search(SearchParts::Index(&[self.reader.alias()]))
            .body(body)
            .send()
            .await
            .map_err(HistoryError::during(during))?;
        Ok(read_answer(during, response).await?)
    }
}

impl Audited {
    /// Every document of `chunk`'s accounts, a page at a time.
    async fn read_chunk(&self, chunk: &[String]) -> anyhow::Result<Vec<(String, FoundDocument)>> {
        let mut found = Vec::new();
        let mut after: Option<Value> = None;
        loop {
            let mut body = json!({
                "size": PAGE,
                "query": { "bool": { "filter": [{ "terms": { "account_id": chunk } }] } },
                "sort": [{ "account_id": "asc" }, { "version": "asc" }, { "event_id": "asc" }],
                "track_total_hits": false,
            });
            if let Some(after) = &after {
                body["search_after"] = after.clone();
            }
            let answer = self.search(body).await?;
            let hits = answer["hits"]["hits"]
                .as_array()
                .map_or(&[][..], Vec::as_slice);
            for hit in hits {
                let source = &hit["_source"];
                let Some(account) = source["account_id"].as_str() else {
                    continue;
                };
                let document = HistoryDocument::deserialize(source)
                    .map_err(|error| format!("{error}: {source}"));
                let id = hit["_id"].as_str().unwrap_or_default().to_owned();
                found.push((account.to_owned(), FoundDocument { id, document }));
            }
            match hits.last() {
                Some(last) if hits.len() == PAGE => after = Some(last["sort"].clone()),
                _ => return Ok(found),
            }
        }
    }
}

impl ReadModel for Audited {
    type Found = Found;

    fn name(&self) -> &'static str {
        super::NAME
    }

    async fn checkpoints(&self, topic: &str, partitions: &[i32]) -> anyhow::Result<Positions> {
        let concrete = self.reader.concrete().await?;
        self.reader.checkpoints(&concrete, topic, partitions).await
    }

    async fn accounts(&self) -> anyhow::Result<Vec<String>> {
        let mut accounts = Vec::new();
        let mut after: Option<Value> = None;
        loop {
            let mut composite = json!({
                "size": 10_000,
                "sources": [{ "account": { "terms": { "field": "account_id" } } }],
            });
            if let Some(after) = &after {
                composite["after"] = after.clone();
            }
            let answer = self
                .search(json!({ "size": 0, "aggs": { "accounts": { "composite": composite } } }))
                .await?;
            let buckets = answer["aggregations"]["accounts"]["buckets"]
                .as_array()
                .map_or(&[][..], Vec::as_slice);
            accounts.extend(
                buckets
                    .iter()
                    .filter_map(|b| b["key"]["account"].as_str().map(str::to_owned)),
            );
            match answer["aggregations"]["accounts"].get("after_key") {
                Some(key) if !buckets.is_empty() => after = Some(key.clone()),
                _ => return Ok(accounts),
            }
        }
    }

    async fn read(&self, accounts: &[String]) -> anyhow::Result<HashMap<String, Found>> {
        let mut found: HashMap<String, Found> = HashMap::new();
        let chunks: Vec<Vec<String>> = accounts.chunks(CHUNK).map(<[String]>::to_vec).collect();
        let mut chunks = futures::stream::iter(chunks)
            .map(|chunk| async move { self.read_chunk(&chunk).await })
            .buffer_unordered(IN_FLIGHT);
        while let Some(documents) = chunks.next().await {
            for (account, document) in documents? {
                found.entry(account).or_default().push(document);
            }
        }
        Ok(found)
    }

    async fn shows(&self, account: &str, version: u64) -> anyhow::Result<bool> {
        self.reader.has_version(account, version).await
    }

    fn compare(&self, subject: Subject<'_>, found: Option<&Found>) -> Verdict {
        compare(subject, found)
    }

    async fn repair(&self, subjects: &[(Subject<'_>, Option<&Found>)]) -> anyhow::Result<()> {
        let concrete = self.reader.concrete().await?;
        let mut operations: Vec<BulkOperation<HistoryDocument>> = Vec::new();
        for (subject, found) in subjects {
            let expected = expected(subject);
            let found = found.map_or(&[][..], |f| f.as_slice());
            for document in found {
                if !expected.contains_key(&document.id) {
                    operations.push(BulkOperation::delete(document.id.clone()).into());
                }
            }
            for (id, (_, document)) in expected {
                let right = found
                    .iter()
                    .any(|f| f.id == id && f.document.as_ref() == Ok(&document));
                if !right {
                    operations.push(BulkOperation::index(document).id(id).into());
                }
            }
        }
        let mut operations = operations.into_iter().peekable();
        while operations.peek().is_some() {
            let mut body = BulkOperations::new();
            for operation in operations.by_ref().take(PAGE) {
                body.push(operation).context("encoding a bulk request")?;
            }
            let during = "repairing documents";
            let response = self
                .reader
                .client()
                .bulk(BulkParts::Index(&concrete))
                .body(vec![body])
                .refresh(Refresh::WaitFor)
                .send()
                .await
                .map_err(HistoryError::during(during))?;
            let answer = read_answer(during, response).await?;
            for item in answer["items"].as_array().map_or(&[][..], Vec::as_slice) {
                let result = item
                    .as_object()
                    .and_then(|op| op.values().next())
                    .unwrap_or(&Value::Null);
                // 404: a delete of what is gone already.
                match result["status"].as_u64() {
                    Some(200..=299 | 404) => {}
                    _ => bail!("{during}: {result}"),
                }
            }
        }
        Ok(())
    }
}

#[allow(clippy::unwrap_used)]
#[cfg(test)]
mod tests {
    use super::*;
    use crate::clickhouse::audit::tests::history;

    fn subject(history: &crate::audit::truth::History, covered: i64) -> Subject<'_> {
        Subject {
            account: "acc-1",
            history,
            covered,
        }
    }

    fn written(subject: &Subject<'_>, up_to: u64) -> Found {
        expected(subject)
            .into_values()
            .filter(|(_, d)| d.version <= up_to)
            .map(|(_, d)| FoundDocument {
                id: d.event_id.clone(),
                document: Ok(d),
            })
            .collect()
    }

    fn findings(verdict: Verdict) -> Vec<String> {
        match verdict {
            Verdict::Divergent(findings) => findings.into_iter().map(|f| f.what).collect(),
            other => panic!("not divergent: {other:?}"),
        }
    }

    #[test]
    fn documents_as_the_log_says_are_consistent_and_lag_is_not_drift() {
        let history = history(4);
        let all = subject(&history, 14);
        assert_eq!(compare(all, Some(&written(&all, 4))), Verdict::Consistent);
        let half = subject(&history, 12);
        assert_eq!(compare(half, Some(&written(&half, 2))), Verdict::Consistent);
    }

    #[test]
    fn a_dropped_document_an_added_one_and_a_changed_one_are_drift() {
        let history = history(4);
        let all = subject(&history, 14);
        let mut dropped = written(&all, 4);
        dropped.remove(2);
        assert_eq!(findings(compare(all, Some(&dropped))), vec!["movements"]);

        let mut added = written(&all, 4);
        let mut fake = added[1].document.clone().unwrap();
        fake.event_id = "made-up".to_owned();
        added.push(FoundDocument {
            id: "made-up".to_owned(),
            document: Ok(fake),
        });
        let what = findings(compare(all, Some(&added)));
        assert!(what.contains(&"document made-up".to_owned()), "{what:?}");

        let mut changed = written(&all, 4);
        if let Ok(document) = &mut changed[3].document {
            document.balance_after_minor += 5;
        }
        let what = findings(compare(all, Some(&changed)));
        assert!(what.contains(&"version 4".to_owned()), "{what:?}");
    }

    #[test]
    fn a_document_past_the_log_read_sends_the_audit_further() {
        let history = history(4);
        let longer = self::history(5);
        let found = written(&subject(&longer, 15), 5);
        assert_eq!(compare(subject(&history, 14), Some(&found)), Verdict::Ahead);
    }
}
