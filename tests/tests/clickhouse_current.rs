//! The project's ClickHouse SQL on current ClickHouse (chDB: ClickHouse 26.x's
//! engine in-process) and on ClickHouse 18.16 (the local stack), side by side.
//!
//! Every migration, both table sets of a replay, the replay's switch as each
//! server makes it ([`server::ServerVersion`] chooses), the views and every read
//! the projection, `query account` and the replay send ([`sql`]) run on both,
//! on the same rows inserted through SQL, in a database of the test's own; each
//! read's columns, types and rows must agree. The statements come from the
//! project's code, bound as its callers bind them; only the rows are the test's.

// Amounts in minor units read best grouped as units and cents: 100_00 is 100.00.
#![allow(clippy::inconsistent_digit_grouping)]

use clickhouse::sql::Identifier;
use clickhouse::{Client, Row};
use ledgerstream_infra::Service;
use ledgerstream_projections::clickhouse::journal::Journal;
use ledgerstream_projections::clickhouse::rows::{BalanceRow, CheckpointRow, EventRow};
use ledgerstream_projections::clickhouse::schema::MIGRATIONS;
use ledgerstream_projections::clickhouse::server::{self, ServerVersion, Switch};
use ledgerstream_projections::clickhouse::sql::{
    self, AccountRow, AppliedMigration, AuditRow, JournalRow, StatementRow,
};
use ledgerstream_projections::clickhouse::{ClickHouseConfig, NAME, Tables, client};
use ledgerstream_tests::chdb::{Answer, ChDb};
use ledgerstream_tests::{require, unique_name};
use serde::Serialize;
use serde_json::Value;

const TOPIC: &str = "account-events";
/// 2026-01-01T00:00:00Z.
const JANUARY_1ST: u32 = 1_767_225_600;

/// A statement as the `clickhouse` client sends it: `?` bound by the caller,
/// `?fields` the columns of `T` (the client's own expansion).
fn sent<T: Row>(query: clickhouse::query::Query) -> String {
    let fields: Vec<String> = T::COLUMN_NAMES.iter().map(|c| format!("`{c}`")).collect();
    query
        .sql_display()
        .to_string()
        .replace("?fields", &fields.join(","))
}

/// A statement without `?fields`, bound.
fn bound(query: clickhouse::query::Query) -> String {
    query.sql_display().to_string()
}

/// `template`, to be bound.
fn template(template: &str) -> clickhouse::query::Query {
    Client::default().query(template)
}

/// `rows` as one `INSERT … VALUES`, columns named by the project's row type.
fn insert<T: Row + Serialize>(table: &str, rows: &[T]) -> String {
    let tuples: Vec<String> = rows
        .iter()
        .map(|row| {
            let value = serde_json::to_value(row).expect("a row serializes");
            let cells: Vec<String> = T::COLUMN_NAMES
                .iter()
                .map(|column| match &value[*column] {
                    Value::String(text) => {
                        format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
                    }
                    Value::Number(number) => number.to_string(),
                    other => panic!("{column}: no literal for {other}"),
                })
                .collect();
            format!("({})", cells.join(", "))
        })
        .collect();
    let columns: Vec<String> = T::COLUMN_NAMES.iter().map(|c| format!("`{c}`")).collect();
    format!(
        "INSERT INTO `{table}` ({}) VALUES {}",
        columns.join(", "),
        tuples.join(", ")
    )
}

fn at(day: u32, hour: u32) -> u32 {
    JANUARY_1ST + day * 86_400 + hour * 3_600
}

/// An account's fixed facts.
struct Account {
    id: &'static str,
    owner: &'static str,
    kind: &'static str,
    currency: &'static str,
}

const ALICE: Account = Account {
    id: "acc-1",
    owner: "alice",
    kind: "CHECKING",
    currency: "EUR",
};
const BOB: Account = Account {
    id: "acc-2",
    owner: "bob",
    kind: "SAVINGS",
    currency: "EUR",
};
const CAROL: Account = Account {
    id: "acc-3",
    owner: "carol",
    kind: "BUSINESS",
    currency: "USD",
};

/// What one event did: (version, type, day, amount, fee, balance change,
/// balance after, counterparty).
type Move = (u64, &'static str, u32, i64, i64, i64, i64, &'static str);

fn event(
    account: &Account,
    (version, event_type, day, amount, fee, delta, after, other): Move,
) -> EventRow<'static> {
    let id = |what: &str| -> &'static str {
        Box::leak(format!("{what}-{}-{version}", account.id).into_boxed_str())
    };
    EventRow {
        account_id: account.id,
        version,
        event_id: id("event"),
        event_type,
        occurred_at: at(day, 9 + version as u32),
        occurred_at_ms: i64::from(at(day, 9 + version as u32)) * 1_000 + 123,
        owner_id: account.owner,
        account_type: account.kind,
        currency: account.currency,
        amount_minor: amount,
        fee_minor: fee,
        balance_delta_minor: delta,
        balance_after_minor: after,
        counterparty_account_id: other,
        transfer_id: if other.is_empty() { "" } else { id("transfer") },
        reference: "it's -- a reference; with ?",
        channel: if event_type == "MoneyWithdrawn" {
            "ATM"
        } else {
            ""
        },
        reason_code: "",
        reason: "",
        command_id: id("command"),
        correlation_id: id("correlation"),
        causation_id: id("causation"),
        source_partition: if account.id == BOB.id { 1 } else { 0 },
        source_offset: version as i64,
        projected_at: at(9, 0),
    }
}

fn balance(
    account: &Account,
    version: u64,
    balance_minor: i64,
    status: &str,
    day: u32,
) -> BalanceRow {
    BalanceRow {
        account_id: account.id.to_owned(),
        owner_id: account.owner.to_owned(),
        account_type: account.kind.to_owned(),
        currency: account.currency.to_owned(),
        status: status.to_owned(),
        balance_minor,
        version,
        opened_at: at(1, 10),
        last_activity_at: at(day, 12),
        last_activity_at_ms: i64::from(at(day, 12)) * 1_000 + 7,
        projected_at: at(9, 0),
    }
}

fn checkpoint(partition: i32, next_offset: u64) -> CheckpointRow {
    CheckpointRow {
        projection: NAME.to_owned(),
        topic: TOPIC.to_owned(),
        kafka_partition: partition,
        next_offset,
        last_event_at: at(2, 0),
        last_event_at_ms: i64::from(at(2, 0)) * 1_000,
        updated_at: at(9, 0),
        updated_at_ms: i64::from(at(9, 0)) * 1_000 + next_offset as i64,
    }
}

/// The rows a set holds. The replayed set holds what the live one does and one
/// event more (acc-1's fifth), as a replay of a longer log would.
fn rows(replayed: bool) -> Vec<String> {
    let tables = Tables::with_suffix(if replayed { "v2" } else { "" });
    let mut alice = vec![
        (1, "AccountOpened", 1, 100_00, 0, 100_00, 100_00, ""),
        (2, "MoneyDeposited", 1, 50_00, 0, 50_00, 150_00, ""),
        (3, "MoneyWithdrawn", 2, 20_00, 1_00, -21_00, 129_00, ""),
        (4, "TransferDebited", 2, 10_00, 50, -10_50, 118_50, BOB.id),
    ];
    if replayed {
        alice.push((5, "MoneyDeposited", 3, 1_50, 0, 1_50, 120_00, ""));
    }
    let bob = [
        (1, "AccountOpened", 1, 0, 0, 0, 0, ""),
        (2, "TransferCredited", 2, 10_00, 0, 10_00, 10_00, ALICE.id),
    ];
    let carol = [
        (1, "AccountOpened", 1, 500_00, 0, 500_00, 500_00, ""),
        (
            2,
            "TransferDebited",
            2,
            100_00,
            2_00,
            -102_00,
            398_00,
            "acc-9",
        ),
        (
            3,
            "TransferRefunded",
            3,
            100_00,
            2_00,
            102_00,
            500_00,
            "acc-9",
        ),
        (4, "AccountClosed", 3, 0, 0, 0, 500_00, ""),
    ];
    let mut events: Vec<EventRow<'static>> = alice.iter().map(|m| event(&ALICE, *m)).collect();
    events.extend(bob.iter().map(|m| event(&BOB, *m)));
    events.extend(carol.iter().map(|m| event(&CAROL, *m)));
    // Written twice, as after a retried batch: in a part of their own.
    let again = [
        event(&ALICE, alice[1]),
        event(&ALICE, alice[2]),
        event(&CAROL, carol[1]),
    ];
    let (alice_version, alice_balance, alice_day) = if replayed {
        (5, 120_00, 3)
    } else {
        (4, 118_50, 2)
    };
    let migrations: Vec<AppliedMigration> = MIGRATIONS
        .iter()
        .map(|m| AppliedMigration {
            version: m.version,
            name: m.name.to_owned(),
            checksum: m.checksum(),
            applied_at: at(if replayed { 8 } else { 0 }, 1),
        })
        .collect();
    vec![
        insert(&tables.events, &events),
        insert(&tables.events, &again),
        // The newest state first: version, not arrival, decides what stays.
        insert(
            &tables.balances,
            &[
                balance(&ALICE, alice_version, alice_balance, "OPEN", alice_day),
                balance(&BOB, 2, 10_00, "OPEN", 2),
                balance(&CAROL, 4, 500_00, "CLOSED", 3),
            ],
        ),
        insert(&tables.balances, &[balance(&ALICE, 2, 150_00, "OPEN", 1)]),
        insert(
            &tables.checkpoints,
            &[
                checkpoint(0, if replayed { 13 } else { 12 }),
                checkpoint(1, 4),
            ],
        ),
        // A checkpoint written again after a restart, behind: it must not win.
        insert(&tables.checkpoints, &[checkpoint(0, 9)]),
        insert(&tables.migrations, &migrations),
    ]
}

/// Every read the project sends to a set, bound as its callers bind them, and
/// the views read whole.
fn reads(tables: &Tables) -> Vec<String> {
    let balances = || template(sql::ACCOUNT).bind(Identifier(&tables.balances));
    let events = || template(sql::LAST_EVENTS).bind(Identifier(&tables.events));
    vec![
        sent::<AccountRow>(balances().bind(ALICE.id)),
        sent::<AccountRow>(balances().bind(CAROL.id)),
        sent::<AccountRow>(balances().bind("nobody")),
        sent::<StatementRow>(events().bind(ALICE.id).bind(3_u32)),
        sent::<StatementRow>(events().bind(ALICE.id).bind(10_u32)),
        sent::<StatementRow>(events().bind(CAROL.id).bind(10_u32)),
        sent::<BalanceRow>(
            template(sql::ACCOUNT_STATES)
                .bind(Identifier(&tables.balances))
                .bind([ALICE.id, CAROL.id, "nobody"].as_slice()),
        ),
        // The audit's reads: every copy of an account's rows, every account.
        format!(
            "{} ORDER BY account_id, version",
            sent::<AuditRow>(
                template(sql::AUDIT_EVENTS)
                    .bind(Identifier(&tables.events))
                    .bind([ALICE.id, CAROL.id, "nobody"].as_slice()),
            )
        ),
        format!(
            "{} ORDER BY account_id",
            bound(template(sql::ACCOUNT_IDS).bind(Identifier(&tables.balances)))
        ),
        sent::<CheckpointRow>(
            template(sql::CHECKPOINTS)
                .bind(Identifier(&tables.checkpoints))
                .bind(NAME)
                .bind(TOPIC),
        ),
        bound(
            template(sql::CHECKPOINT_POSITIONS)
                .bind(Identifier(&tables.checkpoints))
                .bind(NAME)
                .bind(TOPIC),
        ),
        sent::<AppliedMigration>(
            template(sql::APPLIED_MIGRATIONS).bind(Identifier(&tables.migrations)),
        ),
        bound(template(sql::MIGRATION_VERSIONS).bind(Identifier(&tables.migrations))),
        format!(
            "SELECT * FROM `{}` ORDER BY day, account_id",
            tables.daily_stats
        ),
        format!(
            "SELECT * FROM `{}` ORDER BY day, account_type, currency",
            tables.type_daily_stats
        ),
    ]
}

/// ClickHouse 18.16 (a database of the test's own) and chDB, side by side.
struct Servers {
    old: Client,
    /// Where 18.16 is, for a client of its own when the database is dropped.
    admin: ClickHouseConfig,
    database: String,
    current: ChDb,
    /// Statements run on both, answers compared, rows in them.
    statements: usize,
    answers: usize,
    rows: usize,
}

impl Servers {
    async fn start() -> Self {
        let endpoint = require(Service::ClickHouse).await;
        let mut config = ClickHouseConfig::new(endpoint.address);
        config.compression = false;
        let admin = config.clone();
        let database = unique_name("ls_sql_check");
        let mut current = ChDb::start();
        for statement in [
            format!("CREATE DATABASE `{database}`"),
            format!("USE `{database}`"),
        ] {
            current
                .run(&statement, false)
                .unwrap_or_else(|e| panic!("chDB refused {statement}: {e}"));
        }
        client(&admin)
            .query_raw(&format!("CREATE DATABASE `{database}`"))
            .execute()
            .await
            .expect("creating the test's database on ClickHouse 18.16");
        config.database = database.clone();
        Self {
            old: client(&config),
            admin,
            database,
            current,
            statements: 0,
            answers: 0,
            rows: 0,
        }
    }

    /// Runs `statement` on 18.16: its answer when it is a `SELECT`.
    async fn on_old(&self, statement: &str) -> Result<Option<Answer>, String> {
        let query = self.old.query_raw(statement);
        if !returns_rows(statement) {
            return query
                .execute()
                .await
                .map(|()| None)
                .map_err(|e| e.to_string());
        }
        let bytes = async { query.fetch_bytes("JSONCompact")?.collect().await }
            .await
            .map_err(|e| e.to_string())?;
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        Ok(Some(Answer::from_json_compact(&value)))
    }

    /// Runs `statement` on current ClickHouse.
    fn on_current(&mut self, statement: &str) -> Result<Option<Answer>, String> {
        self.current.run(statement, returns_rows(statement))
    }

    /// Runs `statement` on both; a read's answers must agree (in any order of
    /// rows when it sets none).
    async fn both(&mut self, statement: &str) -> Option<Answer> {
        let old = self
            .on_old(statement)
            .await
            .unwrap_or_else(|e| panic!("ClickHouse 18.16 refused:\n{statement}\n{e}"));
        let current = self
            .on_current(statement)
            .unwrap_or_else(|e| panic!("current ClickHouse refused:\n{statement}\n{e}"));
        self.statements += 1;
        let (Some(mut old), Some(mut current)) = (old, current) else {
            return None;
        };
        self.answers += 1;
        self.rows += current.rows.len();
        if !statement.contains("ORDER BY") {
            old.rows.sort();
            current.rows.sort();
        }
        assert_eq!(
            old, current,
            "18.16 (left) and current ClickHouse (right) answer differently:\n{statement}"
        );
        Some(current)
    }
}

impl Drop for Servers {
    /// Drops the test's database on 18.16, also when the test failed (chDB's
    /// goes with its temporary folder).
    fn drop(&mut self) {
        let (admin, database) = (self.admin.clone(), self.database.clone());
        // On a thread and a client of its own: the test's runtime (and with it
        // the connections of the test's clients) may be gone or busy.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime
                .block_on(
                    client(&admin)
                        .query_raw(&format!("DROP DATABASE IF EXISTS `{database}`"))
                        .execute(),
                )
                .map_err(std::io::Error::other)
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!(
                "dropping the test database {} failed: {dropped:?}",
                self.database
            );
        }
    }
}

fn returns_rows(statement: &str) -> bool {
    statement.trim_start().starts_with("SELECT")
}

/// Every read of `tables` on both servers, their answers.
async fn read_all(servers: &mut Servers, tables: &Tables) -> Vec<Option<Answer>> {
    let mut answers = Vec::new();
    for read in reads(tables) {
        answers.push(servers.both(&read).await);
    }
    answers
}

/// The statements that switch `replayed` in under `live`'s names, `live` moving
/// to `old`, on `server` — as `ledgerstream replay clickhouse` makes a switch
/// not started yet.
fn switch(
    server: &ServerVersion,
    live: &Tables,
    replayed: &Tables,
    old: &Tables,
    set: &str,
) -> Vec<String> {
    let tables = |t: &Tables| {
        [
            t.events.clone(),
            t.balances.clone(),
            t.checkpoints.clone(),
            t.migrations.clone(),
        ]
    };
    let (live, replayed, old) = (tables(live), tables(replayed), tables(old));
    match server.switch() {
        Switch::Rename => {
            let mut pairs: Vec<(&str, &str)> = live
                .iter()
                .zip(&old)
                .map(|(l, o)| (l.as_str(), o.as_str()))
                .collect();
            pairs.extend(
                replayed
                    .iter()
                    .zip(&live)
                    .map(|(r, l)| (r.as_str(), l.as_str())),
            );
            vec![server::rename(&pairs)]
        }
        Switch::Exchange => {
            let mut statements: Vec<String> =
                replayed.iter().map(|r| server::tag_table(r, set)).collect();
            statements.extend(
                live.iter()
                    .zip(&replayed)
                    .map(|(l, r)| server::exchange(l, r)),
            );
            let pairs: Vec<(&str, &str)> = replayed
                .iter()
                .zip(&old)
                .map(|(r, o)| (r.as_str(), o.as_str()))
                .collect();
            statements.push(server::rename(&pairs));
            statements
        }
    }
}

fn server_version(answer: Option<Answer>) -> ServerVersion {
    let answer = answer.expect("an answer");
    let row = answer.rows.first().expect("one row");
    ServerVersion {
        version: row[0].clone(),
        database_engine: row[1].clone(),
    }
}

#[tokio::test]
async fn migrations_replay_switch_and_reads_agree_on_clickhouse_18_16_and_current() {
    let mut servers = Servers::start().await;
    let old_server = server_version(servers.on_old(server::QUERY).await.expect("version"));
    let current_server = server_version(servers.on_current(server::QUERY).expect("version"));
    println!(
        "ClickHouse {} ({} database) and chDB {} = ClickHouse {} ({} database)",
        old_server.version,
        old_server.database_engine,
        servers.current.chdb_version,
        current_server.version,
        current_server.database_engine
    );

    let live = Tables::with_suffix("");
    let replayed = Tables::with_suffix("v2");
    let old = Tables::with_suffix("old_20260110T000000");

    // Both sets, migrated, then filled; the replay journal beside them.
    for tables in [&live, &replayed] {
        servers
            .both(&sql::MIGRATIONS_TABLE.replace("${suffix_table}", &tables.migrations))
            .await;
        for migration in MIGRATIONS {
            for statement in migration.statements(&tables.suffix) {
                servers.both(&statement).await;
            }
        }
    }
    let journal = Journal::table_of(&Tables::with_suffix(""));
    servers
        .both(&bound(template(sql::JOURNAL).bind(Identifier(&journal))))
        .await;
    for replayed_rows in [false, true] {
        for statement in rows(replayed_rows) {
            servers.both(&statement).await;
        }
    }
    let entries = |state: &str, updated_at_ms| JournalRow {
        replay_set: "v2".to_owned(),
        live_set: String::new(),
        state: state.to_owned(),
        old_set: "old_20260110T000000".to_owned(),
        tail_from: "0:13,1:4".to_owned(),
        started_at_ms: 1,
        updated_at_ms,
    };
    servers
        .both(&insert(
            &journal,
            &[entries("replaying", 1), entries("switching", 2)],
        ))
        .await;
    let journaled = servers
        .both(&sent::<JournalRow>(
            template(sql::JOURNAL_ENTRIES).bind(Identifier(&journal)),
        ))
        .await
        .expect("journal entries");
    assert_eq!(
        journaled.rows.len(),
        1,
        "FINAL keeps the latest entry: {journaled:?}"
    );

    let live_before = read_all(&mut servers, &live).await;
    let replayed_before = read_all(&mut servers, &replayed).await;
    assert_ne!(
        live_before, replayed_before,
        "the sets differ before the switch"
    );
    let all_events = bound(
        template(sql::LAST_EVENTS)
            .bind(Identifier(&live.events))
            .bind(ALICE.id)
            .bind(10_u32),
    );
    let last_events = servers
        .both(&all_events.replace("?fields", "version"))
        .await
        .expect("acc-1's events");
    let mut versions: Vec<&String> = last_events.rows.iter().map(|row| &row[0]).collect();
    versions.dedup();
    assert_eq!(
        versions.len(),
        last_events.rows.len(),
        "LIMIT 1 BY version: each event once"
    );

    // The switch, as each server makes it.
    let old_switch = switch(&old_server, &live, &replayed, &old, "v2");
    let current_switch = switch(&current_server, &live, &replayed, &old, "v2");
    for statement in &old_switch {
        servers
            .on_old(statement)
            .await
            .unwrap_or_else(|e| panic!("ClickHouse 18.16 refused {statement}: {e}"));
    }
    for statement in &current_switch {
        if statement.starts_with("RENAME") && current_server.switch() == Switch::Exchange {
            // Swapped: the tag moved with the tables into the live names, which
            // is how a switch stopped here is resumed.
            let tagged = bound(template(server::TAGGED_TABLES).bind(server::tag("v2")));
            let mut tagged = servers
                .on_current(&tagged)
                .expect("tagged tables")
                .expect("rows")
                .rows;
            tagged.sort();
            let mut names = vec![
                live.events.clone(),
                live.balances.clone(),
                live.checkpoints.clone(),
                live.migrations.clone(),
            ];
            names.sort();
            assert_eq!(
                tagged,
                names.into_iter().map(|n| vec![n]).collect::<Vec<_>>()
            );
        }
        servers
            .on_current(statement)
            .unwrap_or_else(|e| panic!("current ClickHouse refused {statement}: {e}"));
    }
    println!("switch on 18.16: {old_switch:#?}\nswitch on current ClickHouse: {current_switch:#?}");

    // Views after the switch: the replayed set's go, the old set gets its own.
    for view in [&replayed.daily_stats, &replayed.type_daily_stats] {
        servers
            .both(&bound(template(sql::DROP).bind(Identifier(view))))
            .await;
    }
    let views = MIGRATIONS
        .iter()
        .flat_map(|m| m.statements(&old.suffix))
        .filter(|s| s.starts_with("CREATE VIEW"));
    for statement in views {
        servers.both(&statement).await;
    }

    // The live names answer as the replayed set did, the old names as the live one.
    assert_eq!(read_all(&mut servers, &live).await, replayed_before);
    assert_eq!(read_all(&mut servers, &old).await, live_before);

    // --drop-old.
    for table in old.all() {
        servers
            .both(&bound(template(sql::DROP).bind(Identifier(table))))
            .await;
    }
    let names = servers.both(sql::TABLE_NAMES).await.expect("table names");
    let mut expected: Vec<Vec<String>> = live
        .all()
        .iter()
        .chain([&journal.as_str()])
        .map(|name| vec![(*name).to_owned()])
        .collect();
    expected.sort();
    assert_eq!(names.rows, expected);
    println!(
        "{} statements run on both, {} answers compared, {} rows",
        servers.statements, servers.answers, servers.rows
    );
}
