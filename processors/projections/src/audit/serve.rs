//! The continuous auditor (`ledgerstream audit --serve`): the log followed,
//! the accounts it changes checked at a bounded rate, and a sample of its
//! events timed until each read model shows them.
//!
//! Each round: the read models' checkpoints, the log read on to its end (the
//! accounts it changed join the queue, each once), at most `rate × interval`
//! accounts taken from the queue and audited (with the accounts divergent at
//! their last check), the metrics updated. The load on a read model is at most
//! that many accounts per round, read in one query per 2,000 (ClickHouse) or
//! 1,000 (history) accounts, plus one point read per SLO probe and pause.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use ledgerstream_runtime::clock::now_millis;
use tracing::{debug, warn};

use super::check::ReadModel;
use super::metrics::AuditMetrics;
use super::run::{self, Report, Truth};
use super::truth::Recent;
use crate::clickhouse::read::Pauses;
use crate::rebuild::positions::Positions;

/// How the continuous auditor paces itself.
#[derive(Debug, Clone, PartialEq)]
pub struct ServeConfig {
    /// Accounts audited per second and read model, at most.
    pub accounts_per_second: u32,
    /// Time between two rounds.
    pub interval: Duration,
    /// Events timed to their visibility per second and read model, at most.
    pub slo_samples_per_second: u32,
    /// How long an event is waited for before it counts as never seen.
    pub slo_timeout: Duration,
}

impl ServeConfig {
    /// Accounts per round.
    pub fn per_round(&self) -> usize {
        (f64::from(self.accounts_per_second) * self.interval.as_secs_f64()).ceil() as usize
    }

    /// Probes per round.
    pub fn probes_per_round(&self) -> usize {
        (f64::from(self.slo_samples_per_second) * self.interval.as_secs_f64()).ceil() as usize
    }
}

/// Accounts waiting to be audited, each once, in the order they changed.
#[derive(Debug, Default)]
pub struct Queue {
    order: VecDeque<String>,
    queued: HashSet<String>,
}

impl Queue {
    pub fn push(&mut self, account: String) {
        if self.queued.insert(account.clone()) {
            self.order.push_back(account);
        }
    }

    /// Up to `n` accounts, the longest waiting first.
    pub fn take(&mut self, n: usize) -> Vec<String> {
        let taken: Vec<String> = self.order.drain(..n.min(self.order.len())).collect();
        for account in &taken {
            self.queued.remove(account);
        }
        taken
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// What the auditor keeps about one read model between rounds.
#[derive(Debug)]
pub struct Watch {
    pub name: &'static str,
    /// Divergent at their last check: audited again every round.
    pub divergent: HashSet<String>,
    pub queue: Queue,
    pub checked: u64,
}

impl Watch {
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            divergent: HashSet::new(),
            queue: Queue::default(),
            checked: 0,
        }
    }
}

/// One round for one read model: the queued accounts it may take, and those
/// divergent before, audited; the metrics updated.
pub async fn round<R: ReadModel>(
    model: &R,
    covered: &Positions,
    truth: &mut Truth,
    watch: &mut Watch,
    config: &ServeConfig,
    metrics: &AuditMetrics,
) -> anyhow::Result<Report> {
    let mut accounts = watch.queue.take(config.per_round());
    accounts.extend(watch.divergent.iter().cloned());
    accounts.sort_unstable();
    accounts.dedup();
    let report = run::audit(model, covered, truth, &accounts, 3).await?;
    let now_divergent: HashSet<&String> = report.divergent_accounts.iter().collect();
    for account in &accounts {
        if now_divergent.contains(account) {
            watch.divergent.insert(account.clone());
        } else {
            watch.divergent.remove(account);
        }
    }
    watch.checked += report.checked;
    let label = [watch.name];
    metrics
        .checked
        .with_label_values(&label)
        .inc_by(report.checked);
    metrics
        .divergent
        .with_label_values(&label)
        .inc_by(report.divergent);
    metrics
        .divergent_accounts
        .with_label_values(&label)
        .set(watch.divergent.len() as i64);
    metrics
        .last_pass
        .with_label_values(&label)
        .set(now_millis() / 1_000);
    for example in &report.examples {
        warn!(read_model = watch.name, account = %example.account, findings = example.findings.len(), "divergent from the log");
    }
    debug!(
        read_model = watch.name,
        checked = report.checked,
        divergent = report.divergent,
        queued = watch.queue.len(),
        "audit round"
    );
    Ok(report)
}

/// The events of `recent` worth timing: the newest `n`, money moved.
pub fn samples(recent: &VecDeque<Recent>, n: usize) -> Vec<Recent> {
    recent
        .iter()
        .rev()
        .filter(|r| r.moves_money && r.version > 0)
        .take(n)
        .cloned()
        .collect()
}

/// Waits until `model` shows `event`, and observes how long after its append
/// that was (an event never seen within `timeout` counts in `+Inf`).
pub async fn time_visibility<R: ReadModel>(
    model: &R,
    event: &Recent,
    timeout: Duration,
    metrics: &AuditMetrics,
) {
    let deadline = Instant::now() + timeout;
    let mut pauses = Pauses::default();
    let histogram = metrics
        .visibility_seconds
        .with_label_values(&[model.name()]);
    loop {
        match model.shows(&event.account, event.version).await {
            Ok(true) => {
                let seconds = (now_millis() - event.appended_at_ms).max(0) as f64 / 1_000.0;
                histogram.observe(seconds);
                return;
            }
            Ok(false) => {}
            Err(error) => debug!(%error, read_model = model.name(), "visibility probe failed"),
        }
        if Instant::now() >= deadline {
            histogram.observe(f64::INFINITY);
            return;
        }
        tokio::time::sleep(pauses.next()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_takes_each_account_once_oldest_first() {
        let mut queue = Queue::default();
        for account in ["a", "b", "a", "c"] {
            queue.push(account.to_owned());
        }
        assert_eq!(queue.take(2), ["a", "b"]);
        queue.push("a".to_owned());
        assert_eq!(queue.take(10), ["c", "a"]);
        assert!(queue.is_empty());
    }

    #[test]
    fn a_round_takes_rate_times_interval_accounts() {
        let config = ServeConfig {
            accounts_per_second: 200,
            interval: Duration::from_millis(2_500),
            slo_samples_per_second: 2,
            slo_timeout: Duration::from_secs(60),
        };
        assert_eq!(config.per_round(), 500);
        assert_eq!(config.probes_per_round(), 5);
    }

    #[test]
    fn samples_are_the_newest_movements() {
        let event = |version, moves_money| Recent {
            account: "a".to_owned(),
            version,
            appended_at_ms: 0,
            moves_money,
        };
        let recent: VecDeque<Recent> = [event(1, true), event(2, true), event(3, false)].into();
        let versions: Vec<u64> = samples(&recent, 1).iter().map(|r| r.version).collect();
        assert_eq!(versions, [2]);
    }
}
