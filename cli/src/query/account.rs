//! `ledgerstream query account <id>`: one account as the ClickHouse read model
//! has it, optionally once it shows a version the caller wrote.
//!
//! Exit codes: 0 shown; 6 no such account; 5 the version did not show within
//! --timeout (the message names the projection's lag); 1 could not ask.

use std::time::Duration;

use anyhow::Context;
use indicatif::HumanCount;
use ledgerstream_infra::{Endpoints, probe};
use ledgerstream_runtime::kafka::probe::probe_broker;
use ledgerstream_runtime::topics::TopicNames;

use super::Source;
use super::format;
use crate::exit::Exit;
use ledgerstream_projections::clickhouse::read::{AccountRow, Reader, Waited};
use ledgerstream_projections::rebuild::positions::{self, EventLog};

/// How the account is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// Aligned `key  value` lines, then a table of the last events.
    Human,
    /// One JSON object.
    Json,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The account's id.
    id: String,
    /// Wait until the read model shows at least this version of the account:
    /// the `version=` that `ledgerstream produce --wait` printed for a command.
    #[arg(long, value_name = "V")]
    min_version: Option<u64>,
    /// Seconds to wait for --min-version before giving up (decimals allowed).
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    timeout: f64,
    /// How many of the account's last events to show (0: none).
    #[arg(long, value_name = "N", default_value_t = 5)]
    events: u32,
    /// `human` or `json`.
    #[arg(long, value_enum, default_value = "human")]
    output: Output,
    #[command(flatten)]
    source: Source,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    if !(args.timeout.is_finite() && args.timeout >= 0.0) {
        anyhow::bail!("--timeout {} is not a number of seconds", args.timeout);
    }
    let config = args.source.config()?;
    let endpoints = Endpoints::from_env();
    probe::probe(&endpoints.clickhouse).await?;
    let reader = Reader::new(&config);
    let timeout = Duration::from_secs_f64(args.timeout);
    let (waited, events) = reader
        .read(&args.id, args.min_version, timeout, args.events)
        .await
        .with_context(|| format!("reading {}", reader.tables().balances))?;
    let account = match waited {
        Waited::Found(account) => account,
        Waited::NotFound => {
            eprintln!(
                "account {} not found in {}",
                args.id,
                reader.tables().balances
            );
            return Err(Exit::NOT_FOUND.into());
        }
        Waited::TimedOut { seen } => {
            let lag = describe_lag(&reader, &args.source.topic_suffix, &endpoints).await;
            eprintln!(
                "{}",
                timed_out(
                    &args.id,
                    args.min_version.unwrap_or(0),
                    seen.as_ref(),
                    timeout,
                    &lag
                )
            );
            return Err(Exit::TIMEOUT.into());
        }
    };
    match args.output {
        Output::Human => print!("{}", format::human(&account, &events)),
        Output::Json => println!("{}", format::json(&account, &events)),
    }
    Ok(())
}

/// The message of a wait that ran out.
fn timed_out(
    id: &str,
    min_version: u64,
    seen: Option<&AccountRow>,
    timeout: Duration,
    lag: &str,
) -> String {
    let at = match seen {
        Some(row) => format!("is at version {}", row.version),
        None => "is not there yet".to_owned(),
    };
    format!(
        "timed out after {:.1} s: account {id} {at} in the read model, not {min_version}; {lag}",
        timeout.as_secs_f64()
    )
}

/// The ClickHouse projection's lag, in words: its checkpoints against the
/// log's end (or why it cannot be told).
async fn describe_lag(reader: &Reader, topic_suffix: &str, endpoints: &Endpoints) -> String {
    let topic = TopicNames::with_suffix(topic_suffix).events;
    let checkpoints =
        match positions::checkpoints(reader.client(), &reader.tables().checkpoints, &topic).await {
            Ok(checkpoints) => checkpoints,
            Err(error) => return format!("the projection's lag is unknown ({error})"),
        };
    let marks = async {
        probe_broker(&endpoints.broker).await?;
        let log = EventLog::connect(&endpoints.broker.address, &topic)?;
        let partitions = log.partitions().await?;
        log.marks(&partitions).await
    };
    match marks.await {
        Ok(marks) => {
            let behind = positions::lag(&checkpoints, &marks);
            if behind == 0 {
                format!(
                    "the clickhouse projection has written all of {topic}: \
                     the version may not exist (yet), or belong to another table set"
                )
            } else {
                // Offsets, not events: a transaction's marker takes one too.
                format!(
                    "the clickhouse projection is {} offset{} behind {topic}, events and \
                     transaction markers (is `ledgerstream project clickhouse` running?)",
                    HumanCount(behind),
                    if behind == 1 { "" } else { "s" }
                )
            }
        }
        Err(error) => format!("the projection's lag is unknown: {error:#}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_says_where_the_account_is_and_why() {
        let row = AccountRow {
            account_id: "acc-1".to_owned(),
            owner_id: "o".to_owned(),
            account_type: "CHECKING".to_owned(),
            currency: "USD".to_owned(),
            status: "OPEN".to_owned(),
            balance_minor: 0,
            version: 3,
            opened_at: 0,
            last_activity_at: 0,
            last_activity_at_ms: 0,
            projected_at: 0,
        };
        let text = timed_out(
            "acc-1",
            5,
            Some(&row),
            Duration::from_millis(1_500),
            "the clickhouse projection is 42 offsets behind account-events",
        );
        assert_eq!(
            text,
            "timed out after 1.5 s: account acc-1 is at version 3 in the read model, not 5; \
             the clickhouse projection is 42 offsets behind account-events"
        );
        assert!(
            timed_out("x", 1, None, Duration::ZERO, "").contains("is not there yet"),
            "an account not opened yet"
        );
    }
}
