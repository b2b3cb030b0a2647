//! `ledgerstream query account` end to end, on the real broker, registry,
//! ClickHouse, processor and projector: read your writes — a query waiting for
//! a version written after it started returns once the projection shows it; a
//! version that never comes times out naming the projection's lag; an account
//! that does not exist is "not found".
//!
//! Every test reads its own table set (a random suffix) and drops it.

// Test code: a failed unwrap is a failed test, and amounts read as units_cents.
#![allow(clippy::unwrap_used, clippy::inconsistent_digit_grouping)]

use std::process::Command;
use std::time::{Duration, Instant};

use ledgerstream_producers::commands;
use ledgerstream_schemas::records::AccountType;
use ledgerstream_tests::clickhouse::TableSet;
use ledgerstream_tests::pipeline::{Pipeline, ProcessorChild};
use ledgerstream_tests::{output_text, wait_output};

/// `ledgerstream query account <args>` for the pipeline and table set.
fn query(pipeline: &Pipeline, set: &TableSet, args: &[&str]) -> Command {
    let mut command = pipeline.ledgerstream(&["query", "account"]);
    command
        .args(args)
        .args(["--table-suffix", &set.suffix])
        .arg(format!("--topic-suffix={}", pipeline.suffix));
    command
}

/// A pipeline with a processor and a projector, and one account opened and
/// projected (version 1).
async fn an_account_projected(
    account: &str,
) -> (Pipeline, TableSet, ProcessorChild, ProcessorChild) {
    let pipeline = Pipeline::new(1).await;
    let set = TableSet::new().await;
    let processor = pipeline
        .processor("processor", &["--batch-millis", "10"])
        .await;
    let projector = pipeline
        .projector("projector", &set.suffix, &["--batch-millis", "50"])
        .await;
    pipeline
        .sender
        .send(&commands::open_account(
            account,
            "owner-q",
            AccountType::Savings,
            1_000_00,
            "USD",
        ))
        .await
        .expect("send");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let output = query(&pipeline, &set, &[account]).output().unwrap();
        if output.status.success() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the account is not projected after 60 s: {}\n{}",
            output_text(&output),
            projector.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    (pipeline, set, processor, projector)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_query_waits_for_a_version_written_after_it_started() {
    let (pipeline, set, _processor, _projector) = an_account_projected("acc-q1").await;

    // Asks for version 2 before anything made it.
    let waiting = query(
        &pipeline,
        &set,
        &[
            "acc-q1",
            "--min-version",
            "2",
            "--timeout",
            "60",
            "--output",
            "json",
        ],
    )
    .spawn()
    .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    pipeline
        .sender
        .send(&commands::deposit("acc-q1", 250_00, "USD"))
        .await
        .expect("send");
    let started = Instant::now();
    let output = wait_output(waiting).await;
    println!(
        "answered {:?} after the deposit was sent",
        started.elapsed()
    );
    assert!(output.status.success(), "{}", output_text(&output));
    let account: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(account["version"], 2, "{account}");
    assert_eq!(account["balance_minor"], 1_250_00);
    assert_eq!(account["balance"], "1250.00");
    assert_eq!(account["currency"], "USD");
    assert_eq!(account["account_type"], "SAVINGS");
    assert_eq!(account["owner_id"], "owner-q");
    assert_eq!(account["events"][0]["event_type"], "MoneyDeposited");
    assert_eq!(account["events"][1]["event_type"], "AccountOpened");

    // Every event once, also when the table holds copies (as after a replay).
    set.client
        .query("INSERT INTO ? SELECT * FROM ? WHERE account_id = 'acc-q1'")
        .bind(clickhouse::sql::Identifier(&set.tables.events))
        .bind(clickhouse::sql::Identifier(&set.tables.events))
        .execute()
        .await
        .unwrap();
    let output = query(&pipeline, &set, &["acc-q1", "--output", "json"])
        .output()
        .unwrap();
    let account: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let versions: Vec<&serde_json::Value> = account["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["version"])
        .collect();
    assert_eq!(versions, [2, 1], "{account}");

    // For people: the balance as a decimal with its currency, the last events.
    let output = query(&pipeline, &set, &["acc-q1", "--events", "1"])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{}", output_text(&output));
    assert!(shown.contains("balance       1250.00 USD"), "{shown}");
    assert!(shown.contains("status        OPEN"), "{shown}");
    assert!(shown.contains("last 1 event\n"), "{shown}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_version_that_never_comes_times_out_naming_the_lag_and_no_account_is_not_found() {
    let (pipeline, set, _processor, mut projector) = an_account_projected("acc-q2").await;

    let output = query(
        &pipeline,
        &set,
        &["acc-q2", "--min-version", "9", "--timeout", "1"],
    )
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(5), "{}", output_text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("is at version 1 in the read model, not 9")
            && stderr.contains("has written all of"),
        "{stderr}"
    );

    // With the projector stopped, the lag is what the timeout names.
    projector.terminate(Duration::from_secs(10));
    pipeline
        .sender
        .send(&commands::deposit("acc-q2", 1_00, "USD"))
        .await
        .expect("send");
    let deadline = Instant::now() + Duration::from_secs(30);
    let stderr = loop {
        let output = query(
            &pipeline,
            &set,
            &["acc-q2", "--min-version", "2", "--timeout", "0.5"],
        )
        .output()
        .unwrap();
        assert_eq!(output.status.code(), Some(5), "{}", output_text(&output));
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        // The deposit's event and its transaction's commit marker.
        if stderr.contains("2 offsets behind") || Instant::now() > deadline {
            break stderr;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(
        stderr.contains("the clickhouse projection is 2 offsets behind"),
        "{stderr}"
    );

    let output = query(&pipeline, &set, &["nobody"]).output().unwrap();
    assert_eq!(output.status.code(), Some(6), "{}", output_text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("account nobody not found"),
        "{}",
        output_text(&output)
    );
}
