//! What became of each replay next to a live table set, in ClickHouse beside it:
//! `ledgerstream_replays<live suffix>`, one row per replayed set once merged.
//!
//! It is what makes a second run of the same command safe: a replay still
//! running is resumed, a switch that stopped half-way is finished (from the
//! position recorded when it began), and a set switched in already is never
//! switched again.

use std::collections::BTreeMap;

use crate::clickhouse::Tables;
use crate::clickhouse::sql::{self, JournalRow as Row};
use clickhouse::Client;
use clickhouse::sql::Identifier;
use ledgerstream_runtime::clock::now_millis;

/// Where a replay is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// Building its table set from the log.
    Replaying,
    /// Caught up and stopped at `tail_from`; the live set moves to `old_set`.
    Switching {
        old_set: String,
        tail_from: BTreeMap<i32, i64>,
    },
    /// Live under the plain names; the set that was live is `old_set`.
    Switched { old_set: String },
}

/// One replay, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The replayed set's suffix (`v2`).
    pub replay_set: String,
    pub stage: Stage,
    pub started_at_ms: i64,
    pub updated_at_ms: i64,
}

/// The journal of the replays next to one live set.
#[derive(Clone)]
pub struct Journal {
    client: Client,
    table: String,
    live_set: String,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("table", &self.table)
            .finish()
    }
}

impl Journal {
    /// The journal table of the live set `live`.
    pub fn table_of(live: &Tables) -> String {
        format!("ledgerstream_replays{}", live.suffix)
    }

    /// The journal of the live set `live`, created if it is not there.
    pub async fn open(client: &Client, live: &Tables) -> clickhouse::error::Result<Self> {
        let table = Self::table_of(live);
        client
            .query(sql::JOURNAL)
            .bind(Identifier(&table))
            .execute()
            .await?;
        Ok(Self {
            client: client.clone(),
            table,
            live_set: live.suffix.trim_start_matches('_').to_owned(),
        })
    }

    /// The journal's table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Every replay recorded.
    pub async fn all(&self) -> anyhow::Result<Vec<Entry>> {
        let rows: Vec<Row> = self
            .client
            .query(sql::JOURNAL_ENTRIES)
            .bind(Identifier(&self.table))
            .fetch_all()
            .await?;
        rows.into_iter().map(entry).collect()
    }

    /// Records `stage` for the replay into `replay_set` (started at
    /// `started_at_ms`), after what was recorded before.
    pub async fn record(
        &self,
        replay_set: &str,
        stage: &Stage,
        started_at_ms: i64,
        previous: Option<&Entry>,
    ) -> anyhow::Result<Entry> {
        // The highest updated_at_ms wins the merge: never equal to the last one.
        let updated_at_ms = now_millis().max(previous.map_or(0, |p| p.updated_at_ms + 1));
        let (state, old_set, tail_from) = match stage {
            Stage::Replaying => ("replaying", String::new(), String::new()),
            Stage::Switching { old_set, tail_from } => {
                ("switching", old_set.clone(), format_offsets(tail_from))
            }
            Stage::Switched { old_set } => ("switched", old_set.clone(), String::new()),
        };
        let row = Row {
            replay_set: replay_set.to_owned(),
            live_set: self.live_set.clone(),
            state: state.to_owned(),
            old_set,
            tail_from,
            started_at_ms,
            updated_at_ms,
        };
        let mut insert = self.client.insert::<Row>(&self.table).await?;
        insert.write(&row).await?;
        insert.end().await?;
        Ok(Entry {
            replay_set: replay_set.to_owned(),
            stage: stage.clone(),
            started_at_ms,
            updated_at_ms,
        })
    }
}

fn entry(row: Row) -> anyhow::Result<Entry> {
    let stage = match row.state.as_str() {
        "replaying" => Stage::Replaying,
        "switching" => Stage::Switching {
            old_set: row.old_set,
            tail_from: parse_offsets(&row.tail_from)?,
        },
        "switched" => Stage::Switched {
            old_set: row.old_set,
        },
        other => anyhow::bail!(
            "the replay journal has state {other:?} for {}; a newer ledgerstream wrote it",
            row.replay_set
        ),
    };
    Ok(Entry {
        replay_set: row.replay_set,
        stage,
        started_at_ms: row.started_at_ms,
        updated_at_ms: row.updated_at_ms,
    })
}

/// `0:120,1:98`: partition and next offset, as the journal keeps them.
pub fn format_offsets(offsets: &BTreeMap<i32, i64>) -> String {
    offsets
        .iter()
        .map(|(p, o)| format!("{p}:{o}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The inverse of [`format_offsets`].
pub fn parse_offsets(text: &str) -> anyhow::Result<BTreeMap<i32, i64>> {
    let mut offsets = BTreeMap::new();
    for pair in text.split(',').filter(|p| !p.is_empty()) {
        let parsed = pair
            .split_once(':')
            .and_then(|(p, o)| Some((p.parse().ok()?, o.parse().ok()?)));
        let Some((partition, offset)) = parsed else {
            anyhow::bail!("{pair:?} in the replay journal is not partition:offset");
        };
        offsets.insert(partition, offset);
    }
    Ok(offsets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_round_trip_through_their_text() {
        let offsets = BTreeMap::from([(0, 120), (1, 0), (5, 98)]);
        assert_eq!(format_offsets(&offsets), "0:120,1:0,5:98");
        assert_eq!(parse_offsets("0:120,1:0,5:98").expect("parsed"), offsets);
        assert!(parse_offsets("").expect("empty").is_empty());
        assert!(parse_offsets("0-120").is_err());
    }
}
