//! Exactly once through Kafka transactions, proven the way Apache Kafka's own
//! `transactions_test` proves its transactional copier: a steady stream of input,
//! the processing bounced and killed while it runs, the broker killed too, and
//! then a reader that shares nothing with the processor checks that every input
//! had exactly one effect ([`ledgerstream_tests::audit`]).
//!
//! Each test runs on a broker of its own ([`OwnBroker`]), so that killing it
//! leaves the stack's broker and every other test alone. The size is set by
//! `LEDGERSTREAM_TXN_COMMANDS` (default 20,000), `LEDGERSTREAM_TXN_ACCOUNTS`
//! (1,000) and `LEDGERSTREAM_TXN_RATE` (commands per second, 400); the longer
//! documented run is `LEDGERSTREAM_TXN_COMMANDS=100000`.

// Test code: a failed unwrap is a failed test, and amounts read as units_cents.
#![allow(clippy::unwrap_used, clippy::inconsistent_digit_grouping)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use ledgerstream_producers::commands;
use ledgerstream_schemas::records::{AccountType, Channel, CommandRecord};
use ledgerstream_tests::audit;
use ledgerstream_tests::broker::OwnBroker;
use ledgerstream_tests::log::wait_for_the_processor;
use ledgerstream_tests::pipeline::{Pipeline, ProcessorChild};
use ledgerstream_tests::workload::{PacedSend, Seeded};
use tokio::sync::Mutex;

/// One test at a time: each runs a broker and a processor at full tilt.
static SERIAL: Mutex<()> = Mutex::const_new(());

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn account(i: usize) -> String {
    format!("acc-{i:05}")
}

/// The accounts, opened with 5,000.00 each; a third of them savings accounts
/// (their withdrawals above 1,000.00 pay a fee).
fn opens(accounts: usize) -> Vec<CommandRecord> {
    (0..accounts)
        .map(|i| {
            let kind = [
                AccountType::Checking,
                AccountType::Savings,
                AccountType::Business,
            ][i % 3];
            commands::open_account(&account(i), &format!("owner-{i}"), kind, 5_000_00, "USD")
        })
        .collect()
}

/// A fixed-seed mix over `accounts`: 35 % deposits, 25 % withdrawals, 30 %
/// transfers (mostly across partitions), 10 % invalid on purpose — zero amounts,
/// deposits to accounts nobody opened, transfers to them (the credit is rejected
/// and the debit refunded), overdrafts.
fn mix(count: usize, accounts: usize, seed: u64) -> Vec<CommandRecord> {
    let mut random = Seeded::new(seed);
    let mut next = move |n: usize| random.below(n);
    (0..count)
        .map(|_| {
            let from = account(next(accounts));
            let amount = (next(1_500) as i64 + 1) * 100;
            match next(100) {
                0..=34 => commands::deposit(&from, amount / 3, "USD"),
                35..=59 => commands::withdraw(&from, amount, "USD", Channel::Atm),
                60..=89 => commands::transfer(&from, &account(next(accounts)), amount / 5, "USD"),
                90..=92 => commands::deposit(&from, 0, "USD"),
                93..=95 => commands::deposit(&format!("ghost-{}", next(50)), amount, "USD"),
                96..=97 => {
                    commands::transfer(&from, &format!("ghost-{}", next(50)), amount / 5, "USD")
                }
                _ => commands::withdraw(&from, 1_000_000_00, "USD", Channel::Online),
            }
        })
        .collect()
}

/// Waits until `processor` has committed at least `transactions` transactions.
async fn wait_for_commits(processor: &ProcessorChild, transactions: u64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let metrics = processor.metrics().await;
        let committed = metrics
            .lines()
            .find(|l| {
                l.starts_with("ledgerstream_processor_transactions_total{outcome=\"committed\"}")
            })
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        if committed >= transactions {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{committed} of {transactions} transactions committed after 120 s; log:\n{}",
            processor.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_command_once_through_kills_a_clean_stop_and_a_broker_crash() {
    let _serial = SERIAL.lock().await;
    let total = setting("LEDGERSTREAM_TXN_COMMANDS", 20_000);
    let accounts = setting("LEDGERSTREAM_TXN_ACCOUNTS", 1_000);
    let rate = setting("LEDGERSTREAM_TXN_RATE", 400);
    let broker = OwnBroker::start();
    let pipeline = Arc::new(Pipeline::on_broker(broker.endpoint(), 4).await);
    let mut processor = pipeline.processor("p", &[]).await;

    let mut load = opens(accounts);
    load.extend(mix(total, accounts, 0x7EA5_0001));
    let all = load.len();
    let sender = PacedSend::at_rate(&pipeline, load, rate);

    for kill in [15, 30, 45] {
        sender.wait_sent(all * kill / 100).await;
        processor.kill();
        processor = pipeline.processor("p", &[]).await;
    }
    sender.wait_sent(all * 60 / 100).await;
    processor.assert_clean_exit(Duration::from_secs(30));
    processor = pipeline.processor("p", &[]).await;

    sender.wait_sent(all * 75 / 100).await;
    broker.kill();
    tokio::time::sleep(Duration::from_secs(3)).await;
    broker.up();

    sender.finish().await;
    wait_for_the_processor(&pipeline).await;
    let summary = audit::exactly_once(&pipeline).await;
    eprintln!("{summary:?}");
    assert_eq!(
        summary.commands, all,
        "every command sent is in the log once"
    );
    assert!(
        summary.rejected > all / 20 && summary.transfers_refunded > 0,
        "the mix exercised rejections and refunds: {summary:?}"
    );
    processor.assert_clean_exit(Duration::from_secs(30));
}

/// A zombie: a processor stalled (SIGSTOP) mid-batch past its session timeout,
/// while a second processor takes its partitions, then resumed. Its open
/// transaction was written to the log, and none of it may ever be visible.
#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_processor_that_resumes_writes_nothing_visible() {
    let _serial = SERIAL.lock().await;
    let total = setting("LEDGERSTREAM_TXN_COMMANDS", 20_000) / 4;
    let accounts = setting("LEDGERSTREAM_TXN_ACCOUNTS", 1_000);
    let rate = setting("LEDGERSTREAM_TXN_RATE", 400);
    let broker = OwnBroker::start();
    let pipeline = Arc::new(Pipeline::on_broker(broker.endpoint(), 4).await);
    // Long batches: whenever it is stopped, a transaction with records is open.
    let zombie_flags = [
        "--batch-millis",
        "3000",
        "--batch-idle-millis",
        "3000",
        "--batch-commands",
        "100000",
    ];
    let zombie = pipeline.processor("zombie", &zombie_flags).await;

    let mut load = opens(accounts);
    load.extend(mix(total, accounts, 0x7EA5_0002));
    let all = load.len();
    let sender = PacedSend::at_rate(&pipeline, load, rate);

    sender.wait_sent(all * 30 / 100).await;
    wait_for_commits(&zombie, 2).await;
    // Halfway into the next 3 s batch: its events are in the log by then.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    zombie.pause();
    // What the zombie wrote in its open transaction: in the log, not committed.
    let pending = pipeline
        .read_all_as(&pipeline.topics.events, "read_uncommitted")
        .len()
        - pipeline.read_all(&pipeline.topics.events).len();
    assert!(
        pending > 0,
        "the zombie was stopped with events of an open transaction in the log"
    );
    // The successor waits for the zombie's session to expire, takes every
    // partition, and restores once the broker has aborted the zombie's open
    // transaction (its timeout); it then commits on its own.
    let successor = pipeline.processor("successor", &[]).await;
    wait_for_commits(&successor, 5).await;
    zombie.resume();

    sender.finish().await;
    wait_for_the_processor(&pipeline).await;
    let summary = audit::exactly_once(&pipeline).await;
    eprintln!("{summary:?}");
    // The audit passed: none of the zombie's pending events became visible.
    assert_eq!(summary.commands, all);
    let aborted = pipeline
        .read_all_as(&pipeline.topics.events, "read_uncommitted")
        .len()
        - pipeline.read_all(&pipeline.topics.events).len();
    assert!(
        aborted >= pending,
        "{aborted} aborted events, {pending} pending at the stall"
    );
    drop((zombie, successor));
}
