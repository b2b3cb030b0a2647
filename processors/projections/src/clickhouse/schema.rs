//! The tables' DDL: versioned migrations in `infra/clickhouse/migrations/`,
//! compiled in, applied at start and recorded in `ledgerstream_migrations<suffix>`.
//!
//! Each migration runs once per table set: at start the projector reads which
//! versions the set has, applies the missing ones in order, and records each
//! (version, name, checksum) after its statements succeeded. A second start
//! applies nothing. Statements are `IF NOT EXISTS`, so a migration interrupted
//! half-way, or applied by two projectors starting together, is applied again
//! harmlessly. A recorded migration whose file changed since stops the start: a
//! released migration is never edited, a change is a new file.

use clickhouse::Client;
use clickhouse::sql::Identifier;
use ledgerstream_runtime::clock::now_millis;
use tracing::info;

use super::config::Tables;
use super::retry::ClickHouseError;
use super::sql::{self, AppliedMigration};

/// One numbered DDL file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    /// The file's text; `${suffix}` stands for the table suffix.
    pub sql: &'static str,
    /// Checksums of earlier texts of the file that made the same tables (a
    /// quoting fix), accepted where they were applied.
    pub earlier: &'static [u32],
}

macro_rules! migration {
    ($version:literal, $name:literal, $file:literal $(, earlier: $earlier:expr)?) => {
        Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("../../../../infra/clickhouse/migrations/", $file)),
            earlier: &[$($earlier)?],
        }
    };
}

/// Every migration, in order. A new file in the folder is added here too (a test
/// checks that the two agree).
pub const MIGRATIONS: &[Migration] = &[
    migration!(1, "account_events", "001_account_events.sql"),
    migration!(2, "account_balances", "002_account_balances.sql"),
    // Its first text left `projection` unquoted, which current ClickHouse refuses.
    migration!(
        3,
        "projection_checkpoints",
        "003_projection_checkpoints.sql",
        earlier: 0xfeea_f110
    ),
    migration!(4, "daily_statistics", "004_daily_statistics.sql"),
];

impl Migration {
    /// The checksum recorded with it: CRC-32 of the file's text.
    pub fn checksum(&self) -> u32 {
        crc32fast::hash(self.sql.as_bytes())
    }

    /// Whether `checksum`, as recorded, is of this migration's text or of an
    /// earlier text that made the same tables.
    pub fn matches(&self, checksum: u32) -> bool {
        checksum == self.checksum() || self.earlier.contains(&checksum)
    }

    /// Its statements for the table set with `suffix` (`_v1`, or empty).
    pub fn statements(&self, suffix: &str) -> Vec<String> {
        split_statements(&self.sql.replace("${suffix}", suffix))
    }
}

/// Applies the migrations `tables` lacks; the versions applied now.
pub async fn migrate(client: &Client, tables: &Tables) -> Result<Vec<u32>, ClickHouseError> {
    client
        .query_raw(&sql::MIGRATIONS_TABLE.replace("${suffix_table}", &tables.migrations))
        .execute()
        .await
        .map_err(ClickHouseError::during("creating the migrations table"))?;
    let applied: Vec<AppliedMigration> = client
        .query(sql::APPLIED_MIGRATIONS)
        .bind(Identifier(&tables.migrations))
        .fetch_all()
        .await
        .map_err(ClickHouseError::during("reading the applied migrations"))?;

    let mut done = Vec::new();
    for migration in MIGRATIONS {
        if let Some(recorded) = applied.iter().find(|a| a.version == migration.version) {
            if !migration.matches(recorded.checksum) {
                return Err(ClickHouseError::MigrationChanged {
                    version: migration.version,
                    name: migration.name,
                    table: tables.migrations.clone(),
                    applied: recorded.checksum,
                    now: migration.checksum(),
                });
            }
            continue;
        }
        for statement in migration.statements(&tables.suffix) {
            client
                .query_raw(&statement)
                .execute()
                .await
                .map_err(ClickHouseError::during("applying a migration"))?;
        }
        let record = AppliedMigration {
            version: migration.version,
            name: migration.name.to_owned(),
            checksum: migration.checksum(),
            applied_at: super::rows::epoch_seconds(now_millis()),
        };
        let mut insert = client
            .insert::<AppliedMigration>(&tables.migrations)
            .await
            .map_err(ClickHouseError::during("recording a migration"))?;
        insert
            .write(&record)
            .await
            .map_err(ClickHouseError::during("recording a migration"))?;
        insert
            .end()
            .await
            .map_err(ClickHouseError::during("recording a migration"))?;
        info!(version = migration.version, name = migration.name, table = %tables.migrations, "migration applied");
        done.push(migration.version);
    }
    Ok(done)
}

/// Drops every table and view of the set (tests and benchmarks clean up with it).
pub async fn drop_all(client: &Client, tables: &Tables) -> Result<(), ClickHouseError> {
    for table in tables.all() {
        client
            .query(sql::DROP)
            .bind(Identifier(table))
            .execute()
            .await
            .map_err(ClickHouseError::during("dropping a table"))?;
    }
    Ok(())
}

/// Splits SQL text into statements at `;`, leaving out `--` comments and empty
/// statements; a `;` or `--` inside a quoted string is text.
pub fn split_statements(sql: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current = String::new();
    let mut chars = sql.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                current.push(c);
                if c == '\\' {
                    if let Some(escaped) = chars.next() {
                        current.push(escaped);
                    }
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' | '`' => {
                    quote = Some(c);
                    current.push(c);
                }
                '-' if chars.peek() == Some(&'-') => {
                    for skipped in chars.by_ref() {
                        if skipped == '\n' {
                            current.push('\n');
                            break;
                        }
                    }
                }
                ';' => statements.push(std::mem::take(&mut current)),
                _ => current.push(c),
            },
        }
    }
    statements.push(current);
    statements
        .into_iter()
        .map(|s| {
            s.lines()
                .map(str::trim_end)
                .filter(|l| !l.trim().is_empty())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_at_semicolons_outside_strings_and_comments() {
        let sql = "-- a comment; with a semicolon\nCREATE TABLE a (x String DEFAULT ';') ENGINE = Log;\n\n\
                   -- another\nCREATE VIEW b AS SELECT 'it''s -- not a comment' AS y;\n-- trailing\n";
        assert_eq!(
            split_statements(sql),
            vec![
                "CREATE TABLE a (x String DEFAULT ';') ENGINE = Log".to_owned(),
                "CREATE VIEW b AS SELECT 'it''s -- not a comment' AS y".to_owned(),
            ]
        );
    }

    #[test]
    fn every_migration_file_is_listed_in_order() {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../infra/clickhouse/migrations");
        let mut files: Vec<String> = std::fs::read_dir(&folder)
            .expect("the migrations folder")
            .map(|entry| {
                entry
                    .expect("entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .filter(|name| name.ends_with(".sql"))
            .collect();
        files.sort();
        let listed: Vec<String> = MIGRATIONS
            .iter()
            .map(|m| format!("{:03}_{}.sql", m.version, m.name))
            .collect();
        assert_eq!(
            files, listed,
            "infra/clickhouse/migrations/ and MIGRATIONS disagree"
        );
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(
                migration.version as usize,
                index + 1,
                "versions are 1, 2, 3 … without holes"
            );
        }
    }

    #[test]
    fn every_statement_names_its_tables_with_the_suffix() {
        let tables = Tables::with_suffix("t1");
        for migration in MIGRATIONS {
            let statements = migration.statements(&tables.suffix);
            assert!(
                !statements.is_empty(),
                "migration {} has no statement",
                migration.version
            );
            for statement in statements {
                assert!(
                    !statement.contains("${"),
                    "unreplaced placeholder in {statement}"
                );
                assert!(
                    statement.contains("IF NOT EXISTS"),
                    "not idempotent: {statement}"
                );
                let created = statement.split_whitespace().nth(5).unwrap_or_default();
                assert!(
                    tables.all().contains(&created),
                    "{created} is not one of {:?}",
                    tables.all()
                );
            }
        }
    }

    #[test]
    fn a_quoting_fix_keeps_the_checksum_applied_before() {
        let checkpoints = MIGRATIONS[2];
        assert!(checkpoints.matches(checkpoints.checksum()));
        assert!(checkpoints.matches(0xfeea_f110), "the text without quotes");
        assert!(!checkpoints.matches(0));
        assert!(!MIGRATIONS[0].matches(0xfeea_f110));
    }

    #[test]
    fn what_18_16_lacks_is_not_used() {
        for migration in MIGRATIONS {
            for missing in ["DateTime64", "LowCardinality", "{", "Nullable(", "JSON"] {
                let sql: String = migration.statements("").join("\n");
                assert!(
                    !sql.contains(missing),
                    "migration {} uses {missing}",
                    migration.version
                );
            }
        }
    }
}
