//! ClickHouse for the tests: a table set of a test's own, dropped after it, and
//! the check that a set equals a fold of the event log.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use clickhouse::Client;
use clickhouse::sql::Identifier;
use ledgerstream_infra::Service;
use ledgerstream_projections::clickhouse::{ClickHouseConfig, Tables, client};

use crate::log::Fold;
use crate::pipeline::ProcessorChild;
use crate::{require, unique_name};

/// A ClickHouse table set of its own (a random table suffix), dropped when it
/// goes (also when a test fails) — with every other table whose name holds the
/// suffix: the sets a replay made next to it, and its journal.
#[derive(Debug)]
pub struct TableSet {
    pub client: Client,
    pub suffix: String,
    pub tables: Tables,
    pub config: ClickHouseConfig,
}

impl TableSet {
    /// A new set's names (nothing is created).
    pub async fn new() -> Self {
        let endpoint = require(Service::ClickHouse).await;
        Self::at(endpoint.address)
    }

    /// [`new`](Self::new), on the ClickHouse at `url` (a test's own).
    pub fn at(url: impl Into<String>) -> Self {
        let suffix = unique_name("t");
        let mut config = ClickHouseConfig::new(url);
        config.table_suffix = suffix.clone();
        Self {
            client: client(&config),
            tables: config.tables(),
            suffix,
            config,
        }
    }

    /// `sql` with `table` bound to its `?`: one number.
    pub async fn count(&self, sql: &str, table: &str) -> u64 {
        self.client
            .query(sql)
            .bind(Identifier(table))
            .fetch_one::<u64>()
            .await
            .expect(sql)
    }

    /// The tables and views whose names hold this set's suffix.
    pub async fn names(&self) -> Vec<String> {
        names_holding(&self.client, &self.suffix).await
    }
}

/// The tables and views of the current database whose names hold `needle`.
pub async fn names_holding(client: &Client, needle: &str) -> Vec<String> {
    client
        .query(
            "SELECT name FROM system.tables WHERE database = currentDatabase() \
             AND position(name, ?) > 0 ORDER BY engine = 'View' DESC, name",
        )
        .bind(needle)
        .fetch_all::<String>()
        .await
        .expect("system.tables")
}

impl Drop for TableSet {
    fn drop(&mut self) {
        let (client, suffix) = (self.client.clone(), self.suffix.clone());
        // On a thread of its own: the test's runtime may be gone or busy.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                // Views first: they read the tables.
                for name in names_holding(&client, &suffix).await {
                    client
                        .query("DROP TABLE IF EXISTS ?")
                        .bind(Identifier(&name))
                        .execute()
                        .await
                        .map_err(std::io::Error::other)?;
                }
                Ok::<(), std::io::Error>(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!(
                "dropping the test tables *_{} failed: {dropped:?}",
                self.suffix
            );
        }
    }
}

/// Waits until `events FINAL` holds `expected` rows (or more).
///
/// # Panics
///
/// After 120 s, with the tail of `projector`'s log.
pub async fn wait_until_projected(
    set: &TableSet,
    events: &str,
    expected: usize,
    projector: &ProcessorChild,
) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let rows = set.count("SELECT count() FROM ? FINAL", events).await;
        if rows as usize >= expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{rows} of {expected} events in {events} after 120 s; log:\n{}",
            projector.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// An account's row of `account_balances`, as the checks read it.
#[derive(Debug, clickhouse::Row, serde::Deserialize)]
pub struct Balance {
    pub account_id: String,
    pub balance_minor: i64,
    pub version: u64,
    pub status: String,
    pub account_type: String,
}

/// Asserts that the set `tables` equals the fold of the log: every event once
/// (FINAL collapses copies; no event id twice; nothing else), each account's
/// balance and version, and daily statistics that add up to the balances
/// (every account opened from 0).
pub async fn assert_equals_fold(set: &TableSet, tables: &Tables, fold: &Fold) {
    assert_eq!(
        set.count("SELECT count() FROM ? FINAL", &tables.events)
            .await as usize,
        fold.events,
        "count() of {} FINAL",
        tables.events
    );
    assert_eq!(
        set.count("SELECT uniqExact(event_id) FROM ? FINAL", &tables.events)
            .await as usize,
        fold.events,
        "uniqExact(event_id) of {} FINAL",
        tables.events
    );
    let in_clickhouse: HashSet<String> = set
        .client
        .query("SELECT event_id FROM ? FINAL")
        .bind(Identifier(&tables.events))
        .fetch_all::<String>()
        .await
        .expect("event ids")
        .into_iter()
        .collect();
    assert_eq!(
        in_clickhouse, fold.event_ids,
        "the event ids in {} are the log's",
        tables.events
    );

    let balances: Vec<Balance> = set
        .client
        .query("SELECT ?fields FROM ? FINAL ORDER BY account_id")
        .bind(Identifier(&tables.balances))
        .fetch_all()
        .await
        .expect("balances");
    let projected: BTreeMap<String, (i64, u64)> = balances
        .iter()
        .map(|b| (b.account_id.clone(), (b.balance_minor, b.version)))
        .collect();
    assert_eq!(
        projected, fold.balances,
        "{} FINAL is not the fold of the log",
        tables.balances
    );
    assert!(
        balances
            .iter()
            .all(|b| b.status == "OPEN" && !b.account_type.is_empty()),
        "{balances:?}"
    );

    let nets: Vec<(String, i64)> = set
        .client
        .query("SELECT account_id, sum(net_change_minor) FROM ? GROUP BY account_id ORDER BY account_id")
        .bind(Identifier(&tables.daily_stats))
        .fetch_all()
        .await
        .expect("daily statistics");
    let expected_nets: Vec<(String, i64)> = fold
        .balances
        .iter()
        .map(|(a, (b, _))| (a.clone(), *b))
        .collect();
    if nets != expected_nets {
        // Tells a view reading other rows from rows with other deltas.
        let direct: Vec<(String, i64)> = set
            .client
            .query("SELECT account_id, sum(balance_delta_minor) FROM ? FINAL GROUP BY account_id ORDER BY account_id")
            .bind(Identifier(&tables.events))
            .fetch_all()
            .await
            .expect("deltas");
        let parts: u64 = set
            .client
            .query("SELECT count() FROM system.parts WHERE active AND table = ?")
            .bind(tables.events.as_str())
            .fetch_one()
            .await
            .expect("parts");
        panic!(
            "{} does not add up to the balances\n view: {nets:?}\n fold: {expected_nets:?}\n \
             sum(balance_delta_minor) of {} FINAL: {direct:?} ({parts} active parts)",
            tables.daily_stats, tables.events
        );
    }
}
