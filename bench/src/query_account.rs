//! `ledgerstream-bench query`: how long `query account --min-version V` takes
//! when the version is there — the read-your-writes check after a write that
//! has been projected. Times the reads in-process (the balance row, then the
//! last events), and with --spawn also the whole command, process start
//! included.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use ledgerstream_infra::{Endpoints, probe};

use crate::measure::Latencies;
use ledgerstream::query::Source;
use ledgerstream_projections::clickhouse::read::{Reader, Waited};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The account to read (default: the one with the most events in the
    /// table set).
    #[arg(long, value_name = "ID")]
    account: Option<String>,
    /// Reads to time (after 20 not timed, to warm up).
    #[arg(long, value_name = "N", default_value_t = 2_000)]
    iterations: usize,
    /// Events read with the account, as `query account --events`.
    #[arg(long, value_name = "N", default_value_t = 5)]
    events: u32,
    /// Also run the `ledgerstream query account` command this many times and
    /// time each (process start, connection and reads).
    #[arg(long, value_name = "N", default_value_t = 0)]
    spawn: usize,
    #[command(flatten)]
    source: Source,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    if args.iterations == 0 {
        bail!("--iterations must be above 0");
    }
    let config = args.source.config()?;
    probe::probe(&Endpoints::from_env().clickhouse).await?;
    let reader = Reader::new(&config);
    let account = match args.account.clone() {
        Some(account) => account,
        None => busiest_account(&reader).await?,
    };
    let (Waited::Found(row), _) = reader
        .read(&account, None, Duration::ZERO, 0)
        .await
        .context("reading the account")?
    else {
        bail!(
            "account {account} not found in {}",
            reader.tables().balances
        );
    };
    let version = row.version;
    let (accounts, events): (u64, u64) = reader
        .client()
        .query("SELECT (SELECT count() FROM ?), (SELECT count() FROM ?)")
        .bind(clickhouse::sql::Identifier(&reader.tables().balances))
        .bind(clickhouse::sql::Identifier(&reader.tables().events))
        .fetch_one()
        .await
        .context("counting rows")?;
    let server: String = reader
        .client()
        .query("SELECT version()")
        .fetch_one()
        .await?;
    eprintln!(
        "query account {account} --min-version {version} --events {}: {} timed reads \
         (ClickHouse {server}; {accounts} balance rows, {events} event rows)",
        args.events, args.iterations
    );

    let mut samples = Latencies::default();
    for i in 0..args.iterations + 20 {
        let started = Instant::now();
        let (found, events) = reader
            .read(&account, Some(version), Duration::from_secs(5), args.events)
            .await?;
        if !matches!(found, Waited::Found(_)) || events.is_empty() != (args.events == 0) {
            bail!("account {account} lost version {version}: {found:?}");
        }
        if i >= 20 {
            samples.record(started.elapsed());
        }
    }
    println!("in-process reads: {}", samples.summary("runs"));

    if args.spawn > 0 {
        let binary = crate::measure::ledgerstream_binary()?;
        let mut samples = Latencies::default();
        for _ in 0..args.spawn {
            let mut command = std::process::Command::new(&binary);
            command
                .args(["query", "account", &account])
                .args(["--min-version", &version.to_string()])
                .args(["--events", &args.events.to_string()])
                .args(["--table-suffix", &args.source.table_suffix])
                .args(["--clickhouse-database", &args.source.clickhouse_database])
                .stdout(std::process::Stdio::null());
            let started = Instant::now();
            let status = tokio::task::spawn_blocking(move || command.status()).await??;
            samples.record(started.elapsed());
            if !status.success() {
                bail!("`ledgerstream query account` failed: {status}");
            }
        }
        println!("whole command:    {}", samples.summary("runs"));
    }
    Ok(())
}

/// The account with the most events: the widest read.
async fn busiest_account(reader: &Reader) -> anyhow::Result<String> {
    let found: Option<String> = reader
        .client()
        .query("SELECT account_id FROM ? GROUP BY account_id ORDER BY count() DESC LIMIT 1")
        .bind(clickhouse::sql::Identifier(&reader.tables().events))
        .fetch_optional()
        .await
        .context("picking an account")?;
    found.with_context(|| {
        format!(
            "{} is empty; project some events first, or name one with --account",
            reader.tables().events
        )
    })
}
