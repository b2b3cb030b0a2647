//! Every statement the project sends to ClickHouse beyond the migrations (those
//! are [`super::schema::MIGRATIONS`]) and the replay's switch (those depend on
//! the server: [`super::server`]): the projection's reads, `query account`, the
//! replay's journal and table listing — and the rows they read.
//!
//! Templates as the `clickhouse` client takes them: each `?` is bound by the
//! caller (a table as an `Identifier`), `?fields` becomes the columns of the row
//! type fetched. In one place so that a test runs each of them, as the callers
//! bind them, on ClickHouse 18.16 and on current ClickHouse, and compares the
//! answers (`tests/tests/clickhouse_current.rs`).

use serde::{Deserialize, Serialize};

/// Where a table set records its applied migrations; made before any migration
/// runs. `${suffix_table}` is the table's name.
pub const MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS ${suffix_table}
(
    version    UInt32,
    name       String,
    checksum   UInt32,
    applied_at DateTime('UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY version";

/// The migrations a set has, as [`AppliedMigration`]s: `?` the migrations table.
pub const APPLIED_MIGRATIONS: &str = "SELECT ?fields FROM ? FINAL ORDER BY version";

/// The versions alone (a `u32` each): `?` the migrations table.
pub const MIGRATION_VERSIONS: &str = "SELECT version FROM ? FINAL";

/// Drops a table or a view: `?` its name.
pub const DROP: &str = "DROP TABLE IF EXISTS ?";

/// Accounts' current states, as `BalanceRow`s: `?` the balances table, then the
/// account ids (an array).
pub const ACCOUNT_STATES: &str =
    "SELECT ?fields FROM ? FINAL WHERE account_id IN (SELECT arrayJoin(?))";

/// A projection's checkpoints for a topic, as `CheckpointRow`s: `?` the
/// checkpoints table, the projection, the topic.
pub const CHECKPOINTS: &str = "SELECT ?fields FROM ? FINAL WHERE projection = ? AND topic = ?";

/// The same, as `(kafka_partition, next_offset)` pairs (`(i32, u64)`).
pub const CHECKPOINT_POSITIONS: &str =
    "SELECT kafka_partition, next_offset FROM ? FINAL WHERE projection = ? AND topic = ?";

/// One account, as an [`AccountRow`]: `?` the balances table, the account id.
/// Its row at the highest version, as `FINAL` would keep it, without merging
/// parts: copies of a version are one state written again (a repair deletes a
/// wrong one before it writes the right one).
pub const ACCOUNT: &str =
    "SELECT ?fields FROM ? WHERE account_id = ? ORDER BY version DESC LIMIT 1";

/// An account's last events, newest first, each once, as [`StatementRow`]s: `?`
/// the events table, the account id, how many. Copies of an event share its key
/// and values, so `LIMIT 1 BY version` keeps the rows `FINAL` would, without
/// merging parts.
pub const LAST_EVENTS: &str = "SELECT ?fields FROM ? WHERE account_id = ? \
                               ORDER BY version DESC LIMIT 1 BY version LIMIT ?";

/// Every event row of some accounts, copies included, as [`AuditRow`]s: `?`
/// the events table, then the account ids (an array). Without `FINAL`: the
/// audit sees every copy, and copies that differ are a divergence.
pub const AUDIT_EVENTS: &str = "SELECT ?fields FROM ? WHERE account_id IN (SELECT arrayJoin(?))";

/// Every account id of a table (a `String` each): `?` the table.
pub const ACCOUNT_IDS: &str = "SELECT account_id FROM ? GROUP BY account_id";

/// Deletes event rows by (account, version as text, event id): `?` the events
/// table, then the triples (an array). A mutation: it touches only the parts
/// that exist when it is made, so rows the live projector inserts after it
/// stay.
pub const DELETE_EVENTS: &str =
    "ALTER TABLE ? DELETE WHERE has(?, (account_id, toString(version), event_id))";

/// Deletes balance rows by (account, version as text): `?` the balances table,
/// then the pairs (an array).
pub const DELETE_BALANCES: &str =
    "ALTER TABLE ? DELETE WHERE has(?, (account_id, toString(version)))";

/// Mutations of a table not done yet (a `u64`): `?` the table's name as text.
pub const PENDING_MUTATIONS: &str = "SELECT count() FROM system.mutations \
                                     WHERE database = currentDatabase() AND table = ? AND is_done = 0";

/// Every table and view of the database (a `String` each).
pub const TABLE_NAMES: &str = "SELECT name FROM system.tables WHERE database = currentDatabase()";

/// The replay journal next to a live set: `?` its name.
pub const JOURNAL: &str = "CREATE TABLE IF NOT EXISTS ?
(
    replay_set    String,
    live_set      String,
    state         String,
    old_set       String,
    tail_from     String,
    started_at_ms Int64,
    updated_at_ms Int64
)
ENGINE = ReplacingMergeTree(updated_at_ms)
ORDER BY replay_set";

/// Every replay the journal records, as [`JournalRow`]s: `?` the journal.
pub const JOURNAL_ENTRIES: &str = "SELECT ?fields FROM ? FINAL ORDER BY replay_set";

/// One row of a set's migrations table.
#[derive(Debug, Clone, PartialEq, Eq, clickhouse::Row, Serialize, Deserialize)]
pub struct AppliedMigration {
    pub version: u32,
    pub name: String,
    pub checksum: u32,
    /// Epoch seconds.
    pub applied_at: u32,
}

/// An account's row of `account_balances`, as `query account` shows it: the
/// projection's own row type, so the table's columns are declared once.
pub use super::rows::BalanceRow as AccountRow;

/// One event of `account_events`, as `query account` shows it.
#[derive(Debug, Clone, PartialEq, Eq, clickhouse::Row, Serialize, Deserialize)]
pub struct StatementRow {
    pub version: u64,
    pub event_type: String,
    pub occurred_at_ms: i64,
    pub currency: String,
    pub amount_minor: i64,
    pub fee_minor: i64,
    pub balance_delta_minor: i64,
    pub balance_after_minor: i64,
    pub counterparty_account_id: String,
    pub event_id: String,
}

/// One row of `account_events` as the audit compares it with the log: every
/// column an event decides (not where or when it was projected).
#[derive(Debug, Clone, PartialEq, Eq, clickhouse::Row, Serialize, Deserialize)]
pub struct AuditRow {
    pub account_id: String,
    pub version: u64,
    pub event_id: String,
    pub event_type: String,
    pub occurred_at_ms: i64,
    pub owner_id: String,
    pub account_type: String,
    pub currency: String,
    pub amount_minor: i64,
    pub fee_minor: i64,
    pub balance_delta_minor: i64,
    pub balance_after_minor: i64,
    pub counterparty_account_id: String,
    pub transfer_id: String,
}

/// One row of the replay journal.
#[derive(Debug, Clone, PartialEq, Eq, clickhouse::Row, Serialize, Deserialize)]
pub struct JournalRow {
    pub replay_set: String,
    pub live_set: String,
    pub state: String,
    pub old_set: String,
    pub tail_from: String,
    pub started_at_ms: i64,
    pub updated_at_ms: i64,
}
