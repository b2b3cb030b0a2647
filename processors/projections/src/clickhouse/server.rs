//! The ClickHouse server and database the project talks to, read once at start,
//! and every statement that differs by them — in this one place.
//!
//! Checked by `tests/tests/clickhouse_current.rs` on ClickHouse 18.16 (the local
//! stack) and on current ClickHouse (chDB, ClickHouse 26.9 in-process): every
//! migration, the views, `FINAL`, `LIMIT 1 BY`, every read of
//! [`super::sql`] and a replay's switch, with the same rows, give the same
//! answers on both. One thing differs, and it is chosen here:
//!
//! **Switching a replayed table set in.** 18.16's databases are `Ordinary`: one
//! `RENAME TABLE` of several tables renames them all under one lock, so readers
//! and the live projector see the old set or the new one. Current servers
//! create `Atomic` databases (the default since 20.10), where a `RENAME TABLE`
//! of several tables renames one after the other: between two of them a live
//! name is missing, and a query — or the live projector's insert, which then
//! fails for good with `UNKNOWN_TABLE` — can fall into that gap. On an `Atomic`
//! (or `Replicated`, `Shared`) database each live table is therefore swapped
//! with its replayed one by `EXCHANGE TABLES`, which is atomic per pair: a live
//! name always exists. The exchanged tables (holding the old set) then take the
//! old set's names with a `RENAME TABLE`. Swaps leave the same names in place,
//! so a switch stopped half-way cannot tell from names alone which tables were
//! swapped: before the first swap each replayed table gets a comment naming its
//! set ([`tag`]), which moves with the table, and a live table carrying it has
//! been swapped in.
//!
//! The choice follows the database's engine, not the version: an `Ordinary`
//! database on a current server renames like 18.16 and has no `EXCHANGE`.

/// `version()` and the engine of the client's database, in one row.
pub const QUERY: &str =
    "SELECT version(), engine FROM system.databases WHERE name = currentDatabase()";

/// The tables of the database that carry a comment (`?` the comment, [`tag`]'s
/// text). Current servers only: 18.16 keeps no comments.
pub const TAGGED_TABLES: &str =
    "SELECT name FROM system.tables WHERE database = currentDatabase() AND comment = ?";

/// How a replayed table set takes the live names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    /// One `RENAME TABLE` for every table, live ones aside first.
    Rename,
    /// Tag, then `EXCHANGE TABLES` per table, then `RENAME TABLE` the swapped-out
    /// tables to the old set's names.
    Exchange,
}

/// What the server answered to [`QUERY`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerVersion {
    /// `version()`: `18.16.1`, `26.9.2.1`.
    pub version: String,
    /// The engine of the client's database: `Ordinary`, `Atomic`, …
    pub database_engine: String,
}

impl ServerVersion {
    /// Asks the server.
    pub async fn read(client: &clickhouse::Client) -> clickhouse::error::Result<Self> {
        let (version, database_engine) =
            client.query(QUERY).fetch_one::<(String, String)>().await?;
        Ok(Self {
            version,
            database_engine,
        })
    }

    /// The release's major and minor number (`(18, 16)`), when `version` reads as one.
    pub fn release(&self) -> Option<(u32, u32)> {
        let mut parts = self.version.split('.').map(|part| part.parse::<u32>().ok());
        Some((parts.next()??, parts.next()??))
    }

    /// How a replay switches on this database.
    pub fn switch(&self) -> Switch {
        match self.database_engine.as_str() {
            "Atomic" | "Replicated" | "Shared" => Switch::Exchange,
            _ => Switch::Rename,
        }
    }
}

/// One `RENAME TABLE` for every `(from, to)` pair, in order.
pub fn rename(pairs: &[(&str, &str)]) -> String {
    let pairs: Vec<String> = pairs
        .iter()
        .map(|(from, to)| format!("`{from}` TO `{to}`"))
        .collect();
    format!("RENAME TABLE {}", pairs.join(", "))
}

/// Swaps the names of two tables, atomically (`Atomic` databases only).
pub fn exchange(live: &str, replayed: &str) -> String {
    format!("EXCHANGE TABLES `{live}` AND `{replayed}`")
}

/// The comment that marks a table of the replayed set `set` (`v2`).
pub fn tag(set: &str) -> String {
    format!("ledgerstream table set {set}")
}

/// Puts [`tag`]`(set)` on `table`.
pub fn tag_table(table: &str, set: &str) -> String {
    format!("ALTER TABLE `{table}` MODIFY COMMENT '{}'", tag(set))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(version: &str, engine: &str) -> ServerVersion {
        ServerVersion {
            version: version.to_owned(),
            database_engine: engine.to_owned(),
        }
    }

    #[test]
    fn the_database_engine_chooses_the_switch() {
        assert_eq!(server("18.16.1", "Ordinary").switch(), Switch::Rename);
        assert_eq!(server("26.9.2.1", "Atomic").switch(), Switch::Exchange);
        assert_eq!(server("24.8.4.13", "Replicated").switch(), Switch::Exchange);
        assert_eq!(server("24.8.4.13", "Ordinary").switch(), Switch::Rename);
    }

    #[test]
    fn releases_read_from_the_version() {
        assert_eq!(server("18.16.1", "Ordinary").release(), Some((18, 16)));
        assert_eq!(server("26.9.2.1", "Atomic").release(), Some((26, 9)));
        assert_eq!(server("dev", "Atomic").release(), None);
    }

    #[test]
    fn statements_quote_their_tables() {
        assert_eq!(
            rename(&[("a", "a_old"), ("a_v2", "a")]),
            "RENAME TABLE `a` TO `a_old`, `a_v2` TO `a`"
        );
        assert_eq!(exchange("a", "a_v2"), "EXCHANGE TABLES `a` AND `a_v2`");
        assert_eq!(
            tag_table("a_v2", "v2"),
            "ALTER TABLE `a_v2` MODIFY COMMENT 'ledgerstream table set v2'"
        );
    }
}
