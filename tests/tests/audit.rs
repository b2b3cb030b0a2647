//! `ledgerstream audit` against the real broker, registry, ClickHouse and
//! search server, under live load: both read models corrupted by hand — rows
//! deleted, a balance changed, a row and a document no event made, a document
//! dropped, a document changed at its own version — while the processor and
//! both projectors keep writing other accounts. The audit names exactly the
//! corrupted accounts and nothing the load is still writing; `--repair` makes
//! it clean, and a last audit after the load agrees. The continuous auditor
//! (`--serve`) counts the same accounts divergent, its alert fires in a
//! Prometheus of the test's own, and the count falls back to 0 once repaired.
//!
//! Every test has its own topics, tables and indices, and deletes them.

// Test code: a failed unwrap is a failed test, and amounts read as units_cents.
#![allow(clippy::unwrap_used, clippy::inconsistent_digit_grouping)]

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ledgerstream_producers::commands;
use ledgerstream_schemas::records::{AccountType, Channel};
use ledgerstream_tests::TempDir;
use ledgerstream_tests::clickhouse::TableSet;
use ledgerstream_tests::history::HistoryIndex;
use ledgerstream_tests::log::wait_for_the_processor;
use ledgerstream_tests::pipeline::{Pipeline, free_port};
use ledgerstream_tests::prometheus::OwnPrometheus;
use ledgerstream_tests::workload::{mix, opens};
use serde_json::{Value, json};

/// Accounts the load writes all along.
const LIVE: usize = 30;

/// Accounts that are corrupted: opened, two deposits, then nothing more.
const QUIET: [&str; 5] = ["quiet-1", "quiet-2", "quiet-3", "quiet-4", "quiet-5"];

/// The history documents of `account`, `_id` and `_source`, by version.
async fn documents_of(search: &HistoryIndex, account: &str) -> Vec<Value> {
    let body = json!({
        "size": 100,
        "query": { "term": { "account_id": account } },
        "sort": [{ "version": "asc" }],
    });
    search.search(body).await["hits"]["hits"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// `ledgerstream audit --serve` on a free port; killed when dropped.
struct Auditor {
    child: Child,
    port: u16,
    log: PathBuf,
    _home: TempDir,
}

impl Auditor {
    fn start(pipeline: &Pipeline, table_suffix: &str, search: &HistoryIndex) -> Self {
        let home = TempDir::new("auditor");
        let log = home.path().join("auditor.log");
        let port = free_port();
        let child = pipeline
            .ledgerstream(&[
                "audit",
                "--serve",
                "--interval",
                "0.5",
                "--slo-samples",
                "20",
            ])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg(format!("--topic-suffix={}", pipeline.suffix))
            .args(["--table-suffix", table_suffix])
            .args(["--history-index", &search.indices.alias])
            .args(["--history-checkpoint-index", &search.indices.checkpoints])
            .env("LEDGERSTREAM_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("auditor log"))
            .spawn()
            .expect("start ledgerstream audit --serve");
        Self {
            child,
            port,
            log,
            _home: home,
        }
    }

    async fn metrics(&self) -> String {
        match reqwest::get(format!("http://127.0.0.1:{}/metrics", self.port)).await {
            Ok(response) => response.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Waits until `ledgerstream_audit_divergent_accounts` is `count` for
    /// each read model.
    async fn wait_divergent(&self, expected: &[(&str, u64)]) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let metrics = self.metrics().await;
            let all = expected.iter().all(|(model, count)| {
                metrics.lines().any(|line| {
                    line == format!(
                        "ledgerstream_audit_divergent_accounts{{read_model=\"{model}\"}} {count}"
                    )
                })
            });
            if all {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the auditor's divergent accounts are not {expected:?}:\n{metrics}\nits log:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

impl Drop for Auditor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `ledgerstream audit` with `args`, on this test's topics, tables and indices:
/// its exit code and its JSON report.
fn audit(
    pipeline: &Pipeline,
    table_suffix: &str,
    search: &HistoryIndex,
    args: &[&str],
) -> (i32, Value) {
    let output = pipeline
        .ledgerstream(&["audit"])
        .args(args)
        .args(["--output", "json", "--examples", "20"])
        .arg(format!("--topic-suffix={}", pipeline.suffix))
        .args(["--table-suffix", table_suffix])
        .args(["--history-index", &search.indices.alias])
        .args(["--history-checkpoint-index", &search.indices.checkpoints])
        .output()
        .expect("run ledgerstream audit");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "not a JSON report ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code().unwrap_or(-1), report)
}

/// The divergent accounts a report names for `read_model` (after the repair
/// when `after` is set).
fn divergent(report: &Value, read_model: &str, after: bool) -> Vec<String> {
    let model = report["read_models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["read_model"] == read_model)
        .unwrap_or_else(|| panic!("no {read_model} in {report}"));
    let model = if after { &model["after_repair"] } else { model };
    model["divergent_accounts"]
        .as_array()
        .unwrap_or_else(|| panic!("no divergent_accounts in {model}"))
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_audit_names_exactly_the_corrupted_accounts_and_the_repair_makes_it_clean() {
    let pipeline = Arc::new(Pipeline::new(3).await);
    // Both removed when they go (also when the test fails).
    let set = TableSet::new().await;
    let search = HistoryIndex::new().await;
    let table_suffix = set.suffix.clone();
    let (ch, tables) = (&set.client, &set.tables);

    let _processor = pipeline
        .processor("processor", &["--batch-commands", "100"])
        .await;
    let group = format!("projector{}", pipeline.suffix);
    let projector = pipeline
        .project(
            "projector",
            &[
                "clickhouse",
                "history",
                "--group",
                &group,
                "--table-suffix",
                &table_suffix,
                "--batch-millis",
                "100",
                "--history-index",
                &search.indices.alias,
                "--history-checkpoint-index",
                &search.indices.checkpoints,
            ],
        )
        .await;

    for open in &opens(LIVE) {
        pipeline.sender.send(open).await.expect("send");
    }
    for (i, account) in QUIET.iter().enumerate() {
        let open = commands::open_account(
            account,
            &format!("owner-q{i}"),
            AccountType::Savings,
            500_00,
            "EUR",
        );
        pipeline.sender.send(&open).await.expect("send");
        pipeline
            .sender
            .send(&commands::deposit(account, 20_00, "EUR"))
            .await
            .expect("send");
        pipeline
            .sender
            .send(&commands::withdraw(account, 5_00, "EUR", Channel::Atm))
            .await
            .expect("send");
    }
    // The live load: about 200 commands a second until the end of the test.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let (pipeline, stop) = (Arc::clone(&pipeline), Arc::clone(&stop));
        tokio::spawn(async move {
            let mut sent = 0;
            for command in mix(100_000, LIVE) {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                pipeline.sender.send(&command).await.expect("send");
                sent += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            sent
        })
    };

    // Every quiet account projected into both read models (version 3 each).
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let states: u64 = ch
            .query("SELECT count() FROM ? FINAL WHERE has(?, account_id) AND version = 3")
            .bind(clickhouse::sql::Identifier(&tables.balances))
            .bind(QUIET.as_slice())
            .fetch_one()
            .await
            .expect("count the quiet accounts");
        let mut documents = 0;
        if states == QUIET.len() as u64 {
            for account in QUIET {
                documents += documents_of(&search, account).await.len();
            }
        }
        if documents == 3 * QUIET.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the quiet accounts were not projected: {states} states, {documents} documents\n{}",
            projector.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let (code, clean) = audit(&pipeline, &table_suffix, &search, &["--all"]);
    assert_eq!(code, 0, "before any corruption: {clean}");

    // ClickHouse: quiet-1 loses its deposit's row, quiet-2's balance changes,
    // quiet-3 gets a row no event made.
    let run = |sql: String| {
        let ch = ch.clone();
        async move {
            ch.query(&sql)
                .execute()
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
        }
    };
    run(format!(
        "ALTER TABLE {} DELETE WHERE account_id = 'quiet-1' AND version = 2",
        tables.events
    ))
    .await;
    run(format!(
        "ALTER TABLE {} UPDATE balance_minor = balance_minor + 1 WHERE account_id = 'quiet-2'",
        tables.balances
    ))
    .await;
    let columns = "account_id, version, event_id, event_type, occurred_at, occurred_at_ms, \
                   owner_id, account_type, currency, amount_minor, fee_minor, \
                   balance_delta_minor, balance_after_minor, counterparty_account_id, \
                   transfer_id, reference, channel, reason_code, reason, command_id, \
                   correlation_id, causation_id, source_partition, source_offset, projected_at";
    let made_up = columns.replace("version, event_id", "toUInt64(9), 'made-up'");
    run(format!(
        "INSERT INTO {events} ({columns}) SELECT {made_up} FROM {events} \
         WHERE account_id = 'quiet-3' AND version = 2",
        events = tables.events
    ))
    .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pending: u64 = ch
            .query("SELECT count() FROM system.mutations WHERE database = currentDatabase() AND is_done = 0 AND has(?, table)")
            .bind(vec![&tables.events, &tables.balances])
            .fetch_one()
            .await
            .unwrap();
        if pending == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the corrupting mutations did not finish"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // History: quiet-4 loses a document, quiet-5 gets one no event made,
    // quiet-2's withdrawal shows another balance at its own version.
    let concrete = format!("{}-v1", search.indices.alias);
    let quiet_4 = documents_of(&search, "quiet-4").await;
    let dropped = quiet_4[1]["_id"].as_str().unwrap();
    search
        .request(
            reqwest::Method::DELETE,
            &format!("{concrete}/_doc/{dropped}?refresh=true"),
            None,
        )
        .await;
    let mut made_up = documents_of(&search, "quiet-5").await[1]["_source"].clone();
    made_up["event_id"] = json!("made-up");
    made_up["version"] = json!(2);
    search
        .request(
            reqwest::Method::PUT,
            &format!("{concrete}/_doc/made-up?refresh=true"),
            Some(made_up),
        )
        .await;
    let quiet_2 = documents_of(&search, "quiet-2").await;
    let changed = quiet_2[2]["_id"].as_str().unwrap();
    search
        .request(
            reqwest::Method::POST,
            &format!("{concrete}/_update/{changed}?refresh=true"),
            Some(json!({ "doc": { "balance_after_minor": 1 } })),
        )
        .await;

    let (code, report) = audit(&pipeline, &table_suffix, &search, &["--all"]);
    assert_eq!(code, 7, "divergence exits with 7: {report}");
    assert_eq!(
        divergent(&report, "clickhouse", false),
        ["quiet-1", "quiet-2", "quiet-3"],
        "{report}"
    );
    assert_eq!(
        divergent(&report, "history", false),
        ["quiet-2", "quiet-4", "quiet-5"],
        "{report}"
    );
    // Only the accounts asked for: their partitions of the log alone.
    let (code, some) = audit(
        &pipeline,
        &table_suffix,
        &search,
        &["clickhouse", "--accounts", "quiet-1,acc-001"],
    );
    assert_eq!(code, 7, "{some}");
    assert_eq!(divergent(&some, "clickhouse", false), ["quiet-1"], "{some}");

    // The continuous auditor sees the same accounts, its metric says so, and
    // the alert fires in a Prometheus that scrapes it.
    let auditor = Auditor::start(&pipeline, &table_suffix, &search);
    let prometheus = OwnPrometheus::start(
        &[("ledgerstream-audit", format!("127.0.0.1:{}", auditor.port))],
        &["infra/prometheus/rules/audit.yml"],
    );
    auditor
        .wait_divergent(&[("clickhouse", 3), ("history", 3)])
        .await;
    let firing = prometheus
        .wait_firing("LedgerstreamReadModelDivergent", Duration::from_secs(180))
        .await;
    let mut models: Vec<&str> = firing
        .iter()
        .filter_map(|labels| labels["read_model"].as_str())
        .collect();
    models.sort_unstable();
    assert_eq!(models, ["clickhouse", "history"], "{firing:?}");

    let (code, repaired) = audit(&pipeline, &table_suffix, &search, &["--all", "--repair"]);
    assert_eq!(code, 0, "the repair makes the audit clean: {repaired}");
    assert!(
        divergent(&repaired, "clickhouse", true).is_empty(),
        "{repaired}"
    );
    assert!(
        divergent(&repaired, "history", true).is_empty(),
        "{repaired}"
    );
    let (code, again) = audit(&pipeline, &table_suffix, &search, &["--all", "--repair"]);
    assert_eq!(code, 0, "a second repair has nothing to do: {again}");
    assert_eq!(again["read_models"][0]["divergent"], 0, "{again}");
    // Checked again, the repaired accounts leave the auditor's divergent count.
    auditor
        .wait_divergent(&[("clickhouse", 0), ("history", 0)])
        .await;
    let metrics = auditor.metrics().await;
    assert!(
        metrics.contains("ledgerstream_audit_visibility_seconds_count{read_model=\"clickhouse\"}"),
        "the SLO histogram has samples: {metrics}"
    );
    drop(prometheus);
    drop(auditor);

    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent = load.await.expect("load");
    assert!(sent > 100, "the load ran along: {sent} commands");
    wait_for_the_processor(&pipeline).await;
    let (code, last) = audit(&pipeline, &table_suffix, &search, &["--all"]);
    assert_eq!(code, 0, "after the load: {last}");

    // The tables and indices go with `set` and `search`, the processes with
    // their handles.
    drop(projector);
    ledgerstream_tests::delete_topics(&pipeline.broker.address, &pipeline.topics.all()).await;
}
