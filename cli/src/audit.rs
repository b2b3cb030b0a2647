//! `ledgerstream audit`: every read model compared with the log it was made
//! from, account by account; `--repair` writes the divergent accounts again.
//!
//! ```text
//!  audit clickhouse history --all
//!     ──▶ checkpoints of each read model, then account-events read back to its end
//!     ──▶ per account: account_balances + account_events, the history documents
//!     ──▶ a report per read model: checked, divergent, the first examples
//!  --repair ──▶ the divergent accounts written again from the log ──▶ audited again
//! ```
//!
//! `--serve` runs the continuous auditor instead: the log followed, the
//! accounts it changes audited at a bounded rate, a sample of its events timed
//! until each read model shows them; `/metrics` and `/health` on `--listen`.
//!
//! Exit codes: 0 every read model consistent (after `--repair`: once
//! repaired); 7 a read model differs from the log; 1 could not audit. The
//! comparison and the repair are the read models' own:
//! `ledgerstream_projections::{clickhouse, history}::audit`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use indicatif::HumanCount;
use ledgerstream_infra::{Endpoints, probe};
use ledgerstream_projections::HealthBoard;
use ledgerstream_projections::audit::run::{self, Report, Request, Selection, Truth};
use ledgerstream_projections::audit::serve::{self, ServeConfig, Watch};
use ledgerstream_projections::audit::{AuditMetrics, Log, ReadModel};
use ledgerstream_projections::clickhouse::audit::Audited as ClickHouseAudited;
use ledgerstream_projections::clickhouse::read::Reader;
use ledgerstream_projections::history::audit::Audited as HistoryAudited;
use ledgerstream_projections::history::read::HistoryReader;
use ledgerstream_projections::rebuild::positions::{EventLog, Positions};
use ledgerstream_runtime::kafka::probe::probe_broker;
use ledgerstream_runtime::topics::TopicNames;
use serde_json::json;

use crate::exit::Exit;
use crate::query::history::{Bound, parse_time};

/// The read models the audit knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Which {
    /// `account_balances` and `account_events`.
    Clickhouse,
    /// The history index, behind its alias.
    History,
}

/// How the report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Human,
    /// One JSON object.
    Json,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The read models to audit (default: both).
    #[arg(value_enum)]
    read_models: Vec<Which>,
    /// These accounts (comma-separated); only their partitions of the log are read.
    #[arg(long, value_name = "A,B", value_delimiter = ',',
          conflicts_with_all = ["sample", "all"])]
    accounts: Vec<String>,
    /// This many accounts of the log, chosen at random.
    #[arg(long, value_name = "N", conflicts_with = "all")]
    sample: Option<usize>,
    /// Every account of the log, and every account a read model holds (the
    /// default when no other selection is given).
    #[arg(long)]
    all: bool,
    /// Only accounts with an event at or after this time: RFC 3339 or a date
    /// (midnight UTC).
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Write the divergent accounts again from the log, then audit them again.
    #[arg(long)]
    repair: bool,
    /// Divergent accounts shown with what was expected and found.
    #[arg(long, value_name = "N", default_value_t = 10)]
    examples: usize,
    /// `human` or `json`.
    #[arg(long, value_enum, default_value = "human")]
    output: Output,
    /// The ClickHouse table set, as `ledgerstream project --table-suffix`.
    #[arg(long, value_name = "SUFFIX", default_value = "")]
    table_suffix: String,
    /// Appended to every topic name: the log audited against.
    #[arg(long, value_name = "SUFFIX", default_value = "")]
    topic_suffix: String,
    /// ClickHouse database of the tables.
    #[arg(long, value_name = "NAME", default_value = "default")]
    clickhouse_database: String,
    /// ClickHouse user; its password is read from LEDGERSTREAM_CLICKHOUSE_PASSWORD.
    #[arg(long, value_name = "USER", env = "LEDGERSTREAM_CLICKHOUSE_USER")]
    clickhouse_user: Option<String>,
    /// The history alias, as `ledgerstream project --history-index`.
    #[arg(long, value_name = "NAME", default_value = "transaction-history")]
    history_index: String,
    /// The index of the history projection's checkpoints.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "ledgerstream-projection-checkpoints"
    )]
    history_checkpoint_index: String,
    /// Search server user; its password is read from LEDGERSTREAM_SEARCH_PASSWORD.
    #[arg(long, value_name = "USER", env = "LEDGERSTREAM_SEARCH_USER")]
    search_user: Option<String>,
    /// Run continuously: follow the log, audit the accounts it changes, time
    /// events until each read model shows them, and serve /metrics and
    /// /health on --listen.
    #[arg(long, conflicts_with_all = ["accounts", "sample", "all", "since", "repair"])]
    serve: bool,
    /// Where --serve listens (0.0.0.0:9604 in a container).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9604")]
    listen: std::net::SocketAddr,
    /// --serve: accounts audited per second and read model, at most: the bound
    /// on the auditor's load on ClickHouse and the search server.
    #[arg(long, value_name = "N", default_value_t = 200)]
    accounts_per_second: u32,
    /// --serve: seconds between two rounds.
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    interval: f64,
    /// --serve: events timed to their visibility per second and read model.
    #[arg(long, value_name = "N", default_value_t = 2)]
    slo_samples: u32,
    /// --serve: seconds an event is waited for before it counts as never seen.
    #[arg(long, value_name = "SECS", default_value_t = 60.0)]
    slo_timeout: f64,
}

impl Args {
    fn request(&self) -> anyhow::Result<Request> {
        let selection = if !self.accounts.is_empty() {
            Selection::Accounts(self.accounts.clone())
        } else if let Some(n) = self.sample {
            Selection::Sample(n)
        } else {
            Selection::All
        };
        let since_ms = self
            .since
            .as_deref()
            .map(|text| parse_time(text, Bound::From))
            .transpose()
            .map_err(|e| anyhow::anyhow!("--since {e}"))?;
        Ok(Request {
            selection,
            since_ms,
            examples: self.examples,
        })
    }
}

/// The read models, connected.
struct Models {
    clickhouse: Option<ClickHouseAudited>,
    history: Option<HistoryAudited>,
}

/// One read model's audit, and after `--repair` its second one.
struct Audited {
    first: Report,
    repaired: Option<(u64, Report)>,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let request = args.request()?;
    let which = if args.read_models.is_empty() {
        vec![Which::Clickhouse, Which::History]
    } else {
        args.read_models.clone()
    };
    let endpoints = Endpoints::from_env();
    probe_broker(&endpoints.broker).await?;
    let mut models = Models {
        clickhouse: None,
        history: None,
    };
    if which.contains(&Which::Clickhouse) {
        probe::probe(&endpoints.clickhouse).await?;
        let source = crate::query::Source {
            table_suffix: args.table_suffix.clone(),
            topic_suffix: args.topic_suffix.clone(),
            clickhouse_database: args.clickhouse_database.clone(),
            clickhouse_user: args.clickhouse_user.clone(),
        };
        let mut config = source.config()?;
        config.request_timeout_millis = 120_000;
        models.clickhouse = Some(ClickHouseAudited::new(Reader::new(&config)));
    }
    if which.contains(&Which::History) {
        probe::probe(&endpoints.search).await?;
        let source = crate::query::history::Source {
            history_index: args.history_index.clone(),
            history_checkpoint_index: args.history_checkpoint_index.clone(),
            topic_suffix: args.topic_suffix.clone(),
            search_user: args.search_user.clone(),
        };
        let config = source.config(Duration::from_secs(120))?;
        models.history = Some(HistoryAudited::new(HistoryReader::new(&config)?));
    }

    let topic = TopicNames::with_suffix(&args.topic_suffix).events;
    let brokers = endpoints.broker.address.clone();
    let ends = EventLog::connect(&brokers, &topic)?;
    let partitions = ends.partitions().await?;
    let decoder = crate::replay::events_decoder(&topic).await?;
    let log = Log::connect(&brokers, &topic, decoder)?;

    // Checkpoints first, the log's end after: see `audit::run`.
    let clickhouse_at = match &models.clickhouse {
        Some(model) => Some(run::checkpoints(model, &topic, &partitions).await?),
        None => None,
    };
    let history_at = match &models.history {
        Some(model) => Some(run::checkpoints(model, &topic, &partitions).await?),
        None => None,
    };
    if args.serve {
        return serve(&args, models, &topic, &partitions, (log, ends)).await;
    }
    let mut truth = Truth::read(log, ends, &request.selection)
        .await
        .context("reading the log")?;

    let mut audited = Vec::new();
    if let (Some(model), Some(at)) = (&models.clickhouse, &clickhouse_at) {
        audited.push(one(model, at, &mut truth, &request, args.repair).await?);
    }
    if let (Some(model), Some(at)) = (&models.history, &history_at) {
        audited.push(one(model, at, &mut truth, &request, args.repair).await?);
    }

    match args.output {
        Output::Human => print!("{}", human(&truth, &audited)),
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&as_json(&truth, &audited))?
        ),
    }
    let clean = audited.iter().all(|a| match &a.repaired {
        Some((_, after)) => after.consistent(),
        None => a.first.consistent(),
    });
    if clean {
        Ok(())
    } else {
        Err(Exit::DIVERGENT.into())
    }
}

/// `--serve`: rounds until Ctrl-C or SIGTERM; see
/// `ledgerstream_projections::audit::serve`.
async fn serve(
    args: &Args,
    models: Models,
    topic: &str,
    partitions: &[i32],
    (log, ends): (Log, EventLog),
) -> anyhow::Result<()> {
    if args.interval <= 0.0 || args.slo_timeout <= 0.0 || args.accounts_per_second == 0 {
        anyhow::bail!("--interval, --slo-timeout and --accounts-per-second must be above 0");
    }
    let config = ServeConfig {
        accounts_per_second: args.accounts_per_second,
        interval: Duration::from_secs_f64(args.interval),
        slo_samples_per_second: args.slo_samples,
        slo_timeout: Duration::from_secs_f64(args.slo_timeout),
    };
    let metrics = AuditMetrics::new();
    let board = HealthBoard::default();
    let health = board.add("audit");
    let stop = Arc::new(AtomicBool::new(false));
    crate::signals::stop_on_signal(Arc::clone(&stop), "stopping the audit");
    let server = {
        let stop = Arc::clone(&stop);
        tokio::spawn(ledgerstream_projections::serve(
            args.listen,
            metrics.registry.clone(),
            board.clone(),
            async move {
                while !stop.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            },
        ))
    };
    tracing::info!(listen = %args.listen, accounts_per_second = args.accounts_per_second, "auditing continuously");
    health.set(true, "reading the log");
    let mut truth = Truth::read(log, ends, &Selection::All)
        .await
        .context("reading the log")?;

    // Every account of the log is audited once, then those that change.
    let mut clickhouse = Watch::new("clickhouse");
    let mut history = Watch::new("history");
    let mut all: Vec<String> = truth.read.changed.drain().collect();
    all.sort_unstable();
    for account in all {
        clickhouse.queue.push(account.clone());
        history.queue.push(account);
    }
    truth.read.recent.clear();
    metrics.log_events.inc_by(truth.read.events);
    let mut events_seen = truth.read.events;
    let mut probes = tokio::task::JoinSet::new();
    while !stop.load(Ordering::Relaxed) {
        let started = std::time::Instant::now();
        let outcome = serve_round(
            &models,
            topic,
            partitions,
            &mut truth,
            (&mut clickhouse, &mut history),
            &config,
            &metrics,
            &mut probes,
        )
        .await;
        metrics.log_events.inc_by(truth.read.events - events_seen);
        events_seen = truth.read.events;
        match outcome {
            Ok(()) => health.set(true, "auditing"),
            Err(error) => {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "audit round failed; trying again next round"
                );
                health.set(false, "the last round failed");
            }
        }
        while probes.try_join_next().is_some() {}
        let pause = config.interval.saturating_sub(started.elapsed());
        let deadline = std::time::Instant::now() + pause;
        while !stop.load(Ordering::Relaxed) && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    probes.abort_all();
    let _ = server.await;
    println!(
        "audit: clickhouse {} accounts checked, {} divergent; history {} checked, {} divergent",
        clickhouse.checked,
        clickhouse.divergent.len(),
        history.checked,
        history.divergent.len()
    );
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn serve_round(
    models: &Models,
    topic: &str,
    partitions: &[i32],
    truth: &mut Truth,
    (clickhouse, history): (&mut Watch, &mut Watch),
    config: &ServeConfig,
    metrics: &AuditMetrics,
    probes: &mut tokio::task::JoinSet<()>,
) -> anyhow::Result<()> {
    // Checkpoints first, the log's end after: see `audit::run`.
    let clickhouse_at = match &models.clickhouse {
        Some(model) => Some(run::checkpoints(model, topic, partitions).await?),
        None => None,
    };
    let history_at = match &models.history {
        Some(model) => Some(run::checkpoints(model, topic, partitions).await?),
        None => None,
    };
    truth.extend().await?;
    let mut changed: Vec<String> = truth.read.changed.drain().collect();
    changed.sort_unstable();
    for account in changed {
        clickhouse.queue.push(account.clone());
        history.queue.push(account);
    }
    let samples = serve::samples(&truth.read.recent, config.probes_per_round());
    truth.read.recent.clear();
    if let (Some(model), Some(at)) = (&models.clickhouse, &clickhouse_at) {
        serve::round(model, at, truth, clickhouse, config, metrics).await?;
        spawn_visibility_probes(probes, model, &samples, config.slo_timeout, metrics);
    }
    if let (Some(model), Some(at)) = (&models.history, &history_at) {
        serve::round(model, at, truth, history, config, metrics).await?;
        spawn_visibility_probes(probes, model, &samples, config.slo_timeout, metrics);
    }
    Ok(())
}

/// Times each sampled event until `model` shows it (the consistency SLO), one
/// task per event.
fn spawn_visibility_probes<R: ReadModel + Clone + 'static>(
    probes: &mut tokio::task::JoinSet<()>,
    model: &R,
    samples: &[ledgerstream_projections::audit::truth::Recent],
    timeout: Duration,
    metrics: &AuditMetrics,
) {
    for event in samples {
        let (model, event, metrics) = (model.clone(), event.clone(), metrics.clone());
        probes.spawn(async move {
            serve::time_visibility(&model, &event, timeout, &metrics).await;
        });
    }
}

/// Audits one read model, and repairs it when asked and needed.
async fn one<R: ReadModel>(
    model: &R,
    at: &Positions,
    truth: &mut Truth,
    request: &Request,
    repair: bool,
) -> anyhow::Result<Audited> {
    let held = match request.selection {
        Selection::All => model.accounts().await?,
        Selection::Accounts(_) | Selection::Sample(_) => Vec::new(),
    };
    let accounts = truth.select(request, held);
    let first = run::audit(model, at, truth, &accounts, request.examples).await?;
    if !repair || first.consistent() {
        return Ok(Audited {
            first,
            repaired: None,
        });
    }
    let divergent = first.divergent_accounts.clone();
    run::repair(model, at, truth, &divergent).await?;
    let after = run::audit(model, at, truth, &divergent, request.examples).await?;
    if after.consistent() {
        tracing::info!(
            read_model = model.name(),
            accounts = divergent.len(),
            "repaired"
        );
    } else {
        tracing::warn!(
            read_model = model.name(),
            accounts = after.divergent,
            "still divergent after the repair"
        );
    }
    Ok(Audited {
        first,
        repaired: Some((divergent.len() as u64, after)),
    })
}

fn report_lines(report: &Report, out: &mut String) {
    use std::fmt::Write as _;
    let _ = writeln!(
        out,
        "{:<11} checked {:>9}  divergent {:>7}  {}  ({:.1} s)",
        report.read_model,
        HumanCount(report.checked).to_string(),
        HumanCount(report.divergent).to_string(),
        if report.consistent() {
            "consistent"
        } else {
            "DIVERGENT"
        },
        report.seconds
    );
    for example in &report.examples {
        let _ = writeln!(out, "  {}", example.account);
        for finding in &example.findings {
            let _ = writeln!(
                out,
                "    {}: expected {}; found {}",
                finding.what, finding.expected, finding.found
            );
        }
    }
    let more = report.divergent_accounts.len() - report.examples.len();
    if more > 0 {
        let _ = writeln!(out, "  … and {more} more (--examples, --output json)");
    }
}

fn human(truth: &Truth, audited: &[Audited]) -> String {
    let mut out = format!(
        "log: {} events read ({} undecodable), {} accounts\n",
        HumanCount(truth.read.events),
        truth.read.undecodable,
        HumanCount(truth.read.histories.len() as u64)
    );
    for audit in audited {
        report_lines(&audit.first, &mut out);
        if let Some((repaired, after)) = &audit.repaired {
            out.push_str(&format!(
                "repaired {repaired} account{} of {}; audited again:\n",
                if *repaired == 1 { "" } else { "s" },
                after.read_model
            ));
            report_lines(after, &mut out);
        }
    }
    out
}

fn as_json(truth: &Truth, audited: &[Audited]) -> serde_json::Value {
    json!({
        "log": {
            "events": truth.read.events,
            "undecodable": truth.read.undecodable,
            "accounts": truth.read.histories.len(),
        },
        "read_models": audited.iter().map(|a| {
            let mut value = json!(a.first);
            if let Some((repaired, after)) = &a.repaired {
                value["repaired"] = json!(repaired);
                value["after_repair"] = json!(after);
            }
            value
        }).collect::<Vec<_>>(),
        "consistent": audited.iter().all(|a| match &a.repaired {
            Some((_, after)) => after.consistent(),
            None => a.first.consistent(),
        }),
    })
}
