use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use ledgerstream_infra::{Endpoints, probe};
use ledgerstream_producers::{ClientError, CommandClient, CommandClientConfig, CommandResult};
use ledgerstream_runtime::kafka::probe::probe_broker;
use ledgerstream_runtime::settings::registry_from_env;
use ledgerstream_schemas::client::RegistryClient;
use tokio::sync::{mpsc, watch};
use tokio::time::MissedTickBehavior;
use tracing::info;

use super::plan::{Effect, Invalid, Mix, Plan, Planned, parse_mix};
use super::stats::{Run, Stats};
use crate::measure::load_average;
use ledgerstream::exit::Exit;
use ledgerstream::replay::progress::StatusLine;
use ledgerstream::signals::shutdown;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit codes: 0 done; 1 could not run, nothing was accepted, or a command was not \
sent; 5 a result did not come in time. Rejections are part of the load and do not change it."
)]
pub struct Args {
    /// Accounts to open before the timed run (each with its own owner).
    #[arg(long, value_name = "N", default_value_t = 100)]
    accounts: usize,
    /// Commands per second to send during the timed run.
    #[arg(long, value_name = "PER_SEC", default_value_t = 100.0)]
    rate: f64,
    /// Seconds the timed run lasts (Ctrl-C ends it early, with the summary).
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    duration: u64,
    /// Weights of the kinds of command.
    #[arg(long, default_value = Mix::DEFAULT, value_parser = parse_mix)]
    mix: Mix,
    /// Percent of commands made to fail on purpose, evenly overdrafts
    /// (INSUFFICIENT_FUNDS), zero amounts (INVALID_AMOUNT) and deposits to an
    /// account nobody opened (ACCOUNT_NOT_FOUND).
    #[arg(long, value_name = "PERCENT", default_value_t = 10.0)]
    invalid: f64,
    /// Currency of every account and command.
    #[arg(long, default_value = "EUR")]
    currency: String,
    /// Seconds to wait for a command's result before counting it as timed out.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    timeout: u64,
    /// Commands sent and not yet answered, at most; beyond it sending pauses, and
    /// the achieved rate shows it.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    in_flight: u64,
    /// Start of every account and owner id (default: `load-` and a random part, so
    /// that runs do not meet each other's accounts).
    #[arg(long)]
    prefix: Option<String>,
    /// Seed of the command mix, to repeat a run's sequence.
    #[arg(long)]
    seed: Option<u64>,
    /// How the summary is printed on standard output: `human` or `json`. The
    /// status line goes to standard error either way: redrawn every second on a
    /// terminal, and its last state printed at the end.
    #[arg(long, value_enum, default_value = "human")]
    output: Output,
    /// Appended to the topic names, to reach a pipeline run with the same
    /// `--topic-suffix`.
    #[arg(long, value_name = "SUFFIX", default_value = "")]
    topic_suffix: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Output {
    Human,
    Json,
}

/// A command's fate, from its task back to the loop.
struct Done {
    effect: Effect,
    invalid: Option<Invalid>,
    outcome: Result<CommandResult, ClientError>,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    if !(args.rate > 0.0 && args.rate.is_finite()) {
        bail!("--rate must be above 0");
    }
    if !(0.0..=100.0).contains(&args.invalid) {
        bail!("--invalid is a percentage, 0 to 100");
    }
    if args.accounts == 0 || args.duration == 0 || args.timeout == 0 || args.in_flight == 0 {
        bail!("--accounts, --duration, --timeout and --in-flight must be at least 1");
    }
    let currency_ok =
        args.currency.len() == 3 && args.currency.bytes().all(|b| b.is_ascii_uppercase());
    if !currency_ok {
        bail!(
            "--currency {:?} is not an ISO 4217 code in capitals, like EUR",
            args.currency
        );
    }
    let client = connect(&args).await?;
    let seed = args
        .seed
        .unwrap_or_else(|| uuid::Uuid::new_v4().as_u64_pair().0);
    let prefix = args
        .prefix
        .clone()
        .unwrap_or_else(|| format!("load-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]));
    let mut plan = Plan::new(&prefix, &args.currency, args.mix, args.invalid, seed);
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
    let mut signals = count_signals();
    let status = StatusLine::new();

    // Open the accounts first, as fast as the in-flight limit lets.
    let setup_started = Instant::now();
    info!(accounts = args.accounts, %prefix, seed, "opening accounts");
    let mut setup = Stats::default();
    let mut interrupted = false;
    let mut opened = 0;
    while setup.answered() + setup.timed_out + setup.failed < args.accounts as u64 {
        if opened < args.accounts && setup.in_flight() < args.in_flight {
            submit(&client, plan.open(), &done_tx, &mut setup).await;
            opened += 1;
            continue;
        }
        tokio::select! {
            biased;
            _ = signals.changed() => { interrupted = true; break; }
            Some(done) = done_rx.recv() => settle(&mut plan, &mut setup, done),
        }
    }
    let setup_took = setup_started.elapsed();
    if plan.accounts() == 0 && !interrupted {
        bail!(
            "no account could be opened ({}); is the command processor running (`ledgerstream process`)?",
            setup.status(setup_took, setup_took, 0.0)
        );
    }
    info!(
        opened = plan.accounts(),
        seconds = setup_took.as_secs_f64(),
        "accounts opened"
    );

    // The timed run.
    let duration = Duration::from_secs(args.duration);
    let mut stats = Stats::default();
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut every_second = tokio::time::interval(Duration::from_secs(1));
    every_second.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut last_sent = 0;
    let mut planned_so_far: u64 = 0;
    while !interrupted {
        tokio::select! {
            biased;
            _ = signals.changed() => interrupted = true,
            Some(done) = done_rx.recv() => settle(&mut plan, &mut stats, done),
            _ = every_second.tick() => {
                let rate_now = (stats.sent - last_sent) as f64;
                last_sent = stats.sent;
                status.show(stats.status(started.elapsed(), duration, rate_now));
            }
            _ = tick.tick() => {
                let elapsed = started.elapsed();
                if elapsed >= duration {
                    break;
                }
                let due = (elapsed.as_secs_f64() * args.rate) as u64;
                // More than a second behind: give up on the oldest, do not burst.
                let behind_limit = args.rate.ceil() as u64;
                if due > planned_so_far + behind_limit {
                    stats.skipped += due - planned_so_far - behind_limit;
                    planned_so_far = due - behind_limit;
                }
                while planned_so_far < due && stats.in_flight() < args.in_flight {
                    submit(&client, plan.next(), &done_tx, &mut stats).await;
                    planned_so_far += 1;
                }
            }
        }
    }
    let ran = started.elapsed().min(duration);

    // Wait for what is in flight (another Ctrl-C stops waiting); results come
    // within the timeout or time out.
    if stats.in_flight() > 0 {
        status.show(format!(
            "waiting for {} results (Ctrl-C to stop waiting)",
            stats.in_flight()
        ));
    }
    signals.mark_unchanged();
    while stats.in_flight() > 0 {
        tokio::select! {
            biased;
            _ = signals.changed() => break,
            Some(done) = done_rx.recv() => settle(&mut plan, &mut stats, done),
            _ = every_second.tick() => {
                status.show(stats.status(started.elapsed(), duration, 0.0));
            }
        }
    }
    status.finish(&stats.status(
        ran,
        duration,
        stats.sent as f64 / ran.as_secs_f64().max(0.001),
    ));

    let run = Run {
        target_rate: args.rate,
        duration,
        ran,
        accounts: plan.accounts(),
        setup: setup_took,
        invalid_percent: args.invalid,
        interrupted,
        load_average: load_average(),
    };
    match args.output {
        Output::Human => println!("{}", run.human(&stats)),
        Output::Json => println!("{}", run.json(&stats)),
    }
    if stats.failed > 0 || stats.accepted == 0 {
        Err(Exit::FAILURE.into())
    } else if stats.timed_out > 0 {
        Err(Exit::TIMEOUT.into())
    } else {
        Ok(())
    }
}

/// Counts Ctrl-C and SIGTERM from now on: the first ends the run, the next stops
/// waiting for results. Listening starts at once, so that no signal arriving in
/// between takes the default action (ending the process without a summary).
fn count_signals() -> watch::Receiver<u32> {
    let (tx, rx) = watch::channel(0);
    tokio::spawn(async move {
        loop {
            shutdown().await;
            tx.send_modify(|count| *count += 1);
        }
    });
    rx
}

async fn connect(args: &Args) -> anyhow::Result<CommandClient> {
    let endpoints = Endpoints::from_env();
    probe_broker(&endpoints.broker).await?;
    probe::probe(&endpoints.registry).await?;
    let registry = RegistryClient::new(registry_from_env()?)?;
    let mut config = CommandClientConfig::new(endpoints.broker.address.clone())
        .with_topic_suffix(&args.topic_suffix);
    config.result_timeout_ms = args.timeout.saturating_mul(1000);
    config.delivery_timeout_ms = config.result_timeout_ms.min(i32::MAX as u64);
    CommandClient::connect(config, &registry)
        .await
        .context("connecting the command client")
}

/// Queues one command (in order with the ones before) and leaves its result to a
/// task that reports back.
async fn submit(
    client: &CommandClient,
    planned: Planned,
    done: &mpsc::UnboundedSender<Done>,
    stats: &mut Stats,
) {
    stats.sent += 1;
    let Planned {
        record,
        kind,
        invalid,
        effect,
    } = planned;
    *stats.sent_by_kind.entry(kind.name()).or_default() += 1;
    let submitted = client.submit(&record).await;
    let done = done.clone();
    tokio::spawn(async move {
        let outcome = match submitted {
            Ok(submitted) => submitted.result().await,
            Err(error) => Err(error),
        };
        let _ = done.send(Done {
            effect,
            invalid,
            outcome,
        });
    });
}

fn settle(plan: &mut Plan, stats: &mut Stats, done: Done) {
    let accepted = match &done.outcome {
        Ok(result) => {
            stats.latency.record(result.latency);
            if let Some(delay) = result.read_delay {
                stats.read_delay.record(delay);
            }
            match result.reason_code() {
                None => {
                    stats.accepted += 1;
                    if done.invalid.is_some() {
                        stats.unexpected += 1;
                    }
                    Some(true)
                }
                Some(code) => {
                    *stats.rejected.entry(code.to_owned()).or_default() += 1;
                    let expected = done.invalid.map(Invalid::expected_reason);
                    if expected != Some(code) {
                        stats.unexpected += 1;
                        tracing::debug!(
                            command_id = %result.command_id,
                            reason = code,
                            expected = expected.unwrap_or("acceptance"),
                            "unexpected outcome"
                        );
                    }
                    Some(false)
                }
            }
        }
        Err(error) if error.is_timeout() => {
            stats.timed_out += 1;
            None
        }
        Err(error) => {
            stats.failed += 1;
            tracing::warn!(%error, "a command was not sent");
            None
        }
    };
    plan.settle(done.effect, accepted);
}
