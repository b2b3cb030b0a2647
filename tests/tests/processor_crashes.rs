//! Exactly once under load, on the stack's broker: the processor is killed with
//! SIGKILL three times mid-stream, and a second processor joins and leaves; after
//! all that, every command has exactly one result, every accepted command exactly
//! its events, and every account contiguous versions with no duplicate event.
//! (`transactions.rs` adds a broker crash, a clean stop, a zombie and an audit
//! that shares no code with the processor.)

// Test code: a failed unwrap is a failed test, and amounts read as units_cents.
#![allow(clippy::unwrap_used, clippy::inconsistent_digit_grouping)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ledgerstream_producers::commands;
use ledgerstream_schemas::records::{
    AccountType, Channel, CommandRecord, EventRecord, ResultRecord,
};
use ledgerstream_tests::pipeline::Pipeline;
use ledgerstream_tests::workload::{Mix, PacedSend, account, mix_of};

const ACCOUNTS: usize = 24;

/// A deterministic mix of deposits, withdrawals and transfers (some invalid).
fn workload(count: usize) -> Vec<CommandRecord> {
    mix_of(
        count,
        ACCOUNTS,
        Mix {
            seed: 0x5EED,
            largest: 500,
            channel: Channel::Api,
        },
    )
}

/// Waits until every command has a result; returns every result of each.
async fn all_results(
    pipeline: &Pipeline,
    ids: &HashSet<String>,
) -> HashMap<String, Vec<ResultRecord>> {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let mut results: HashMap<String, Vec<ResultRecord>> = HashMap::new();
        let records = pipeline.read_all(&pipeline.topics.results);
        for (_, result) in pipeline.decode::<ResultRecord>(&records).await {
            let id = match &result {
                ResultRecord::CommandAccepted(a) => a.command_id.clone(),
                ResultRecord::CommandRejected(r) => r.command_id.clone(),
            };
            results.entry(id).or_default().push(result);
        }
        let missing = ids.iter().filter(|id| !results.contains_key(*id)).count();
        if missing == 0 {
            return results;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} commands still without a result after 180 s"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Checks the log and the results against the commands sent.
async fn check_exactly_once(pipeline: &Pipeline, sent: &[CommandRecord]) {
    let ids: HashSet<String> = sent.iter().map(|c| c.command_id().to_owned()).collect();
    let results = all_results(pipeline, &ids).await;

    // Exactly one result per command, follow-up credits and refunds included.
    let mut accepted = HashSet::new();
    for (id, outcomes) in &results {
        assert_eq!(
            outcomes.len(),
            1,
            "command {id} has several results: {outcomes:?}"
        );
        if matches!(outcomes[0], ResultRecord::CommandAccepted(_)) {
            accepted.insert(id.clone());
        }
    }

    let records = pipeline.read_all(&pipeline.topics.events);
    let events = pipeline.decode::<EventRecord>(&records).await;
    let mut event_ids = HashSet::new();
    let mut per_command: HashMap<String, usize> = HashMap::new();
    let mut versions: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut credits = HashMap::new();
    for (_, event) in &events {
        let meta = event.metadata();
        assert!(
            event_ids.insert(meta.event_id.clone()),
            "event {} written twice",
            meta.event_id
        );
        *per_command.entry(meta.command_id.clone()).or_default() += 1;
        versions
            .entry(meta.account_id.clone())
            .or_default()
            .push(meta.version);
        if let EventRecord::TransferCredited(credit) = event {
            *credits.entry(credit.transfer_id.clone()).or_insert(0) += 1;
        }
    }
    for id in &accepted {
        assert_eq!(
            per_command.get(id),
            Some(&1),
            "accepted command {id} has {:?} events",
            per_command.get(id)
        );
    }
    for id in ids.difference(&accepted) {
        assert_eq!(
            per_command.get(id),
            None,
            "rejected command {id} wrote events"
        );
    }
    for (account, versions) in &versions {
        let expected: Vec<i64> = (1..=versions.len() as i64).collect();
        assert_eq!(
            versions, &expected,
            "versions of {account} are not contiguous"
        );
    }
    assert!(
        credits.values().all(|n| *n == 1),
        "a transfer was credited twice: {credits:?}"
    );
    assert!(
        accepted.len() > sent.len() / 2,
        "too few commands accepted to prove much: {}",
        accepted.len()
    );
}

async fn open_accounts(pipeline: &Pipeline) -> Vec<CommandRecord> {
    let opens: Vec<CommandRecord> = (0..ACCOUNTS)
        .map(|i| {
            commands::open_account(
                &account(i),
                &format!("owner-{}", i / 4),
                AccountType::Checking,
                5_000_00,
                "USD",
            )
        })
        .collect();
    for open in &opens {
        pipeline.sender.send(open).await.expect("send");
    }
    opens
}

#[tokio::test(flavor = "multi_thread")]
async fn three_kills_mid_stream_leave_every_command_applied_exactly_once() {
    let pipeline = Arc::new(Pipeline::new(3).await);
    let mut sent = open_accounts(&pipeline).await;
    let load = workload(2_400);
    sent.extend(load.iter().cloned());
    // About 400 commands a second: the crashes land mid-stream.
    let sender = PacedSend::start(&pipeline, load);

    let mut processor = pipeline.processor("p", &["--batch-commands", "100"]).await;
    for kill in 1..=3 {
        sender.wait_sent(kill * 500).await;
        processor.kill();
        processor = pipeline.processor("p", &["--batch-commands", "100"]).await;
    }
    sender.finish().await;
    check_exactly_once(&pipeline, &sent).await;
    drop(processor);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_processor_joining_and_leaving_changes_nothing() {
    let pipeline = Arc::new(Pipeline::new(3).await);
    let mut sent = open_accounts(&pipeline).await;
    let load = workload(2_000);
    sent.extend(load.iter().cloned());
    // About 400 commands a second: the crashes land mid-stream.
    let sender = PacedSend::start(&pipeline, load);

    let first = pipeline.processor("first", &[]).await;
    sender.wait_sent(600).await;
    let mut second = pipeline.processor("second", &[]).await;
    sender.wait_sent(1_300).await;
    let status = second.terminate(Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| s.success()),
        "the second processor did not leave cleanly:\n{}",
        second.log_tail()
    );
    sender.finish().await;
    check_exactly_once(&pipeline, &sent).await;
    drop(first);
}
