//! The history projection end to end, on the real broker, registry, search server
//! and processor: thousands of random commands, the projector killed with SIGKILL
//! three times along the way, and at the end the index equal to a fold of the
//! event log — one document per money movement, by event id, each with its
//! balance after, nothing twice. Also: a document the server refuses goes to the
//! dead-letter topic and the projection goes on; writing again is a 409 and a
//! success; checkpoints outlive the sink; both projections run in one process;
//! the README's queries run; the engine is named, and answers where
//! Elasticsearch and OpenSearch differ as the client expects.
//!
//! Every test writes its own indices (a random alias, template and checkpoints
//! index) and deletes them.

// Test code: a failed unwrap is a failed test, and amounts read as units_cents.
#![allow(clippy::unwrap_used, clippy::inconsistent_digit_grouping)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ledgerstream_infra::Service;
use ledgerstream_projections::checkpoint::Checkpoint;
use ledgerstream_projections::history::{Engine, HistoryDocument, HistorySink, engine, template};
use ledgerstream_projections::{ProjectionMetrics, Sink, SourcedEvent};
use ledgerstream_runtime::dead_letters::headers as dlq;
use ledgerstream_schemas::records::{
    AccountClosed, AccountOpened, AccountType, Channel, EventRecord, MoneyDeposited,
    MoneyWithdrawn, TransferDebited,
};
use ledgerstream_tests::history::HistoryIndex;
use ledgerstream_tests::log::{metadata, wait_for_the_processor};
use ledgerstream_tests::pipeline::{Pipeline, ProcessorChild, kill_three_times_mid_flush};
use ledgerstream_tests::workload::{PacedSend, mix, opens};
use ledgerstream_tests::{require, unique_name};
use serde_json::{Value, json};

const ACCOUNTS: usize = 30;

/// A movement as the test reads it off an event, independently of the sink's
/// mapping: (account, version, movement, amount, net, balance after,
/// counterparty).
type Movement = (String, u64, &'static str, i64, i64, i64, Option<String>);

fn movement(event: &EventRecord) -> Option<Movement> {
    let meta = event.metadata();
    let at = |kind, amount, net, after, counterparty: Option<&String>| {
        Some((
            meta.account_id.clone(),
            meta.version as u64,
            kind,
            amount,
            net,
            after,
            counterparty.cloned(),
        ))
    };
    match event {
        EventRecord::AccountOpened(e) if e.initial_deposit_minor > 0 => at(
            "CREDIT",
            e.initial_deposit_minor,
            e.initial_deposit_minor,
            e.balance_after_minor,
            None,
        ),
        EventRecord::AccountOpened(_) | EventRecord::AccountClosed(_) => None,
        EventRecord::MoneyDeposited(e) => at(
            "CREDIT",
            e.amount_minor,
            e.amount_minor,
            e.balance_after_minor,
            None,
        ),
        EventRecord::MoneyWithdrawn(e) => at(
            "DEBIT",
            e.amount_minor,
            -e.amount_minor - e.fee_minor,
            e.balance_after_minor,
            None,
        ),
        EventRecord::TransferDebited(e) => at(
            "TRANSFER_OUT",
            e.amount_minor,
            -e.amount_minor - e.fee_minor,
            e.balance_after_minor,
            Some(&e.to_account_id),
        ),
        EventRecord::TransferCredited(e) => at(
            "TRANSFER_IN",
            e.amount_minor,
            e.amount_minor,
            e.balance_after_minor,
            Some(&e.from_account_id),
        ),
        EventRecord::TransferRefunded(e) => at(
            "CREDIT",
            e.amount_minor,
            e.amount_minor + e.fee_minor,
            e.balance_after_minor,
            Some(&e.to_account_id),
        ),
    }
}

/// What the log says: every money movement by event id; per account, the last
/// balance and the last version.
#[derive(Debug, Default)]
struct Fold {
    movements: HashMap<String, Movement>,
    balances: BTreeMap<String, i64>,
    last_versions: BTreeMap<String, u64>,
    events: usize,
    event_ids: HashSet<String>,
}

async fn fold_the_log(pipeline: &Pipeline) -> Fold {
    let records = pipeline.read_all(&pipeline.topics.events);
    let mut fold = Fold::default();
    for (_, event) in pipeline.decode::<EventRecord>(&records).await {
        let meta = event.metadata();
        fold.events += 1;
        fold.event_ids.insert(meta.event_id.clone());
        fold.last_versions
            .insert(meta.account_id.clone(), meta.version as u64);
        if let Some(moved) = movement(&event) {
            fold.balances.insert(moved.0.clone(), moved.5);
            fold.movements.insert(meta.event_id.clone(), moved);
        }
    }
    fold
}

/// Documents at or past their partition's checkpoint: written by a batch whose
/// checkpoint is not (a flush in progress).
async fn written_past_the_checkpoints(set: &HistoryIndex, partitions: i32) -> bool {
    let checkpoints = set.checkpoints().await;
    let past: Vec<Value> = (0..partitions)
        .map(|partition| {
            let from = checkpoints.get(&partition).copied().unwrap_or(0);
            json!({ "bool": { "filter": [
                { "term": { "source_partition": partition } },
                { "range": { "source_offset": { "gte": from } } },
            ] } })
        })
        .collect();
    let found = set
        .count(json!({ "bool": { "should": past, "minimum_should_match": 1 } }))
        .await;
    // The checkpoints did not move while the documents were counted.
    found > 0 && set.checkpoints().await == checkpoints
}

/// `ledgerstream project history` for `set`, in the pipeline's group.
async fn start_projector(
    pipeline: &Pipeline,
    set: &HistoryIndex,
    extra: &[&str],
) -> ProcessorChild {
    let group = format!("projector{}", pipeline.suffix);
    let mut args = vec!["history", "--group", &group];
    let flags = set.flags();
    args.extend(flags.iter().map(String::as_str));
    args.extend_from_slice(extra);
    pipeline.project("projector", &args).await
}

#[tokio::test(flavor = "multi_thread")]
async fn after_random_commands_and_three_kills_the_history_equals_a_fold_of_the_log() {
    let pipeline = Arc::new(Pipeline::new(3).await);
    let set = HistoryIndex::new().await;
    let _processor = pipeline
        .processor("processor", &["--batch-commands", "200"])
        .await;
    // Small bulk requests, two in flight: documents of a batch become visible
    // while the rest of it is still being written, so kills land mid-flush.
    let flags = [
        "--batch-rows",
        "300",
        "--batch-millis",
        "100",
        "--history-bulk-documents",
        "40",
    ];
    let mut projector = start_projector(&pipeline, &set, &flags).await;

    for open in &opens(ACCOUNTS) {
        pipeline.sender.send(open).await.expect("send");
    }
    // About 400 commands a second: the projector flushes all along.
    let sender = PacedSend::start(&pipeline, mix(3_000, ACCOUNTS));

    let mid_flush = kill_three_times_mid_flush(
        &mut projector,
        &sender,
        || written_past_the_checkpoints(&set, 3),
        || start_projector(&pipeline, &set, &flags),
    )
    .await;
    sender.finish().await;
    println!("{mid_flush} of 3 kills landed between a batch's documents and its checkpoint");
    assert!(mid_flush >= 1, "no kill landed mid-flush");

    wait_for_the_processor(&pipeline).await;
    let fold = fold_the_log(&pipeline).await;
    assert_eq!(
        fold.event_ids.len(),
        fold.events,
        "the log itself has no duplicate event"
    );
    assert!(
        fold.movements.len() > 2_000,
        "too few movements to prove much: {}",
        fold.movements.len()
    );
    set.wait_until_projected(fold.movements.len(), &projector)
        .await;

    // One document per movement, by event id, as the log says.
    let documents = set.documents().await;
    assert_eq!(
        documents.len(),
        fold.movements.len(),
        "documents and movements"
    );
    let mut by_account: BTreeMap<String, Vec<&HistoryDocument>> = BTreeMap::new();
    for document in &documents {
        let expected = fold
            .movements
            .get(&document.event_id)
            .unwrap_or_else(|| panic!("no movement in the log for {document:?}"));
        let found = (
            document.account_id.clone(),
            document.version,
            serde_json::to_value(document.movement).unwrap(),
            document.amount_minor,
            document.net_minor,
            document.balance_after_minor,
            document.counterparty_account_id.clone(),
        );
        assert_eq!(
            (
                found.0, found.1, found.2, found.3, found.4, found.5, found.6
            ),
            (
                expected.0.clone(),
                expected.1,
                json!(expected.2),
                expected.3,
                expected.4,
                expected.5,
                expected.6.clone()
            ),
            "document {}",
            document.event_id
        );
        by_account
            .entry(document.account_id.clone())
            .or_default()
            .push(document);
    }

    // Each account's history is a statement: from 0, every balance after is the
    // one before plus the movement, and the last is the log's balance.
    let mut balances = BTreeMap::new();
    for (account_id, history) in &mut by_account {
        history.sort_by_key(|d| d.version);
        let mut balance = 0;
        for document in history.iter() {
            assert_eq!(
                balance + document.net_minor,
                document.balance_after_minor,
                "{account_id} at version {}",
                document.version
            );
            balance = document.balance_after_minor;
        }
        balances.insert(account_id.clone(), balance);
    }
    assert_eq!(
        balances, fold.balances,
        "the statements end at the log's balances"
    );

    // Every account's latest document is its last event (no account was closed).
    let answer = set
        .search(json!({ "size": 0, "aggs": { "accounts": {
            "terms": { "field": "account_id", "size": 1000 },
            "aggs": { "last": { "max": { "field": "version" } } },
        } } }))
        .await;
    let latest: BTreeMap<String, u64> = answer["aggregations"]["accounts"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["key"].as_str().unwrap().to_owned(),
                b["last"]["value"].as_f64().unwrap() as u64,
            )
        })
        .collect();
    assert_eq!(
        latest, fold.last_versions,
        "latest history version per account"
    );

    // The documents may all come from the projectors before the last kill: the
    // last one writes its first batch once the group has handed it the killed
    // member's partitions and it has read on from their checkpoints.
    let lines = [
        "ledgerstream_projection_end_to_end_seconds_count{projection=\"history\"}",
        "ledgerstream_projection_batch_seconds_count{projection=\"history\"}",
        "ledgerstream_projection_rows_written_total{projection=\"history\",table=\"transaction-history\"}",
    ];
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let metrics = projector.metrics().await;
        let missing: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|line| !metrics.contains(line))
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{missing:?} missing 90 s after the documents were all written:\n{metrics}\nlog:\n{}",
            projector.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    projector.assert_clean_exit(Duration::from_secs(10));
}

fn opened(account_id: &str) -> EventRecord {
    AccountOpened {
        metadata: metadata(account_id, 1),
        owner_id: "owner-x".to_owned(),
        account_type: AccountType::Savings,
        currency: "EUR".to_owned(),
        initial_deposit_minor: 100_00,
        balance_after_minor: 100_00,
    }
    .into()
}

fn deposit(account_id: &str, version: i64, after: i64, reference: Option<&str>) -> EventRecord {
    MoneyDeposited {
        metadata: metadata(account_id, version),
        amount_minor: 5_00,
        currency: "EUR".to_owned(),
        balance_after_minor: after,
        reference: reference.map(str::to_owned),
    }
    .into()
}

/// The metric lines of `name` for the history projection.
fn metric(metrics: &str, name: &str) -> Vec<String> {
    metrics
        .lines()
        .filter(|l| l.starts_with(name) && l.contains("projection=\"history\""))
        .map(str::to_owned)
        .collect()
}

/// The index is made before the projector starts, with a mapping that copies a
/// deposit's reference into `amount_minor` (a long): the server refuses every
/// document with a reference, and only those. The start-up check compares field
/// types, which agree, so the projector starts.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_document_is_dead_lettered_and_a_duplicate_is_a_success() {
    let pipeline = Pipeline::new(1).await;
    let set = HistoryIndex::new().await;
    let mut mappings = template::mappings();
    mappings["properties"]["reference"]["copy_to"] = json!("amount_minor");
    set.request(
        reqwest::Method::PUT,
        &set.indices.concrete,
        Some(json!({ "mappings": mappings })),
    )
    .await;

    let topic = pipeline.topics.events.clone();
    let refused = deposit("acc-x", 2, 105_00, Some("rent"));
    let third = deposit("acc-x", 3, 110_00, None);
    pipeline.produce_raw(&topic, 0, "acc-x", b"{\"not\":\"avro\"}");
    let mut payloads = Vec::new();
    for event in [opened("acc-x"), refused, third.clone(), third] {
        let payload = pipeline.codec.encode(&event).expect("encode");
        pipeline.produce_raw(&topic, 0, "acc-x", &payload);
        payloads.push(payload);
    }

    let mut projector = start_projector(&pipeline, &set, &["--batch-millis", "50"]).await;
    set.wait_until_projected(2, &projector).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while set.checkpoints().await.get(&0) != Some(&5) {
        assert!(
            Instant::now() < deadline,
            "checkpoint not at 5: {:?}\n{}",
            set.checkpoints().await,
            projector.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let versions: Vec<u64> = set.documents().await.iter().map(|d| d.version).collect();
    let mut versions = versions;
    versions.sort_unstable();
    assert_eq!(versions, [1, 3], "the opening and the third event, once");

    let letters = pipeline.read_all(&pipeline.topics.dead_letters);
    assert_eq!(letters.len(), 2, "two dead letters: {letters:?}");
    let by_offset: BTreeMap<&str, _> = letters
        .iter()
        .map(|l| (l.headers[dlq::OFFSET].as_str(), l))
        .collect();
    let garbage = by_offset["0"];
    assert_eq!(garbage.headers[dlq::ERROR_CLASS], "bad-magic");
    let letter = by_offset["2"];
    assert_eq!(letter.headers[dlq::TOPIC], topic);
    assert_eq!(letter.headers[dlq::ERROR_CLASS], "mapping");
    assert_eq!(letter.headers[dlq::COMPONENT], "projection-history");
    assert!(
        letter.headers[dlq::ERROR_MESSAGE].contains("amount_minor"),
        "{:?}",
        letter.headers
    );
    assert_eq!(
        letter.payload, payloads[1],
        "the record goes as it was read"
    );
    assert_eq!(letter.key.as_deref(), Some("acc-x"));

    let metrics = projector.metrics().await;
    for (name, value) in [
        ("ledgerstream_projection_duplicates_skipped_total", "1"),
        ("ledgerstream_projection_checkpoint_offset", "5"),
    ] {
        let lines = metric(&metrics, name);
        assert!(
            lines.iter().any(|l| l.ends_with(&format!(" {value}"))),
            "{name} {value}: {lines:?}"
        );
    }
    let events = metric(&metrics, "ledgerstream_projection_events_total");
    assert!(
        events.contains(
            &"ledgerstream_projection_events_total{outcome=\"dead-lettered\",projection=\"history\"} 2"
                .to_owned()
        ) && events.contains(
            &"ledgerstream_projection_events_total{outcome=\"projected\",projection=\"history\"} 3"
                .to_owned()
        ),
        "{events:?}"
    );
    assert!(
        metrics.contains("ledgerstream_dead_letters_total{class=\"mapping\",source=\""),
        "{metrics}"
    );
    let status = projector.terminate(Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}\n{}",
        projector.log_tail()
    );

    // Started again, it resumes from its checkpoint (nothing is read twice) and
    // goes on with what comes next.
    let mut again = start_projector(&pipeline, &set, &["--batch-millis", "50"]).await;
    let next = deposit("acc-x", 4, 115_00, None);
    pipeline.produce_raw(&topic, 0, "acc-x", &pipeline.codec.encode(&next).unwrap());
    set.wait_until_projected(3, &again).await;
    let metrics = again.metrics().await;
    assert_eq!(
        metric(&metrics, "ledgerstream_projection_events_total"),
        ["ledgerstream_projection_events_total{outcome=\"projected\",projection=\"history\"} 1"],
        "only the new event was read"
    );
    again.terminate(Duration::from_secs(10));
}

fn sourced(partition: i32, offset: i64, event: EventRecord) -> SourcedEvent {
    SourcedEvent {
        partition,
        offset,
        event,
    }
}

/// One account's life as the rules allow it: opened, a deposit, a withdrawal (no
/// fee from a checking account), a transfer of all that is left but its 2.00 fee,
/// closed at zero.
fn some_events(account_id: &str) -> Vec<EventRecord> {
    let transfer = TransferDebited {
        metadata: metadata(account_id, 4),
        transfer_id: "t-1".to_owned(),
        to_account_id: "acc-2".to_owned(),
        amount_minor: 93_00,
        currency: "EUR".to_owned(),
        fee_minor: 2_00,
        balance_after_minor: 0,
        reference: Some("rent for march".to_owned()),
    };
    let withdrawal = MoneyWithdrawn {
        metadata: metadata(account_id, 3),
        amount_minor: 10_00,
        currency: "EUR".to_owned(),
        fee_minor: 0,
        balance_after_minor: 95_00,
        reference: None,
        channel: Channel::Atm,
    };
    vec![
        opened(account_id),
        deposit(account_id, 2, 105_00, Some("salary")),
        withdrawal.into(),
        transfer.into(),
        AccountClosed {
            metadata: metadata(account_id, 5),
            reason: None,
        }
        .into(),
    ]
}

/// The sink on its own: set-up is idempotent, a second write of the same events
/// is answered 409 and counts as done, checkpoints outlive the sink, and an
/// index made again starts from the beginning of the log.
#[tokio::test(flavor = "multi_thread")]
async fn writing_twice_changes_nothing_and_checkpoints_outlive_the_sink() {
    let set = HistoryIndex::new().await;
    let metrics = ProjectionMetrics::new();
    let (mut sink, prepared) = HistorySink::connect(&set.config, metrics.clone())
        .await
        .expect("first start");
    assert!(prepared.created);
    assert_eq!(
        prepared.alias_targets,
        std::slice::from_ref(&set.indices.concrete)
    );
    let (_, again) = HistorySink::connect(&set.config, metrics.clone())
        .await
        .expect("second start");
    assert!(!again.created && again.added_fields.is_empty(), "{again:?}");
    assert_eq!(again.uuid, prepared.uuid);

    let events = some_events("acc-1");
    let mut batch = Default::default();
    for (offset, event) in events.iter().enumerate() {
        sink.add(&mut batch, sourced(1, offset as i64, event.clone()))
            .expect("add");
    }
    let written = sink.write(&batch).await.expect("write");
    assert_eq!(
        written.rows,
        [("transaction-history", 4)],
        "the close moves no money"
    );
    assert!(written.refused.is_empty());

    // A sink that knows nothing of the first write: every document is a 409.
    let (mut fresh, _) = HistorySink::connect(&set.config, metrics.clone())
        .await
        .expect("third start");
    let written = fresh.write(&batch).await.expect("write again");
    assert_eq!(written.rows, [("transaction-history", 0)]);
    let skipped = metrics
        .duplicates_skipped
        .with_label_values(&["history"])
        .get();
    assert_eq!(skipped, 4);
    let documents = set.documents().await;
    let expected: Vec<HistoryDocument> = events
        .iter()
        .enumerate()
        .filter_map(|(offset, e)| {
            HistoryDocument::from_event(sourced(1, offset as i64, e.clone())).unwrap()
        })
        .collect();
    let by_id = |docs: &[HistoryDocument]| -> BTreeMap<String, HistoryDocument> {
        docs.iter()
            .map(|d| (d.event_id.clone(), d.clone()))
            .collect()
    };
    assert_eq!(by_id(&documents), by_id(&expected));

    // Checkpoints: saved by one sink, loaded by the next; never backwards.
    let topic = "account-events-test";
    let saved = [
        Checkpoint::start(0)
            .advance(120, Some(1_763_700_000_000), 1)
            .unwrap(),
        Checkpoint::start(1).advance(7, None, 2).unwrap(),
    ];
    sink.save_checkpoints(topic, &saved).await.expect("save");
    let behind = [saved[0].advance(120, None, 3).unwrap()];
    sink.save_checkpoints(topic, &behind)
        .await
        .expect("the same offset again is fine");
    let mut stale = saved[0];
    stale.next_offset = 100;
    sink.save_checkpoints(topic, &[stale])
        .await
        .expect("a stale checkpoint is skipped, not an error");
    let (mut restarted, _) = HistorySink::connect(&set.config, metrics.clone())
        .await
        .expect("restart");
    let mut loaded = restarted
        .load_checkpoints(topic, &[0, 1, 2])
        .await
        .expect("load");
    loaded.sort_by_key(|c| c.partition);
    assert_eq!(
        loaded
            .iter()
            .map(|c| (c.partition, c.next_offset))
            .collect::<Vec<_>>(),
        [(0, 120), (1, 7), (2, 0)],
        "a partition never written starts at the beginning"
    );
    assert_eq!(loaded[0].last_event_at_ms, 1_763_700_000_000);

    // The index deleted and made again: its checkpoints are not its own.
    set.request(reqwest::Method::DELETE, &set.indices.concrete, None)
        .await;
    let (mut recreated, prepared) = HistorySink::connect(&set.config, metrics)
        .await
        .expect("start on a new index");
    assert!(prepared.created);
    let loaded = recreated
        .load_checkpoints(topic, &[0, 1])
        .await
        .expect("load");
    assert!(
        loaded.iter().all(|c| c.next_offset == 0),
        "a new index replays from the start: {loaded:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_engine_is_named_and_answers_where_engines_differ_as_the_client_expects() {
    let set = HistoryIndex::new().await;
    let (sink, _) = HistorySink::connect(&set.config, ProjectionMetrics::new())
        .await
        .expect("start");
    // OpenSearch locally, Elasticsearch under docker-compose: named either way.
    println!("engine: {}", sink.engine());
    assert!(
        matches!(
            sink.engine(),
            Engine::OpenSearch { .. } | Engine::Elasticsearch { .. }
        ),
        "{}",
        sink.engine()
    );

    // An alias swap whose remove finds no alias is refused as a whole: the
    // add in the same request does not happen either.
    let concrete = &set.indices.concrete;
    let absent = format!("{}-absent", set.indices.alias);
    let elsewhere = format!("{}-elsewhere", set.indices.alias);
    let (status, answer) = set
        .call(
            reqwest::Method::POST,
            "_aliases",
            Some(json!({ "actions": [
            engine::remove_alias(concrete, &absent),
            { "add": { "index": concrete, "alias": &elsewhere } },
        ] })),
        )
        .await;
    assert_eq!(status, 404, "{answer}");
    let (status, _) = set
        .call(
            reqwest::Method::POST,
            "_aliases",
            Some(json!({ "actions": [
        engine::remove_alias(concrete, &set.indices.alias),
        { "add": { "index": concrete, "alias": &set.indices.alias } },
    ] })),
        )
        .await;
    assert_eq!(
        status, 200,
        "an alias that is there is removed and added back"
    );
    let aliases = set
        .request(reqwest::Method::GET, &format!("{concrete}/_alias"), None)
        .await;
    assert_eq!(
        aliases[concrete.as_str()]["aliases"]
            .as_object()
            .map(|a| a.keys().cloned().collect::<Vec<_>>()),
        Some(vec![set.indices.alias.clone()]),
        "{aliases}"
    );

    // A value the mapping cannot take, and a field it lacks: mapping errors,
    // whatever this engine calls them.
    let bulk = format!(
        "{}\n{}\n{}\n{}\n",
        json!({ "index": { "_index": concrete, "_id": "bad-type" } }),
        json!({ "amount_minor": "a lot" }),
        json!({ "index": { "_index": concrete, "_id": "bad-field" } }),
        json!({ "no_such_field": 1 }),
    );
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/_bulk", set.url))
        .header("content-type", "application/x-ndjson")
        .body(bulk)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .expect("bulk")
        .json()
        .await
        .expect("a bulk answer");
    let types: Vec<&str> = answer["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["index"]["error"]["type"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(types.len(), 2, "{answer}");
    assert!(
        types.iter().all(|t| engine::is_mapping_error(t)),
        "{types:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn clickhouse_and_history_run_in_one_process() {
    use ledgerstream_projections::clickhouse::{ClickHouseConfig, client, schema};

    let pipeline = Pipeline::new(1).await;
    let set = HistoryIndex::new().await;
    let clickhouse = require(Service::ClickHouse).await;
    let table_suffix = unique_name("t");
    let mut tables_config = ClickHouseConfig::new(clickhouse.address);
    tables_config.table_suffix = table_suffix.clone();
    let (ch, tables) = (client(&tables_config), tables_config.tables());

    let topic = pipeline.topics.events.clone();
    for event in [opened("acc-y"), deposit("acc-y", 2, 105_00, Some("salary"))] {
        pipeline.produce_raw(&topic, 0, "acc-y", &pipeline.codec.encode(&event).unwrap());
    }
    let group = format!("projector{}", pipeline.suffix);
    let mut args = vec![
        "clickhouse",
        "history",
        "--group",
        &group,
        "--table-suffix",
        &table_suffix,
        "--batch-millis",
        "50",
    ];
    let flags = set.flags();
    args.extend(flags.iter().map(String::as_str));
    let mut projector = pipeline.project("projector", &args).await;
    set.wait_until_projected(2, &projector).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let rows: u64 = ch
            .query("SELECT count() FROM ? FINAL")
            .bind(clickhouse::sql::Identifier(&tables.events))
            .fetch_one()
            .await
            .expect("count");
        if rows == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "{rows} rows in ClickHouse");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let health = reqwest::get(format!("http://127.0.0.1:{}/health", projector.port))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        health.contains("clickhouse: ready") && health.contains("history: ready"),
        "{health}"
    );
    let status = projector.terminate(Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}\n{}",
        projector.log_tail()
    );
    schema::drop_all(&ch, &tables)
        .await
        .expect("drop the tables");
}

/// One `curl` example of docs/history.md: its method, path and body.
#[derive(Debug)]
struct Example {
    method: reqwest::Method,
    path: String,
    body: Option<Value>,
}

/// The `curl` examples of docs/history.md (every command in a `sh` block;
/// continuation lines joined).
fn doc_examples() -> Vec<Example> {
    let section =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/history.md"))
            .expect("docs/history.md");
    let mut examples = Vec::new();
    for block in section.split("```sh\n").skip(1) {
        let block = block.split("```").next().unwrap_or_default();
        let joined = block.replace("\\\n", " ");
        for line in joined
            .lines()
            .filter(|l| l.trim_start().starts_with("curl "))
        {
            let method = if line.contains("-XPOST") || line.contains("-d '") {
                reqwest::Method::POST
            } else if line.contains("-XPUT") {
                reqwest::Method::PUT
            } else {
                reqwest::Method::GET
            };
            let url = line.split('"').nth(1).expect("a quoted URL");
            let path = url
                .split_once("9200/")
                .map(|(_, path)| path.to_owned())
                .unwrap_or_else(|| panic!("a URL on port 9200: {url}"));
            let body = line
                .split_once("-d '")
                .map(|(_, rest)| rest.rsplit_once('\'').expect("a closing quote").0)
                .map(|text| {
                    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
                });
            examples.push(Example { method, path, body });
        }
    }
    examples
}

/// Every search of docs/history.md runs on this
/// server, on documents written by the sink, and finds them.
#[tokio::test(flavor = "multi_thread")]
async fn the_readme_queries_run() {
    let set = HistoryIndex::new().await;
    let (mut sink, _) = HistorySink::connect(&set.config, ProjectionMetrics::new())
        .await
        .expect("connect");
    let mut batch = Default::default();
    for (offset, event) in some_events("acc-001").into_iter().enumerate() {
        sink.add(&mut batch, sourced(0, offset as i64, event))
            .expect("add");
    }
    sink.write(&batch).await.expect("write");
    let checkpoint = Checkpoint::start(0).advance(5, None, 1).unwrap();
    sink.save_checkpoints("account-events", &[checkpoint])
        .await
        .expect("save a checkpoint");

    let examples = doc_examples();
    let searches: Vec<&Example> = examples
        .iter()
        .filter(|e| e.path.contains("/_search") || e.path.contains("/_count"))
        .collect();
    assert!(searches.len() >= 8, "{} searches found", searches.len());
    let ours = |text: &str| {
        text.replace(
            "ledgerstream-projection-checkpoints",
            &set.indices.checkpoints,
        )
        .replace("transaction-history", &set.indices.alias)
    };
    for example in searches {
        let path = ours(&example.path);
        let body = example
            .body
            .as_ref()
            .map(|body| serde_json::from_str(&ours(&body.to_string())).unwrap());
        if path.starts_with(&set.indices.checkpoints) {
            // Checkpoints are searchable after a refresh, as an operator would see.
            let refresh = format!("{}/_refresh", set.indices.checkpoints);
            set.request(reqwest::Method::POST, &refresh, None).await;
        }
        let answer = set.request(example.method.clone(), &path, body).await;
        let found = answer["count"].as_u64().unwrap_or(0)
            + answer["hits"]["total"]["value"].as_u64().unwrap_or(0);
        // Deep pages and dates relative to now find nothing in these documents.
        let text = example
            .body
            .as_ref()
            .map(Value::to_string)
            .unwrap_or_default();
        let may_be_empty = text.contains("\"from\"") || text.contains("now-");
        assert!(
            found > 0 || may_be_empty,
            "docs/history.md example {} found nothing: {answer}",
            example.path
        );
    }
}
