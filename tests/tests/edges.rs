//! The processor at the edges of its contract: a poison record too large for its
//! own dead letter, a valid command near the broker's size limit, a producer that
//! partitions with another partitioner, and a rejected command sent again — also
//! after the processor lost its store.

// Test code: a failed unwrap is a failed test, and amounts read as units_cents.
#![allow(clippy::unwrap_used, clippy::inconsistent_digit_grouping)]

use std::time::{Duration, Instant};

use ledgerstream_producers::commands;
use ledgerstream_runtime::dead_letters::headers as dlq;
use ledgerstream_runtime::topics::partition_for;
use ledgerstream_schemas::records::{
    AccountType, Channel, CommandRecord, DepositMoney, EventRecord, ResultRecord,
};
use ledgerstream_tests::audit;
use ledgerstream_tests::ledgerstream_bin;
use ledgerstream_tests::log::wait_for_the_processor;
use ledgerstream_tests::pipeline::Pipeline;
use rdkafka::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

/// Every result of `command_id`, in log order of its partition.
async fn results_of(pipeline: &Pipeline, command_id: &str) -> Vec<ResultRecord> {
    let records = pipeline.read_all(&pipeline.topics.results);
    pipeline
        .decode::<ResultRecord>(&records)
        .await
        .into_iter()
        .map(|(_, result)| result)
        .filter(|result| match result {
            ResultRecord::CommandAccepted(a) => a.command_id == command_id,
            ResultRecord::CommandRejected(r) => r.command_id == command_id,
        })
        .collect()
}

/// Waits until `command_id` has `count` results; returns them.
async fn wait_results(pipeline: &Pipeline, command_id: &str, count: usize) -> Vec<ResultRecord> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let results = results_of(pipeline, command_id).await;
        if results.len() >= count {
            return results;
        }
        assert!(
            Instant::now() < deadline,
            "{command_id}: {} of {count} results after 60 s",
            results.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn rejection(result: &ResultRecord) -> (String, String) {
    match result {
        ResultRecord::CommandRejected(r) => (r.reason_code.clone(), r.message.clone()),
        ResultRecord::CommandAccepted(a) => panic!("expected a rejection, got {a:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_poison_record_is_dead_lettered_once_and_stops_nothing() {
    let pipeline = Pipeline::new(3).await;
    let processor = pipeline.processor("p", &[]).await;
    let accounts: Vec<String> = (0..6).map(|i| format!("acc-{i}")).collect();
    for account in &accounts {
        let open = commands::open_account(account, account, AccountType::Checking, 100_00, "USD");
        pipeline.sender.send(&open).await.unwrap();
    }
    // Magic byte 0, a real schema id, then a body of random bytes: 1,000,005 bytes.
    let real = pipeline
        .codec
        .encode(&commands::deposit("acc-big", 1_00, "USD"))
        .unwrap();
    let mut poison = real[..5].to_vec();
    let mut seed: u32 = 0x5EED;
    poison.extend((0..1_000_000).map(|_| {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        (seed >> 16) as u8
    }));
    let partition = partition_for(b"acc-big", pipeline.partitions);
    pipeline.produce_raw(&pipeline.topics.commands, partition, "acc-big", &poison);
    // Commands behind it on its partition, and on every other one.
    let deposits: Vec<CommandRecord> = accounts
        .iter()
        .map(|account| commands::deposit(account, 1_00, "USD"))
        .collect();
    for deposit in &deposits {
        pipeline.sender.send(deposit).await.unwrap();
    }
    for deposit in &deposits {
        let results = wait_results(&pipeline, deposit.command_id(), 1).await;
        assert!(matches!(results[0], ResultRecord::CommandAccepted(_)));
    }

    let letters = pipeline.read_all(&pipeline.topics.dead_letters);
    assert_eq!(letters.len(), 1, "one dead letter, written once");
    let letter = &letters[0];
    assert_eq!(letter.headers[dlq::TRUNCATED], "true");
    assert_eq!(letter.headers[dlq::ORIGINAL_VALUE_BYTES], "1000005");
    assert_eq!(letter.headers[dlq::PARTITION], partition.to_string());
    assert_eq!(letter.payload[..], poison[..letter.payload.len()]);
    assert!(letter.payload.len() < poison.len());
    let metrics = processor.metrics().await;
    assert!(
        metrics.contains("ledgerstream_processor_restarts_total 0"),
        "the processor never restarted:\n{}",
        processor.log_tail()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_valid_command_near_the_size_limit_is_answered_not_stalled() {
    let pipeline = Pipeline::new(1).await;
    let _processor = pipeline.processor("p", &[]).await;
    let open = commands::open_account("acc-ref", "o", AccountType::Checking, 100_00, "USD");
    pipeline.sender.send(&open).await.unwrap();
    let CommandRecord::DepositMoney(huge) = commands::deposit("acc-ref", 1_00, "USD") else {
        unreachable!()
    };
    let huge = CommandRecord::DepositMoney(DepositMoney {
        reference: Some("r".repeat(900_000)),
        ..huge
    });
    pipeline.sender.send(&huge).await.unwrap();
    let after = commands::deposit("acc-ref", 2_00, "USD");
    pipeline.sender.send(&after).await.unwrap();

    let (code, message) = rejection(&wait_results(&pipeline, huge.command_id(), 1).await[0]);
    assert_eq!(code, "FIELD_TOO_LONG");
    assert!(
        message.contains("reference") && message.contains("1024"),
        "{message}"
    );
    let results = wait_results(&pipeline, after.command_id(), 1).await;
    assert!(matches!(results[0], ResultRecord::CommandAccepted(_)));

    // One over the producer's own limit is refused before it is sent.
    let too_big = CommandRecord::DepositMoney(DepositMoney {
        reference: Some("r".repeat(1_000_000)),
        ..match commands::deposit("acc-ref", 1_00, "USD") {
            CommandRecord::DepositMoney(d) => d,
            _ => unreachable!(),
        }
    });
    assert!(pipeline.sender.send(&too_big).await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_producer_with_librdkafkas_default_partitioner_loses_no_money() {
    let pipeline = Pipeline::new(3).await;
    let processor = pipeline.processor("p", &[]).await;
    // librdkafka's default: consistent_random (CRC32 of the key), what the Python,
    // Go, C and .NET clients use unless told otherwise.
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &pipeline.broker.address)
        .set("partitioner", "consistent_random")
        .create()
        .unwrap();
    let send = |command: &CommandRecord| {
        let payload = pipeline.codec.encode(command).unwrap();
        producer
            .send(
                BaseRecord::to(&pipeline.topics.commands)
                    .key(command.account_id())
                    .payload(&payload),
            )
            .map_err(|(e, _)| e)
            .unwrap();
    };
    let accounts: Vec<String> = (0..30).map(|i| format!("cr-{i:02}")).collect();
    // Opened correctly, so that transfers between them have somewhere to go.
    for account in &accounts {
        let open = commands::open_account(account, account, AccountType::Checking, 1_000_00, "USD");
        pipeline.sender.send(&open).await.unwrap();
    }
    let mut sent = Vec::new();
    for i in 0..300 {
        let from = &accounts[i % 30];
        let to = &accounts[(i * 7 + 3) % 30];
        let command = match i % 3 {
            0 => commands::transfer(from, to, 10_00, "USD"),
            1 => commands::deposit(from, 5_00, "USD"),
            _ => commands::withdraw(from, 3_00, "USD", Channel::Api),
        };
        send(&command);
        sent.push(command);
    }
    producer.flush(Duration::from_secs(30)).unwrap();
    wait_for_the_processor(&pipeline).await;

    let records = pipeline.read_all(&pipeline.topics.results);
    let mut results: std::collections::HashMap<String, Vec<ResultRecord>> = Default::default();
    for (_, result) in pipeline.decode::<ResultRecord>(&records).await {
        let id = match &result {
            ResultRecord::CommandAccepted(a) => a.command_id.clone(),
            ResultRecord::CommandRejected(r) => r.command_id.clone(),
        };
        results.entry(id).or_default().push(result);
    }
    let mut misrouted = 0;
    for command in &sent {
        let results = &results[command.command_id()];
        assert_eq!(results.len(), 1, "{command:?}");
        let expected = partition_for(command.account_id().as_bytes(), 3);
        if let ResultRecord::CommandRejected(r) = &results[0]
            && r.reason_code == "WRONG_PARTITION"
        {
            misrouted += 1;
            assert!(
                r.message
                    .contains(&format!("belongs on partition {expected} ")),
                "{}",
                r.message
            );
        }
    }
    assert!(
        misrouted > 50,
        "the other partitioner misplaced {misrouted} of 300"
    );
    // Nothing lost, nothing made: the independent audit balances every account.
    let summary = audit::exactly_once(&pipeline).await;
    assert_eq!(summary.transfers_refunded, 0, "{summary:?}");
    let metrics = processor.metrics().await;
    assert!(
        metrics.contains("ledgerstream_processor_refunds_rejected_total 0"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_command_sent_again_keeps_its_first_answer_also_after_a_lost_store() {
    let pipeline = Pipeline::new(1).await;
    let mut processor = pipeline.processor("p", &[]).await;
    let open = commands::open_account("acc-r", "o", AccountType::Checking, 100_00, "USD");
    pipeline.sender.send(&open).await.unwrap();
    let overdraft = commands::withdraw("acc-r", 150_00, "USD", Channel::Atm);
    pipeline.sender.send(&overdraft).await.unwrap();
    let first = rejection(&wait_results(&pipeline, overdraft.command_id(), 1).await[0]);
    assert_eq!(first.0, "INSUFFICIENT_FUNDS");

    // The account could pay now; the command id has had its answer.
    let deposit = commands::deposit("acc-r", 100_00, "USD");
    pipeline.sender.send(&deposit).await.unwrap();
    wait_results(&pipeline, deposit.command_id(), 1).await;
    pipeline.sender.send(&overdraft).await.unwrap();
    let again = wait_results(&pipeline, overdraft.command_id(), 2).await;
    assert_eq!(rejection(&again[1]), first);

    // The store lost: the rejection comes back from the log.
    processor.kill();
    std::fs::remove_dir_all(pipeline.state.path().join("p")).unwrap();
    let _processor = pipeline.processor("p", &[]).await;
    pipeline.sender.send(&overdraft).await.unwrap();
    let third = wait_results(&pipeline, overdraft.command_id(), 3).await;
    assert_eq!(rejection(&third[2]), first);

    // Rebuilt with `replay state`, which reads only the events: the processor
    // folds the rejections back from the results when it starts on the new store.
    let mut processor = _processor;
    processor.kill();
    let state_dir = pipeline.state.path().join("p");
    let output = std::process::Command::new(ledgerstream_bin())
        .args(["replay", "state", "--force"])
        .arg(format!("--topic-suffix={}", pipeline.suffix))
        .arg("--state-dir")
        .arg(&state_dir)
        .env("LEDGERSTREAM_BROKERS", &pipeline.broker.address)
        .env("LEDGERSTREAM_REGISTRY_URL", &pipeline.registry.config().url)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "replay state: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let _processor = pipeline.processor("p", &[]).await;
    pipeline.sender.send(&overdraft).await.unwrap();
    let fourth = wait_results(&pipeline, overdraft.command_id(), 4).await;
    assert_eq!(rejection(&fourth[3]), first);

    let records = pipeline.read_all(&pipeline.topics.events);
    let withdrawn = pipeline
        .decode::<EventRecord>(&records)
        .await
        .into_iter()
        .filter(|(_, e)| matches!(e, EventRecord::MoneyWithdrawn(_)))
        .count();
    assert_eq!(withdrawn, 0, "the rejected withdrawal never happened");
}
