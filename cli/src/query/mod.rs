//! `ledgerstream query`: reading the read model, and reading one's own writes.
//!
//! ```text
//!  produce --wait ──▶ accepted … version=7
//!  query account acc-1 --min-version 7 ──▶ account_balances FINAL (polled with backoff
//!        until version ≥ 7, or a timeout naming the projection's lag)
//!                                     ──▶ account_events FINAL (its last events)
//! ```
//!
//! Files: [`account`] (the command) and [`format`] (what is printed);
//! [`history`] (`query history`: an account's movements from the search index).
//! The queries and the waits are the read models' own:
//! `ledgerstream_projections::clickhouse::read` and `::history::read`.

pub mod account;
pub mod format;
pub mod history;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, clap::Subcommand)]
enum What {
    /// An account from ClickHouse: balance, status, type, owner, version, last
    /// activity and its last events. With --min-version, waits until the read
    /// model has caught up with that version (read your writes). Exits with 5
    /// when it did not within --timeout, 6 when there is no such account.
    Account(account::Args),
    /// An account's money movements from the search index, newest first, a
    /// page at a time. With --min-version, waits until that write is reflected.
    History(history::Args),
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    match args.what {
        What::Account(args) => account::run(args).await,
        What::History(args) => history::run(args).await,
    }
}

/// Where the read model is: the ClickHouse flags every query command shares.
#[derive(Debug, Clone, clap::Args)]
pub struct Source {
    /// The table set to read, as `ledgerstream project clickhouse
    /// --table-suffix` (empty: the plain names).
    #[arg(long, value_name = "SUFFIX", default_value = "")]
    pub table_suffix: String,
    /// Appended to every topic name: the log whose end the projection's lag is
    /// measured against.
    #[arg(long, value_name = "SUFFIX", default_value = "")]
    pub topic_suffix: String,
    /// ClickHouse database of the tables.
    #[arg(long, value_name = "NAME", default_value = "default")]
    pub clickhouse_database: String,
    /// ClickHouse user; its password is read from LEDGERSTREAM_CLICKHOUSE_PASSWORD,
    /// and an https:// URL's private CA from LEDGERSTREAM_CLICKHOUSE_CA_FILE.
    #[arg(long, value_name = "USER", env = "LEDGERSTREAM_CLICKHOUSE_USER")]
    pub clickhouse_user: Option<String>,
}

impl Source {
    /// The ClickHouse settings, checked.
    pub fn config(&self) -> anyhow::Result<ledgerstream_projections::clickhouse::ClickHouseConfig> {
        let endpoints = ledgerstream_infra::Endpoints::from_env();
        let mut config = ledgerstream_projections::clickhouse::ClickHouseConfig::new(
            endpoints.clickhouse.address,
        );
        config.database = self.clickhouse_database.clone();
        config.table_suffix = self.table_suffix.clone();
        config.user = self.clickhouse_user.clone();
        config.set_password(std::env::var("LEDGERSTREAM_CLICKHOUSE_PASSWORD").ok());
        config.set_ca_file(std::env::var("LEDGERSTREAM_CLICKHOUSE_CA_FILE").ok());
        // Reads are small: no compression to pay for on loopback.
        config.compression = false;
        config.request_timeout_millis = 5_000;
        config.validate()?;
        Ok(config)
    }
}
