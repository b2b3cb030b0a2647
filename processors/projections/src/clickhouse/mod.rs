//! The ClickHouse projection: `account-events` into analytical tables.
//!
//! | table | engine, key | holds |
//! |---|---|---|
//! | `account_events` | ReplacingMergeTree, (account_id, version) | every event, flattened, with the account's owner, type and currency |
//! | `account_balances` | ReplacingMergeTree(version), account_id | each account's current state: balance, status, type, owner, version, last activity |
//! | `account_daily_stats`, `account_type_daily_stats` | views over `account_events FINAL` | per day and account / account type: counts and sums of deposits, withdrawals, fees, transfers |
//! | `projection_checkpoints` | ReplacingMergeTree(next_offset) | the last durable position per partition |
//!
//! Every name takes the table suffix (`account_events_v1`). The DDL is in
//! `infra/clickhouse/migrations/`, applied at start ([`schema`]). Every table
//! collapses rows written twice, so the runner's at-least-once writes stay exact
//! for readers that use `FINAL`; docs/clickhouse.md lists the queries.
//!
//! Files: [`config`] (settings, table names), [`sink`] (the [`Sink`] impl),
//! [`rows`] (events as rows, account state), [`schema`] (migrations),
//! [`sql`] (every other statement sent, and the rows read), [`server`] (what
//! differs between ClickHouse 18.16 and current releases), [`retry`] (which
//! failures are retried); reading: [`read`] (an account and its events, and the
//! wait for a version); rebuilding (`replay clickhouse`): [`switch`] (the new
//! set switched in), [`journal`] (where a replay stands), [`tail`] (the events
//! that arrived during the switch); checking: [`audit`] (the tables against
//! the log, and their repair); [`tls`] (HTTPS with a CA of the deployment's).
//!
//! [`Sink`]: crate::sink::Sink

pub mod audit;
pub mod config;
pub mod journal;
pub mod read;
pub mod retry;
pub mod rows;
pub mod schema;
pub mod server;
pub mod sink;
pub mod sql;
pub mod switch;
pub mod tail;
pub mod tls;

pub use ::clickhouse::Client;
pub use config::{ClickHouseConfig, Tables};
pub use retry::ClickHouseError;
pub use sink::{ClickHouseSink, NAME, client};
