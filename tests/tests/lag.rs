//! `ledgerstream lag` on the real broker: a topic of its own with known records,
//! consumer groups whose offsets the test commits, and the binary's table
//! (`--once`) and exporter (`--serve`) read back. Each test deletes its topic and
//! groups afterwards.
//!
//! Records are stamped an hour in the past, one second apart, so the lag in
//! seconds of a group at offset n is known: about 3,600 − n seconds.

// Test code: a failed unwrap is a failed test, and amounts read as units_cents.
#![allow(clippy::unwrap_used, clippy::inconsistent_digit_grouping)]

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ledgerstream_infra::Service;
use ledgerstream_runtime::clock::now_millis;
use ledgerstream_tests::pipeline::free_port;
use ledgerstream_tests::{TempDir, delete_topics, ledgerstream_bin, require, unique_name};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

const PARTITIONS: i32 = 2;
const PER_PARTITION: i64 = 20;
/// Record i of each partition is stamped `HOUR` seconds ago, plus i seconds.
const HOUR: i64 = 3_600;

/// A topic with `PER_PARTITION` records in each partition, made for one test.
struct Fixture {
    brokers: String,
    topic: String,
    /// Milliseconds since the epoch of record 0.
    first_record_millis: i64,
}

impl Fixture {
    async fn new() -> Self {
        let brokers = require(Service::Broker).await.address;
        let topic = unique_name("lag_topic");
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .create()
            .expect("admin client");
        let created = admin
            .create_topics(
                &[NewTopic::new(
                    &topic,
                    PARTITIONS,
                    TopicReplication::Fixed(1),
                )],
                &AdminOptions::new(),
            )
            .await
            .expect("create topic");
        assert!(created.iter().all(Result::is_ok), "{created:?}");
        let first_record_millis = now_millis() - HOUR * 1_000;
        let fixture = Self {
            brokers,
            topic,
            first_record_millis,
        };
        let (brokers, topic) = (fixture.brokers.clone(), fixture.topic.clone());
        tokio::task::spawn_blocking(move || {
            let producer: BaseProducer = ClientConfig::new()
                .set("bootstrap.servers", &brokers)
                .create()
                .expect("producer");
            for partition in 0..PARTITIONS {
                for i in 0..PER_PARTITION {
                    let key = format!("k{i}");
                    let record = BaseRecord::to(&topic)
                        .partition(partition)
                        .key(&key)
                        .payload("x")
                        .timestamp(first_record_millis + i * 1_000);
                    producer.send(record).map_err(|(e, _)| e).expect("send");
                }
            }
            producer.flush(Duration::from_secs(30)).expect("delivered");
        })
        .await
        .expect("produce");
        fixture
    }

    /// Commits `offset` on every partition for `group`.
    async fn commit(&self, group: &str, offset: i64) {
        let offsets: Vec<(i32, i64)> = (0..PARTITIONS).map(|p| (p, offset)).collect();
        self.commit_each(group, &offsets).await;
    }

    /// Commits each `(partition, offset)` for `group`.
    async fn commit_each(&self, group: &str, offsets: &[(i32, i64)]) {
        let (brokers, topic, group) = (self.brokers.clone(), self.topic.clone(), group.to_owned());
        let each = offsets.to_vec();
        tokio::task::spawn_blocking(move || {
            let consumer: BaseConsumer = ClientConfig::new()
                .set("bootstrap.servers", &brokers)
                .set("group.id", &group)
                .set("enable.auto.commit", "false")
                .create()
                .expect("consumer");
            let mut offsets = TopicPartitionList::new();
            for (partition, offset) in each {
                offsets
                    .add_partition_offset(&topic, partition, Offset::Offset(offset))
                    .expect("offset");
            }
            consumer.commit(&offsets, CommitMode::Sync).expect("commit");
        })
        .await
        .expect("commit");
    }

    /// Appends to partition 0 one record stamped like record `PER_PARTITION`
    /// in a committed transaction, then one in an aborted transaction: offsets
    /// 20 (the record), 21 (its commit marker), 22 (aborted) and 23 (its abort
    /// marker).
    async fn append_transactions(&self) {
        let (brokers, topic) = (self.brokers.clone(), self.topic.clone());
        let millis = self.first_record_millis + PER_PARTITION * 1_000;
        tokio::task::spawn_blocking(move || {
            let producer: BaseProducer = ClientConfig::new()
                .set("bootstrap.servers", &brokers)
                .set("transactional.id", unique_name("lag_txn"))
                .create()
                .expect("transactional producer");
            let timeout = Duration::from_secs(30);
            producer.init_transactions(timeout).expect("init");
            for commit in [true, false] {
                producer.begin_transaction().expect("begin");
                let record = BaseRecord::to(&topic)
                    .partition(0)
                    .key("txn")
                    .payload("x")
                    .timestamp(millis);
                producer.send(record).map_err(|(e, _)| e).expect("send");
                if commit {
                    producer.commit_transaction(timeout).expect("commit");
                } else {
                    producer.flush(timeout).expect("delivered");
                    producer.abort_transaction(timeout).expect("abort");
                }
            }
        })
        .await
        .expect("transactions");
    }

    /// Deletes the topic and `groups`.
    async fn delete(self, groups: &[&str]) {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &self.brokers)
            .create()
            .expect("admin client");
        let deleted = admin
            .delete_groups(groups, &AdminOptions::new())
            .await
            .expect("DeleteGroups request");
        assert!(deleted.iter().all(Result::is_ok), "{deleted:?}");
        delete_topics(&self.brokers, &[&self.topic]).await;
    }

    /// About how many seconds behind a group at `offset` is now.
    fn expected_lag_seconds(&self, offset: i64) -> f64 {
        (now_millis() - (self.first_record_millis + offset * 1_000)) as f64 / 1_000.0
    }
}

/// `ledgerstream lag` with `args`, its stdout and stderr.
fn lag(brokers: &str, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(ledgerstream_bin())
        .arg("lag")
        .args(args)
        .env("LEDGERSTREAM_BROKERS", brokers)
        .env("LEDGERSTREAM_LOG", "warn")
        .output()
        .expect("run ledgerstream lag");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// One row of the `--once` table.
#[derive(Debug)]
struct Row {
    committed: String,
    log_end: i64,
    lag: i64,
    lag_seconds: String,
    status: String,
}

/// The table's rows of `group` on `topic`, by partition.
fn rows(table: &str, group: &str, topic: &str) -> BTreeMap<i32, Row> {
    table
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split_whitespace().collect();
            if cells.len() < 9 || cells[0] != group || cells[1] != topic {
                return None;
            }
            let number = |i: usize| {
                cells[i]
                    .parse::<i64>()
                    .unwrap_or_else(|e| panic!("`{line}`: {e}"))
            };
            let status = cells[cells.len() - 1];
            let status = if status == "up" { "caught up" } else { status };
            let row = Row {
                committed: cells[3].to_owned(),
                log_end: number(4),
                lag: number(5),
                lag_seconds: cells[6].to_owned(),
                status: status.to_owned(),
            };
            Some((number(2) as i32, row))
        })
        .collect()
}

fn assert_seconds_near(found: &str, expected: f64, context: &str) {
    let found: f64 = found
        .parse()
        .unwrap_or_else(|e| panic!("{context}: lag seconds `{found}`: {e}"));
    // The record's own age, give or take the time the command took.
    assert!(
        (expected - 5.0..=expected + 120.0).contains(&found),
        "{context}: lag {found} s, expected about {expected:.0} s"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn once_prints_each_partitions_lag_in_messages_and_seconds() {
    let fixture = Fixture::new().await;
    let (half, caught_up, idle) = (
        unique_name("lag_half"),
        unique_name("lag_done"),
        unique_name("lag_idle"),
    );
    fixture.commit(&half, PER_PARTITION / 2).await;
    fixture.commit(&caught_up, PER_PARTITION).await;

    let (ok, table, stderr) = lag(
        &fixture.brokers,
        &[
            "--once", "--group", &half, "--group", &caught_up, "--group", &idle,
        ],
    );
    assert!(ok, "ledgerstream lag failed:\n{stderr}\n{table}");

    let behind = rows(&table, &half, &fixture.topic);
    assert_eq!(
        behind.keys().copied().collect::<Vec<_>>(),
        [0, 1],
        "{table}"
    );
    for (partition, row) in &behind {
        let context = format!("{half} partition {partition}");
        assert_eq!(
            row.committed,
            (PER_PARTITION / 2).to_string(),
            "{context}\n{table}"
        );
        assert_eq!(row.log_end, PER_PARTITION, "{context}\n{table}");
        assert_eq!(row.lag, PER_PARTITION / 2, "{context}\n{table}");
        assert_eq!(row.status, "behind", "{context}\n{table}");
        assert_seconds_near(
            &row.lag_seconds,
            fixture.expected_lag_seconds(PER_PARTITION / 2),
            &context,
        );
    }
    let done = rows(&table, &caught_up, &fixture.topic);
    assert_eq!(done.len(), PARTITIONS as usize, "{table}");
    for row in done.values() {
        assert_eq!(
            (row.lag, row.lag_seconds.as_str(), row.status.as_str()),
            (0, "0.0", "caught up"),
            "{table}"
        );
    }
    // Groups that only commit offsets, with no member: Empty. One the cluster
    // does not know has no state.
    assert!(
        table.contains(&format!("{half} (Empty): {} behind", PER_PARTITION)),
        "{table}"
    );
    assert!(
        table.contains(&format!("{caught_up} (Empty): caught up")),
        "{table}"
    );
    assert!(
        table.contains(&format!(
            "{idle}: no committed offsets on any existing topic"
        )),
        "{table}"
    );
    fixture.delete(&[&half, &caught_up]).await;
}

/// Without `--group`, every group the cluster lists, with its state.
#[tokio::test(flavor = "multi_thread")]
async fn once_without_a_group_finds_every_group() {
    let fixture = Fixture::new().await;
    let group = unique_name("lag_listed");
    fixture.commit(&group, 5).await;

    let (ok, table, stderr) = lag(&fixture.brokers, &["--once"]);
    assert!(ok, "ledgerstream lag failed:\n{stderr}\n{table}");
    let found = rows(&table, &group, &fixture.topic);
    assert_eq!(
        found.len(),
        PARTITIONS as usize,
        "{group} not listed:\n{table}\n{stderr}"
    );
    assert!(
        found.values().all(|row| row.lag == PER_PARTITION - 5),
        "{table}"
    );
    assert!(
        table.contains(&format!(
            "{group} (Empty): {} behind",
            2 * (PER_PARTITION - 5)
        )),
        "{group}'s state is not shown:\n{table}"
    );
    fixture.delete(&[&group]).await;
}

/// Lag is what a `read_committed` consumer has left to read: a group past a
/// transaction's last record, with only markers and aborted records after it,
/// is behind in offsets but has nothing to read, so its lag in seconds is zero.
#[tokio::test(flavor = "multi_thread")]
async fn transaction_markers_and_aborted_records_are_no_lag_in_seconds() {
    let fixture = Fixture::new().await;
    fixture.append_transactions().await;
    let (past, before) = (unique_name("lag_past"), unique_name("lag_before"));
    fixture
        .commit_each(&past, &[(0, PER_PARTITION + 1), (1, PER_PARTITION)])
        .await;
    fixture
        .commit_each(&before, &[(0, PER_PARTITION), (1, PER_PARTITION)])
        .await;

    let (ok, table, stderr) = lag(
        &fixture.brokers,
        &["--once", "--group", &past, "--group", &before],
    );
    assert!(ok, "ledgerstream lag failed:\n{stderr}\n{table}");
    let log_end = PER_PARTITION + 4;
    let row = &rows(&table, &past, &fixture.topic)[&0];
    assert_eq!((row.log_end, row.lag), (log_end, 3), "{table}");
    assert_eq!(row.lag_seconds, "0.0", "{table}");
    let row = &rows(&table, &before, &fixture.topic)[&0];
    assert_eq!((row.log_end, row.lag), (log_end, 4), "{table}");
    assert_seconds_near(
        &row.lag_seconds,
        fixture.expected_lag_seconds(PER_PARTITION),
        &format!("{before} partition 0"),
    );
    fixture.delete(&[&past, &before]).await;
}

#[test]
fn a_bad_setting_is_named_before_anything_starts() {
    let (ok, _, stderr) = lag(
        "127.0.0.1:9092",
        &["--once", "--interval", "5", "--stall-after", "6"],
    );
    assert!(!ok);
    assert!(stderr.contains("stall-after"), "{stderr}");
}

/// A running `ledgerstream lag --serve`; killed when dropped.
struct Exporter {
    child: Child,
    port: u16,
    log: std::path::PathBuf,
    _dir: TempDir,
}

impl Exporter {
    fn start(brokers: &str, args: &[&str]) -> Self {
        let dir = TempDir::new("lag_exporter");
        let log = dir.path().join("lag.log");
        let port = free_port();
        let child = Command::new(ledgerstream_bin())
            .args(["lag", "--serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(args)
            .env("LEDGERSTREAM_BROKERS", brokers)
            .env("LEDGERSTREAM_LOG", ledgerstream_tests::CHILD_LOG)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("exporter log"))
            .spawn()
            .expect("start ledgerstream lag --serve");
        Self {
            child,
            port,
            log,
            _dir: dir,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn get(&self, path: &str) -> Option<(u16, String)> {
        let response = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{}{path}", self.port))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .ok()?;
        Some((
            response.status().as_u16(),
            response.text().await.unwrap_or_default(),
        ))
    }

    /// Waits until `/metrics` satisfies `check`, which returns what is still wrong.
    async fn wait_for(&mut self, what: &str, check: impl Fn(&str) -> Result<(), String>) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let metrics = self
                .get("/metrics")
                .await
                .map(|(_, text)| text)
                .unwrap_or_default();
            let problem = match check(&metrics) {
                Ok(()) => return metrics,
                Err(problem) => problem,
            };
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the exporter exited ({status}); log:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "{what}: still {problem} after 60 s\n/metrics:\n{metrics}\nlog:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of the series `name{labels}` in a Prometheus text exposition.
fn value(metrics: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (metric, rest) = series.split_once('{')?;
        let matches = metric == name
            && labels
                .iter()
                .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
        matches.then(|| value.parse().ok()).flatten()
    })
}

fn expect(metrics: &str, name: &str, labels: &[(&str, &str)], expected: f64) -> Result<(), String> {
    match value(metrics, name, labels) {
        Some(found) if found == expected => Ok(()),
        found => Err(format!("{name}{labels:?} = {found:?}, not {expected}")),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_exporter_serves_the_same_figures_and_flags_a_stall() {
    let fixture = Fixture::new().await;
    let (half, caught_up) = (unique_name("lag_half"), unique_name("lag_done"));
    fixture.commit(&half, PER_PARTITION / 2).await;
    fixture.commit(&caught_up, PER_PARTITION).await;
    let mut exporter = Exporter::start(
        &fixture.brokers,
        &[
            "--group",
            &half,
            "--group",
            &caught_up,
            "--interval",
            "1",
            "--stall-after",
            "4",
        ],
    );
    let topic = fixture.topic.as_str();

    let metrics = exporter
        .wait_for("the first sample", |m| {
            expect(
                m,
                "ledgerstream_consumer_lag_messages",
                &[("group", &half), ("partition", "1")],
                10.0,
            )
        })
        .await;
    for partition in ["0", "1"] {
        let labels = [
            ("group", half.as_str()),
            ("topic", topic),
            ("partition", partition),
        ];
        expect(
            &metrics,
            "ledgerstream_consumer_lag_messages",
            &labels,
            10.0,
        )
        .unwrap();
        expect(
            &metrics,
            "ledgerstream_consumer_committed_offset",
            &labels,
            10.0,
        )
        .unwrap();
        expect(
            &metrics,
            "ledgerstream_log_end_offset",
            &[("topic", topic), ("partition", partition)],
            20.0,
        )
        .unwrap();
        let seconds = value(&metrics, "ledgerstream_consumer_lag_seconds", &labels)
            .unwrap_or_else(|| panic!("no lag seconds for {labels:?}:\n{metrics}"));
        assert_seconds_near(
            &seconds.to_string(),
            fixture.expected_lag_seconds(10),
            &format!("{labels:?}"),
        );
        let done = [
            ("group", caught_up.as_str()),
            ("topic", topic),
            ("partition", partition),
        ];
        expect(&metrics, "ledgerstream_consumer_lag_messages", &done, 0.0).unwrap();
        expect(&metrics, "ledgerstream_consumer_lag_seconds", &done, 0.0).unwrap();
    }
    let (status, health) = exporter.get("/health").await.expect("/health answers");
    assert_eq!(status, 200, "{health}");

    // Nobody consumes: 4 s without a fall and the half-way group is stalled; the
    // caught-up one never is.
    let metrics = exporter
        .wait_for("the stall", |m| {
            expect(m, "ledgerstream_consumer_stalled", &[("group", &half)], 1.0)
        })
        .await;
    expect(
        &metrics,
        "ledgerstream_consumer_stalled",
        &[("group", &caught_up)],
        0.0,
    )
    .unwrap();
    assert!(
        value(
            &metrics,
            "ledgerstream_consumer_catch_up_seconds",
            &[("group", &half)]
        )
        .is_none(),
        "a group that is not catching up has no catch-up estimate:\n{metrics}"
    );

    // It catches up: lag 0, not stalled, caught up now.
    fixture.commit(&half, PER_PARTITION).await;
    let metrics = exporter
        .wait_for("the catch-up", |m| {
            expect(m, "ledgerstream_consumer_stalled", &[("group", &half)], 0.0)?;
            expect(
                m,
                "ledgerstream_consumer_lag_messages",
                &[("group", &half), ("partition", "0")],
                0.0,
            )
        })
        .await;
    expect(
        &metrics,
        "ledgerstream_consumer_catch_up_seconds",
        &[("group", &half)],
        0.0,
    )
    .unwrap();
    let rounds = value(
        &metrics,
        "ledgerstream_lag_rounds_total",
        &[("outcome", "ok")],
    )
    .unwrap_or(0.0);
    assert!(rounds >= 3.0, "rounds: {rounds}\n{metrics}");

    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(exporter.child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Ok(Some(status)) = exporter.child.try_wait() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "no exit within 10 s of SIGTERM; log:\n{}",
            exporter.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "{status}; log:\n{}", exporter.log());
    fixture.delete(&[&half, &caught_up]).await;
}
