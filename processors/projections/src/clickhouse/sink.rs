//! The ClickHouse sink: a batch of events becomes rows of `account_events` (all
//! of them) and `account_balances` (each touched account's state after the
//! batch), then checkpoint rows.
//!
//! Owner, type and currency only come with `AccountOpened`, yet every row needs
//! them, so the sink keeps each account's current state in memory, per
//! partition. An account it has not seen since it started, whose first event in
//! the batch is not version 1, is read back from `account_balances FINAL` — which
//! holds at least everything before the checkpoint the partition resumed from.
//! States move forward only once the batch is durable; a batch that fails leaves
//! them as they were.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::time::Duration;

use clickhouse::Client;
use clickhouse::sql::Identifier;
use ledgerstream_runtime::clock::now_millis;
use secrecy::ExposeSecret;

use super::config::{ClickHouseConfig, Tables};
use super::retry::ClickHouseError;
use super::rows::{BalanceRow, CheckpointRow, EventRow, Projected, epoch_seconds};
use super::{schema, sql};
use crate::checkpoint::Checkpoint;
use crate::gaps::{GapReport, Sequence};
use crate::metrics::ProjectionMetrics;
use crate::sink::{Rejected, Sink, SourcedEvent, Written};

/// The projection's name: metrics label, checkpoint key.
pub const NAME: &str = "clickhouse";

/// Accounts read back from `account_balances` per query.
const LOOKUP_CHUNK: usize = 1_000;

/// The events of one batch, checked and flattened.
#[derive(Debug, Default)]
pub struct Batch {
    events: Vec<Projected>,
}

impl Batch {
    /// Events in the batch.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether the batch holds no event.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

/// The current state of accounts, as far as durable, with the partition each
/// came from. Bounded: past `limit` accounts, the cache evicts a few at a time
/// (S3-FIFO: accounts met once go first), and an evicted state is read back from
/// `account_balances` when its account is met again. (It used to start over at
/// the limit: every account a miss at once, a latency cliff.)
struct Accounts(quick_cache::unsync::Cache<String, (i32, BalanceRow)>);

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts")
            .field("len", &self.0.len())
            .finish()
    }
}

impl Accounts {
    fn new(limit: usize) -> Self {
        Self(quick_cache::unsync::Cache::new(limit.max(1)))
    }

    fn get(&self, partition: i32, account_id: &str) -> Option<&BalanceRow> {
        self.0
            .get(account_id)
            .filter(|(at, _)| *at == partition)
            .map(|(_, state)| state)
    }

    fn insert(&mut self, partition: i32, state: BalanceRow) {
        self.0.insert(state.account_id.clone(), (partition, state));
    }

    fn forget(&mut self, partitions: &[i32]) {
        self.0
            .retain(|_, (partition, _)| !partitions.contains(partition));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// An account's state while a batch is folded.
#[derive(Debug)]
struct Staged {
    partition: i32,
    state: BalanceRow,
    /// Whether anything is known of the account (else its first event must be 1).
    known: bool,
    /// Whether an event of the batch moved it forward.
    advanced: bool,
}

/// Writes `account-events` into ClickHouse.
#[derive(Debug)]
pub struct ClickHouseSink {
    client: Client,
    tables: Tables,
    accounts: Accounts,
    gaps: GapReport,
    timeout: Duration,
    /// Whether a batch's balances are sent while its events are still being
    /// inserted (see [`unread`](Self::unread)).
    overlap_inserts: bool,
}

/// A client for `config`'s server (validation off: 18.16 lacks the format the
/// client's schema check uses). An `https://` URL trusts the public roots, and the
/// CA file's certificates when one is set; the file was checked by
/// [`ClickHouseConfig::validate`], and one that became unreadable since leaves the
/// public roots alone, so the server's certificate is refused with a TLS error.
pub fn client(config: &ClickHouseConfig) -> Client {
    let base = match &config.ca_file {
        None => Client::default(),
        Some(path) => match super::tls::roots_with(path) {
            Ok(roots) => super::tls::client_trusting(roots),
            Err(why) => {
                tracing::error!(problem = why, "clickhouse setting ca_file: not used");
                Client::default()
            }
        },
    };
    let mut client = base
        .with_url(&config.url)
        .with_database(&config.database)
        .with_validation(false)
        .with_compression(if config.compression {
            clickhouse::Compression::Lz4
        } else {
            clickhouse::Compression::None
        });
    if let Some(user) = &config.user {
        client = client.with_user(user);
    }
    if let Some(password) = &config.password {
        client = client.with_password(password.expose_secret());
    }
    client
}

impl ClickHouseSink {
    /// Connects and applies the migrations the table set lacks (the versions
    /// applied now are returned).
    pub async fn connect(
        config: &ClickHouseConfig,
        metrics: ProjectionMetrics,
    ) -> Result<(Self, Vec<u32>), ClickHouseError> {
        let client = client(config);
        let tables = config.tables();
        let applied = schema::migrate(&client, &tables).await?;
        let sink = Self {
            client,
            tables,
            accounts: Accounts::new(config.cached_accounts),
            gaps: GapReport::new(NAME, metrics),
            timeout: Duration::from_millis(config.request_timeout_millis),
            overlap_inserts: false,
        };
        Ok((sink, applied))
    }

    /// For a table set nobody reads yet (a replay before its switch): a batch's
    /// balances are sent while its events are still being inserted, and the two
    /// inserts end together instead of one after the other (a replay's batch of
    /// 50,000 events: 200-250 ms to write instead of about 290). In a set that is
    /// read, the events are inserted first, so that a reader who finds an
    /// account at a version finds its events too (`query account --min-version`).
    pub fn unread(mut self) -> Self {
        self.overlap_inserts = true;
        self
    }

    /// The tables written.
    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    /// Reads back the state of accounts first met in `batch` at a version above 1.
    async fn look_up_unknown(&mut self, batch: &Batch) -> Result<(), ClickHouseError> {
        let mut first_seen = HashSet::new();
        let mut wanted: HashMap<&str, i32> = HashMap::new();
        for event in &batch.events {
            let first = first_seen.insert(event.account_id.as_str());
            if first
                && event.version > 1
                && self
                    .accounts
                    .get(event.partition, &event.account_id)
                    .is_none()
            {
                wanted.insert(&event.account_id, event.partition);
            }
        }
        let ids: Vec<&str> = wanted.keys().copied().collect();
        for chunk in ids.chunks(LOOKUP_CHUNK) {
            let query = self
                .client
                .query(sql::ACCOUNT_STATES)
                .bind(Identifier(&self.tables.balances))
                .bind(chunk)
                .fetch_all::<BalanceRow>();
            let found = timed(self.timeout, "reading account states", query).await?;
            for state in found {
                if let Some(&partition) = wanted.get(state.account_id.as_str()) {
                    self.accounts.insert(partition, state);
                }
            }
        }
        Ok(())
    }
}

/// `future`, failing as timed out after `limit`.
async fn timed<T>(
    limit: Duration,
    during: &'static str,
    future: impl Future<Output = clickhouse::error::Result<T>>,
) -> Result<T, ClickHouseError> {
    match tokio::time::timeout(limit, future).await {
        Ok(result) => result.map_err(ClickHouseError::during(during)),
        Err(_) => Err(ClickHouseError::Request {
            during,
            source: clickhouse::error::Error::TimedOut,
        }),
    }
}

impl Sink for ClickHouseSink {
    type Batch = Batch;
    type Error = ClickHouseError;

    fn name(&self) -> &'static str {
        NAME
    }

    fn add(&mut self, batch: &mut Batch, event: SourcedEvent) -> Result<(), Rejected> {
        batch.events.push(Projected::from_event(event)?);
        Ok(())
    }

    async fn write(&mut self, batch: &Batch) -> Result<Written, ClickHouseError> {
        self.look_up_unknown(batch).await?;
        let projected_at = epoch_seconds(now_millis());
        let during = ClickHouseError::during;
        let mut staged: HashMap<&str, Staged> = HashMap::new();
        let mut anomalies = Vec::new();

        let mut events = self
            .client
            .insert::<EventRow<'_>>(&self.tables.events)
            .await
            .map_err(during("inserting events"))?
            .with_timeouts(Some(self.timeout), Some(self.timeout));
        for event in &batch.events {
            let entry = staged.entry(event.account_id.as_str()).or_insert_with(|| {
                match self.accounts.get(event.partition, &event.account_id) {
                    Some(state) => Staged {
                        partition: event.partition,
                        state: state.clone(),
                        known: true,
                        advanced: false,
                    },
                    None => Staged {
                        partition: event.partition,
                        state: BalanceRow::unknown(&event.account_id),
                        known: false,
                        advanced: false,
                    },
                }
            });
            let sequence = Sequence::of(entry.known.then_some(entry.state.version), event.version);
            if sequence.applies() {
                entry.state.apply(event);
                entry.state.projected_at = projected_at;
                entry.known = true;
                entry.advanced = true;
            }
            if sequence != Sequence::Next {
                anomalies.push((sequence, event));
            }
            // Duplicates are written too: the row collapses with the one written
            // before, and a copy lost with a crashed batch is written at last.
            events
                .write(&EventRow::new(event, &entry.state, projected_at))
                .await
                .map_err(during("inserting events"))?;
        }
        let events = if self.overlap_inserts {
            Some(events)
        } else {
            events.end().await.map_err(during("inserting events"))?;
            None
        };

        let mut balances = self
            .client
            .insert::<BalanceRow>(&self.tables.balances)
            .await
            .map_err(during("inserting balances"))?
            .with_timeouts(Some(self.timeout), Some(self.timeout));
        let mut balance_rows = 0;
        for account in staged.values().filter(|s| s.advanced) {
            balances
                .write(&account.state)
                .await
                .map_err(during("inserting balances"))?;
            balance_rows += 1;
        }
        match events {
            Some(events) => {
                let (events, balances) = tokio::join!(events.end(), balances.end());
                events.map_err(during("inserting events"))?;
                balances.map_err(during("inserting balances"))?;
            }
            None => balances.end().await.map_err(during("inserting balances"))?,
        }

        // Durable: the states move forward, and anomalies are reported once.
        for (sequence, event) in anomalies {
            self.gaps
                .report(sequence, &event.account_id, event.partition, event.offset);
        }
        for account in staged.into_values().filter(|s| s.advanced) {
            self.accounts.insert(account.partition, account.state);
        }
        Ok(Written {
            rows: vec![
                ("account_events", batch.events.len() as u64),
                ("account_balances", balance_rows),
            ],
            refused: Vec::new(),
        })
    }

    async fn load_checkpoints(
        &mut self,
        topic: &str,
        partitions: &[i32],
    ) -> Result<Vec<Checkpoint>, ClickHouseError> {
        let query = self
            .client
            .query(sql::CHECKPOINTS)
            .bind(Identifier(&self.tables.checkpoints))
            .bind(NAME)
            .bind(topic)
            .fetch_all::<CheckpointRow>();
        let rows = timed(self.timeout, "reading checkpoints", query).await?;
        Ok(rows
            .into_iter()
            .filter(|row| partitions.contains(&row.kafka_partition))
            .map(|row| Checkpoint {
                partition: row.kafka_partition,
                next_offset: i64::try_from(row.next_offset).unwrap_or(i64::MAX),
                last_event_at_ms: row.last_event_at_ms,
                updated_at_ms: row.updated_at_ms,
            })
            .collect())
    }

    async fn save_checkpoints(
        &mut self,
        topic: &str,
        checkpoints: &[Checkpoint],
    ) -> Result<(), ClickHouseError> {
        let during = ClickHouseError::during("saving checkpoints");
        let mut insert = self
            .client
            .insert::<CheckpointRow>(&self.tables.checkpoints)
            .await
            .map_err(during)?
            .with_timeouts(Some(self.timeout), Some(self.timeout));
        for checkpoint in checkpoints {
            let row = CheckpointRow {
                projection: NAME.to_owned(),
                topic: topic.to_owned(),
                kafka_partition: checkpoint.partition,
                next_offset: u64::try_from(checkpoint.next_offset).unwrap_or(0),
                last_event_at: epoch_seconds(checkpoint.last_event_at_ms),
                last_event_at_ms: checkpoint.last_event_at_ms,
                updated_at: epoch_seconds(checkpoint.updated_at_ms),
                updated_at_ms: checkpoint.updated_at_ms,
            };
            insert
                .write(&row)
                .await
                .map_err(ClickHouseError::during("saving checkpoints"))?;
        }
        insert
            .end()
            .await
            .map_err(ClickHouseError::during("saving checkpoints"))
    }

    fn revoked(&mut self, partitions: &[i32]) {
        self.accounts.forget(partitions);
    }
}

#[cfg(test)]
mod cache_tests {
    use super::*;

    #[test]
    fn past_its_limit_the_cache_evicts_a_few_not_all() {
        let mut accounts = Accounts::new(1_000);
        for i in 0..1_000 {
            accounts.insert(i % 3, BalanceRow::unknown(&format!("a-{i}")));
        }
        // Accounts met again are kept over accounts met once.
        for i in 0..500 {
            assert!(accounts.get(i % 3, &format!("a-{i}")).is_some());
        }
        for i in 1_000..1_100 {
            accounts.insert(i % 3, BalanceRow::unknown(&format!("a-{i}")));
        }
        let kept = (0..1_100)
            .filter(|i| accounts.get(i % 3, &format!("a-{i}")).is_some())
            .count();
        assert!(
            kept >= 900,
            "only {kept} of 1,100 accounts kept at a limit of 1,000"
        );
        let kept_hot = (0..500)
            .filter(|i| accounts.get(i % 3, &format!("a-{i}")).is_some())
            .count();
        assert!(
            kept_hot >= 450,
            "only {kept_hot} of the 500 accounts met twice kept"
        );
    }

    #[test]
    fn a_state_is_found_only_in_its_partition_and_forgotten_with_it() {
        let mut accounts = Accounts::new(100);
        accounts.insert(1, BalanceRow::unknown("a"));
        accounts.insert(2, BalanceRow::unknown("b"));
        assert!(accounts.get(1, "a").is_some());
        assert!(accounts.get(2, "a").is_none());
        accounts.forget(&[1]);
        assert!(accounts.get(1, "a").is_none());
        assert!(accounts.get(2, "b").is_some());
        assert_eq!(accounts.len(), 1);
    }
}
