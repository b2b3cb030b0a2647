//! `ledgerstream topics create | check`: make the pipeline's topics, or check them;
//! either way a table of what is there, and a non-zero exit on a mismatch.

use anyhow::bail;
use ledgerstream_infra::Endpoints;
use ledgerstream_runtime::kafka::probe::probe_broker;
use ledgerstream_runtime::topics::{
    self, Admin, Report, TopicNames, TopicStatus, TopicsConfig, TopicsError,
};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Create the missing topics (existing ones are left as they are), then check
    /// them all; exits non-zero on a mismatch.
    Create(Layout),
    /// Check the topics without changing anything; exits non-zero on a mismatch.
    Check(Layout),
}

#[derive(Debug, clap::Args)]
struct Layout {
    /// Partitions of account-commands, account-events and account-command-results:
    /// co-partitioned, so one count for the three. Fixed once records are in them.
    #[arg(long, value_name = "N", default_value_t = TopicsConfig::default().partitions)]
    partitions: i32,
    /// Replicas per partition: 1 for one broker, 3 in production. Existing topics
    /// may have more, not fewer.
    #[arg(long, value_name = "N", default_value_t = TopicsConfig::default().replication)]
    replication: i32,
    /// Partitions of account-dead-letters (any count works for an existing topic).
    #[arg(long, value_name = "N", default_value_t = TopicsConfig::default().dead_letter_partitions)]
    dead_letter_partitions: i32,
    /// Appended to every topic name (`account-commands<SUFFIX>`, ...): the topics
    /// of a pipeline run with the same `--topic-suffix`, beside the plain ones.
    #[arg(long, value_name = "SUFFIX", default_value = "")]
    topic_suffix: String,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let (layout, creating) = match args.action {
        Action::Create(layout) => (layout, true),
        Action::Check(layout) => (layout, false),
    };
    let config = TopicsConfig {
        partitions: layout.partitions,
        replication: layout.replication,
        dead_letter_partitions: layout.dead_letter_partitions,
        ..TopicsConfig::default()
    };
    let specs = config.specs_named(&TopicNames::with_suffix(&layout.topic_suffix))?;
    let broker = Endpoints::from_env().broker;
    // A login or TLS setting that cannot work is named here, before any request.
    probe_broker(&broker).await?;
    let admin = Admin::connect(&broker.address)?;
    let outcome = if creating {
        topics::create(&admin, &specs).await
    } else {
        topics::inspect(&admin, &specs).await
    };
    let report = match outcome {
        Ok(report) => report,
        Err(error @ TopicsError::Broker { .. }) => {
            bail!("{error} (at {}); {}", broker.address, broker.how_to_start())
        }
        Err(error) => return Err(error.into()),
    };
    print_table(&report);
    if report.is_ok() {
        return Ok(());
    }
    for mismatch in &report.mismatches {
        eprintln!("error: {mismatch}");
    }
    bail!(
        "{} topic mismatch(es); the pipeline refuses to run on these topics until they are fixed",
        report.mismatches.len()
    )
}

fn print_table(report: &Report) {
    let rows: Vec<[String; 5]> = report
        .topics
        .iter()
        .map(|row| {
            let count = |value: Option<i32>| value.map_or("-".to_owned(), |n| n.to_string());
            let configs: Vec<String> = match row.status {
                TopicStatus::Missing => vec!["-".to_owned()],
                _ => row
                    .configs
                    .iter()
                    .map(|(key, value)| format!("{key}={}", value.as_deref().unwrap_or("?")))
                    .collect(),
            };
            [
                row.name.clone(),
                count(row.partitions),
                count(row.replication),
                configs.join(" "),
                row.status.to_string(),
            ]
        })
        .collect();
    let header = ["topic", "partitions", "replicas", "configs", "status"].map(str::to_owned);
    let mut widths = header.clone().map(|title| title.len());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        println!(
            "{:<w0$}  {:>w1$}  {:>w2$}  {:<w3$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
        );
    }
    if !report.unknown_configs().is_empty() {
        println!("?: not reported by the broker, so not checked");
    }
}
