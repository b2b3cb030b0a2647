//! `ledgerstream query history` and `ledgerstream replay history` end to end, on
//! the real broker, registry, search server, processor and history projector:
//! an account's pages hold exactly its movements in the log, every one once;
//! `--min-version` waits for a deposit made after it started; a replay into a
//! new index swaps the alias to an index equal to the old one, and
//! `--drop-old` deletes the index it replaced; searches running in a tight loop
//! while the replay swaps the alias each see the old index or the new one,
//! never both nor neither.
//!
//! Every test uses its own alias, indices and checkpoints index (random names)
//! and deletes them; the real `transaction-history` alias is never touched.

// Test code: a failed unwrap is a failed test, and amounts read as units_cents.
#![allow(clippy::unwrap_used, clippy::inconsistent_digit_grouping)]

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ledgerstream_producers::commands;
use ledgerstream_schemas::records::EventRecord;
use ledgerstream_tests::history::HistoryIndex;
use ledgerstream_tests::log::wait_for_the_processor;
use ledgerstream_tests::pipeline::{Pipeline, ProcessorChild};
use ledgerstream_tests::workload::{account, mix, opens};
use ledgerstream_tests::{output_text, unique_name, wait_output};
use serde_json::{Value, json};

const ACCOUNTS: usize = 6;

/// The concrete indices the alias of `names` points at.
async fn alias_targets(names: &HistoryIndex) -> Vec<String> {
    let path = format!("_alias/{}", names.indices.alias);
    let (status, answer) = names.call(reqwest::Method::GET, &path, None).await;
    if status == 404 {
        return Vec::new();
    }
    answer
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

async fn exists(names: &HistoryIndex, index: &str) -> bool {
    names.call(reqwest::Method::HEAD, index, None).await.0 == 200
}

async fn count(names: &HistoryIndex, index: &str) -> u64 {
    let answer = names
        .request(reqwest::Method::GET, &format!("{index}/_count"), None)
        .await;
    answer["count"].as_u64().unwrap()
}

/// Every document of `index`: by event id, its account, version and balance.
async fn documents(names: &HistoryIndex, index: &str) -> BTreeMap<String, (String, u64, i64)> {
    names
        .documents_in(index)
        .await
        .into_iter()
        .map(|d| (d.event_id, (d.account_id, d.version, d.balance_after_minor)))
        .collect()
}

/// `ledgerstream <args>` for the pipeline and the names.
fn ledgerstream(pipeline: &Pipeline, names: &HistoryIndex, args: &[&str]) -> Command {
    let mut command = pipeline.ledgerstream(args);
    command
        .args(names.flags())
        .arg(format!("--topic-suffix={}", pipeline.suffix));
    command
}

/// `query history <args> --output json`, which must succeed.
fn query_json(pipeline: &Pipeline, names: &HistoryIndex, args: &[&str]) -> Value {
    let mut all = vec!["query", "history"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--output", "json"]);
    let output = ledgerstream(pipeline, names, &all).output().unwrap();
    assert!(output.status.success(), "{}", output_text(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Per account, the versions of its money movements in the log, and every
/// movement's balance after by event id.
type Movements = (BTreeMap<String, Vec<u64>>, BTreeMap<String, i64>);

async fn movements_in_the_log(pipeline: &Pipeline) -> Movements {
    let records = pipeline.read_all(&pipeline.topics.events);
    let mut versions: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut balances = BTreeMap::new();
    for (_, event) in pipeline.decode::<EventRecord>(&records).await {
        let balance = match &event {
            EventRecord::AccountOpened(e) if e.initial_deposit_minor > 0 => e.balance_after_minor,
            EventRecord::AccountOpened(_) | EventRecord::AccountClosed(_) => continue,
            EventRecord::MoneyDeposited(e) => e.balance_after_minor,
            EventRecord::MoneyWithdrawn(e) => e.balance_after_minor,
            EventRecord::TransferDebited(e) => e.balance_after_minor,
            EventRecord::TransferCredited(e) => e.balance_after_minor,
            EventRecord::TransferRefunded(e) => e.balance_after_minor,
        };
        let meta = event.metadata();
        versions
            .entry(meta.account_id.clone())
            .or_default()
            .push(meta.version as u64);
        balances.insert(meta.event_id.clone(), balance);
    }
    (versions, balances)
}

/// `ledgerstream project history` for the pipeline and the names.
async fn start_projector(pipeline: &Pipeline, names: &HistoryIndex, name: &str) -> ProcessorChild {
    let group = format!("projector{}", pipeline.suffix);
    let mut args = vec![
        "history",
        "--group",
        &group,
        "--batch-millis",
        "50",
        "--history-bulk-documents",
        "500",
    ];
    let flags = names.flags();
    args.extend(flags.iter().map(String::as_str));
    pipeline.project(name, &args).await
}

/// A pipeline, a processor and a history projector for `names`, the accounts
/// opened and the mix of commands processed and projected.
async fn a_history_projected(
    names: &HistoryIndex,
) -> (Pipeline, ProcessorChild, ProcessorChild, Movements) {
    let pipeline = Pipeline::new(2).await;
    let processor = pipeline
        .processor("processor", &["--batch-millis", "10"])
        .await;
    let projector = start_projector(&pipeline, names, "projector").await;
    for command in opens(ACCOUNTS).iter().chain(&mix(300, ACCOUNTS)) {
        pipeline.sender.send(command).await.expect("send");
    }
    wait_for_the_processor(&pipeline).await;
    let movements = movements_in_the_log(&pipeline).await;
    let expected = movements.1.len() as u64;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, answer) = names
            .call(
                reqwest::Method::GET,
                &format!("{}/_count", names.indices.alias),
                None,
            )
            .await;
        if answer["count"].as_u64() == Some(expected) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{answer} of {expected} documents after 120 s:\n{}",
            projector.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    (pipeline, processor, projector, movements)
}

fn versions_of(page: &Value) -> Vec<u64> {
    page["movements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["version"].as_u64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_hold_exactly_the_accounts_movements_and_min_version_waits() {
    let names = HistoryIndex::new().await;
    let (pipeline, _processor, mut projector, (versions, balances)) =
        a_history_projected(&names).await;

    for i in 0..ACCOUNTS {
        let id = account(i);
        let mut expected = versions.get(&id).cloned().unwrap_or_default();
        expected.sort_unstable_by(|a, b| b.cmp(a));
        // search_after pages, 7 at a time, until the cursor runs out.
        let mut seen = Vec::new();
        let mut after: Option<u64> = None;
        loop {
            let cursor = after.map(|a| a.to_string());
            let mut args = vec![id.as_str(), "--page-size", "7"];
            if let Some(cursor) = &cursor {
                args.extend_from_slice(&["--after", cursor]);
            }
            let page = query_json(&pipeline, &names, &args);
            assert_eq!(page["total"].as_u64(), Some(expected.len() as u64));
            seen.extend(versions_of(&page));
            for movement in page["movements"].as_array().unwrap() {
                let event_id = movement["event_id"].as_str().unwrap();
                assert_eq!(
                    movement["balance_after_minor"].as_i64(),
                    balances.get(event_id).copied(),
                    "{movement}"
                );
            }
            match page["next_after"].as_u64() {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, expected, "{id}: every movement once, newest first");
        // Numbered pages agree with the cursor's.
        if expected.len() > 7 {
            let page = query_json(&pipeline, &names, &[&id, "--page-size", "7", "--page", "2"]);
            assert_eq!(versions_of(&page), expected[7..expected.len().min(14)]);
        }
    }

    // A time range that holds nothing, and an account with no movement at all.
    let empty = query_json(&pipeline, &names, &[&account(0), "--to", "2000-01-01"]);
    assert_eq!(empty["total"], 0);
    let output = ledgerstream(&pipeline, &names, &["query", "history", "acc-none"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(6), "{}", output_text(&output));

    // For people: a statement, and the cursor of the next page on stderr.
    let output = ledgerstream(
        &pipeline,
        &names,
        &["query", "history", &account(1), "--page-size", "2"],
    )
    .output()
    .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(output.status.success(), "{}", output_text(&output));
    assert!(stdout.contains("balance after"), "{stdout}");
    assert!(stderr.contains("next page: --after "), "{stderr}");

    // Read your writes: the deposit is in the log (as after `produce --wait`)
    // but not projected yet — the projector is stopped — and the query waits
    // until the projector, started again, has written it.
    projector.terminate(Duration::from_secs(30));
    let id = account(2);
    let last = *versions[&id].iter().max().unwrap();
    pipeline
        .sender
        .send(&commands::deposit(&id, 123_45, "USD"))
        .await
        .expect("send");
    wait_for_the_processor(&pipeline).await;
    let wanted = (last + 1).to_string();
    let waiting = ledgerstream(
        &pipeline,
        &names,
        &[
            "query",
            "history",
            &id,
            "--min-version",
            &wanted,
            "--timeout",
            "90",
            "--page-size",
            "1",
            "--output",
            "json",
        ],
    )
    .spawn()
    .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let _projector = start_projector(&pipeline, &names, "projector-again").await;
    let started = Instant::now();
    let output = wait_output(waiting).await;
    println!(
        "answered {:?} after the projector started again",
        started.elapsed()
    );
    assert!(output.status.success(), "{}", output_text(&output));
    let page: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(versions_of(&page), [last + 1], "{page}");
    assert_eq!(page["movements"][0]["amount_minor"], 123_45);

    // A version far past the last movement cannot be a movement-free event:
    // the wait runs out (exit code 5) and says the projection is caught up.
    let beyond = (last + 50).to_string();
    let output = ledgerstream(
        &pipeline,
        &names,
        &[
            "query",
            "history",
            &id,
            "--min-version",
            &beyond,
            "--timeout",
            "2",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(5), "{}", output_text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("has written all of"),
        "{}",
        output_text(&output)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replay_swaps_the_alias_to_an_equal_index_and_drops_the_old_one() {
    let names = HistoryIndex::new().await;
    let (pipeline, _processor, mut projector, (_, balances)) = a_history_projected(&names).await;
    let live = format!("{}-v1", names.indices.alias);
    assert_eq!(alias_targets(&names).await, [live.as_str()]);
    // The live projector stops, as the README says to before the old index goes.
    projector.terminate(Duration::from_secs(30));
    let old_documents = documents(&names, &live).await;
    assert_eq!(old_documents.len(), balances.len());

    let into = format!("r{}", &unique_name("x")[2..10]);
    let group = format!("replay{}", pipeline.suffix);
    let output = ledgerstream(
        &pipeline,
        &names,
        &[
            "replay",
            "history",
            "--into",
            &into,
            "--group",
            &group,
            "--bulk-documents",
            "500",
            "--batch-millis",
            "50",
        ],
    )
    .output()
    .unwrap();
    assert!(output.status.success(), "{}", output_text(&output));
    let replayed = format!("{}-{into}", names.indices.alias);
    assert_eq!(
        alias_targets(&names).await,
        [replayed.as_str()],
        "{}",
        output_text(&output)
    );
    assert_eq!(documents(&names, &replayed).await, old_documents);
    assert!(exists(&names, &live).await, "kept without --drop-old");

    // The same --into again: live already, nothing changes.
    let output = ledgerstream(
        &pipeline,
        &names,
        &["replay", "history", "--into", &into, "--group", &group],
    )
    .output()
    .unwrap();
    assert!(output.status.success(), "{}", output_text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("is live already"),
        "{}",
        output_text(&output)
    );

    // Another replay with --drop-old deletes the index it replaces.
    let next = format!("{into}b");
    let output = ledgerstream(
        &pipeline,
        &names,
        &[
            "replay",
            "history",
            "--into",
            &next,
            "--group",
            &group,
            "--bulk-documents",
            "500",
            "--drop-old",
        ],
    )
    .output()
    .unwrap();
    assert!(output.status.success(), "{}", output_text(&output));
    let newest = format!("{}-{next}", names.indices.alias);
    assert_eq!(alias_targets(&names).await, [newest.as_str()]);
    assert_eq!(
        count(&names, &newest).await,
        balances.len() as u64,
        "{}",
        output_text(&output)
    );
    assert!(!exists(&names, &replayed).await, "{}", output_text(&output));
    assert!(
        exists(&names, &live).await,
        "only the alias's index is dropped"
    );

    // Readers see it: `query history` reads through the alias.
    let ids: BTreeSet<String> = documents(&names, &newest).await.into_keys().collect();
    assert_eq!(ids, balances.keys().cloned().collect());
}

/// What the searches through the alias saw while a replay swapped it.
#[derive(Debug, Default)]
struct Seen {
    /// Searches answered by the old index alone, with all its documents.
    old: u64,
    /// ... by the new index alone, with all its documents.
    new: u64,
    /// Everything else: both indices, neither, a part of one, an error, or the
    /// old index after the new one. Each is a failure of the swap.
    wrong: Vec<String>,
}

/// Searches `alias` in a loop until `stop`: every answer must come from exactly
/// one of `old` and `new` with its `held` documents, and never from `old` once
/// `new` has answered. `old_seen` and `new_seen` count the good answers as
/// they come, for the test to pace itself.
async fn search_while_swapping(
    url: String,
    alias: String,
    (old, new): (String, String),
    held: u64,
    stop: Arc<AtomicBool>,
    (old_seen, new_seen): (Arc<AtomicU64>, Arc<AtomicU64>),
) -> Seen {
    let http = reqwest::Client::new();
    let body = json!({
        "size": 0,
        "track_total_hits": true,
        "aggs": { "indices": { "terms": { "field": "_index", "size": 10 } } },
    });
    let mut seen = Seen::default();
    while !stop.load(Ordering::Acquire) {
        let response = http
            .post(format!("{url}/{alias}/_search"))
            .json(&body)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .expect("a search through the alias");
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        let total = answer["hits"]["total"]["value"].as_u64();
        let buckets: Vec<(String, u64)> = answer["aggregations"]["indices"]["buckets"]
            .as_array()
            .map(|buckets| {
                buckets
                    .iter()
                    .map(|b| {
                        let index = b["key"].as_str().unwrap_or("?").to_owned();
                        (index, b["doc_count"].as_u64().unwrap_or(0))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let answered_by = match buckets.as_slice() {
            [(index, count)] if status == 200 && total == Some(held) && *count == held => {
                Some(index.as_str())
            }
            _ => None,
        };
        match answered_by {
            Some(index) if index == old && seen.new == 0 => {
                seen.old += 1;
                old_seen.fetch_add(1, Ordering::Relaxed);
            }
            Some(index) if index == new => {
                seen.new += 1;
                new_seen.fetch_add(1, Ordering::Relaxed);
            }
            Some(index) if index == old => seen.wrong.push(format!(
                "{old} answered after {} searches answered by {new}",
                seen.new
            )),
            _ => seen.wrong.push(format!(
                "status {status}, {total:?} hits of {held}, by index {buckets:?}: {}",
                excerpt(&answer)
            )),
        }
    }
    seen
}

/// The start of an answer, for messages.
fn excerpt(answer: &Value) -> String {
    answer.to_string().chars().take(300).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn searches_during_the_alias_swap_see_one_index_never_both_nor_neither() {
    const SEARCHERS: usize = 4;
    // Good answers wanted from each side before the replay starts and after it
    // ends, summed over the searchers.
    const EACH_SIDE: u64 = 200;

    let names = HistoryIndex::new().await;
    let (pipeline, _processor, mut projector, (_, balances)) = a_history_projected(&names).await;
    let old = format!("{}-v1", names.indices.alias);
    assert_eq!(alias_targets(&names).await, [old.as_str()]);
    // Stopped first, as before a real swap: both indices then hold the same
    // documents, so an answer with more is one that saw both.
    projector.terminate(Duration::from_secs(30));
    let held = count(&names, &old).await;
    assert_eq!(held, balances.len() as u64);
    let into = format!("s{}", &unique_name("x")[2..10]);
    let new = format!("{}-{into}", names.indices.alias);

    let stop = Arc::new(AtomicBool::new(false));
    let (old_seen, new_seen) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let searchers: Vec<_> = (0..SEARCHERS)
        .map(|_| {
            tokio::spawn(search_while_swapping(
                names.url.clone(),
                names.indices.alias.clone(),
                (old.clone(), new.clone()),
                held,
                Arc::clone(&stop),
                (Arc::clone(&old_seen), Arc::clone(&new_seen)),
            ))
        })
        .collect();
    // Bounded waits: a stalled server fails the test rather than hanging it.
    let wait_for = |counter: Arc<AtomicU64>, what: &'static str| async move {
        let deadline = Instant::now() + Duration::from_secs(120);
        while counter.load(Ordering::Relaxed) < EACH_SIDE {
            assert!(
                Instant::now() < deadline,
                "fewer than {EACH_SIDE} good searches {what} in 120 s"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    wait_for(Arc::clone(&old_seen), "before the replay").await;

    // The replay as an operator runs it: it catches up, then swaps the alias.
    let group = format!("replay{}", pipeline.suffix);
    let mut replay = ledgerstream(
        &pipeline,
        &names,
        &[
            "replay",
            "history",
            "--into",
            &into,
            "--group",
            &group,
            "--batch-millis",
            "50",
        ],
    );
    let output = tokio::task::spawn_blocking(move || replay.output())
        .await
        .unwrap()
        .unwrap();
    assert!(output.status.success(), "{}", output_text(&output));
    assert_eq!(
        alias_targets(&names).await,
        [new.as_str()],
        "{}",
        output_text(&output)
    );
    wait_for(Arc::clone(&new_seen), "after the swap").await;
    stop.store(true, Ordering::Release);

    let mut all = Seen::default();
    for searcher in searchers {
        let seen = searcher.await.unwrap();
        all.old += seen.old;
        all.new += seen.new;
        all.wrong.extend(seen.wrong);
    }
    println!(
        "{} searches answered by {old}, then {} by {new}, {} otherwise",
        all.old,
        all.new,
        all.wrong.len()
    );
    assert!(
        all.wrong.is_empty(),
        "{} of {} searches saw both indices, neither, or went back; the first: {:#?}",
        all.wrong.len(),
        all.old + all.new + all.wrong.len() as u64,
        &all.wrong[..all.wrong.len().min(5)]
    );
    assert!(all.old >= EACH_SIDE && all.new >= EACH_SIDE, "{all:?}");
}
