//! The ClickHouse projection end to end, on the real broker, registry, ClickHouse
//! and processor: thousands of random commands, the projector killed with SIGKILL
//! three times along the way, and at the end ClickHouse equal to a fold of the
//! event log — exactly, with no duplicate. Also: dead letters and version
//! anomalies on a hand-written log, and migrations applied once.
//!
//! Every test writes its own table set (a random table suffix) and drops it.

// Test code: a failed unwrap is a failed test, and amounts read as units_cents.
#![allow(clippy::unwrap_used, clippy::inconsistent_digit_grouping)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use clickhouse::sql::Identifier;
use ledgerstream_projections::ProjectionMetrics;
use ledgerstream_projections::clickhouse::{ClickHouseError, ClickHouseSink, schema};
use ledgerstream_runtime::dead_letters::headers as dlq;
use ledgerstream_schemas::records::{
    AccountOpened, AccountType, CommandRecord, EventRecord, MoneyDeposited,
};
use ledgerstream_tests::clickhouse::{Balance, TableSet, assert_equals_fold, wait_until_projected};
use ledgerstream_tests::log::{fold_the_log, metadata, wait_for_the_processor};
use ledgerstream_tests::pipeline::{Pipeline, kill_three_times_mid_flush};
use ledgerstream_tests::workload::{PacedSend, mix, opens};

const ACCOUNTS: usize = 30;

/// Whether rows beyond the checkpoints are written: a batch between its write
/// and its checkpoint (mid-flush).
async fn written_past_the_checkpoints(set: &TableSet) -> bool {
    let sql = "SELECT count() FROM ? \
               ANY INNER JOIN (SELECT kafka_partition AS source_partition, next_offset FROM ? FINAL) \
               USING source_partition WHERE source_offset >= next_offset";
    let rows = set
        .client
        .query(sql)
        .bind(Identifier(&set.tables.events))
        .bind(Identifier(&set.tables.checkpoints))
        .fetch_one::<u64>()
        .await
        .expect("rows past the checkpoints");
    rows > 0
}

#[tokio::test(flavor = "multi_thread")]
async fn after_random_commands_and_three_kills_clickhouse_equals_a_fold_of_the_log() {
    let pipeline = Arc::new(Pipeline::new(3).await);
    let set = TableSet::new().await;
    let _processor = pipeline
        .processor("processor", &["--batch-commands", "200"])
        .await;
    let projector_flags = ["--batch-rows", "300", "--batch-millis", "100"];
    let mut projector = pipeline
        .projector("projector", &set.suffix, &projector_flags)
        .await;

    let mut sent: Vec<CommandRecord> = opens(ACCOUNTS);
    for open in &sent {
        pipeline.sender.send(open).await.expect("send");
    }
    let load = mix(3_000, ACCOUNTS);
    sent.extend(load.iter().cloned());
    // About 400 commands a second: the projector flushes all along.
    let sender = PacedSend::start(&pipeline, load);

    let mid_flush = kill_three_times_mid_flush(
        &mut projector,
        &sender,
        || written_past_the_checkpoints(&set),
        || pipeline.projector("projector", &set.suffix, &projector_flags),
    )
    .await;
    sender.finish().await;
    println!("{mid_flush} of 3 kills landed between a batch's write and its checkpoint");
    assert!(mid_flush >= 1, "no kill landed mid-flush");

    wait_for_the_processor(&pipeline).await;
    let fold = fold_the_log(&pipeline).await;
    assert_eq!(
        fold.event_ids.len(),
        fold.events,
        "the log itself has no duplicate event"
    );
    assert!(
        fold.events > 2_000,
        "too few events to prove much: {}",
        fold.events
    );
    wait_until_projected(&set, &set.tables.events, fold.events, &projector).await;
    assert_equals_fold(&set, &set.tables, &fold).await;

    let metrics = projector.metrics().await;
    assert!(
        metrics.contains(
            "ledgerstream_projection_end_to_end_seconds_count{projection=\"clickhouse\"}"
        ),
        "{metrics}"
    );
    assert!(
        !metrics.contains("kind=\"gap\""),
        "no version gap on a log the processor wrote:\n{metrics}"
    );
    projector.assert_clean_exit(Duration::from_secs(10));
}

fn deposit(account_id: &str, version: i64, amount: i64, after: i64) -> EventRecord {
    MoneyDeposited {
        metadata: metadata(account_id, version),
        amount_minor: amount,
        currency: "EUR".to_owned(),
        balance_after_minor: after,
        reference: None,
    }
    .into()
}

/// A log no processor would write: garbage (once too large for a dead letter of
/// its own), a gap and a duplicate. The garbage is dead-lettered with its headers
/// (the large one truncated), the anomalies counted, the rest projected.
#[tokio::test(flavor = "multi_thread")]
async fn undecodable_events_are_dead_lettered_and_anomalies_counted() {
    let pipeline = Pipeline::new(1).await;
    let set = TableSet::new().await;
    let topic = pipeline.topics.events.clone();
    let opened: EventRecord = AccountOpened {
        metadata: metadata("acc-x", 1),
        owner_id: "owner-x".to_owned(),
        account_type: AccountType::Investment,
        currency: "EUR".to_owned(),
        initial_deposit_minor: 100_00,
        balance_after_minor: 100_00,
    }
    .into();
    let second = deposit("acc-x", 2, 5_00, 105_00);
    let log = [
        opened,
        second.clone(),
        second,                            // a duplicate
        deposit("acc-x", 4, 1_00, 106_00), // version 3 is missing: a gap
    ];
    pipeline.produce_raw(&topic, 0, "acc-x", b"{\"not\":\"avro\"}");
    for event in &log {
        pipeline.produce_raw(
            &topic,
            0,
            "acc-x",
            &pipeline.codec.encode(event).expect("encode"),
        );
    }
    let mut large = b"{\"not\":\"avro\",\"padding\":\"".to_vec();
    large.resize(1_000_005, b'x');
    pipeline.produce_raw(&topic, 0, "acc-x", &large);

    let mut projector = pipeline
        .projector("projector", &set.suffix, &["--batch-millis", "50"])
        .await;
    wait_until_projected(&set, &set.tables.events, 3, &projector).await;
    // A batch's balances are inserted after its events: wait for the last one's.
    let deadline = Instant::now() + Duration::from_secs(30);
    let balance = loop {
        let balance: Option<Balance> = set
            .client
            .query("SELECT ?fields FROM ? FINAL")
            .bind(Identifier(&set.tables.balances))
            .fetch_optional()
            .await
            .expect("balances");
        match balance {
            Some(balance) if balance.version == 4 => break balance,
            other if Instant::now() > deadline => panic!("balance after 30 s: {other:?}"),
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    assert_eq!(
        (
            balance.balance_minor,
            balance.version,
            balance.account_type.as_str()
        ),
        (106_00, 4, "INVESTMENT")
    );
    let owners: Vec<(String, String)> = set
        .client
        .query("SELECT owner_id, account_type FROM ? FINAL")
        .bind(Identifier(&set.tables.events))
        .fetch_all()
        .await
        .expect("owners");
    assert_eq!(owners.len(), 3);
    assert!(
        owners
            .iter()
            .all(|(o, t)| o == "owner-x" && t == "INVESTMENT"),
        "every row carries owner and type: {owners:?}"
    );

    let deadline = Instant::now() + Duration::from_secs(30);
    let mut letters = loop {
        let letters = pipeline.read_all(&pipeline.topics.dead_letters);
        if letters.len() >= 2 || Instant::now() > deadline {
            break letters;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    letters.sort_by_key(|l| l.headers[dlq::OFFSET].parse::<i64>().unwrap_or(-1));
    assert_eq!(
        letters.len(),
        2,
        "a dead letter for each garbage record, once"
    );
    let large = &letters[1];
    assert_eq!(large.headers[dlq::OFFSET], "5");
    assert_eq!(large.headers[dlq::TRUNCATED], "true");
    assert_eq!(large.headers[dlq::ORIGINAL_VALUE_BYTES], "1000005");
    assert_eq!(large.payload.len(), 64 * 1024);
    let letter = &letters[0];
    assert_eq!(letter.headers[dlq::TOPIC], topic);
    assert_eq!(letter.headers[dlq::OFFSET], "0");
    assert_eq!(letter.headers[dlq::ERROR_CLASS], "bad-magic");
    assert_eq!(letter.headers[dlq::COMPONENT], "projection-clickhouse");
    assert_eq!(
        letter.payload, b"{\"not\":\"avro\"}",
        "the record goes as it was"
    );

    let metrics = projector.metrics().await;
    for line in [
        "ledgerstream_projection_version_anomalies_total{kind=\"gap\",projection=\"clickhouse\"} 1",
        "ledgerstream_projection_version_anomalies_total{kind=\"duplicate\",projection=\"clickhouse\"} 1",
        "ledgerstream_dead_letters_total{class=\"bad-magic\",source=\"",
        "ledgerstream_projection_checkpoint_offset{partition=\"0\",projection=\"clickhouse\"} 6",
    ] {
        assert!(metrics.contains(line), "{line} missing:\n{metrics}");
    }
    let status = projector.terminate(Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}\n{}",
        projector.log_tail()
    );

    // Restarted, it resumes from its checkpoint: nothing is read twice.
    let mut again = pipeline.projector("projector", &set.suffix, &[]).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let metrics = again.metrics().await;
    assert!(
        !metrics.contains("ledgerstream_projection_events_total{"),
        "re-read after a clean stop:\n{metrics}"
    );
    again.terminate(Duration::from_secs(10));
}

#[derive(Debug, clickhouse::Row, serde::Serialize)]
struct Tampered {
    version: u32,
    name: String,
    checksum: u32,
    applied_at: u32,
}

#[tokio::test(flavor = "multi_thread")]
async fn migrations_apply_once_and_refuse_an_edited_one() {
    let set = TableSet::new().await;
    let metrics = ProjectionMetrics::new();
    let (_, first) = ClickHouseSink::connect(&set.config, metrics.clone())
        .await
        .expect("first start");
    assert_eq!(
        first,
        schema::MIGRATIONS
            .iter()
            .map(|m| m.version)
            .collect::<Vec<_>>()
    );
    let (_, second) = ClickHouseSink::connect(&set.config, metrics.clone())
        .await
        .expect("second start");
    assert!(
        second.is_empty(),
        "a second start applies nothing: {second:?}"
    );
    for table in set.tables.all() {
        let found: u64 = set
            .client
            .query(
                "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = ?",
            )
            .bind(table)
            .fetch_one()
            .await
            .expect("system.tables");
        assert_eq!(found, 1, "{table} exists");
    }

    // Migration 1 recorded with another checksum: as if its file had been edited.
    let mut insert = set
        .client
        .insert::<Tampered>(&set.tables.migrations)
        .await
        .expect("insert");
    insert
        .write(&Tampered {
            version: 1,
            name: "account_events".to_owned(),
            checksum: 1,
            applied_at: 2_000_000_000,
        })
        .await
        .expect("write");
    insert.end().await.expect("end");
    let error = ClickHouseSink::connect(&set.config, metrics)
        .await
        .expect_err("an edited migration");
    assert!(
        matches!(error, ClickHouseError::MigrationChanged { version: 1, .. }),
        "{error}"
    );
}

/// Every query of docs/clickhouse.md runs on this server, on
/// a table set written by the sink; the balance check finds nothing to report.
#[tokio::test(flavor = "multi_thread")]
async fn the_readme_queries_run() {
    use ledgerstream_projections::{Sink, SourcedEvent};

    let set = TableSet::new().await;
    let (mut sink, _) = ClickHouseSink::connect(&set.config, ProjectionMetrics::new())
        .await
        .expect("connect");
    let opened: EventRecord = AccountOpened {
        metadata: metadata("acc-001", 1),
        owner_id: "owner-1".to_owned(),
        account_type: AccountType::Checking,
        currency: "USD".to_owned(),
        initial_deposit_minor: 100_00,
        balance_after_minor: 100_00,
    }
    .into();
    let mut batch = Default::default();
    for (offset, event) in [opened, deposit("acc-001", 2, 5_00, 105_00)]
        .into_iter()
        .enumerate()
    {
        let sourced = SourcedEvent {
            partition: 0,
            offset: offset as i64,
            event,
        };
        sink.add(&mut batch, sourced).expect("add");
    }
    sink.write(&batch).await.expect("write");

    let section = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/clickhouse.md"
    ))
    .expect("docs/clickhouse.md");
    let mut queries = Vec::new();
    for block in section.split("```sql\n").skip(1) {
        let sql = block.split("```").next().unwrap_or_default();
        queries.extend(schema::split_statements(sql));
    }
    assert!(queries.len() >= 10, "{} queries found", queries.len());
    let bases = [
        ("account_type_daily_stats", &set.tables.type_daily_stats),
        ("account_daily_stats", &set.tables.daily_stats),
        ("account_events", &set.tables.events),
        ("account_balances", &set.tables.balances),
        ("projection_checkpoints", &set.tables.checkpoints),
    ];
    for query in &queries {
        // Whole words only: account_events must not match in account_events_x.
        let mut sql = String::new();
        for word in query.split_inclusive(|c: char| !(c.is_alphanumeric() || c == '_')) {
            let (name, rest) = word.split_at(
                word.trim_end_matches(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .len(),
            );
            match bases.iter().find(|(base, _)| *base == name) {
                Some((_, table)) => sql.push_str(table),
                None => sql.push_str(name),
            }
            sql.push_str(rest);
        }
        let rows = set
            .client
            .query(&sql.replace('?', "??"))
            .fetch_bytes("TSV")
            .expect("query")
            .collect()
            .await
            .unwrap_or_else(|e| panic!("docs/clickhouse.md query failed: {e}\n{query}"));
        if query.contains("WHERE balance_minor != net_minor") {
            assert!(
                rows.is_empty(),
                "the balance check found differences: {rows:?}"
            );
        }
    }
}
