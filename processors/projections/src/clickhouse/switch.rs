//! The switch: the replayed table set takes the live names in one `RENAME
//! TABLE`, the live set steps aside under `<table>_old_<time>`.
//!
//! ```text
//!  before:  account_events        (live)      account_events_v2  (replayed)
//!  RENAME TABLE account_events TO account_events_old_20250101T120000,
//!               account_events_v2 TO account_events, … (balances, checkpoints, migrations)
//!  after:   account_events        (replayed)  account_events_old_20250101T120000
//! ```
//!
//! Views are not renamed. A ClickHouse view keeps its query's text and finds
//! its table by name each time it is read: `account_daily_stats` reads
//! `account_events FINAL`, so after the rename it reads the replayed rows, with
//! no change. Renaming `account_daily_stats_v2` to the live name instead would
//! leave a view that reads `account_events_v2` — a name gone after the switch.
//! So after the rename the replayed set's views are dropped, the live names'
//! views are created where the replayed set's migrations define ones the live
//! set lacked, and the old set gets views of its own (reading its own tables).
//!
//! Every rename is checked before the statement is sent (sources there, targets
//! free). On 18.16's `Ordinary` databases the statement renames all tables under
//! one lock, so readers see the old set or the new one, never a mix; but a RENAME
//! that fails half-way keeps the renames made before the failure. [`remaining`]
//! works out from the tables that exist which renames of a switch are still to
//! do, so a switch that stopped half-way is finished by running the replay again.
//!
//! On an `Atomic` database (current ClickHouse) a RENAME of several tables is not
//! atomic, so each live table is swapped with its replayed one by `EXCHANGE
//! TABLES` instead, and the swapped-out tables then take the old names
//! ([`remaining_exchanges`]; why, in `ledgerstream_processors`'
//! `projection::clickhouse::server`).

use std::collections::BTreeSet;

use anyhow::Context;
use clickhouse::Client;
use clickhouse::sql::Identifier;
use jiff::Timestamp;

use crate::clickhouse::Tables;
use crate::clickhouse::schema::MIGRATIONS;
use crate::clickhouse::server::{self, Switch};
use crate::clickhouse::sql;

/// The suffix of a table set next to the live one: `<live>_<label>`, or the
/// label alone when the live set has the plain names.
pub fn set_suffix(live: &str, label: &str) -> String {
    if live.is_empty() {
        label.to_owned()
    } else {
        format!("{live}_{label}")
    }
}

/// One table's new name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rename {
    pub from: String,
    pub to: String,
}

/// The tables a switch renames, in the same order in every set.
fn renamed(tables: &Tables) -> [&str; 4] {
    [
        &tables.events,
        &tables.balances,
        &tables.checkpoints,
        &tables.migrations,
    ]
}

/// The views of a set (dropped or created around a switch, never renamed).
pub fn views(tables: &Tables) -> [&str; 2] {
    [&tables.daily_stats, &tables.type_daily_stats]
}

/// A switch that cannot go on as the tables stand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Inconsistent {
    #[error(
        "{old} exists already: the live set cannot step aside under that name; \
         drop or rename it, or wait a second for another name"
    )]
    OldTaken { old: String },
    #[error(
        "neither {live} nor {replayed} exists: the table set is incomplete; \
         look at the database before going on"
    )]
    Missing { live: String, replayed: String },
}

/// The renames still to do to switch `replayed` in under `live`'s names, with
/// `live` moving to `old`, given the tables that `exist`. All of them before a
/// switch; fewer after one that stopped half-way; none once done.
pub fn remaining(
    live: &Tables,
    replayed: &Tables,
    old: &Tables,
    exist: &BTreeSet<String>,
) -> Result<Vec<Rename>, Inconsistent> {
    let mut moves_aside = Vec::new();
    let mut moves_in = Vec::new();
    for ((live, replayed), old) in renamed(live)
        .into_iter()
        .zip(renamed(replayed))
        .zip(renamed(old))
    {
        let rename = |from: &str, to: &str| Rename {
            from: from.to_owned(),
            to: to.to_owned(),
        };
        match (exist.contains(live), exist.contains(replayed)) {
            // Not started for this table.
            (true, true) => {
                if exist.contains(old) {
                    return Err(Inconsistent::OldTaken {
                        old: old.to_owned(),
                    });
                }
                moves_aside.push(rename(live, old));
                moves_in.push(rename(replayed, live));
            }
            // The live table has stepped aside (or there never was one).
            (false, true) => moves_in.push(rename(replayed, live)),
            // Done: the replayed table is live.
            (true, false) => {}
            (false, false) => {
                return Err(Inconsistent::Missing {
                    live: live.to_owned(),
                    replayed: replayed.to_owned(),
                });
            }
        }
    }
    moves_aside.extend(moves_in);
    Ok(moves_aside)
}

/// One `RENAME TABLE` for all of `renames`: the live tables step aside first,
/// so that their names are free when the replayed ones take them.
pub fn statement(renames: &[Rename]) -> String {
    let pairs: Vec<(&str, &str)> = renames
        .iter()
        .map(|r| (r.from.as_str(), r.to.as_str()))
        .collect();
    server::rename(&pairs)
}

/// What a switch by `EXCHANGE TABLES` has left to do, in this order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exchanges {
    /// Replayed tables to tag with their set ([`server::tag`]) before any swap.
    pub tag: Vec<String>,
    /// `(live, replayed)` pairs to swap.
    pub exchange: Vec<(String, String)>,
    /// Then, in one `RENAME TABLE`: the swapped-out tables to the old set's
    /// names, and replayed tables to live names that are free.
    pub renames: Vec<Rename>,
}

/// The steps still to do to switch `replayed` in under `live`'s names by
/// exchanges, `live` moving to `old`, given the tables that `exist` and those
/// that carry the replayed set's tag (`tagged`): a live table that carries it
/// has been swapped already, and its replayed name holds the old set's table.
pub fn remaining_exchanges(
    live: &Tables,
    replayed: &Tables,
    old: &Tables,
    exist: &BTreeSet<String>,
    tagged: &BTreeSet<String>,
) -> Result<Exchanges, Inconsistent> {
    let mut steps = Exchanges::default();
    for ((live, replayed), old) in renamed(live)
        .into_iter()
        .zip(renamed(replayed))
        .zip(renamed(old))
    {
        let rename = |from: &str, to: &str| Rename {
            from: from.to_owned(),
            to: to.to_owned(),
        };
        match (exist.contains(live), exist.contains(replayed)) {
            (true, true) => {
                if exist.contains(old) {
                    return Err(Inconsistent::OldTaken {
                        old: old.to_owned(),
                    });
                }
                if !tagged.contains(live) {
                    if !tagged.contains(replayed) {
                        steps.tag.push(replayed.to_owned());
                    }
                    steps.exchange.push((live.to_owned(), replayed.to_owned()));
                }
                steps.renames.push(rename(replayed, old));
            }
            // No live table to swap with: the replayed one takes the name.
            (false, true) => steps.renames.push(rename(replayed, live)),
            // Done: the replayed table is live, the old one has its name.
            (true, false) => {}
            (false, false) => {
                return Err(Inconsistent::Missing {
                    live: live.to_owned(),
                    replayed: replayed.to_owned(),
                });
            }
        }
    }
    Ok(steps)
}

/// The `CREATE VIEW IF NOT EXISTS` statements of the migrations in `versions`,
/// for the set with `suffix` (`_v2`, or empty).
pub fn view_statements(suffix: &str, versions: &BTreeSet<u32>) -> Vec<String> {
    MIGRATIONS
        .iter()
        .filter(|m| versions.contains(&m.version))
        .flat_map(|m| m.statements(suffix))
        .filter(|s| s.trim_start().starts_with("CREATE VIEW"))
        .collect()
}

/// UTC `YYYYMMDDThhmmss` of `at`: part of the old set's name.
pub fn stamp(at: Timestamp) -> String {
    at.strftime("%Y%m%dT%H%M%S").to_string()
}

/// Parses `--into`: `v<N>` with N ≥ 2 (the first set is the live one).
pub fn parse_version(text: &str) -> Result<u32, String> {
    let number = text
        .strip_prefix('v')
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse::<u32>().ok())
        .ok_or_else(|| format!("{text:?} is not a table set version; write v2, v3, ..."))?;
    if number < 2 {
        return Err(format!(
            "{text}: versions start at v2 (the live set counts as v1)"
        ));
    }
    Ok(number)
}

/// The next free version next to the live set with `live` suffix: one above any
/// `account_events<live>_v<N>` table and any version the journal recorded, and
/// at least 2.
pub fn next_version<'a>(
    live: &str,
    tables: impl IntoIterator<Item = &'a str>,
    journaled: impl IntoIterator<Item = &'a str>,
) -> u32 {
    let events_prefix = format!("{}_", Tables::with_suffix(live).events);
    let set_prefix = set_suffix(live, "");
    let from_tables = tables
        .into_iter()
        .filter_map(|name| name.strip_prefix(&events_prefix));
    let from_journal = journaled.into_iter().filter_map(|set| {
        if live.is_empty() {
            Some(set)
        } else {
            set.strip_prefix(&set_prefix)
        }
    });
    from_tables
        .chain(from_journal)
        .filter_map(|label| parse_version(label).ok())
        .max()
        .map_or(2, |highest| highest + 1)
}

/// The statements that switch the `replayed` set in for the `live` one, the
/// live tables going to `old`, from where the switch stands (`exist`: the
/// tables there now): one multi-table `RENAME` ([`Switch::Rename`]), or on
/// Atomic databases each replayed table tagged, `EXCHANGE TABLES` per pair, then
/// one `RENAME` of the swapped-out tables ([`Switch::Exchange`]; see
/// [`server`]). Empty when the switch is done.
pub async fn statements(
    client: &Client,
    how: Switch,
    set: &str,
    [live, replayed, old]: [&Tables; 3],
    exist: &BTreeSet<String>,
) -> anyhow::Result<Vec<String>> {
    match how {
        Switch::Rename => {
            let renames = remaining(live, replayed, old, exist)?;
            Ok(if renames.is_empty() {
                Vec::new()
            } else {
                vec![statement(&renames)]
            })
        }
        Switch::Exchange => {
            let tagged: Vec<String> = client
                .query(server::TAGGED_TABLES)
                .bind(server::tag(set))
                .fetch_all()
                .await
                .context("listing the tables tagged for the switch")?;
            let tagged = tagged.into_iter().collect();
            let steps = remaining_exchanges(live, replayed, old, exist, &tagged)?;
            let mut statements: Vec<String> = steps
                .tag
                .iter()
                .map(|table| server::tag_table(table, set))
                .collect();
            statements.extend(steps.exchange.iter().map(|(l, r)| server::exchange(l, r)));
            if !steps.renames.is_empty() {
                statements.push(statement(&steps.renames));
            }
            Ok(statements)
        }
    }
}

/// Sends the switch's `statements`, one after another.
pub async fn run(client: &Client, statements: &[String]) -> anyhow::Result<()> {
    for statement in statements {
        client
            .query_raw(statement)
            .execute()
            .await
            .with_context(|| {
                format!(
                    "switching with `{statement}`; run the same command again to finish the switch \
                 from where it stopped"
                )
            })?;
    }
    Ok(())
}

/// After the rename: the `replayed` set's views read tables that are gone; each
/// of `sets` (the live names, and the old set if it is still there) gets the
/// views its migrations define.
pub async fn fix_views(
    client: &Client,
    replayed: &Tables,
    sets: [&Tables; 2],
) -> anyhow::Result<()> {
    for view in views(replayed) {
        client
            .query(sql::DROP)
            .bind(Identifier(view))
            .execute()
            .await
            .with_context(|| format!("dropping the view {view}"))?;
    }
    let exist = table_names(client).await?;
    for tables in sets {
        if !exist.contains(&tables.migrations) {
            continue;
        }
        let versions = migrations_applied(client, &tables.migrations).await?;
        for statement in view_statements(&tables.suffix, &versions) {
            client
                .query_raw(&statement)
                .execute()
                .await
                .with_context(|| format!("creating a view: {statement}"))?;
        }
    }
    Ok(())
}

/// Every table and view of the client's database.
pub async fn table_names(client: &Client) -> anyhow::Result<BTreeSet<String>> {
    let names: Vec<String> = client
        .query(sql::TABLE_NAMES)
        .fetch_all()
        .await
        .context("listing the tables")?;
    Ok(names.into_iter().collect())
}

/// The migrations a set's migrations table records.
pub async fn migrations_applied(client: &Client, table: &str) -> anyhow::Result<BTreeSet<u32>> {
    let versions: Vec<u32> = client
        .query(sql::MIGRATION_VERSIONS)
        .bind(Identifier(table))
        .fetch_all()
        .await
        .with_context(|| format!("reading {table}"))?;
    Ok(versions.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exist(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    fn sets() -> (Tables, Tables, Tables) {
        (
            Tables::with_suffix(""),
            Tables::with_suffix("v2"),
            Tables::with_suffix("old_20250101T120000"),
        )
    }

    const LIVE: [&str; 4] = [
        "account_events",
        "account_balances",
        "projection_checkpoints",
        "ledgerstream_migrations",
    ];
    const REPLAYED: [&str; 4] = [
        "account_events_v2",
        "account_balances_v2",
        "projection_checkpoints_v2",
        "ledgerstream_migrations_v2",
    ];

    #[test]
    fn a_switch_moves_every_live_table_aside_then_every_replayed_one_in() {
        let (live, replayed, old) = sets();
        let mut names: Vec<&str> = LIVE.to_vec();
        names.extend(REPLAYED);
        let renames = remaining(&live, &replayed, &old, &exist(&names)).expect("a plan");
        assert_eq!(
            statement(&renames),
            "RENAME TABLE \
             `account_events` TO `account_events_old_20250101T120000`, \
             `account_balances` TO `account_balances_old_20250101T120000`, \
             `projection_checkpoints` TO `projection_checkpoints_old_20250101T120000`, \
             `ledgerstream_migrations` TO `ledgerstream_migrations_old_20250101T120000`, \
             `account_events_v2` TO `account_events`, \
             `account_balances_v2` TO `account_balances`, \
             `projection_checkpoints_v2` TO `projection_checkpoints`, \
             `ledgerstream_migrations_v2` TO `ledgerstream_migrations`"
        );
    }

    #[test]
    fn without_a_live_set_the_replayed_one_just_takes_the_names() {
        let (live, replayed, old) = sets();
        let renames = remaining(&live, &replayed, &old, &exist(&REPLAYED)).expect("a plan");
        assert_eq!(renames.len(), 4);
        assert!(renames.iter().all(|r| r.from.ends_with("_v2")));
    }

    #[test]
    fn a_switch_stopped_half_way_is_finished_and_a_done_one_is_left_alone() {
        let (live, replayed, old) = sets();
        // 18.16 stopped after moving account_events aside.
        let mut names = vec![
            "account_events_old_20250101T120000",
            "account_balances",
            "projection_checkpoints",
            "ledgerstream_migrations",
        ];
        names.extend(REPLAYED);
        let renames = remaining(&live, &replayed, &old, &exist(&names)).expect("a plan");
        assert_eq!(renames.len(), 7);
        assert_eq!(
            renames.last(),
            Some(&Rename {
                from: "ledgerstream_migrations_v2".to_owned(),
                to: "ledgerstream_migrations".to_owned(),
            })
        );
        assert!(
            !renames.iter().any(|r| r.from == "account_events"),
            "{renames:?}"
        );

        let done = exist(&LIVE);
        assert_eq!(remaining(&live, &replayed, &old, &done), Ok(Vec::new()));
    }

    #[test]
    fn a_taken_old_name_or_a_missing_table_stops_the_switch() {
        let (live, replayed, old) = sets();
        let mut names: Vec<&str> = LIVE.to_vec();
        names.extend(REPLAYED);
        names.push("account_balances_old_20250101T120000");
        assert!(matches!(
            remaining(&live, &replayed, &old, &exist(&names)),
            Err(Inconsistent::OldTaken { .. })
        ));
        let missing = exist(&["account_events", "account_events_v2"]);
        assert!(matches!(
            remaining(&live, &replayed, &old, &missing),
            Err(Inconsistent::Missing { .. })
        ));
    }

    #[test]
    fn an_exchange_tags_swaps_then_moves_the_swapped_out_tables_aside() {
        let (live, replayed, old) = sets();
        let mut names: Vec<&str> = LIVE.to_vec();
        names.extend(REPLAYED);
        let steps = remaining_exchanges(&live, &replayed, &old, &exist(&names), &exist(&[]))
            .expect("a plan");
        assert_eq!(steps.tag, REPLAYED.to_vec());
        assert_eq!(steps.exchange.len(), 4);
        assert_eq!(
            steps.exchange[0],
            ("account_events".to_owned(), "account_events_v2".to_owned())
        );
        assert_eq!(
            statement(&steps.renames),
            "RENAME TABLE \
             `account_events_v2` TO `account_events_old_20250101T120000`, \
             `account_balances_v2` TO `account_balances_old_20250101T120000`, \
             `projection_checkpoints_v2` TO `projection_checkpoints_old_20250101T120000`, \
             `ledgerstream_migrations_v2` TO `ledgerstream_migrations_old_20250101T120000`"
        );
    }

    #[test]
    fn an_exchange_stopped_half_way_goes_on_from_the_tags() {
        let (live, replayed, old) = sets();
        let mut names: Vec<&str> = LIVE.to_vec();
        names.extend(REPLAYED);
        // Tagged all, swapped account_events, then stopped.
        let tagged = exist(&[
            "account_events",
            "account_balances_v2",
            "projection_checkpoints_v2",
            "ledgerstream_migrations_v2",
        ]);
        let steps =
            remaining_exchanges(&live, &replayed, &old, &exist(&names), &tagged).expect("a plan");
        assert!(steps.tag.is_empty(), "{steps:?}");
        assert_eq!(steps.exchange.len(), 3);
        assert!(steps.exchange.iter().all(|(l, _)| l != "account_events"));
        assert_eq!(steps.renames.len(), 4);

        // Every swap made, one rename left.
        let tagged = exist(&LIVE);
        let mut names = names.clone();
        names.retain(|n| *n != "account_events_v2");
        names.push("account_events_old_20250101T120000");
        let steps =
            remaining_exchanges(&live, &replayed, &old, &exist(&names), &tagged).expect("a plan");
        assert!(steps.tag.is_empty() && steps.exchange.is_empty());
        assert_eq!(steps.renames.len(), 3);

        // Done.
        let done = exist(&LIVE);
        let steps = remaining_exchanges(&live, &replayed, &old, &done, &tagged).expect("a plan");
        assert_eq!(steps, Exchanges::default());
    }

    #[test]
    fn an_exchange_without_a_live_set_renames_and_refuses_a_taken_old_name() {
        let (live, replayed, old) = sets();
        let steps = remaining_exchanges(&live, &replayed, &old, &exist(&REPLAYED), &exist(&[]))
            .expect("a plan");
        assert!(steps.tag.is_empty() && steps.exchange.is_empty());
        assert!(steps.renames.iter().all(|r| r.from.ends_with("_v2")));
        let mut names: Vec<&str> = LIVE.to_vec();
        names.extend(REPLAYED);
        names.push("account_events_old_20250101T120000");
        assert!(matches!(
            remaining_exchanges(&live, &replayed, &old, &exist(&names), &exist(&[])),
            Err(Inconsistent::OldTaken { .. })
        ));
    }

    #[test]
    fn views_come_from_the_migrations_and_name_their_own_set() {
        let all: BTreeSet<u32> = MIGRATIONS.iter().map(|m| m.version).collect();
        let statements = view_statements("_old_x", &all);
        assert_eq!(statements.len(), 2, "{statements:?}");
        for statement in &statements {
            assert!(statement.contains("IF NOT EXISTS"), "{statement}");
            assert!(statement.contains("FROM account_events_old_x FINAL"));
        }
        assert!(view_statements("", &BTreeSet::from([1, 2, 3])).is_empty());
    }

    #[test]
    fn stamps_are_utc_calendar_times() {
        let at = |second| Timestamp::from_second(second).unwrap();
        assert_eq!(stamp(Timestamp::UNIX_EPOCH), "19700101T000000");
        assert_eq!(stamp(at(1_735_733_045)), "20250101T120405");
    }

    #[test]
    fn versions_are_v_and_a_number_from_2() {
        assert_eq!(parse_version("v2"), Ok(2));
        assert_eq!(parse_version("v17"), Ok(17));
        for bad in ["2", "v", "v1", "v0", "vx", "V2", "v2_x"] {
            assert!(parse_version(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_next_version_is_above_every_table_and_journal_entry() {
        assert_eq!(next_version("", [], []), 2);
        let tables = ["account_events", "account_events_v2", "account_events_v4x"];
        assert_eq!(next_version("", tables, []), 3);
        assert_eq!(next_version("", tables, ["v5"]), 6);
        // Next to a suffixed live set, only its own versions count.
        let tables = [
            "account_events_t1_v3",
            "account_events_v9",
            "account_events_t1",
        ];
        assert_eq!(next_version("t1", tables, ["t1_v2", "t2_v8"]), 4);
    }
}
