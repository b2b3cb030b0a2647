//! The command processor end to end, on the real broker and registry: commands in,
//! events, results and dead letters out; a clean stop within 10 s.

// Test code: a failed unwrap is a failed test, and amounts read as units_cents.
#![allow(clippy::unwrap_used, clippy::inconsistent_digit_grouping)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ledgerstream_producers::commands;
use ledgerstream_runtime::dead_letters::headers as dlq;
use ledgerstream_schemas::records::{
    AccountType, Channel, CommandRecord, EventRecord, ResultRecord,
};
use ledgerstream_tests::log::balance_after;
use ledgerstream_tests::pipeline::Pipeline;

/// Results by command id, once every command in `expected` has one.
async fn results_for(pipeline: &Pipeline, expected: &[&str]) -> HashMap<String, ResultRecord> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let records = pipeline.read_all(&pipeline.topics.results);
        // The first result of each command id: a repeat's result comes later.
        let mut results: HashMap<String, ResultRecord> = HashMap::new();
        for (_, result) in pipeline.decode::<ResultRecord>(&records).await {
            let id = match &result {
                ResultRecord::CommandAccepted(a) => a.command_id.clone(),
                ResultRecord::CommandRejected(r) => r.command_id.clone(),
            };
            results.entry(id).or_insert(result);
        }
        if expected.iter().all(|id| results.contains_key(*id)) {
            return results;
        }
        assert!(
            Instant::now() < deadline,
            "results missing after 60 s for some of {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn rejection(results: &HashMap<String, ResultRecord>, command: &CommandRecord) -> Option<String> {
    match &results[command.command_id()] {
        ResultRecord::CommandRejected(r) => Some(r.reason_code.clone()),
        ResultRecord::CommandAccepted(_) => None,
    }
}

/// The balance of each account, folded from the events log.
async fn balances(pipeline: &Pipeline) -> (HashMap<String, i64>, Vec<EventRecord>) {
    let records = pipeline.read_all(&pipeline.topics.events);
    let mut balances = HashMap::new();
    let mut events = Vec::new();
    for (read, event) in pipeline.decode::<EventRecord>(&records).await {
        let account = event.metadata().account_id.clone();
        assert_eq!(
            read.key.as_deref(),
            Some(account.as_str()),
            "events are keyed by account id"
        );
        let after = balance_after(&event);
        if let Some(after) = after {
            balances.insert(account, after);
        }
        events.push(event);
    }
    (balances, events)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rules_end_to_end_with_dead_letters_and_a_clean_stop() {
    let pipeline = Pipeline::new(3).await;
    let mut processor = pipeline.processor("p1", &[]).await;
    let (a, b, ghost) = ("acc-a", "acc-b", "acc-nobody");

    let open_a = commands::open_account(a, "owner-1", AccountType::Savings, 2_000_00, "USD");
    let open_b = commands::open_account(b, "owner-1", AccountType::Checking, 100_00, "USD");
    let too_little =
        commands::open_account("acc-c", "owner-2", AccountType::Checking, 50_00, "USD");
    let deposit = commands::deposit(a, 500_00, "USD");
    let withdraw = commands::withdraw(a, 1_500_00, "USD", Channel::Atm); // SAVINGS > 1,000: fee 5.00
    let to_b = commands::transfer(a, b, 100_00, "USD"); // fee 2.00
    let to_ghost = commands::transfer(a, ghost, 50_00, "USD"); // credit fails: refunded, fee too
    let overdraw = commands::withdraw(b, 10_000_00, "USD", Channel::Online);
    let to_self = commands::transfer(b, b, 1_00, "USD");
    let mut again = deposit.clone(); // the same command id: applied once
    if let CommandRecord::DepositMoney(d) = &mut again {
        d.issued_at += 1;
    }
    let all = [
        &open_a,
        &open_b,
        &too_little,
        &deposit,
        &withdraw,
        &to_b,
        &to_ghost,
        &overdraw,
        &to_self,
        &again,
    ];
    for command in all {
        pipeline.sender.send(command).await.expect("send");
    }
    // Two records the processor cannot take: garbage, and a key that is not the
    // command's account.
    pipeline
        .sender
        .send_raw(b"acc-a", b"{\"not\":\"avro\"}")
        .await
        .unwrap();
    let wrong_key = commands::deposit(a, 1_00, "USD");
    let payload = pipeline.codec.encode(&wrong_key).unwrap();
    pipeline.sender.send_raw(b"acc-b", &payload).await.unwrap();

    let ids: Vec<&str> = all.iter().map(|c| c.command_id()).collect();
    let results = results_for(&pipeline, &ids).await;
    assert_eq!(rejection(&results, &open_a), None);
    assert_eq!(rejection(&results, &open_b), None);
    assert_eq!(
        rejection(&results, &too_little).as_deref(),
        Some("INITIAL_DEPOSIT_TOO_LOW")
    );
    assert_eq!(rejection(&results, &deposit), None);
    assert_eq!(rejection(&results, &withdraw), None);
    assert_eq!(rejection(&results, &to_b), None);
    assert_eq!(
        rejection(&results, &to_ghost),
        None,
        "the debit is accepted; the credit fails later"
    );
    assert_eq!(
        rejection(&results, &overdraw).as_deref(),
        Some("INSUFFICIENT_FUNDS")
    );
    assert_eq!(
        rejection(&results, &to_self).as_deref(),
        Some("SAME_ACCOUNT_TRANSFER")
    );
    let ResultRecord::CommandAccepted(accepted) = &results[deposit.command_id()] else {
        unreachable!()
    };
    assert_eq!((accepted.version, accepted.event_count), (2, 1));
    assert!(
        accepted.first_event_offset >= 0,
        "the result carries the event's offset"
    );

    // The refund of the failed credit arrives asynchronously: wait for it.
    let deadline = Instant::now() + Duration::from_secs(60);
    let (balances, events) = loop {
        let (balances, events) = balances(&pipeline).await;
        if events
            .iter()
            .any(|e| matches!(e, EventRecord::TransferRefunded(_)))
        {
            break (balances, events);
        }
        assert!(
            Instant::now() < deadline,
            "no refund after 60 s; log:\n{}",
            processor.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    // a: 2000 + 500 - (1500 + 5) - (100 + 2) - (50 + 2) + (50 + 2) = 893.00
    assert_eq!(balances[a], 893_00);
    assert_eq!(balances[b], 200_00);
    let deposits = events
        .iter()
        .filter(|e| matches!(e, EventRecord::MoneyDeposited(_)))
        .count();
    assert_eq!(deposits, 1, "a repeated command id writes nothing");
    let mut versions: HashMap<&str, Vec<i64>> = HashMap::new();
    for event in &events {
        versions
            .entry(&event.metadata().account_id)
            .or_default()
            .push(event.metadata().version);
    }
    for (account, versions) in versions {
        let expected: Vec<i64> = (1..=versions.len() as i64).collect();
        assert_eq!(versions, expected, "versions of {account}");
    }

    let letters = pipeline.read_all(&pipeline.topics.dead_letters);
    let classes: Vec<&str> = letters
        .iter()
        .map(|l| l.headers[dlq::ERROR_CLASS].as_str())
        .collect();
    assert_eq!(letters.len(), 2, "dead letters: {classes:?}");
    assert!(
        classes.contains(&"bad-magic") && classes.contains(&"key-mismatch"),
        "{classes:?}"
    );
    for letter in &letters {
        assert_eq!(letter.headers[dlq::TOPIC], pipeline.topics.commands);
        assert!(letter.headers[dlq::OFFSET].parse::<i64>().is_ok());
        assert!(letter.headers[dlq::PARTITION].parse::<i32>().is_ok());
        assert_eq!(letter.headers[dlq::COMPONENT], "processor");
    }

    let metrics = processor.metrics().await;
    assert!(
        metrics
            .contains("ledgerstream_processor_rejections_total{reason=\"INSUFFICIENT_FUNDS\"} 1"),
        "{metrics}"
    );

    let started = Instant::now();
    processor.assert_clean_exit(Duration::from_secs(10));
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// A processor killed with a transaction open: what it wrote is in the log but
/// never visible to a `read_committed` reader, and the processor started again on
/// the same state folder decides those commands once more, from the committed
/// state. Each command ends with exactly one result and its events exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn a_killed_processors_open_transaction_is_aborted_and_never_seen() {
    let pipeline = Pipeline::new(1).await;
    // One long batch: the transaction stays open until the kill.
    let long_batch = [
        "--batch-millis",
        "60000",
        "--batch-idle-millis",
        "60000",
        "--batch-commands",
        "100000",
        "--transaction-timeout-millis",
        "120000",
    ];
    let mut processor = pipeline.processor("p", &long_batch).await;
    let open = commands::open_account("acc-tx", "owner-tx", AccountType::Checking, 100_00, "USD");
    let deposits: Vec<CommandRecord> = (1..=20)
        .map(|i| commands::deposit("acc-tx", i * 1_00, "USD"))
        .collect();
    let mut all = vec![open];
    all.extend(deposits);
    for command in &all {
        pipeline.sender.send(command).await.unwrap();
    }
    // Wait until the open transaction's events are in the log.
    let deadline = Instant::now() + Duration::from_secs(60);
    while pipeline
        .read_all_as(&pipeline.topics.events, "read_uncommitted")
        .len()
        < all.len()
    {
        assert!(
            Instant::now() < deadline,
            "the open batch's events did not reach the log; log:\n{}",
            processor.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        pipeline.read_all(&pipeline.topics.events).is_empty(),
        "events of an open transaction are visible to read_committed"
    );
    processor.kill();

    let mut processor = pipeline.processor("p", &[]).await;
    let ids: Vec<&str> = all.iter().map(|c| c.command_id()).collect();
    let results = results_for(&pipeline, &ids).await;
    for command in &all {
        assert_eq!(rejection(&results, command), None, "{command:?}");
    }
    let all_results = pipeline.read_all(&pipeline.topics.results);
    assert_eq!(all_results.len(), all.len(), "one result per command");
    let (balances, events) = balances(&pipeline).await;
    assert_eq!(events.len(), all.len(), "one event per command");
    assert_eq!(balances["acc-tx"], 100_00 + (1..=20).sum::<i64>() * 1_00);
    // The first attempt's records are still in the log, aborted.
    let uncommitted = pipeline.read_all_as(&pipeline.topics.events, "read_uncommitted");
    assert_eq!(
        uncommitted.len(),
        2 * all.len(),
        "the aborted attempt and the committed one"
    );
    let status = processor.terminate(Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| s.success()),
        "{}",
        processor.log_tail()
    );
}
