//! One audit pass: the log read up to its end, the accounts chosen, each read
//! model read and compared, the read model's lead over the log read further
//! before it counts, a report; and the repair of what diverged.
//!
//! The order of the reads is what keeps lag from ever counting as drift:
//!
//! 1. each read model's checkpoints C — what it has certainly written;
//! 2. the log's end H0, and the log up to it (C ≤ H0: the checkpoints were
//!    read first);
//! 3. the read model R. The projector writes only what it read from the log,
//!    so whatever R holds is in the log up to its end when R was read;
//! 4. for an account where R holds more than the log up to H0, the log up to
//!    its end H1 (read now, after R), and the account compared again.
//!
//! An account is then consistent when R holds every event before C and
//! nothing that differs from the log up to H1: behind its checkpoint is drift,
//! behind the log's end is lag.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::time::Instant;

use anyhow::Context;
use ledgerstream_runtime::topics::partition_for;
use serde::Serialize;
use tracing::info;

use super::check::{Finding, ReadModel, Subject, Verdict};
use super::truth::{History, Log, Ranges, Read};
use crate::rebuild::positions::{EventLog, Marks, Positions};

/// Which accounts a pass checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// These accounts (only their partitions of the log are read).
    Accounts(Vec<String>),
    /// This many accounts of the log, at random.
    Sample(usize),
    /// Every account of the log, and every account a read model holds.
    All,
}

/// What a pass is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub selection: Selection,
    /// Only accounts with an event at or after this time (epoch ms).
    pub since_ms: Option<i64>,
    /// Divergent accounts shown in full in the report.
    pub examples: usize,
}

/// An account that diverged, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Example {
    pub account: String,
    pub findings: Vec<Finding>,
}

/// What a pass found in one read model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub read_model: &'static str,
    pub checked: u64,
    pub divergent: u64,
    /// Every divergent account, sorted.
    pub divergent_accounts: Vec<String>,
    /// The first divergent accounts (`--examples`), with expected and found.
    pub examples: Vec<Example>,
    /// Accounts whose read model held more than the log at first: the log was
    /// read further for them.
    pub read_further: u64,
    pub seconds: f64,
}

impl Report {
    pub fn consistent(&self) -> bool {
        self.divergent == 0
    }
}

/// Which accounts' events the truth keeps.
#[derive(Debug, Clone)]
enum Keep {
    All,
    These(HashSet<String>),
}

impl Keep {
    fn wants(&self, account: &str) -> bool {
        match self {
            Keep::All => true,
            Keep::These(set) => set.contains(account),
        }
    }
}

/// The log as read so far: every kept account's events, up to `marks`.
#[derive(Debug)]
pub struct Truth {
    log: Log,
    ends: EventLog,
    keep: Keep,
    partitions: Vec<i32>,
    count: i32,
    marks: Marks,
    pub read: Read,
}

impl Truth {
    /// Reads the log up to its end now: every partition, or only those of the
    /// accounts `selection` names.
    pub async fn read(log: Log, ends: EventLog, selection: &Selection) -> anyhow::Result<Self> {
        let all = ends.partitions().await?;
        let count = i32::try_from(all.len()).unwrap_or(i32::MAX);
        let (keep, partitions) = match selection {
            Selection::Accounts(accounts) => {
                let mut partitions: Vec<i32> = accounts
                    .iter()
                    .map(|a| partition_for(a.as_bytes(), count))
                    .collect();
                partitions.sort_unstable();
                partitions.dedup();
                (Keep::These(accounts.iter().cloned().collect()), partitions)
            }
            Selection::Sample(_) | Selection::All => (Keep::All, all),
        };
        let mut truth = Self {
            log,
            ends,
            keep,
            partitions,
            count,
            marks: Marks::new(),
            read: Read::default(),
        };
        truth.extend().await?;
        Ok(truth)
    }

    /// Reads the log on from where it was read to its end now.
    pub async fn extend(&mut self) -> anyhow::Result<()> {
        let marks = self.ends.marks(&self.partitions).await?;
        let ranges: Ranges = marks
            .iter()
            .map(|(&partition, &(low, high))| {
                let from = self.marks.get(&partition).map_or(low, |m| m.1.max(low));
                (partition, (from, high))
            })
            .collect();
        let keep = self.keep.clone();
        let read = std::mem::take(&mut self.read);
        self.read = self
            .log
            .read(ranges, move |account| keep.wants(account), read)
            .await?;
        self.marks = marks;
        Ok(())
    }

    /// The partitions read.
    pub fn partitions(&self) -> &[i32] {
        &self.partitions
    }

    /// An account's events (none for an account the log does not have).
    pub fn history(&self, account: &str) -> Cow<'_, History> {
        match self.read.histories.get(account) {
            Some(history) => Cow::Borrowed(history),
            None => Cow::Owned(History {
                partition: partition_for(account.as_bytes(), self.count),
                events: Vec::new(),
            }),
        }
    }

    /// The accounts a pass checks: `selection`'s, of those with an event since
    /// `since_ms`; `held` are the accounts the read models hold (for `All`).
    pub fn select(&self, request: &Request, held: Vec<String>) -> Vec<String> {
        let recent = |account: &String| {
            request.since_ms.is_none_or(|since| {
                self.read
                    .histories
                    .get(account)
                    .is_some_and(|h| h.last_event_at_ms() >= since)
            })
        };
        let mut accounts: Vec<String> = match &request.selection {
            Selection::Accounts(accounts) => accounts.clone(),
            Selection::All => {
                let mut all: HashSet<String> = self.read.histories.keys().cloned().collect();
                all.extend(held);
                all.into_iter().filter(recent).collect()
            }
            Selection::Sample(n) => {
                let seed = RandomState::new();
                let mut all: Vec<(u64, String)> = self
                    .read
                    .histories
                    .keys()
                    .filter(|a| recent(a))
                    .map(|a| (seed.hash_one(a), a.clone()))
                    .collect();
                all.sort_unstable();
                all.into_iter().take(*n).map(|(_, a)| a).collect()
            }
        };
        accounts.sort_unstable();
        accounts.dedup();
        accounts
    }
}

/// A read model's checkpoints, read before the log's end.
pub async fn checkpoints<R: ReadModel>(
    model: &R,
    topic: &str,
    partitions: &[i32],
) -> anyhow::Result<Positions> {
    model
        .checkpoints(topic, partitions)
        .await
        .with_context(|| format!("reading the {} checkpoints", model.name()))
}

/// Compares `accounts` of `model` with the log; `covered` are its checkpoints.
pub async fn audit<R: ReadModel>(
    model: &R,
    covered: &Positions,
    truth: &mut Truth,
    accounts: &[String],
    examples: usize,
) -> anyhow::Result<Report> {
    let started = Instant::now();
    let found = model.read(accounts).await?;
    let mut verdicts: HashMap<&str, Verdict> = HashMap::new();
    let mut ahead: Vec<String> = Vec::new();
    for account in accounts {
        let history = truth.history(account);
        let subject = subject(account, &history, covered);
        match model.compare(subject, found.get(account)) {
            Verdict::Ahead => ahead.push(account.clone()),
            verdict => {
                verdicts.insert(account, verdict);
            }
        }
    }
    let read_further = ahead.len() as u64;
    if !ahead.is_empty() {
        info!(
            read_model = model.name(),
            accounts = ahead.len(),
            "read model ahead of the log read; reading on"
        );
        truth.extend().await?;
        let found = model.read(&ahead).await?;
        for account in &ahead {
            let history = truth.history(account);
            let subject = subject(account, &history, covered);
            let verdict = match model.compare(subject, found.get(account)) {
                Verdict::Ahead => Verdict::Divergent(vec![Finding::new(
                    "versions",
                    format!("at most {} (the log's end)", history.last_version()),
                    "rows or documents past the log's end",
                )]),
                verdict => verdict,
            };
            let account = accounts
                .iter()
                .find(|a| *a == account)
                .map_or("", String::as_str);
            verdicts.insert(account, verdict);
        }
    }
    let mut divergent: Vec<Example> = verdicts
        .into_iter()
        .filter_map(|(account, verdict)| match verdict {
            Verdict::Divergent(findings) => Some(Example {
                account: account.to_owned(),
                findings,
            }),
            Verdict::Consistent | Verdict::Ahead => None,
        })
        .collect();
    divergent.sort_by(|a, b| a.account.cmp(&b.account));
    Ok(Report {
        read_model: model.name(),
        checked: accounts.len() as u64,
        divergent: divergent.len() as u64,
        divergent_accounts: divergent.iter().map(|e| e.account.clone()).collect(),
        examples: divergent.into_iter().take(examples).collect(),
        read_further,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Writes `accounts` of `model` again from the log (read on to its end first).
pub async fn repair<R: ReadModel>(
    model: &R,
    covered: &Positions,
    truth: &mut Truth,
    accounts: &[String],
) -> anyhow::Result<()> {
    if accounts.is_empty() {
        return Ok(());
    }
    truth.extend().await?;
    let found = model.read(accounts).await?;
    let histories: Vec<History> = accounts
        .iter()
        .map(|a| truth.history(a).into_owned())
        .collect();
    let subjects: Vec<(Subject<'_>, Option<&R::Found>)> = accounts
        .iter()
        .zip(&histories)
        .map(|(account, history)| (subject(account, history, covered), found.get(account)))
        .collect();
    model
        .repair(&subjects)
        .await
        .with_context(|| format!("repairing {} accounts of {}", accounts.len(), model.name()))
}

fn subject<'a>(account: &'a str, history: &'a History, covered: &Positions) -> Subject<'a> {
    Subject {
        account,
        history,
        covered: covered.get(&history.partition).copied().unwrap_or(0),
    }
}
