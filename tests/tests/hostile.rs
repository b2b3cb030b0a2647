//! Hostile text end to end, on the real broker, registry, processor, ClickHouse
//! projector, history projector and search server: account ids, owner ids and
//! references with quotes, newlines, control characters, SQL and JSON
//! metacharacters, emoji and a leading hyphen, up to their limits
//! (schemas/README.md, "Text limits"), go in through `ledgerstream produce` and
//! come back byte-identical from ClickHouse, `query account` and `query history`.
//! Text over its limit (10 KB) is refused with its reason — by `produce` for an
//! account id, by the processor (`FIELD_TOO_LONG`) for the rest, and an account
//! id sent around `produce` goes to the dead-letter topic (`field-too-long`) —
//! and leaves no trace in either read model.
//!
//! The test uses its own topics, table set and history alias (random names) and
//! removes them.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use clickhouse::sql::Identifier;
use ledgerstream_producers::commands;
use ledgerstream_runtime::dead_letters::headers as dlq;
use ledgerstream_schemas::limits::{MAX_ACCOUNT_ID_BYTES, MAX_TEXT_BYTES};
use ledgerstream_tests::clickhouse::TableSet;
use ledgerstream_tests::history::HistoryIndex;
use ledgerstream_tests::output_text;
use ledgerstream_tests::pipeline::Pipeline;
use serde_json::{Value, json};

/// Account (and owner) ids no system along the way may change or choke on.
fn hostile_ids() -> Vec<String> {
    vec![
        r#"o'brien"; DROP TABLE accounts; --"#.to_owned(),
        "line\nbreak\r\nand\ttab\u{7}\u{1b}[31mred".to_owned(),
        r#"{"$ne":null,"a":[1,{}]}\\u0000\'\""#.to_owned(),
        "%_*? [a-z] OR 1=1 /* */ \\N NULL ${x} `id`".to_owned(),
        "💸🏦👩‍👩‍👧 счёт 口座 \u{2028}\u{feff}".to_owned(),
        "-' OR '1'='1".to_owned(),
        // Exactly the limit: 32 four-byte characters.
        "🦀".repeat(MAX_ACCOUNT_ID_BYTES / 4),
    ]
}

/// `pattern` repeated to exactly `bytes` bytes of UTF-8, or one character short
/// when the next one would not fit.
fn text_of(pattern: &str, bytes: usize) -> String {
    let mut text = String::new();
    for c in pattern.chars().cycle() {
        if text.len() + c.len_utf8() > bytes {
            break;
        }
        text.push(c);
    }
    text
}

/// A reference at the limit, built from the metacharacters and `seed`.
fn hostile_reference(seed: &str) -> String {
    text_of(
        &format!("{seed}'\"\\\n\r\t{{}}[]%_;--/**/💸🦀 <script>&amp;"),
        MAX_TEXT_BYTES,
    )
}

/// `ledgerstream <args>` against the pipeline, reading standard input.
fn ledgerstream(pipeline: &Pipeline, args: &[&str]) -> Command {
    let mut command = pipeline.ledgerstream(args);
    command.stdin(Stdio::piped());
    command
}

/// `produce --wait --output json` with `lines` on standard input: the exit
/// code and one object per command.
fn produce(pipeline: &Pipeline, lines: &[Value]) -> (Option<i32>, Vec<Value>, Output) {
    let suffix = format!("--topic-suffix={}", pipeline.suffix);
    let mut child = ledgerstream(
        pipeline,
        &["produce", "--wait", "--output", "json", &suffix],
    )
    .spawn()
    .unwrap();
    let mut input = String::new();
    for line in lines {
        input.push_str(&line.to_string());
        input.push('\n');
    }
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let objects = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    (output.status.code(), objects, output)
}

/// `query <what> <flags> -- <account>` as JSON, which must succeed.
fn query(
    pipeline: &Pipeline,
    set: &TableSet,
    history: &HistoryIndex,
    what: &str,
    account: &str,
    min_version: u64,
) -> Value {
    let topics = format!("--topic-suffix={}", pipeline.suffix);
    let version = min_version.to_string();
    let mut args = vec![
        "query",
        what,
        &topics,
        "--min-version",
        &version,
        "--timeout",
        "120",
        "--output",
        "json",
    ];
    let flags = history.flags();
    if what == "account" {
        args.extend(["--table-suffix", &set.suffix, "--events", "50"]);
    } else {
        args.extend(flags.iter().map(String::as_str));
    }
    args.extend(["--", account]);
    let output = ledgerstream(pipeline, &args).output().unwrap();
    assert!(
        output.status.success(),
        "query {what}: {}",
        output_text(&output)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_text_comes_back_unchanged_or_is_refused_with_its_reason() {
    let pipeline = Pipeline::new(1).await;
    let set = TableSet::new().await;
    let history = HistoryIndex::new().await;
    let _processor = pipeline
        .processor("processor", &["--batch-millis", "10"])
        .await;
    let clickhouse = pipeline
        .projector("clickhouse", &set.suffix, &["--batch-millis", "50"])
        .await;
    let group = format!("history{}", pipeline.suffix);
    let mut args = vec!["history", "--group", &group, "--batch-millis", "50"];
    let flags = history.flags();
    args.extend(flags.iter().map(String::as_str));
    let search = pipeline.project("history", &args).await;

    // Each account is opened by an owner of the same name, gets a deposit and
    // sends a transfer to the next one (the last to the first): versions 1 to 4.
    let ids = hostile_ids();
    let next = |i: usize| &ids[(i + 1) % ids.len()];
    let deposit_reference = |i: usize| hostile_reference(&format!("deposit {i} "));
    let transfer_reference = |i: usize| hostile_reference(&format!("transfer {i} "));
    let mut lines = Vec::new();
    let mut senders = Vec::new();
    for id in &ids {
        lines.push(json!({"command": "open", "account": id, "owner": id, "initial": "100.00"}));
        senders.push(id);
    }
    for (i, id) in ids.iter().enumerate() {
        senders.extend([id, id]);
        lines.push(
            json!({"command": "deposit", "account": id, "amount": "1.00",
            "reference": deposit_reference(i)}),
        );
        lines.push(
            json!({"command": "transfer", "from": id, "to": next(i), "amount": "2.00",
            "reference": transfer_reference(i)}),
        );
    }
    let (code, objects, output) = produce(&pipeline, &lines);
    assert_eq!(
        code,
        Some(0),
        "{}\n{}",
        output_text(&output),
        clickhouse.log_tail()
    );
    assert_eq!(objects.len(), lines.len(), "{}", output_text(&output));
    for (object, id) in objects.iter().zip(senders) {
        assert_eq!(object["status"], "accepted", "{object}");
        assert_eq!(object["account_id"].as_str(), Some(id.as_str()), "{object}");
    }

    for (i, id) in ids.iter().enumerate() {
        let previous = &ids[(i + ids.len() - 1) % ids.len()];

        // ClickHouse, through `query account`.
        let account = query(&pipeline, &set, &history, "account", id, 4);
        assert_eq!(
            account["account_id"].as_str(),
            Some(id.as_str()),
            "{account}"
        );
        assert_eq!(account["owner_id"].as_str(), Some(id.as_str()), "{account}");
        assert_eq!(account["version"], 4, "{account}");
        let counterparties: Vec<(&str, Option<&str>)> = account["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["event_type"].as_str().unwrap(),
                    e["counterparty_account_id"].as_str(),
                )
            })
            .filter(|(_, c)| c.is_some_and(|c| !c.is_empty()))
            .collect();
        assert_eq!(
            counterparties,
            [
                ("TransferCredited", Some(previous.as_str())),
                ("TransferDebited", Some(next(i).as_str())),
            ],
            "{account}"
        );

        // ClickHouse's events table, read with the id bound as a parameter.
        let references: Vec<(u64, String)> = set
            .client
            .query("SELECT version, reference FROM ? WHERE account_id = ? ORDER BY version")
            .bind(Identifier(&set.tables.events))
            .bind(id.as_str())
            .fetch_all()
            .await
            .unwrap();
        assert_eq!(
            references,
            [
                (1, String::new()),
                (2, deposit_reference(i)),
                (3, transfer_reference(i)),
                (4, transfer_reference((i + ids.len() - 1) % ids.len())),
            ],
            "the events table of {id:?}"
        );

        // The search index, through `query history`.
        let page = query(&pipeline, &set, &history, "history", id, 4);
        let movements: Vec<(u64, &str, Option<&str>, Option<&str>)> = page["movements"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["version"].as_u64().unwrap(),
                    m["account_id"].as_str().unwrap(),
                    m["reference"].as_str(),
                    m["counterparty_account_id"].as_str(),
                )
            })
            .collect();
        let (deposit, sent) = (deposit_reference(i), transfer_reference(i));
        let received = transfer_reference((i + ids.len() - 1) % ids.len());
        assert_eq!(
            movements,
            [
                (
                    4,
                    id.as_str(),
                    Some(received.as_str()),
                    Some(previous.as_str())
                ),
                (3, id.as_str(), Some(sent.as_str()), Some(next(i).as_str())),
                (2, id.as_str(), Some(deposit.as_str()), None),
                (1, id.as_str(), None, None),
            ],
            "the history of {id:?}: {page}\n{}",
            search.log_tail()
        );
    }

    // Over the limits: refused, each with its reason; the stream goes on.
    let long = text_of("'\"\n💸{}", 10 * 1024);
    let over_by_one = "a".repeat(MAX_ACCOUNT_ID_BYTES + 1);
    let refused = [
        json!({"command": "deposit", "account": &long, "amount": "1.00"}),
        json!({"command": "deposit", "account": &over_by_one, "amount": "1.00"}),
        json!({"command": "deposit", "account": &ids[0], "amount": "1.00", "reference": &long}),
        json!({"command": "open", "account": "hostile-owner", "owner": &long, "initial": "1.00"}),
        json!({"command": "transfer", "from": &ids[0], "to": &long, "amount": "1.00"}),
        json!({"command": "close", "account": &ids[0], "reason": &long}),
    ];
    let (code, objects, output) = produce(&pipeline, &refused);
    assert_eq!(
        code,
        Some(4),
        "invalid input is exit code 4: {}",
        output_text(&output)
    );
    let answers: Vec<(&str, Option<&str>, &str)> = objects
        .iter()
        .map(|o| {
            (
                o["status"].as_str().unwrap(),
                o["reason_code"].as_str(),
                o["error"]
                    .as_str()
                    .or(o["message"].as_str())
                    .unwrap_or_default(),
            )
        })
        .collect();
    let long_bytes = long.len();
    let expected = [
        (
            "invalid",
            None,
            format!("DepositMoney.account_id is {long_bytes} bytes long; the limit is 128"),
        ),
        (
            "invalid",
            None,
            "DepositMoney.account_id is 129 bytes long; the limit is 128".to_owned(),
        ),
        (
            "rejected",
            Some("FIELD_TOO_LONG"),
            format!("DepositMoney.reference is {long_bytes} bytes long; the limit is 1024"),
        ),
        (
            "rejected",
            Some("FIELD_TOO_LONG"),
            format!("OpenAccount.owner_id is {long_bytes} bytes long; the limit is 128"),
        ),
        (
            "rejected",
            Some("FIELD_TOO_LONG"),
            format!("DebitTransfer.to_account_id is {long_bytes} bytes long; the limit is 128"),
        ),
        (
            "rejected",
            Some("FIELD_TOO_LONG"),
            format!("CloseAccount.reason is {long_bytes} bytes long; the limit is 1024"),
        ),
    ];
    assert_eq!(answers.len(), expected.len(), "{}", output_text(&output));
    for ((status, reason, message), (want_status, want_reason, want_message)) in
        answers.iter().zip(&expected)
    {
        assert_eq!(
            (*status, *reason),
            (*want_status, *want_reason),
            "{}",
            output_text(&output)
        );
        assert!(
            message.contains(want_message.as_str()),
            "{message:?} does not say {want_message:?}"
        );
    }

    // Around `produce`'s check, an account id over its limit cannot be answered
    // (a result names its account): the processor dead-letters the record as it
    // came, saying why.
    let record = commands::deposit(&long, 1_00, "EUR");
    let payload = pipeline.codec.encode(&record).unwrap();
    pipeline
        .sender
        .send_raw(long.as_bytes(), &payload)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let letters = loop {
        let letters = pipeline.read_all(&pipeline.topics.dead_letters);
        if !letters.is_empty() {
            break letters;
        }
        assert!(Instant::now() < deadline, "no dead letter after 60 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(letters.len(), 1, "one dead letter");
    let letter = &letters[0];
    assert_eq!(letter.key.as_deref(), Some(long.as_str()));
    assert_eq!(letter.payload, payload, "the record as it came");
    assert_eq!(
        letter.headers[dlq::ERROR_CLASS],
        "field-too-long",
        "{letter:?}"
    );
    let why = &letter.headers[dlq::ERROR_MESSAGE];
    assert!(why.contains("account_id") && why.contains("128"), "{why}");

    // Nothing refused reached a read model: the first account is still at
    // version 4 once a later deposit shows, and no row holds the long text.
    let (code, _, output) = produce(
        &pipeline,
        &[json!({"command": "deposit", "account": &ids[0], "amount": "1.00"})],
    );
    assert_eq!(code, Some(0), "{}", output_text(&output));
    let account = query(&pipeline, &set, &history, "account", &ids[0], 5);
    assert_eq!(account["version"], 5, "{account}");
    let page = query(&pipeline, &set, &history, "history", &ids[0], 5);
    assert_eq!(page["movements"].as_array().unwrap().len(), 5, "{page}");
    for table in [&set.tables.events, &set.tables.balances] {
        let count = set
            .count(
                "SELECT count() FROM ? WHERE account_id = 'hostile-owner' OR length(account_id) > 128",
                table,
            )
            .await;
        assert_eq!(count, 0, "{table}");
    }
}
