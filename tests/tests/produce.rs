//! Sending commands and awaiting their results, on the real broker and registry:
//! `ledgerstream produce --wait` (flags, JSON lines, exit codes), the producers
//! library's `send` future, and `ledgerstream-bench load`.

// Test code: a failed unwrap is a failed test, and amounts read as units_cents.
#![allow(clippy::unwrap_used, clippy::inconsistent_digit_grouping)]

use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use ledgerstream_domain::OwnerSnapshot;
use ledgerstream_processor::wire::command_from_record;
use ledgerstream_producers::check::check;
use ledgerstream_producers::{CommandClient, CommandClientConfig, EventOffsets, Outcome, commands};
use ledgerstream_schemas::records::{AccountType, Channel, CommandRecord, EventRecord};
use ledgerstream_tests::pipeline::Pipeline;
use ledgerstream_tests::{ledgerstream_bench_bin, ledgerstream_bin};
use serde_json::Value;

/// What a run of the binary left behind.
#[derive(Debug)]
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Ran {
    /// Standard output's lines, each a JSON object (`--output json`).
    fn objects(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {line}\n{self:?}"))
            })
            .collect()
    }
}

/// Runs `ledgerstream <args>` against `pipeline`'s topics, `stdin` fed in.
async fn ledgerstream(pipeline: &Pipeline, args: &[&str], stdin: Option<&str>) -> Ran {
    run(ledgerstream_bin(), pipeline, args, stdin).await
}

async fn run(binary: PathBuf, pipeline: &Pipeline, args: &[&str], stdin: Option<&str>) -> Ran {
    let mut command = pipeline.command(binary, args);
    command
        .arg(format!("--topic-suffix={}", pipeline.suffix))
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    let input = stdin.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        let mut child = command.spawn().expect("start ledgerstream");
        if let Some(input) = input {
            let mut pipe = child.stdin.take().unwrap();
            pipe.write_all(input.as_bytes()).unwrap();
        }
        let output = child.wait_with_output().expect("ledgerstream output");
        Ran {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn produce_waits_for_results_and_its_exit_code_says_what_happened() {
    let pipeline = Pipeline::new(3).await;
    let processor = pipeline.processor("p1", &[]).await;

    // An open, then a deposit: versions 1 and 2.
    let open = ledgerstream(
        &pipeline,
        &[
            "produce",
            "open",
            "--account",
            "acc-a",
            "--owner",
            "alice",
            "--type",
            "savings",
            "--initial",
            "100.00",
            "--wait",
            "--output",
            "json",
        ],
        None,
    )
    .await;
    assert_eq!(open.code, Some(0), "{open:?}\n{}", processor.log_tail());
    let opened = &open.objects()[0];
    assert_eq!(opened["status"], "accepted", "{open:?}");
    assert_eq!(opened["version"], 1);
    assert_eq!(opened["command"], "OpenAccount");

    let deposit = ledgerstream(
        &pipeline,
        &[
            "produce",
            "deposit",
            "--account",
            "acc-a",
            "--amount",
            "12.50",
            "--wait",
        ],
        None,
    )
    .await;
    assert_eq!(deposit.code, Some(0), "{deposit:?}");
    assert!(
        deposit
            .stdout
            .starts_with("accepted DepositMoney account=acc-a version=2 events="),
        "{deposit:?}"
    );

    // An overdraft: rejected with the reason, exit code 3.
    let overdraft = ledgerstream(
        &pipeline,
        &[
            "produce",
            "withdraw",
            "--account",
            "acc-a",
            "--amount",
            "1000",
            "--wait",
        ],
        None,
    )
    .await;
    assert_eq!(overdraft.code, Some(3), "{overdraft:?}");
    assert!(
        overdraft
            .stdout
            .contains("rejected WithdrawMoney account=acc-a reason=INSUFFICIENT_FUNDS version=2"),
        "{overdraft:?}"
    );
    assert!(
        overdraft.stdout.contains("does not cover"),
        "the message says why: {overdraft:?}"
    );

    // JSON lines with one bad line: the others are sent, in order, and the bad one
    // is reported with its number; exit code 4.
    let lines = [
        r#"{"command":"open","account":"acc-b","owner":"bob","initial":"150.00"}"#,
        r#"{"command":"deposit","account":"acc-b","amount":"10"}"#,
        r#"{"command":"deposit","account":"acc-b","amount":"12,50"}"#,
        "",
        r#"{"command":"transfer","from":"acc-b","to":"acc-a","amount":"5.00"}"#,
    ]
    .join("\n");
    let batch = ledgerstream(
        &pipeline,
        &["produce", "--wait", "--output", "json"],
        Some(&lines),
    )
    .await;
    assert_eq!(batch.code, Some(4), "{batch:?}");
    let objects = batch.objects();
    let summary: Vec<(u64, &str)> = objects
        .iter()
        .map(|o| (o["line"].as_u64().unwrap(), o["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        summary,
        [
            (1, "accepted"),
            (2, "accepted"),
            (3, "invalid"),
            (5, "accepted")
        ],
        "{batch:?}"
    );
    assert!(
        objects[2]["error"].as_str().unwrap().contains("'.'"),
        "{batch:?}"
    );
    assert_eq!(objects[1]["version"], 2);
    assert!(
        batch
            .stderr
            .contains("4 commands: 3 accepted, 0 rejected, 1 invalid input"),
        "{batch:?}"
    );

    // The same from a file, for people: the bad line on standard error.
    let file = std::env::temp_dir().join(format!("produce{}.jsonl", pipeline.suffix));
    std::fs::write(
        &file,
        "{\"command\":\"deposit\",\"account\":\"acc-b\",\"amount\":\"1\"}\nnot json\n",
    )
    .unwrap();
    let from_file = ledgerstream(
        &pipeline,
        &["produce", "--file", file.to_str().unwrap(), "--wait"],
        None,
    )
    .await;
    let _ = std::fs::remove_file(&file);
    assert_eq!(from_file.code, Some(4), "{from_file:?}");
    assert!(
        from_file.stdout.contains("line=1 accepted DepositMoney"),
        "{from_file:?}"
    );
    assert!(
        from_file.stderr.contains("line 2: invalid: expected"),
        "{from_file:?}"
    );

    // Bad flags never reach the broker: clap's usage error.
    let bad_amount = ledgerstream(
        &pipeline,
        &[
            "produce",
            "deposit",
            "--account",
            "acc-a",
            "--amount",
            "1.234",
        ],
        None,
    )
    .await;
    assert_eq!(bad_amount.code, Some(2), "{bad_amount:?}");
    assert!(
        bad_amount.stderr.contains("more than 2 decimals"),
        "{bad_amount:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_processor_produce_times_out_with_its_own_exit_code() {
    let pipeline = Pipeline::new(1).await;
    let ran = ledgerstream(
        &pipeline,
        &[
            "produce",
            "deposit",
            "--account",
            "acc-a",
            "--amount",
            "1",
            "--wait",
            "--timeout",
            "2",
        ],
        None,
    )
    .await;
    assert_eq!(ran.code, Some(5), "{ran:?}");
    assert!(ran.stdout.starts_with("timeout DepositMoney"), "{ran:?}");
    assert!(ran.stderr.contains("ledgerstream process"), "{ran:?}");

    // Without --wait, Kafka's acknowledgement is enough.
    let sent = ledgerstream(
        &pipeline,
        &["produce", "deposit", "--account", "acc-a", "--amount", "1"],
        None,
    )
    .await;
    assert_eq!(sent.code, Some(0), "{sent:?}");
    assert!(sent.stdout.starts_with("sent DepositMoney"), "{sent:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_send_future_resolves_to_the_result_with_the_events_offsets() {
    let pipeline = Pipeline::new(3).await;
    let _processor = pipeline.processor("p1", &[]).await;
    let config = CommandClientConfig::new(pipeline.broker.address.clone())
        .with_topic_suffix(&pipeline.suffix);
    let client = CommandClient::connect(config, &pipeline.registry)
        .await
        .unwrap();

    let open = commands::open_account("acc-l", "lee", AccountType::Checking, 200_00, "EUR");
    let opened = client.send(&open).await.unwrap();
    assert_eq!(opened.command_id, open.command_id());
    let Outcome::Accepted {
        version: 1,
        events: Some(events),
    } = opened.outcome
    else {
        panic!("{opened:?}")
    };
    assert_eq!(events.count, 1);
    assert!(opened.latency > Duration::ZERO);

    // Read your write: the offsets name the event.
    let records = pipeline.read_all(&pipeline.topics.events);
    let at = |offsets: EventOffsets| {
        records
            .iter()
            .find(|r| r.partition == offsets.partition && r.offset == offsets.first_offset)
            .cloned()
            .unwrap()
    };
    let decoded = pipeline.decode::<EventRecord>(&[at(events)]).await;
    let EventRecord::AccountOpened(event) = &decoded[0].1 else {
        panic!("{decoded:?}")
    };
    assert_eq!(event.metadata.account_id, "acc-l");
    assert_eq!(event.metadata.command_id, open.command_id());

    // Several at once, each matched to its own result.
    let deposit = commands::deposit("acc-l", 5_00, "EUR");
    let overdraw = commands::withdraw("acc-l", 10_000_00, "EUR", Channel::Atm);
    let ghost = commands::deposit("acc-nobody", 1_00, "EUR");
    let pending = [
        client.submit(&deposit).await.unwrap(),
        client.submit(&overdraw).await.unwrap(),
        client.submit(&ghost).await.unwrap(),
    ];
    assert_eq!(client.waiting(), 3);
    let mut results = Vec::new();
    for submitted in pending {
        results.push(submitted.result().await.unwrap());
    }
    assert!(matches!(
        results[0].outcome,
        Outcome::Accepted { version: 2, .. }
    ));
    assert_eq!(results[1].reason_code(), Some("INSUFFICIENT_FUNDS"));
    assert_eq!(results[2].reason_code(), Some("ACCOUNT_NOT_FOUND"));
    assert_eq!(client.waiting(), 0);

    // The same command again: its first outcome, nothing written twice.
    let again = client.send(&open).await.unwrap();
    assert_eq!(
        again.outcome,
        Outcome::Accepted {
            version: 1,
            events: None
        }
    );

    // A command the processor could not answer is not sent.
    let error = client
        .send(&commands::deposit("acc-l", 1_00, "eur"))
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("DepositMoney.currency"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn load_reports_accepted_and_rejected_by_reason() {
    let pipeline = Pipeline::new(3).await;
    let processor = pipeline.processor("p1", &[]).await;
    let ran = run(
        ledgerstream_bench_bin(),
        &pipeline,
        &[
            "load",
            "--accounts",
            "10",
            "--rate",
            "20",
            "--duration",
            "4",
            "--invalid",
            "30",
            "--output",
            "json",
        ],
        None,
    )
    .await;
    assert_eq!(ran.code, Some(0), "{ran:?}\n{}", processor.log_tail());
    let summary: Value = serde_json::from_str(ran.stdout.trim()).unwrap();
    let count = |field: &str| summary[field].as_u64().unwrap();
    assert!(count("accepted") > 0, "{summary}");
    assert!(count("rejected") > 0, "{summary}");
    assert_eq!(count("unexpected"), 0, "{summary}");
    assert_eq!(count("timed_out"), 0, "{summary}");
    assert_eq!(
        count("sent"),
        count("accepted") + count("rejected"),
        "{summary}"
    );
    let reasons = summary["rejected_by_reason"].as_object().unwrap();
    for reason in reasons.keys() {
        assert!(
            ["INSUFFICIENT_FUNDS", "INVALID_AMOUNT", "ACCOUNT_NOT_FOUND"]
                .contains(&reason.as_str()),
            "{summary}"
        );
    }
    assert!(summary["latency_ms"]["p99"].as_f64().unwrap() > 0.0);
    assert!(ran.stderr.contains("p50"), "a status line: {ran:?}");
}

/// The checks the library runs before sending agree with what the processor
/// dead-letters: a command one refuses, the other cannot read, and the reverse.
#[test]
fn the_library_refuses_what_the_processor_would_dead_letter() {
    let mut bad_id = commands::close_account("a");
    if let CommandRecord::CloseAccount(c) = &mut bad_id {
        c.command_id = "not-a-uuid".into();
    }
    let mut negative_version = commands::deposit("a", 1, "EUR");
    if let CommandRecord::DepositMoney(c) = &mut negative_version {
        c.expected_version = Some(-2);
    }
    let mut bad_transfer_id = commands::transfer("a", "b", 1, "EUR");
    if let CommandRecord::DebitTransfer(c) = &mut bad_transfer_id {
        c.transfer_id = "X".into();
    }
    let cases = [
        commands::open_account("a", "o", AccountType::Checking, 100_00, "EUR"),
        commands::open_account("a", "", AccountType::Checking, 100_00, "EUR"),
        commands::open_account("", "o", AccountType::Checking, 100_00, "EUR"),
        commands::deposit("a", 0, "EUR"),
        commands::deposit("a", -1, "EUR"),
        commands::deposit("a", 1, "Eur"),
        commands::deposit("a", 1, "EU"),
        commands::withdraw("a", 1, "usd", Channel::Api),
        commands::transfer("a", "", 1, "EUR"),
        commands::transfer("a", "a", 1, "EUR"),
        commands::close_account(""),
        bad_id,
        negative_version,
        bad_transfer_id,
    ];
    for command in cases {
        let library = check(&command).is_ok();
        let processor =
            command_from_record(command.clone(), |_| OwnerSnapshot { open_accounts: 0 }).is_ok();
        assert_eq!(library, processor, "{command:?}");
    }
}
