//! Services that go away and come back, under a steady load: a background task
//! sends commands through the producers library all along, a service of the
//! test's own (started through `infra/local/stack.sh` on free ports, never the
//! shared stack's) is stopped for `LEDGERSTREAM_OUTAGE_SECONDS` (15 by default)
//! and started again, and afterwards the read model equals a fold of the log and
//! every command has exactly one result.
//!
//! Needs the local stack (`make up`) and the binary (`cargo build -p ledgerstream`;
//! `make test` builds it first).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ledgerstream_tests::audit::exactly_once;
use ledgerstream_tests::clickhouse::{TableSet, assert_equals_fold, wait_until_projected};
use ledgerstream_tests::log::{fold_the_log, wait_for_the_processor};
use ledgerstream_tests::pipeline::Pipeline;
use ledgerstream_tests::services::OwnService;
use ledgerstream_tests::workload::{mix, opens};
use tokio::task::JoinHandle;

const ACCOUNTS: usize = 30;

/// How long a service stays down: `LEDGERSTREAM_OUTAGE_SECONDS`, 15 by default
/// (the 60 s proves no more than 15 s do: the projection keeps retrying
/// the same batch, with pauses that stop growing at `--retry-max-millis`).
fn outage() -> Duration {
    let seconds = std::env::var("LEDGERSTREAM_OUTAGE_SECONDS")
        .ok()
        .map(|s| {
            s.parse::<u64>()
                .unwrap_or_else(|_| panic!("LEDGERSTREAM_OUTAGE_SECONDS={s} is not a number"))
        })
        .unwrap_or(15);
    Duration::from_secs(seconds)
}

/// Commands sent in the background at about 150 a second until stopped.
struct Load {
    sent: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Load {
    /// Opens the accounts (waiting for each), then sends the mix.
    async fn start(pipeline: &Arc<Pipeline>) -> Self {
        for open in &opens(ACCOUNTS) {
            pipeline.sender.send(open).await.expect("send an open");
        }
        let sent = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let task = {
            let (pipeline, sent, stop) =
                (Arc::clone(pipeline), Arc::clone(&sent), Arc::clone(&stop));
            tokio::spawn(async move {
                let mut interval = tokio::time::interval(Duration::from_millis(7));
                interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                for command in mix(1_000_000, ACCOUNTS) {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    interval.tick().await;
                    pipeline.sender.send(&command).await.expect("send");
                    sent.fetch_add(1, Ordering::Relaxed);
                }
            })
        };
        Self { sent, stop, task }
    }

    fn sent(&self) -> usize {
        self.sent.load(Ordering::Relaxed)
    }

    /// Waits until `more` commands past now have been sent.
    async fn wait_for(&self, more: usize) {
        let target = self.sent() + more;
        while self.sent() < target {
            assert!(!self.task.is_finished(), "the load stopped early");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the load; the number of commands sent (the opens not counted).
    async fn stop(self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        let sent = Arc::clone(&self.sent);
        self.task.await.expect("the load task");
        sent.load(Ordering::Relaxed)
    }
}

/// ClickHouse stopped under load: the projection retries the same batch with
/// backoff, `/health` says why it is not ready, the process stays up, and once
/// ClickHouse is back every event is in it exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn clickhouse_stopped_under_load_the_projection_waits_and_skips_nothing() {
    let started = Instant::now();
    let clickhouse = OwnService::clickhouse();
    let url = format!(
        "http://127.0.0.1:{}",
        clickhouse.port("LEDGERSTREAM_CLICKHOUSE_HTTP_PORT")
    );
    let pipeline = Arc::new(Pipeline::new(3).await);
    let set = TableSet::at(&url);
    let _processor = pipeline
        .processor("processor", &["--batch-commands", "200"])
        .await;
    let group = format!("projector{}", pipeline.suffix);
    let args = [
        "clickhouse",
        "--table-suffix",
        &set.suffix,
        "--group",
        &group,
        "--batch-rows",
        "300",
        "--batch-millis",
        "100",
    ];
    let mut projector = pipeline
        .project_with("projector", &args, &[("LEDGERSTREAM_CLICKHOUSE_URL", &url)])
        .await;

    let load = Load::start(&pipeline).await;
    load.wait_for(500).await;

    clickhouse.stop();
    let down = Instant::now();
    let (status, degraded) = projector
        .wait_health(
            "a /health that names the retried write",
            Duration::from_secs(60),
            |status, body| status == 503 && body.contains("clickhouse: retrying"),
        )
        .await;
    println!("during the outage /health answered {status}: {degraded}");
    tokio::time::sleep(outage().saturating_sub(down.elapsed())).await;
    assert!(
        projector.is_running(),
        "the projector exited during the outage; log:\n{}",
        projector.log_tail()
    );
    let sent_during = load.sent();
    clickhouse.start();
    println!("ClickHouse was down for {:?}", down.elapsed());

    projector
        .wait_health(
            "a ready /health after the outage",
            Duration::from_secs(120),
            |status, _| status == 200,
        )
        .await;
    load.wait_for(500).await;
    let sent = load.stop().await;
    assert!(sent > sent_during, "no command was sent after the outage");

    wait_for_the_processor(&pipeline).await;
    let summary = exactly_once(&pipeline).await;
    assert_eq!(
        summary.commands,
        ACCOUNTS + sent,
        "every command sent is in the log, with exactly one result"
    );
    let fold = fold_the_log(&pipeline).await;
    wait_until_projected(&set, &set.tables.events, fold.events, &projector).await;
    assert_equals_fold(&set, &set.tables, &fold).await;

    let metrics = projector.metrics().await;
    let retries: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("ledgerstream_projection_retries_total{"))
        .filter(|l| l.contains("projection=\"clickhouse\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(retries > 0.0, "no retry counted:\n{metrics}");
    let status = projector.terminate(Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| s.success()),
        "no clean exit within 10 s of SIGTERM: {status:?}\n{}",
        projector.log_tail()
    );
    println!(
        "{sent} commands, {} events, {retries} retries; {:?} in all",
        fold.events,
        started.elapsed()
    );
}
