//! Each local service is real and reachable from Rust through the crates the
//! pipeline is built on. A missing service fails its test with a message that says
//! how to start it (`make up`).

// Test code: a failed unwrap is a failed test, and amounts read as units_cents.
#![allow(clippy::unwrap_used, clippy::inconsistent_digit_grouping)]

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use clickhouse::sql::Identifier;
use elasticsearch::http::transport::Transport;
use elasticsearch::indices::{IndicesCreateParts, IndicesDeleteParts};
use elasticsearch::params::Refresh;
use elasticsearch::{BulkOperation, BulkParts, Elasticsearch, SearchParts};
use ledgerstream_infra::Service;
use ledgerstream_tests::{delete_topics, require, unique_name};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use serde_json::json;

const KAFKA_TIMEOUT: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread")]
async fn kafka_produce_and_consume_through_a_group_with_committed_offsets() {
    let broker = require(Service::Broker).await;
    let topic = unique_name("smoke");
    let partitions = 3;
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &broker.address);

    let admin: AdminClient<DefaultClientContext> = config.create().expect("admin client");
    let options = AdminOptions::new().operation_timeout(Some(KAFKA_TIMEOUT));
    let created = admin
        .create_topics(
            &[NewTopic::new(
                &topic,
                partitions,
                TopicReplication::Fixed(1),
            )],
            &options,
        )
        .await
        .expect("create_topics request");
    assert!(
        created.iter().all(Result::is_ok),
        "creating {topic}: {created:?}"
    );

    // Produce: 30 messages over 7 keys, each delivery reports where it landed.
    let producer: FutureProducer = config
        .clone()
        .set("enable.idempotence", "true")
        .create()
        .expect("producer");
    let mut sent: HashMap<String, (i32, i64)> = HashMap::new();
    let mut partition_of_key: HashMap<String, i32> = HashMap::new();
    for i in 0..30 {
        let key = format!("account-{}", i % 7);
        let payload = format!("event-{i}");
        let delivery = producer
            .send(
                FutureRecord::to(&topic).key(&key).payload(&payload),
                KAFKA_TIMEOUT,
            )
            .await
            .unwrap_or_else(|(error, _)| panic!("producing {payload} to {topic}: {error}"));
        let previous = partition_of_key.insert(key.clone(), delivery.partition);
        assert!(
            previous.is_none_or(|p| p == delivery.partition),
            "{key} went to partitions {previous:?} and {}",
            delivery.partition
        );
        sent.insert(payload, (delivery.partition, delivery.offset));
    }

    // Consume through a group, committing only what was read.
    let group = unique_name("smoke-group");
    let consumer: StreamConsumer = config
        .clone()
        .set("group.id", &group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .create()
        .expect("consumer");
    consumer.subscribe(&[&topic]).expect("subscribe");
    let mut next_offset: BTreeMap<i32, i64> = BTreeMap::new();
    let mut received = 0;
    while received < sent.len() {
        let message = tokio::time::timeout(KAFKA_TIMEOUT, consumer.recv())
            .await
            .unwrap_or_else(|_| panic!("only {received} of {} messages arrived", sent.len()))
            .expect("consume");
        let payload = String::from_utf8(message.payload().expect("payload").to_vec()).unwrap();
        let at = (message.partition(), message.offset());
        assert_eq!(
            sent.get(&payload),
            Some(&at),
            "{payload} read back from another place"
        );
        next_offset.insert(message.partition(), message.offset() + 1);
        received += 1;
    }
    let mut commit = TopicPartitionList::new();
    for (&partition, &offset) in &next_offset {
        commit
            .add_partition_offset(&topic, partition, Offset::Offset(offset))
            .unwrap();
    }
    consumer
        .commit(&commit, CommitMode::Sync)
        .expect("commit offsets");

    // The committed offsets and the watermarks both account for every message.
    tokio::task::block_in_place(|| {
        let committed = consumer
            .committed(KAFKA_TIMEOUT)
            .expect("committed offsets");
        let mut total = 0;
        for partition in 0..partitions {
            let (low, high) = consumer
                .fetch_watermarks(&topic, partition, KAFKA_TIMEOUT)
                .expect("watermarks");
            let delivered = sent.values().filter(|(p, _)| *p == partition).count() as i64;
            assert_eq!(
                (low, high),
                (0, delivered),
                "watermarks of {topic}/{partition}"
            );
            let offset = committed
                .find_partition(&topic, partition)
                .map(|elem| elem.offset())
                .unwrap_or(Offset::Invalid);
            let expected = if delivered == 0 {
                Offset::Invalid
            } else {
                Offset::Offset(delivered)
            };
            assert_eq!(offset, expected, "committed offset of {topic}/{partition}");
            total += high;
        }
        assert_eq!(total, sent.len() as i64);
    });

    consumer.unsubscribe();
    drop(consumer);
    admin
        .delete_groups(&[&group], &options)
        .await
        .expect("DeleteGroups request");
    delete_topics(&broker.address, &[&topic]).await;
}

#[derive(Debug, PartialEq, clickhouse::Row, serde::Serialize, serde::Deserialize)]
struct Movement {
    id: u64,
    account: String,
    amount_minor: i64,
}

#[tokio::test]
async fn clickhouse_create_insert_select() {
    let endpoint = require(Service::ClickHouse).await;
    let client = clickhouse::Client::default()
        .with_url(&endpoint.address)
        .with_validation(false);
    let table = unique_name("smoke");
    client
        .query("CREATE TABLE ? (id UInt64, account String, amount_minor Int64) ENGINE = MergeTree ORDER BY id")
        .bind(Identifier(&table))
        .execute()
        .await
        .expect("create table");

    let rows: Vec<Movement> = (0..100)
        .map(|id| Movement {
            id,
            account: format!("acc-{}", id % 4),
            amount_minor: 250 * id as i64,
        })
        .collect();
    let mut insert = client.insert::<Movement>(&table).await.expect("insert");
    for row in &rows {
        insert.write(row).await.expect("write row");
    }
    insert.end().await.expect("end insert");

    let (count, sum) = client
        .query("SELECT count(), sum(amount_minor) FROM ?")
        .bind(Identifier(&table))
        .fetch_one::<(u64, i64)>()
        .await
        .expect("aggregate");
    assert_eq!(count, rows.len() as u64);
    assert_eq!(sum, rows.iter().map(|r| r.amount_minor).sum::<i64>());
    let back = client
        .query("SELECT ?fields FROM ? WHERE account = ? ORDER BY id")
        .bind(Identifier(&table))
        .bind("acc-1")
        .fetch_all::<Movement>()
        .await
        .expect("select rows");
    let expected: Vec<&Movement> = rows.iter().filter(|r| r.account == "acc-1").collect();
    assert_eq!(back.iter().collect::<Vec<_>>(), expected);

    client
        .query("DROP TABLE ?")
        .bind(Identifier(&table))
        .execute()
        .await
        .expect("drop table");
}

#[tokio::test]
async fn search_index_and_query_through_the_elasticsearch_client() {
    let endpoint = require(Service::Search).await;
    let client = Elasticsearch::new(Transport::single_node(&endpoint.address).expect("transport"));
    let index = unique_name("smoke");
    let created = client
        .indices()
        .create(IndicesCreateParts::Index(&index))
        .body(json!({"mappings": {"properties": {
            "account": {"type": "keyword"},
            "reference": {"type": "text"},
            "amount_minor": {"type": "long"},
        }}}))
        .send()
        .await
        .expect("create index");
    assert!(
        created.status_code().is_success(),
        "create index: {}",
        created.status_code()
    );

    let documents = [
        ("1", "acc-1", "rent for march", 120_000),
        ("2", "acc-1", "coffee", 450),
        ("3", "acc-2", "rent for march", 95_000),
    ];
    let operations: Vec<BulkOperation<_>> = documents
        .iter()
        .map(|(id, account, reference, amount)| {
            BulkOperation::index(json!({
                "account": account, "reference": reference, "amount_minor": amount,
            }))
            .id(*id)
            .into()
        })
        .collect();
    let bulk = client
        .bulk(BulkParts::Index(&index))
        .body(operations)
        .refresh(Refresh::WaitFor)
        .send()
        .await
        .expect("bulk");
    let bulk: serde_json::Value = bulk.json().await.expect("bulk answer");
    assert_eq!(bulk["errors"], json!(false), "bulk: {bulk}");

    let found = client
        .search(SearchParts::Index(&[&index]))
        .body(json!({"query": {"bool": {
            "must": [{"match": {"reference": "rent"}}],
            "filter": [{"term": {"account": "acc-1"}}],
        }}}))
        .send()
        .await
        .expect("search");
    let found: serde_json::Value = found.json().await.expect("search answer");
    let ids: Vec<&str> = found["hits"]["hits"]
        .as_array()
        .unwrap_or_else(|| panic!("no hits in {found}"))
        .iter()
        .filter_map(|hit| hit["_id"].as_str())
        .collect();
    assert_eq!(ids, ["1"], "search answered {found}");

    let deleted = client
        .indices()
        .delete(IndicesDeleteParts::Index(&[&index]))
        .send()
        .await
        .expect("delete index");
    assert!(
        deleted.status_code().is_success(),
        "delete index: {}",
        deleted.status_code()
    );
}

#[tokio::test]
async fn prometheus_scrapes_itself_and_knows_the_pipeline_jobs() {
    let endpoint = require(Service::Prometheus).await;
    let http = reqwest::Client::new();
    // A scrape happens every 5 s; a freshly started server may not have one yet.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let value = loop {
        let answer: serde_json::Value = http
            .get(format!("{}/api/v1/query", endpoint.address))
            .query(&[("query", r#"up{job="prometheus"}"#)])
            .send()
            .await
            .expect("query")
            .json()
            .await
            .expect("query answer");
        assert_eq!(answer["status"], "success", "{answer}");
        if let Some(value) = answer["data"]["result"][0]["value"][1].as_str() {
            break value.to_owned();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no sample of up after 30 s: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(value, "1", "Prometheus reports its own target down");

    let targets: serde_json::Value = http
        .get(format!("{}/api/v1/targets", endpoint.address))
        .send()
        .await
        .expect("targets")
        .json()
        .await
        .expect("targets answer");
    let jobs: Vec<&str> = targets["data"]["activeTargets"]
        .as_array()
        .unwrap_or_else(|| panic!("no active targets in {targets}"))
        .iter()
        .filter_map(|target| target["labels"]["job"].as_str())
        .collect();
    for job in [
        "ledgerstream-processor",
        "ledgerstream-projector",
        "ledgerstream-lag",
    ] {
        assert!(
            jobs.contains(&job),
            "Prometheus does not scrape {job}; it scrapes {jobs:?}"
        );
    }
}
