//! Counts and latencies of a load run: the status line and the summary.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::measure::Latencies;

/// Everything a run counts.
#[derive(Debug, Default)]
pub struct Stats {
    pub sent: u64,
    /// Sent, by kind of command (`open`, `deposit`, ...).
    pub sent_by_kind: BTreeMap<&'static str, u64>,
    pub accepted: u64,
    pub rejected: BTreeMap<String, u64>,
    /// Valid commands rejected, and invalid ones accepted.
    pub unexpected: u64,
    pub timed_out: u64,
    pub failed: u64,
    /// Commands not sent because the run was more than a second behind its rate.
    pub skipped: u64,
    /// Command queued → result read.
    pub latency: Latencies,
    /// Result written (its record's timestamp) → result read: the client's share.
    pub read_delay: Latencies,
}

impl Stats {
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    pub fn answered(&self) -> u64 {
        self.accepted + self.rejected_total()
    }

    pub fn in_flight(&self) -> u64 {
        self.sent - self.answered() - self.timed_out - self.failed
    }

    fn reasons(&self) -> String {
        self.rejected
            .iter()
            .map(|(code, n)| format!("{code} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `[12/30 s] sent 1200 (100/s) accepted 1080 rejected 120 (...) in flight 4 p50 31 ms p99 90 ms`.
    pub fn status(&self, elapsed: Duration, duration: Duration, rate_now: f64) -> String {
        let mut line = format!(
            "[{:>3}/{} s] sent {} ({rate_now:.0}/s) accepted {} rejected {}",
            elapsed.as_secs(),
            duration.as_secs(),
            self.sent,
            self.accepted,
            self.rejected_total(),
        );
        if !self.rejected.is_empty() {
            line.push_str(&format!(" ({})", self.reasons()));
        }
        line.push_str(&format!(" in flight {}", self.in_flight()));
        if self.timed_out + self.failed > 0 {
            line.push_str(&format!(
                " timeouts {} failed {}",
                self.timed_out, self.failed
            ));
        }
        if let (Some(p50), Some(p99)) = (self.latency.quantile(0.5), self.latency.quantile(0.99)) {
            line.push_str(&format!(" p50 {} p99 {}", ms(p50), ms(p99)));
        }
        line
    }
}

fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

fn ms_value(duration: Option<Duration>) -> Value {
    duration.map_or(Value::Null, |d| json!(d.as_secs_f64() * 1000.0))
}

/// What the summary reports besides the counts.
#[derive(Debug, Clone)]
pub struct Run {
    pub target_rate: f64,
    pub duration: Duration,
    /// How long the mixed phase ran (shorter when interrupted).
    pub ran: Duration,
    pub accounts: usize,
    pub setup: Duration,
    pub invalid_percent: f64,
    pub interrupted: bool,
    pub load_average: String,
}

impl Run {
    fn achieved(&self, stats: &Stats) -> f64 {
        stats.sent as f64 / self.ran.as_secs_f64().max(0.001)
    }

    pub fn json(&self, stats: &Stats) -> Value {
        let latency = &stats.latency;
        json!({
            "target_rate": self.target_rate,
            "achieved_rate": self.achieved(stats),
            "duration_s": self.duration.as_secs_f64(),
            "ran_s": self.ran.as_secs_f64(),
            "interrupted": self.interrupted,
            "accounts": self.accounts,
            "setup_s": self.setup.as_secs_f64(),
            "invalid_percent": self.invalid_percent,
            "sent": stats.sent,
            "sent_by_kind": stats.sent_by_kind,
            "accepted": stats.accepted,
            "rejected": stats.rejected_total(),
            "rejected_by_reason": stats.rejected,
            "unexpected": stats.unexpected,
            "timed_out": stats.timed_out,
            "failed": stats.failed,
            "skipped": stats.skipped,
            "latency_ms": {
                "count": latency.count(),
                "p50": ms_value(latency.quantile(0.5)),
                "p90": ms_value(latency.quantile(0.9)),
                "p99": ms_value(latency.quantile(0.99)),
                "max": ms_value(latency.max()),
            },
            "read_delay_ms": {
                "p50": ms_value(stats.read_delay.quantile(0.5)),
                "p99": ms_value(stats.read_delay.quantile(0.99)),
            },
            "load_average": self.load_average,
        })
    }

    pub fn human(&self, stats: &Stats) -> String {
        let latency = &stats.latency;
        let quantile = |q| latency.quantile(q).map_or_else(|| "-".to_owned(), ms);
        let mut lines = vec![
            format!(
                "load: {:.1} s{} at a target of {} commands/s over {} accounts (opened in {:.1} s), {} % invalid",
                self.ran.as_secs_f64(),
                if self.interrupted {
                    " (interrupted)"
                } else {
                    ""
                },
                self.target_rate,
                self.accounts,
                self.setup.as_secs_f64(),
                self.invalid_percent,
            ),
            format!(
                "sent        {} ({:.1}/s achieved{}; {})",
                stats.sent,
                self.achieved(stats),
                if stats.skipped > 0 {
                    format!(", {} skipped behind the target", stats.skipped)
                } else {
                    String::new()
                },
                stats
                    .sent_by_kind
                    .iter()
                    .map(|(kind, n)| format!("{kind} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            format!("accepted    {}", stats.accepted),
            format!(
                "rejected    {} ({})",
                stats.rejected_total(),
                stats.reasons()
            ),
            format!(
                "unexpected  {} (valid commands rejected, invalid ones accepted)",
                stats.unexpected
            ),
        ];
        if stats.timed_out + stats.failed > 0 {
            lines.push(format!(
                "no result   {} timed out, {} not sent",
                stats.timed_out, stats.failed
            ));
        }
        lines.push(format!(
            "latency     p50 {}, p90 {}, p99 {}, max {} (command queued → result read; {} results)",
            quantile(0.5),
            quantile(0.9),
            quantile(0.99),
            latency.max().map_or_else(|| "-".to_owned(), ms),
            latency.count(),
        ));
        let read = |q| {
            stats
                .read_delay
                .quantile(q)
                .map_or_else(|| "-".to_owned(), ms)
        };
        lines.push(format!(
            "of which    p50 {}, p99 {} from the result written to it read",
            read(0.5),
            read(0.99),
        ));
        lines.push(format!("load average {}", self.load_average));
        lines.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_every_reason() {
        let mut stats = Stats {
            sent: 10,
            accepted: 7,
            ..Stats::default()
        };
        stats.rejected.insert("INVALID_AMOUNT".into(), 2);
        stats.rejected.insert("INSUFFICIENT_FUNDS".into(), 1);
        stats.latency.record(Duration::from_millis(20));
        let run = Run {
            target_rate: 10.0,
            duration: Duration::from_secs(1),
            ran: Duration::from_secs(1),
            accounts: 3,
            setup: Duration::from_millis(500),
            invalid_percent: 10.0,
            interrupted: false,
            load_average: "0.1 0.2 0.3".into(),
        };
        let text = run.human(&stats);
        assert!(
            text.contains("rejected    3 (INSUFFICIENT_FUNDS 1, INVALID_AMOUNT 2)"),
            "{text}"
        );
        let json = run.json(&stats);
        assert_eq!(json["rejected_by_reason"]["INVALID_AMOUNT"], 2);
        assert_eq!(json["accepted"], 7);
        assert!(json["latency_ms"]["p50"].as_f64().unwrap() > 19.0);
    }
}
