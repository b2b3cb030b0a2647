//! The queries behind `query account`, and the wait for a version.
//!
//! The projection writes at least once, so a table may hold an event, or an
//! account's state, more than once until ClickHouse merges (docs/clickhouse.md, "Analytics in
//! ClickHouse"). Neither read uses `FINAL`, which merges the account's key range
//! across parts at read time (on 18.16 it doubled, then tripled as parts piled up
//! in a replay, the latency of `query account`: BENCHMARKS.md, "Reading your
//! writes"), and both come to what `FINAL` would give. The account is its
//! `account_balances` row at the highest version: copies of a version are one
//! state written again. Its last events keep one copy of each version (`LIMIT 1
//! BY version`): copies of an event share its key and values. Both filter on the
//! sorting key, so a read touches the granules of one account; they go out
//! together, each on one thread of the server (a point read gains nothing from
//! more, and pays for starting them).

use std::time::{Duration, Instant};

use crate::clickhouse::sql;
pub use crate::clickhouse::sql::{AccountRow, StatementRow as EventRow};
use crate::clickhouse::{ClickHouseConfig, Tables, client};
use clickhouse::Client;
use clickhouse::sql::Identifier;

/// A point read runs on one thread of the server (`max_threads`).
const POINT_READ_THREADS: &str = "1";

/// First pause between two reads while waiting for a version; doubled after
/// each read up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(5);
const MAX_PAUSE: Duration = Duration::from_millis(200);

/// What a wait for a version came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Waited {
    /// The account, at the version asked for or later (or as it is, when no
    /// version was asked for).
    Found(AccountRow),
    /// No such account (and no version to wait for).
    NotFound,
    /// The time ran out; the account as last seen, if at all.
    TimedOut { seen: Option<AccountRow> },
}

/// Reads one table set.
#[derive(Clone)]
pub struct Reader {
    client: Client,
    tables: Tables,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("tables", &self.tables)
            .finish()
    }
}

impl Reader {
    pub fn new(config: &ClickHouseConfig) -> Self {
        Self {
            // Point reads of hot accounts: keep their decompressed blocks (18.16
            // and current releases have the cache; the local profile turns it
            // off for everything else).
            client: client(config).with_setting("use_uncompressed_cache", "1"),
            tables: config.tables(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    /// The account's current row, if it has one.
    pub async fn account(&self, id: &str) -> clickhouse::error::Result<Option<AccountRow>> {
        self.client
            .query(sql::ACCOUNT)
            .bind(Identifier(&self.tables.balances))
            .bind(id)
            .with_setting("max_threads", POINT_READ_THREADS)
            .fetch_optional()
            .await
    }

    /// The account's last `count` events, newest first, each once.
    pub async fn events(&self, id: &str, count: u32) -> clickhouse::error::Result<Vec<EventRow>> {
        if count == 0 {
            return Ok(Vec::new());
        }
        self.client
            .query(sql::LAST_EVENTS)
            .bind(Identifier(&self.tables.events))
            .bind(id)
            .bind(count)
            .with_setting("max_threads", POINT_READ_THREADS)
            .fetch_all()
            .await
    }

    /// The account once it is at `min_version` or later (at once when none is
    /// given), and its last `count` events. The first read asks for both at
    /// once; when the account has to be waited for, it is read again with
    /// [`Pauses`] between reads for at most `timeout`, and its events after.
    pub async fn read(
        &self,
        id: &str,
        min_version: Option<u64>,
        timeout: Duration,
        count: u32,
    ) -> clickhouse::error::Result<(Waited, Vec<EventRow>)> {
        let deadline = Instant::now() + timeout;
        let (row, events) = tokio::try_join!(self.account(id), self.events(id, count))?;
        let mut seen = match settled(row, min_version) {
            Settled::Done(done) => return Ok((done, events)),
            Settled::Waiting(seen) => seen,
        };
        let mut pauses = Pauses::default();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok((Waited::TimedOut { seen }, Vec::new()));
            }
            tokio::time::sleep(pauses.next().min(left)).await;
            seen = match settled(self.account(id).await?, min_version) {
                Settled::Done(done) => {
                    let events = self.events(id, count).await?;
                    return Ok((done, events));
                }
                Settled::Waiting(seen) => seen,
            };
        }
    }
}

/// What one read of the account comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// Found, or not found when no version is waited for.
    Done(Waited),
    /// Below the version waited for (or not there yet): the row as seen.
    Waiting(Option<AccountRow>),
}

/// Whether one read of the account ends the wait.
pub fn settled(row: Option<AccountRow>, min_version: Option<u64>) -> Settled {
    match (row, min_version) {
        (None, None) => Settled::Done(Waited::NotFound),
        (Some(row), None) => Settled::Done(Waited::Found(row)),
        (Some(row), Some(min)) if row.version >= min => Settled::Done(Waited::Found(row)),
        (seen, Some(_)) => Settled::Waiting(seen),
    }
}

/// The pauses between reads: short at first (a version is usually there within
/// one projection batch), then longer, so a long wait does not hammer the server.
/// (Not backon's exponential backoff: it doubles in `f32` seconds, and 5 ms
/// doubled thrice is 39.999999 ms there.)
#[derive(Debug, Clone)]
pub struct Pauses {
    next: Duration,
}

impl Default for Pauses {
    fn default() -> Self {
        Self { next: FIRST_PAUSE }
    }
}

impl Pauses {
    /// The next pause.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Duration {
        let pause = self.next;
        self.next = (self.next * 2).min(MAX_PAUSE);
        pause
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(version: u64) -> AccountRow {
        AccountRow {
            account_id: "acc-1".to_owned(),
            owner_id: "o".to_owned(),
            account_type: "CHECKING".to_owned(),
            currency: "USD".to_owned(),
            status: "OPEN".to_owned(),
            balance_minor: 0,
            version,
            opened_at: 0,
            last_activity_at: 0,
            last_activity_at_ms: 0,
            projected_at: 0,
        }
    }

    #[test]
    fn a_read_settles_at_the_version_or_later_and_waits_below_it() {
        let found = |v| Settled::Done(Waited::Found(at(v)));
        assert_eq!(settled(Some(at(3)), None), found(3));
        assert_eq!(settled(Some(at(3)), Some(3)), found(3));
        assert_eq!(settled(Some(at(4)), Some(3)), found(4));
        assert_eq!(settled(Some(at(2)), Some(3)), Settled::Waiting(Some(at(2))));
        assert_eq!(settled(None, None), Settled::Done(Waited::NotFound));
        assert_eq!(
            settled(None, Some(1)),
            Settled::Waiting(None),
            "not opened yet: wait"
        );
    }

    #[test]
    fn pauses_double_from_5_ms_up_to_200_ms() {
        let mut pauses = Pauses::default();
        let taken: Vec<u64> = (0..8).map(|_| pauses.next().as_millis() as u64).collect();
        assert_eq!(taken, vec![5, 10, 20, 40, 80, 160, 200, 200]);
    }
}
