//! `ledgerstream replay` end to end, on the real broker, registry, ClickHouse and
//! processor:
//!
//! - a ClickHouse replay into a new table set while the live projector keeps
//!   writing and commands keep coming, switched in: afterwards the live names
//!   equal a fold of the log; the same replay is not switched twice, and
//!   `--drop-old` removes the set it replaced;
//! - a replay killed half-way resumes from its checkpoints and finishes without
//!   a duplicate;
//! - `replay state` refuses a store a processor holds, rebuilds the stores, and
//!   the processor starts on them without folding the log again.
//!
//! Every test writes its own table set (a random suffix; the replayed and the
//! old sets carry it too) and drops all of it.

// Test code: a failed unwrap is a failed test, and amounts read as units_cents.
#![allow(clippy::unwrap_used, clippy::inconsistent_digit_grouping)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ledgerstream_processor::store::PartitionStore;
use ledgerstream_producers::commands;
use ledgerstream_tests::clickhouse::{TableSet, assert_equals_fold, wait_until_projected};
use ledgerstream_tests::log::{fold_the_log, wait_for_the_processor};
use ledgerstream_tests::pipeline::Pipeline;
use ledgerstream_tests::workload::{account, mix, opens};
use ledgerstream_tests::{endpoints, ledgerstream_bin};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

const ACCOUNTS: usize = 24;

/// A `ledgerstream replay` run for a pipeline, its stderr in a file.
struct Run {
    child: Child,
    log: PathBuf,
}

impl Run {
    fn start(pipeline: &Pipeline, name: &str, args: &[&str]) -> Self {
        let log = pipeline.state.path().join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("replay log");
        let child = Command::new(ledgerstream_bin())
            .arg("replay")
            .args(args)
            .arg(format!("--topic-suffix={}", pipeline.suffix))
            .env("LEDGERSTREAM_BROKERS", &pipeline.broker.address)
            .env("LEDGERSTREAM_REGISTRY_URL", &pipeline.registry.config().url)
            .env(
                "LEDGERSTREAM_CLICKHOUSE_URL",
                &endpoints().clickhouse.address,
            )
            .env("LEDGERSTREAM_LOG", "info")
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("start ledgerstream replay");
        Self { child, log }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for the exit; panics with the output after `timeout`.
    fn finish(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "replay still running after {timeout:?}:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs to the end and asserts success; the output.
    fn succeeds(mut self, timeout: Duration) -> String {
        let status = self.finish(timeout);
        let output = self.output();
        assert!(status.success(), "replay failed ({status}):\n{output}");
        output
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The arguments of a ClickHouse replay next to `set`'s live tables.
fn clickhouse_args<'a>(set: &'a TableSet, group: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "clickhouse",
        "--table-suffix",
        &set.suffix,
        "--group",
        group,
        "--batch-millis",
        "100",
    ];
    args.extend_from_slice(extra);
    args
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replay_switches_in_while_the_live_projector_writes_and_drops_the_old_set() {
    let pipeline = Arc::new(Pipeline::new(3).await);
    let set = TableSet::new().await;
    let _processor = pipeline
        .processor("processor", &["--batch-commands", "200"])
        .await;
    let projector = pipeline
        .projector(
            "projector",
            &set.suffix,
            &["--batch-rows", "300", "--batch-millis", "100"],
        )
        .await;
    for open in opens(ACCOUNTS) {
        pipeline.sender.send(&open).await.expect("send");
    }
    let load = mix(2_400, ACCOUNTS);
    let (before, during) = load.split_at(1_200);
    for command in before {
        pipeline.sender.send(command).await.expect("send");
    }
    // Commands go on arriving during the replay and the switch, about 150 a second.
    let sender = {
        let (pipeline, during) = (Arc::clone(&pipeline), during.to_vec());
        tokio::spawn(async move {
            for command in &during {
                pipeline.sender.send(command).await.expect("send");
                tokio::time::sleep(Duration::from_millis(6)).await;
            }
        })
    };

    let group = format!("replay{}", pipeline.suffix);
    let output = Run::start(
        &pipeline,
        "replay-v2",
        &clickhouse_args(&set, &group, &["--into", "v2"]),
    )
    .succeeds(Duration::from_secs(240));
    println!("{output}");
    assert!(output.contains("caught up"), "{output}");
    assert!(output.contains("switched:"), "{output}");
    sender.await.expect("sender");

    wait_for_the_processor(&pipeline).await;
    let fold = fold_the_log(&pipeline).await;
    assert!(fold.events > 2_000, "too few events: {}", fold.events);
    // The live projector goes on writing into the tables switched in.
    wait_until_projected(&set, &set.tables.events, fold.events, &projector).await;
    assert_equals_fold(&set, &set.tables, &fold).await;

    let names = set.names().await;
    assert!(
        !names.iter().any(|n| n.ends_with("_v2")),
        "the replayed set took the live names: {names:?}"
    );
    let old: Vec<&String> = names.iter().filter(|n| n.contains("_old_")).collect();
    assert_eq!(
        old.len(),
        6,
        "the old set: four tables and its two views: {names:?}"
    );
    let old_events = old
        .iter()
        .find(|n| n.starts_with("account_events_"))
        .unwrap();
    let old_rows = set.count("SELECT count() FROM ? FINAL", old_events).await;
    assert!(
        old_rows > 0 && old_rows as usize <= fold.events,
        "the old set keeps what the live projector wrote before the switch: {old_rows}"
    );

    // A replay switches once: the same --into again is refused ...
    let mut again = Run::start(
        &pipeline,
        "replay-v2-again",
        &clickhouse_args(&set, &group, &["--into", "v2"]),
    );
    let status = again.finish(Duration::from_secs(60));
    assert!(!status.success(), "{}", again.output());
    assert!(
        again.output().contains("is live already"),
        "{}",
        again.output()
    );
    // ... and with --drop-old it drops the set that one replaced.
    Run::start(
        &pipeline,
        "replay-v2-drop",
        &clickhouse_args(&set, &group, &["--into", "v2", "--drop-old"]),
    )
    .succeeds(Duration::from_secs(60));
    let names = set.names().await;
    assert!(
        !names.iter().any(|n| n.contains("_old_")),
        "the old set is gone: {names:?}"
    );
    assert_equals_fold(&set, &set.tables, &fold).await;
}

/// The events the replay into `set`'s v2 has checkpointed.
async fn replayed_so_far(set: &TableSet) -> u64 {
    let table = format!("{}_v2", set.tables.checkpoints);
    set.client
        .query("SELECT sum(next_offset) FROM ? FINAL")
        .bind(clickhouse::sql::Identifier(&table))
        .fetch_one::<u64>()
        .await
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replay_killed_half_way_resumes_and_finishes_without_duplicates() {
    let pipeline = Pipeline::new(2).await;
    let set = TableSet::new().await;
    let _processor = pipeline
        .processor("processor", &["--batch-commands", "200"])
        .await;
    let projector = pipeline
        .projector("projector", &set.suffix, &["--batch-millis", "100"])
        .await;
    for command in opens(ACCOUNTS).iter().chain(&mix(1_500, ACCOUNTS)) {
        pipeline.sender.send(command).await.expect("send");
    }
    wait_for_the_processor(&pipeline).await;
    let fold = fold_the_log(&pipeline).await;
    wait_until_projected(&set, &set.tables.events, fold.events, &projector).await;

    // Slowed down, so that the kill lands half-way.
    let group = format!("replay{}", pipeline.suffix);
    let mut first = Run::start(
        &pipeline,
        "replay-killed",
        &clickhouse_args(&set, &group, &["--into", "v2", "--throttle", "300"]),
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    while replayed_so_far(&set).await < fold.events as u64 / 3 {
        assert!(
            Instant::now() < deadline,
            "the replay did not get a third of the way in 120 s:\n{}",
            first.output()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    first.kill();
    println!("{}", first.output());
    let written = replayed_so_far(&set).await;
    assert!(
        written < fold.events as u64,
        "killed half-way, not at the end: {written} of {}",
        fold.events
    );
    // Whatever the replay checkpointed, its balances are written (the resumed
    // replay reads the states of the accounts it meets back from them).
    let balances = format!("{}_v2", set.tables.balances);
    let states = set.count("SELECT count() FROM ? FINAL", &balances).await;
    assert!(
        states > 0,
        "{written} events checkpointed, but no balance in {balances}"
    );
    // Started again at once: the broker hands the killed member's partitions on
    // when its session expires.
    let output = Run::start(
        &pipeline,
        "replay-resumed",
        &clickhouse_args(&set, &group, &["--into", "v2", "--drop-old"]),
    )
    .succeeds(Duration::from_secs(240));
    println!("{output}");
    let resumed = output
        .lines()
        .find(|l| l.starts_with("resuming: "))
        .unwrap_or_else(|| panic!("no resume from the checkpoints:\n{output}"));
    assert!(!resumed.starts_with("resuming: 0 "), "{resumed}");

    assert_equals_fold(&set, &set.tables, &fold).await;
    let names = set.names().await;
    assert!(
        !names
            .iter()
            .any(|n| n.contains("_old_") || n.ends_with("_v2")),
        "only the live set is left: {names:?}"
    );
}

/// The end of the events topic for a `read_committed` reader.
fn events_end(pipeline: &Pipeline) -> Vec<i64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &pipeline.broker.address)
        .set("isolation.level", "read_committed")
        .create()
        .expect("consumer");
    (0..pipeline.partitions)
        .map(|p| {
            consumer
                .fetch_watermarks(&pipeline.topics.events, p, Duration::from_secs(10))
                .expect("watermarks")
                .1
        })
        .collect()
}

/// `text` without the terminal colour codes the log is written with.
fn without_colours(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ … m
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

/// The folders directly in `dir` whose names start with `prefix`.
fn folders(dir: &Path, prefix: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(prefix))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_state_rebuilds_stores_the_processor_starts_on_without_folding() {
    let pipeline = Pipeline::new(2).await;
    let state = pipeline.state.path().join("processor");
    let state_dir = state.to_str().unwrap().to_owned();
    let mut processor = pipeline
        .processor("processor", &["--batch-commands", "200"])
        .await;
    for command in opens(ACCOUNTS).iter().chain(&mix(1_000, ACCOUNTS)) {
        pipeline.sender.send(command).await.expect("send");
    }
    wait_for_the_processor(&pipeline).await;

    // A store a processor holds is refused.
    let mut refused = Run::start(
        &pipeline,
        "state-held",
        &["state", "--state-dir", &state_dir],
    );
    assert!(!refused.finish(Duration::from_secs(60)).success());
    assert!(
        refused.output().contains("held by a running processor"),
        "{}",
        refused.output()
    );
    let status = processor.terminate(Duration::from_secs(20));
    assert!(status.is_some_and(|s| s.success()), "{status:?}");

    // An existing store needs --force ...
    let mut refused = Run::start(
        &pipeline,
        "state-exists",
        &["state", "--state-dir", &state_dir],
    );
    assert!(!refused.finish(Duration::from_secs(60)).success());
    assert!(refused.output().contains("--force"), "{}", refused.output());
    // ... which moves it aside.
    let output = Run::start(
        &pipeline,
        "state-rebuilt",
        &["state", "--state-dir", &state_dir, "--force"],
    )
    .succeeds(Duration::from_secs(120));
    println!("{output}");
    assert!(output.contains("events/s"), "{output}");
    assert_eq!(
        folders(&state, "partition-").len(),
        4,
        "two stores and the two moved aside"
    );

    // The stores hold the fold of the log, and their checkpoints its end.
    let fold = fold_the_log(&pipeline).await;
    let ends = events_end(&pipeline);
    let mut found = 0;
    for (partition, end) in ends.iter().enumerate() {
        let store = PartitionStore::open(&state, partition as i32).expect("open the store");
        let checkpoint = store.checkpoint().unwrap().expect("a checkpoint");
        assert_eq!(checkpoint.events_offset(), *end, "partition {partition}");
        for (id, (balance, version)) in &fold.balances {
            if let Some(account) = store.get_account(id).unwrap() {
                found += 1;
                assert_eq!(account.version(), *version, "{id}");
                assert_eq!(
                    account.account().map(|a| a.balance_minor()),
                    Some(*balance),
                    "{id}"
                );
            }
        }
    }
    assert_eq!(
        found,
        fold.balances.len(),
        "every account in exactly one store"
    );

    // The processor starts on them: nothing left to fold.
    let processor = pipeline
        .processor("processor", &["--batch-commands", "200"])
        .await;
    let log = without_colours(&std::fs::read_to_string(&processor.log).unwrap());
    let restored: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("partition restored"))
        .collect();
    assert_eq!(restored.len(), 2, "{log}");
    assert!(
        restored.iter().all(|l| l.contains("folded=0")),
        "the processor folded events again:\n{log}"
    );
    // And decides on them: a deposit lands on the balance the store holds.
    let (balance, version) = fold.balances[&account(0)];
    pipeline
        .sender
        .send(&commands::deposit(&account(0), 12_34, "USD"))
        .await
        .expect("send");
    wait_for_the_processor(&pipeline).await;
    let after = fold_the_log(&pipeline).await;
    assert_eq!(
        after.balances[&account(0)],
        (balance + 12_34, version + 1),
        "{}",
        processor.log_tail()
    );
}
