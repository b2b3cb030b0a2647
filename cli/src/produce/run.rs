use std::collections::VecDeque;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use ledgerstream_infra::{Endpoints, probe};
use ledgerstream_producers::{CommandClient, CommandClientConfig, Submitted};
use ledgerstream_runtime::kafka::probe::probe_broker;
use ledgerstream_runtime::settings::registry_from_env;
use ledgerstream_schemas::client::RegistryClient;
use ledgerstream_schemas::records::{AccountType, Channel, CommandRecord, RecordUnion};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, BufReader};
use tokio::task::JoinHandle;

use super::input::{
    DEFAULT_CURRENCY, Line, Request, parse_account_type, parse_amount, parse_channel, parse_line,
};
use super::output::{Format, Origin, Printer, Report, Tally};
use crate::exit::Exit;
use crate::replay::progress::StatusLine;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Without a command, --json or --file, JSON lines are read from standard input.\n\
JSON lines: one object per line, {\"command\":\"deposit\",\"account\":\"acc-1\",\"amount\":\"12.50\"};\n\
docs/commands.md lists every field.\n\n\
Exit codes: 0 done; 1 could not run or a command was not sent; 2 bad flags;\n\
3 a command was rejected; 4 an input was not a valid command; 5 a result did not come in time."
)]
pub struct Args {
    #[command(subcommand)]
    command: Option<FlagCommand>,
    /// One command as a JSON object, as on a line of JSON lines input.
    #[arg(long, value_name = "JSON", conflicts_with = "file")]
    json: Option<String>,
    /// Commands as JSON lines, one object per line; `-` is standard input. Bad lines
    /// are reported with their number and the rest are sent.
    #[arg(long, value_name = "PATH")]
    file: Option<PathBuf>,
    /// Wait for each command's result: accepted with the account's version and
    /// where its events are, or rejected with the reason.
    #[arg(long, global = true)]
    wait: bool,
    /// Seconds to wait for a command's result (with --wait) or for Kafka's
    /// acknowledgement (without), counted from sending.
    #[arg(long, value_name = "SECS", default_value_t = 30, global = true)]
    timeout: u64,
    /// How results are printed: `human` (key=value) or `json` (one object per
    /// command).
    #[arg(long, value_enum, default_value = "human", global = true)]
    output: Format,
    /// Commands sent but not yet answered, at most, when reading JSON lines.
    #[arg(long, value_name = "N", default_value_t = 1_000, global = true)]
    in_flight: usize,
    /// Show a progress line on standard error while reading JSON lines (on by
    /// default when standard error is a terminal and standard output is not;
    /// never drawn when standard error is not a terminal).
    #[arg(long, global = true)]
    progress: bool,
    /// Appended to the topic names, to reach a pipeline run with the same
    /// `--topic-suffix`.
    #[arg(long, value_name = "SUFFIX", default_value = "", global = true)]
    topic_suffix: String,
}

/// One command from flags.
#[derive(Debug, clap::Subcommand)]
enum FlagCommand {
    /// Open an account with an initial deposit (OpenAccount).
    Open {
        /// The new account's id.
        #[arg(long)]
        account: String,
        /// Who owns it (at most 5 open accounts per owner).
        #[arg(long)]
        owner: String,
        /// CHECKING, SAVINGS, BUSINESS or INVESTMENT.
        #[arg(long = "type", value_name = "TYPE", default_value = "CHECKING", value_parser = parse_account_type)]
        account_type: AccountType,
        /// The initial deposit, e.g. 100.00 (at least 100.00).
        #[arg(long, value_name = "AMOUNT", value_parser = parse_amount, allow_negative_numbers = true)]
        initial: i64,
        /// The account's currency (ISO 4217).
        #[arg(long, default_value = DEFAULT_CURRENCY)]
        currency: String,
        #[command(flatten)]
        head: Head,
    },
    /// Deposit money into an account (DepositMoney).
    Deposit {
        /// The account's id.
        #[arg(long)]
        account: String,
        /// How much, e.g. 12.50 (two decimals at most).
        #[arg(long, value_name = "AMOUNT", value_parser = parse_amount, allow_negative_numbers = true)]
        amount: i64,
        /// ISO 4217 code; the account's own.
        #[arg(long, default_value = DEFAULT_CURRENCY)]
        currency: String,
        /// Free text kept with the event.
        #[arg(long)]
        reference: Option<String>,
        #[command(flatten)]
        head: Head,
    },
    /// Withdraw money from an account; a fee may apply (WithdrawMoney).
    Withdraw {
        /// The account's id.
        #[arg(long)]
        account: String,
        /// How much, e.g. 12.50 (two decimals at most).
        #[arg(long, value_name = "AMOUNT", value_parser = parse_amount, allow_negative_numbers = true)]
        amount: i64,
        /// ISO 4217 code; the account's own.
        #[arg(long, default_value = DEFAULT_CURRENCY)]
        currency: String,
        /// BRANCH, ATM, ONLINE, API or UNKNOWN.
        #[arg(long, default_value = "UNKNOWN", value_parser = parse_channel)]
        channel: Channel,
        /// Free text kept with the event.
        #[arg(long)]
        reference: Option<String>,
        #[command(flatten)]
        head: Head,
    },
    /// Transfer money between accounts; the fee is the sender's (DebitTransfer,
    /// then the processor's credit).
    Transfer {
        /// The account debited.
        #[arg(long)]
        from: String,
        /// The account credited (refunded to --from if it cannot take it).
        #[arg(long)]
        to: String,
        /// How much, e.g. 12.50 (two decimals at most).
        #[arg(long, value_name = "AMOUNT", value_parser = parse_amount, allow_negative_numbers = true)]
        amount: i64,
        /// ISO 4217 code; the account's own.
        #[arg(long, default_value = DEFAULT_CURRENCY)]
        currency: String,
        /// Free text kept with the events.
        #[arg(long)]
        reference: Option<String>,
        #[command(flatten)]
        head: Head,
    },
    /// Close an account at a zero balance (CloseAccount).
    Close {
        /// The account's id.
        #[arg(long)]
        account: String,
        /// Why, kept with the event.
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        head: Head,
    },
}

/// Flags every command takes.
#[derive(Debug, clap::Args)]
struct Head {
    /// The command's id (a UUID; new by default). Sending a command again with the
    /// same id repeats its first outcome instead of applying it twice.
    #[arg(long, value_name = "UUID")]
    command_id: Option<String>,
    /// Reject the command unless the account is at this version.
    #[arg(long, value_name = "N")]
    expected_version: Option<i64>,
}

impl From<FlagCommand> for Request {
    fn from(command: FlagCommand) -> Self {
        match command {
            FlagCommand::Open {
                account,
                owner,
                account_type,
                initial,
                currency,
                head,
            } => Request::Open {
                account,
                owner,
                account_type,
                initial,
                currency,
                command_id: head.command_id,
                expected_version: head.expected_version,
            },
            FlagCommand::Deposit {
                account,
                amount,
                currency,
                reference,
                head,
            } => Request::Deposit {
                account,
                amount,
                currency,
                reference,
                command_id: head.command_id,
                expected_version: head.expected_version,
            },
            FlagCommand::Withdraw {
                account,
                amount,
                currency,
                channel,
                reference,
                head,
            } => Request::Withdraw {
                account,
                amount,
                currency,
                channel,
                reference,
                command_id: head.command_id,
                expected_version: head.expected_version,
            },
            FlagCommand::Transfer {
                from,
                to,
                amount,
                currency,
                reference,
                head,
            } => Request::Transfer {
                from,
                to,
                amount,
                currency,
                reference,
                command_id: head.command_id,
                expected_version: head.expected_version,
            },
            FlagCommand::Close {
                account,
                reason,
                head,
            } => Request::Close {
                account,
                reason,
                command_id: head.command_id,
                expected_version: head.expected_version,
            },
        }
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    if args.command.is_some() && (args.json.is_some() || args.file.is_some()) {
        anyhow::bail!("give one command (flags), --json or --file, not several");
    }
    if args.in_flight == 0 || args.timeout == 0 {
        anyhow::bail!("--in-flight and --timeout must be at least 1");
    }
    let mut printer = Printer::new(args.output);
    // One command is checked before anything is connected.
    let one = match (args.command, &args.json) {
        (Some(command), _) => Some(Request::from(command).into_record()),
        (None, Some(json)) => Some(match parse_line(json) {
            Ok(Line::Command(record)) => Ok(*record),
            Ok(Line::Skip) => Err("--json is empty; give one JSON object".to_owned()),
            Err(problem) => Err(problem),
        }),
        (None, None) => None,
    };
    let one = match one {
        Some(Err(problem)) => {
            printer.invalid(None, &problem);
            return Err(Exit::INVALID.into());
        }
        Some(Ok(record)) => Some(record),
        None => None,
    };

    let client = connect(&args.topic_suffix, args.timeout).await?;
    let wait = args.wait;
    match one {
        Some(record) => {
            let origin = origin(None, &record);
            let report = match client.submit(&record).await {
                Ok(submitted) => settle(submitted, wait).await,
                Err(error) => Report::Failed(error),
            };
            printer.report(&origin, report);
        }
        None => {
            let input = open_input(args.file.as_deref()).await?;
            let show_progress = args.progress
                || (std::io::stderr().is_terminal() && !std::io::stdout().is_terminal());
            let lines = Lines {
                client: &client,
                wait,
                in_flight: args.in_flight,
                progress: show_progress.then(Progress::new),
            };
            lines.send_all(input, &mut printer).await?;
            eprintln!("{}", printer.tally.summary());
        }
    }
    match printer.tally.exit() {
        Some(exit) => Err(exit.into()),
        None => Ok(()),
    }
}

async fn connect(suffix: &str, timeout_secs: u64) -> anyhow::Result<CommandClient> {
    let endpoints = Endpoints::from_env();
    probe_broker(&endpoints.broker).await?;
    probe::probe(&endpoints.registry).await?;
    let registry = RegistryClient::new(registry_from_env()?)?;
    let mut config =
        CommandClientConfig::new(endpoints.broker.address.clone()).with_topic_suffix(suffix);
    config.result_timeout_ms = timeout_secs.saturating_mul(1000);
    config.delivery_timeout_ms = config.result_timeout_ms.min(i32::MAX as u64);
    CommandClient::connect(config, &registry)
        .await
        .context("connecting the command client")
}

async fn open_input(
    file: Option<&std::path::Path>,
) -> anyhow::Result<Box<dyn AsyncBufRead + Unpin + Send>> {
    match file {
        Some(path) if path != std::path::Path::new("-") => {
            let file = tokio::fs::File::open(path)
                .await
                .with_context(|| format!("opening {}", path.display()))?;
            Ok(Box::new(BufReader::new(file)))
        }
        _ => {
            if std::io::stdin().is_terminal() {
                eprintln!(
                    "reading JSON lines from standard input (end with Ctrl-D); \
                     `ledgerstream produce --help` shows the other ways"
                );
            }
            Ok(Box::new(BufReader::new(tokio::io::stdin())))
        }
    }
}

fn origin(line: Option<usize>, record: &CommandRecord) -> Origin {
    let name = record.full_name();
    Origin {
        line,
        command: name.rsplit('.').next().unwrap_or(name),
        command_id: record.command_id().to_owned(),
        account_id: record.account_id().to_owned(),
    }
}

/// Waits for what `--wait` asks: the result, or only Kafka's acknowledgement.
async fn settle(mut submitted: Submitted, wait: bool) -> Report {
    if wait {
        match submitted.result().await {
            Ok(result) => Report::Answered(result),
            Err(error) => Report::Failed(error),
        }
    } else {
        match submitted.delivered().await {
            Ok(sent) => Report::Sent(sent),
            Err(error) => Report::Failed(error),
        }
    }
}

/// JSON lines in, one report per line out, in input order.
struct Lines<'a> {
    client: &'a CommandClient,
    wait: bool,
    in_flight: usize,
    progress: Option<Progress>,
}

enum Entry {
    Invalid {
        line: usize,
        problem: String,
    },
    Command {
        origin: Origin,
        task: JoinHandle<Report>,
    },
}

impl Lines<'_> {
    async fn send_all(
        mut self,
        input: Box<dyn AsyncBufRead + Unpin + Send>,
        printer: &mut Printer,
    ) -> anyhow::Result<()> {
        let mut input = input.lines();
        let mut window: VecDeque<Entry> = VecDeque::new();
        let mut number = 0;
        while let Some(text) = input.next_line().await.context("reading the input")? {
            number += 1;
            match parse_line(&text) {
                Ok(Line::Skip) => {}
                Err(problem) => window.push_back(Entry::Invalid {
                    line: number,
                    problem,
                }),
                Ok(Line::Command(record)) => {
                    let origin = origin(Some(number), &record);
                    let task = match self.client.submit(&record).await {
                        Ok(submitted) => tokio::spawn(settle(submitted, self.wait)),
                        Err(error) => tokio::spawn(async { Report::Failed(error) }),
                    };
                    window.push_back(Entry::Command { origin, task });
                }
            }
            loop {
                self.print_ready(&mut window, printer).await?;
                if let Some(progress) = &self.progress {
                    progress.show(number, &printer.tally, window.len());
                }
                if window.len() <= self.in_flight {
                    break;
                }
            }
        }
        self.in_flight = 0;
        while !window.is_empty() {
            self.print_ready(&mut window, printer).await?;
            if let Some(progress) = &self.progress {
                progress.show(number, &printer.tally, window.len());
            }
        }
        if let Some(progress) = &self.progress {
            progress.clear();
        }
        Ok(())
    }

    /// Prints the finished entries at the front; while the window holds more than
    /// `in_flight`, waits up to a second for the front.
    async fn print_ready(
        &self,
        window: &mut VecDeque<Entry>,
        printer: &mut Printer,
    ) -> anyhow::Result<()> {
        while let Some(front) = window.front() {
            let ready = match front {
                Entry::Invalid { .. } => true,
                Entry::Command { task, .. } => task.is_finished(),
            };
            if !ready && window.len() <= self.in_flight {
                return Ok(());
            }
            let Some(entry) = window.pop_front() else {
                break;
            };
            match entry {
                Entry::Invalid { line, problem } => printer.invalid(Some(line), &problem),
                Entry::Command { origin, mut task } => {
                    if !ready {
                        // At most a second at a time, so that progress keeps moving.
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_secs(1)) => {
                                window.push_front(Entry::Command { origin, task });
                                return Ok(());
                            }
                            report = &mut task => {
                                printer.report(&origin, report.context("a send task failed")?);
                            }
                        }
                    } else {
                        printer.report(&origin, task.await.context("a send task failed")?);
                    }
                }
            }
        }
        Ok(())
    }
}

/// `12345 lines read, 12000 done (11900 accepted, 100 rejected), 345 in flight,
/// 1234/s`, redrawn in place on standard error while it is a terminal.
struct Progress {
    started: Instant,
    line: StatusLine,
}

impl Progress {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            line: StatusLine::new(),
        }
    }

    fn show(&self, read: usize, tally: &Tally, in_flight: usize) {
        let done = tally.sent + tally.answered() + tally.timed_out + tally.failed;
        let rate = done as f64 / self.started.elapsed().as_secs_f64().max(0.001);
        self.line.show(format!(
            "{read} lines read, {done} done ({} accepted, {} rejected), {in_flight} in flight, {rate:.0}/s",
            tally.accepted,
            tally.rejected.values().sum::<usize>()
        ));
    }

    fn clear(&self) {
        self.line.clear();
    }
}
