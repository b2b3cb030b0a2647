//! One line per command on standard output, for people or as JSON, and the tally
//! that decides the exit code.

use std::collections::BTreeMap;
use std::io::Write;

use ledgerstream_producers::{ClientError, CommandResult, EventOffsets, Outcome, Sent};
use serde_json::{Value, json};

use crate::exit::Exit;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `accepted DepositMoney account=acc-1 version=2 ...`: key=value pairs.
    Human,
    /// One JSON object per command.
    Json,
}

/// What became of one command.
#[derive(Debug)]
pub enum Report {
    /// Kafka has it (without `--wait`).
    Sent(Sent),
    /// The processor answered.
    Answered(CommandResult),
    /// It was not sent, or its result did not come.
    Failed(ClientError),
}

/// Where a command came from, for its line of output.
#[derive(Debug, Clone)]
pub struct Origin {
    /// Its line in JSON lines input.
    pub line: Option<usize>,
    /// The record name, e.g. `DepositMoney`.
    pub command: &'static str,
    pub command_id: String,
    pub account_id: String,
}

/// Counts by outcome.
#[derive(Debug, Default)]
pub struct Tally {
    pub sent: usize,
    pub accepted: usize,
    pub rejected: BTreeMap<String, usize>,
    pub invalid: usize,
    pub timed_out: usize,
    pub failed: usize,
}

impl Tally {
    pub fn answered(&self) -> usize {
        self.accepted + self.rejected.values().sum::<usize>()
    }

    /// The most serious outcome decides: a failure to send (1), a timeout (5), an
    /// invalid input (4), a rejection (3); 0 when none.
    pub fn exit(&self) -> Option<Exit> {
        if self.failed > 0 {
            Some(Exit::FAILURE)
        } else if self.timed_out > 0 {
            Some(Exit::TIMEOUT)
        } else if self.invalid > 0 {
            Some(Exit::INVALID)
        } else if !self.rejected.is_empty() {
            Some(Exit::REJECTED)
        } else {
            None
        }
    }

    /// `5 commands: 3 accepted, 1 rejected (INSUFFICIENT_FUNDS 1), 1 invalid line`.
    pub fn summary(&self) -> String {
        let rejected: usize = self.rejected.values().sum();
        let total = self.sent + self.answered() + self.invalid + self.timed_out + self.failed;
        if total == 0 {
            return "no commands".to_owned();
        }
        let mut parts = Vec::new();
        if self.sent > 0 {
            parts.push(format!("{} sent", self.sent));
        }
        if self.accepted > 0 || rejected > 0 {
            parts.push(format!("{} accepted", self.accepted));
            let reasons: Vec<String> = self
                .rejected
                .iter()
                .map(|(code, n)| format!("{code} {n}"))
                .collect();
            if rejected > 0 {
                parts.push(format!("{rejected} rejected ({})", reasons.join(", ")));
            } else {
                parts.push("0 rejected".to_owned());
            }
        }
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        if self.timed_out > 0 {
            parts.push(format!("{} without a result in time", self.timed_out));
        }
        if self.failed > 0 {
            parts.push(format!("{} not sent", self.failed));
        }
        if self.invalid > 0 {
            parts.push(plural(self.invalid, "invalid input", "invalid inputs"));
        }
        format!(
            "{}: {}",
            plural(total, "command", "commands"),
            parts.join(", ")
        )
    }
}

/// Prints reports and keeps the tally.
#[derive(Debug)]
pub struct Printer {
    format: Format,
    pub tally: Tally,
}

impl Printer {
    pub fn new(format: Format) -> Self {
        Self {
            format,
            tally: Tally::default(),
        }
    }

    /// A line of input that is not a command: on standard error for people, as a
    /// JSON object with the others for scripts.
    pub fn invalid(&mut self, line: Option<usize>, problem: &str) {
        self.tally.invalid += 1;
        match self.format {
            Format::Human => match line {
                Some(line) => eprintln!("line {line}: invalid: {problem}"),
                None => eprintln!("invalid: {problem}"),
            },
            Format::Json => {
                let mut object = json!({ "status": "invalid", "error": problem });
                if let Some(line) = line {
                    object["line"] = json!(line);
                }
                print_json(&object);
            }
        }
    }

    pub fn report(&mut self, origin: &Origin, report: Report) {
        match &report {
            Report::Sent(_) => self.tally.sent += 1,
            Report::Answered(result) => match &result.outcome {
                Outcome::Accepted { .. } => self.tally.accepted += 1,
                Outcome::Rejected { reason_code, .. } => {
                    *self.tally.rejected.entry(reason_code.clone()).or_default() += 1;
                }
            },
            Report::Failed(error) if error.is_timeout() => self.tally.timed_out += 1,
            Report::Failed(ClientError::Invalid(_)) => self.tally.invalid += 1,
            Report::Failed(_) => self.tally.failed += 1,
        }
        match self.format {
            Format::Human => human(origin, &report),
            Format::Json => print_json(&as_json(origin, &report)),
        }
    }
}

fn print_json(value: &Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{value}");
}

fn events(events: &EventOffsets) -> String {
    if events.count > 1 {
        format!(
            "{}:{}-{}",
            events.partition,
            events.first_offset,
            events.last_offset()
        )
    } else {
        format!("{}:{}", events.partition, events.first_offset)
    }
}

fn human(origin: &Origin, report: &Report) {
    let line = origin
        .line
        .map(|line| format!("line={line} "))
        .unwrap_or_default();
    let who = format!("{} account={}", origin.command, origin.account_id);
    let id = &origin.command_id;
    match report {
        Report::Sent(sent) => println!(
            "{line}sent {who} partition={} offset={} command_id={id}",
            sent.partition, sent.offset
        ),
        Report::Answered(result) => {
            let latency = result.latency.as_millis();
            match &result.outcome {
                Outcome::Accepted { version, events: e } => {
                    let events = e
                        .as_ref()
                        .map_or_else(|| "none (a repeat)".to_owned(), events);
                    println!(
                        "{line}accepted {who} version={version} events={events} latency_ms={latency} command_id={id}"
                    );
                }
                Outcome::Rejected {
                    reason_code,
                    message,
                    current_version,
                } => {
                    let version = current_version
                        .map(|v| format!(" version={v}"))
                        .unwrap_or_default();
                    println!(
                        "{line}rejected {who} reason={reason_code}{version} latency_ms={latency} command_id={id} message={message:?}"
                    );
                }
            }
        }
        Report::Failed(error) => {
            let status = if error.is_timeout() {
                "timeout"
            } else {
                "failed"
            };
            println!("{line}{status} {who} command_id={id}");
            match origin.line {
                Some(n) => eprintln!("line {n}: {error}"),
                None => eprintln!("{error}"),
            }
        }
    }
}

fn as_json(origin: &Origin, report: &Report) -> Value {
    let mut object = json!({
        "command": origin.command,
        "command_id": origin.command_id,
        "account_id": origin.account_id,
    });
    if let Some(line) = origin.line {
        object["line"] = json!(line);
    }
    let fields = match report {
        Report::Sent(sent) => json!({
            "status": "sent",
            "partition": sent.partition,
            "offset": sent.offset,
        }),
        Report::Answered(result) => {
            let mut fields = json!({
                "partition": result.sent.partition,
                "offset": result.sent.offset,
                "latency_ms": result.latency.as_secs_f64() * 1000.0,
                "decided_at": result.decided_at,
            });
            match &result.outcome {
                Outcome::Accepted { version, events } => {
                    fields["status"] = json!("accepted");
                    fields["version"] = json!(version);
                    fields["events"] = events.map_or(Value::Null, |e| {
                        json!({
                            "partition": e.partition,
                            "first_offset": e.first_offset,
                            "count": e.count,
                        })
                    });
                }
                Outcome::Rejected {
                    reason_code,
                    message,
                    current_version,
                } => {
                    fields["status"] = json!("rejected");
                    fields["reason_code"] = json!(reason_code);
                    fields["message"] = json!(message);
                    fields["current_version"] = json!(current_version);
                }
            }
            fields
        }
        Report::Failed(error) => json!({
            "status": if error.is_timeout() { "timeout" } else { "failed" },
            "error": error.to_string(),
        }),
    };
    if let (Value::Object(object), Value::Object(fields)) = (&mut object, fields) {
        object.extend(fields);
    }
    object
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_serious_outcome_sets_the_exit_code() {
        let mut tally = Tally::default();
        assert!(tally.exit().is_none());
        tally.accepted = 2;
        assert!(tally.exit().is_none());
        tally.rejected.insert("INSUFFICIENT_FUNDS".into(), 1);
        assert_eq!(tally.exit(), Some(Exit::REJECTED));
        tally.invalid = 1;
        assert_eq!(tally.exit(), Some(Exit::INVALID));
        tally.timed_out = 1;
        assert_eq!(tally.exit(), Some(Exit::TIMEOUT));
        tally.failed = 1;
        assert_eq!(tally.exit(), Some(Exit::FAILURE));
    }

    #[test]
    fn the_summary_counts_every_command() {
        let mut tally = Tally {
            accepted: 3,
            invalid: 1,
            ..Tally::default()
        };
        tally.rejected.insert("INSUFFICIENT_FUNDS".into(), 1);
        assert_eq!(
            tally.summary(),
            "5 commands: 3 accepted, 1 rejected (INSUFFICIENT_FUNDS 1), 1 invalid input"
        );
        let sent = Tally {
            sent: 1,
            ..Tally::default()
        };
        assert_eq!(sent.summary(), "1 command: 1 sent");
        assert_eq!(Tally::default().summary(), "no commands");
    }
}
