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

use ledgerstream_infra::{Endpoint, Service};
use ledgerstream_runtime::dead_letters::headers as dlq;
use ledgerstream_tests::audit::exactly_once;
use ledgerstream_tests::clickhouse::{TableSet, assert_equals_fold, wait_until_projected};
use ledgerstream_tests::history::HistoryIndex;
use ledgerstream_tests::log::{fold_the_log, wait_for_the_processor};
use ledgerstream_tests::pipeline::{Pipeline, ProcessorChild};
use ledgerstream_tests::services::OwnService;
use ledgerstream_tests::workload::{mix, opens};
use ledgerstream_tests::{delete_topics, require, unique_name};
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

/// Takes `service` away under load for [`outage`] and brings it back: the
/// projection `projection` of `projector` must say on `/health` (503) that it is
/// retrying, stay up, and be ready again afterwards. Returns the commands sent,
/// once the processor has decided them all and the exactly-once audit passed
/// (every command exactly one result).
async fn outage_under_load(
    pipeline: &Arc<Pipeline>,
    service: &OwnService,
    projector: &mut ProcessorChild,
    projection: &str,
) -> usize {
    let load = Load::start(pipeline).await;
    load.wait_for(500).await;

    service.stop();
    let down = Instant::now();
    let retrying = format!("{projection}: retrying");
    let (status, degraded) = projector
        .wait_health(
            "a /health that names the retried write",
            Duration::from_secs(60),
            |status, body| status == 503 && body.contains(&retrying),
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
    service.start();
    println!(
        "{projection}: the service was down for {:?}",
        down.elapsed()
    );

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

    wait_for_the_processor(pipeline).await;
    let summary = exactly_once(pipeline).await;
    assert_eq!(
        summary.commands,
        ACCOUNTS + sent,
        "every command sent is in the log, with exactly one result"
    );
    sent
}

/// The sum of `ledgerstream_projection_retries_total` for `projection`.
async fn retries(projector: &ProcessorChild, projection: &str) -> f64 {
    let metrics = projector.metrics().await;
    let label = format!("projection=\"{projection}\"");
    metrics
        .lines()
        .filter(|l| l.starts_with("ledgerstream_projection_retries_total{"))
        .filter(|l| l.contains(&label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The end of a projection's outage: it counted retries, SIGTERM makes it exit
/// cleanly within 10 s, and the figures are printed.
async fn retried_then_exits(
    projector: &mut ProcessorChild,
    projection: &str,
    (sent, events): (usize, usize),
    started: Instant,
) {
    let retries = retries(projector, projection).await;
    assert!(retries > 0.0, "no retry counted");
    projector.assert_clean_exit(Duration::from_secs(10));
    println!(
        "{sent} commands, {events} events, {retries} retries; {:?} in all",
        started.elapsed()
    );
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

    let sent = outage_under_load(&pipeline, &clickhouse, &mut projector, "clickhouse").await;
    let fold = fold_the_log(&pipeline).await;
    wait_until_projected(&set, &set.tables.events, fold.events, &projector).await;
    assert_equals_fold(&set, &set.tables, &fold).await;

    retried_then_exits(&mut projector, "clickhouse", (sent, fold.events), started).await;
}

/// The search engine stopped under load: the history projection retries with
/// backoff, `/health` says why, the process stays up, and once the engine is back
/// the index holds one document per event, as the log says.
#[tokio::test(flavor = "multi_thread")]
async fn search_engine_stopped_under_load_the_history_waits_and_skips_nothing() {
    let started = Instant::now();
    let search = OwnService::start_new(
        "search",
        &[
            "LEDGERSTREAM_SEARCH_PORT",
            "LEDGERSTREAM_SEARCH_TRANSPORT_PORT",
        ],
    );
    let url = format!(
        "http://127.0.0.1:{}",
        search.port("LEDGERSTREAM_SEARCH_PORT")
    );
    let pipeline = Arc::new(Pipeline::new(3).await);
    let index = HistoryIndex::at(&url);
    let _processor = pipeline
        .processor("processor", &["--batch-commands", "200"])
        .await;
    let group = format!("projector{}", pipeline.suffix);
    let mut args = vec!["history", "--group", &group];
    let flags = index.flags();
    args.extend(flags.iter().map(String::as_str));
    args.extend_from_slice(&["--batch-rows", "300", "--batch-millis", "100"]);
    let mut projector = pipeline
        .project_with("projector", &args, &[("LEDGERSTREAM_SEARCH_URL", &url)])
        .await;

    let sent = outage_under_load(&pipeline, &search, &mut projector, "history").await;
    let fold = fold_the_log(&pipeline).await;
    index.wait_until_projected(fold.events, &projector).await;
    index.assert_equals_fold(&fold).await;

    retried_then_exits(&mut projector, "history", (sent, fold.events), started).await;
}

/// The registry stopped under load: the producers library and the processor go on
/// from the schemas they hold (every id of the load is known to them), and so does
/// the projection; a command whose schema id nobody has seen waits — the
/// processor decides nothing past it, and dead-letters nothing — until the
/// registry answers again, which then says the id does not exist: it goes to the
/// dead-letter topic as `unknown-schema-id`.
#[tokio::test(flavor = "multi_thread")]
async fn registry_stopped_under_load_known_schemas_go_on_and_an_unknown_id_waits() {
    let started = Instant::now();
    let broker = require(Service::Broker).await;
    let topic = format!("_schemas_{}", unique_name("outage"));
    let registry = OwnService::registry(&topic);
    let url = format!(
        "http://127.0.0.1:{}",
        registry.port("LEDGERSTREAM_REGISTRY_PORT")
    );
    let pipeline = Arc::new(Pipeline::on(broker.clone(), &url, 3).await);
    let set = TableSet::new().await;
    let mut processor = pipeline
        .processor("processor", &["--batch-commands", "200"])
        .await;
    let projector = pipeline.projector("projector", &set.suffix, &[]).await;

    // Known ids, the registry down.
    let load = Load::start(&pipeline).await;
    load.wait_for(500).await;
    registry.stop();
    let down = Instant::now();
    load.wait_for(500).await;
    tokio::time::sleep(outage().saturating_sub(down.elapsed())).await;
    let sent = load.stop().await;
    wait_for_the_processor(&pipeline).await;
    let fold = fold_the_log(&pipeline).await;
    wait_until_projected(&set, &set.tables.events, fold.events, &projector).await;
    println!(
        "with the registry down for {:?}: {sent} commands sent, decided and projected",
        down.elapsed()
    );
    registry.start();
    let summary = exactly_once(&pipeline).await;
    assert_eq!(
        summary.commands,
        ACCOUNTS + sent,
        "every command sent is in the log, with exactly one result"
    );
    assert_equals_fold(&set, &set.tables, &fold).await;

    // An id nobody has seen, the registry down again: it waits.
    registry.stop();
    let before = pipeline.read_all(&pipeline.topics.results).len();
    let mut unknown = vec![0_u8];
    unknown.extend_from_slice(&999_999_u32.to_be_bytes());
    unknown.extend_from_slice(b"\x02not a command");
    let log_before = std::fs::read_to_string(&processor.log)
        .unwrap_or_default()
        .len();
    pipeline.produce_raw(&pipeline.topics.commands, 0, "acc-000", &unknown);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&processor.log)
        .unwrap_or_default()
        .get(log_before..)
        .is_some_and(|new| new.contains("schema registry"))
    {
        assert!(
            Instant::now() < deadline,
            "the processor never said it could not ask the registry; log:\n{}",
            processor.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(processor.is_running(), "{}", processor.log_tail());
    assert!(
        pipeline.read_all(&pipeline.topics.dead_letters).is_empty(),
        "a record was dead-lettered while the registry could not be asked"
    );
    assert_eq!(
        pipeline.read_all(&pipeline.topics.results).len(),
        before,
        "a result appeared while the unknown id waited"
    );

    // Back: the registry says the id does not exist.
    registry.start();
    wait_for_the_processor(&pipeline).await;
    let letters = pipeline.read_all(&pipeline.topics.dead_letters);
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0].payload, unknown);
    assert_eq!(
        letters[0].headers.get(dlq::ERROR_CLASS).map(String::as_str),
        Some("unknown-schema-id"),
        "{:?}",
        letters[0].headers
    );
    assert_eq!(
        pipeline.read_all(&pipeline.topics.results).len(),
        before,
        "a dead-lettered command has no result"
    );
    println!(
        "{sent} commands, {} events; {:?} in all",
        fold.events,
        started.elapsed()
    );
    drop(projector);
    drop(processor);
    delete_topics(&broker.address, &[&topic]).await;
}

/// The broker stopped under load and started again: the producers library, the
/// processor and the projection were never restarted by hand, and afterwards
/// every command sent has exactly one result and ClickHouse equals a fold of the
/// log. The load's sends wait for the broker (librdkafka's delivery timeout, 5
/// minutes by default, outlasts the outage).
#[tokio::test(flavor = "multi_thread")]
async fn broker_stopped_under_load_every_component_reconnects_by_itself() {
    let started = Instant::now();
    let broker = OwnService::start_new(
        "broker",
        &["LEDGERSTREAM_BROKER_PORT", "LEDGERSTREAM_CONTROLLER_PORT"],
    );
    let endpoint = Endpoint {
        service: Service::Broker,
        address: format!("127.0.0.1:{}", broker.port("LEDGERSTREAM_BROKER_PORT")),
    };
    let pipeline = Arc::new(Pipeline::on_broker(endpoint, 3).await);
    let set = TableSet::new().await;
    let mut processor = pipeline
        .processor("processor", &["--batch-commands", "200"])
        .await;
    let mut projector = pipeline
        .projector(
            "projector",
            &set.suffix,
            &["--batch-rows", "300", "--batch-millis", "100"],
        )
        .await;

    let load = Load::start(&pipeline).await;
    load.wait_for(500).await;
    broker.stop();
    let down = Instant::now();
    tokio::time::sleep(outage()).await;
    for (name, child) in [("processor", &mut processor), ("projector", &mut projector)] {
        assert!(
            child.is_running(),
            "the {name} exited while the broker was down; log:\n{}",
            child.log_tail()
        );
    }
    let sent_during = load.sent();
    broker.start();
    println!("the broker was down for {:?}", down.elapsed());
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
    for (name, child) in [("processor", &mut processor), ("projector", &mut projector)] {
        assert!(
            child.is_running(),
            "the {name} exited:\n{}",
            child.log_tail()
        );
    }
    projector.assert_clean_exit(Duration::from_secs(10));
    processor.assert_clean_exit(Duration::from_secs(10));
    println!(
        "{sent} commands, {} events; {:?} in all",
        fold.events,
        started.elapsed()
    );
}
