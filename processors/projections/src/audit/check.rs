//! What every audited read model offers: its checkpoints, the accounts it
//! holds, an account as it holds it, the comparison with the log, and the
//! repair. The ClickHouse one is `clickhouse::audit`, the history one
//! `history::audit`.

use std::collections::HashMap;
use std::future::Future;

use serde::Serialize;

use super::truth::History;
use crate::rebuild::positions::Positions;

/// One way an account's read model differs from its events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// What was compared: `balance`, `version 7`, `movements` ...
    pub what: String,
    pub expected: String,
    pub found: String,
}

impl Finding {
    pub fn new(what: impl Into<String>, expected: impl ToString, found: impl ToString) -> Self {
        Self {
            what: what.into(),
            expected: expected.to_string(),
            found: found.to_string(),
        }
    }
}

/// What the comparison of one account came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Everything the read model holds is in the log, as the log says, and it
    /// holds everything its checkpoints cover.
    Consistent,
    /// The read model holds something past the events read: the log is read
    /// further and the account compared again.
    Ahead,
    Divergent(Vec<Finding>),
}

/// An account to compare or repair: its events, and how far the read model's
/// checkpoint covers its partition (`covered`: the next offset to write).
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub account: &'a str,
    pub history: &'a History,
    pub covered: i64,
}

/// A read model the audit compares with the log.
pub trait ReadModel: Send + Sync {
    /// An account as the read model holds it.
    type Found: Send + Sync;

    /// The projection's name: the report's and the metrics' label.
    fn name(&self) -> &'static str;

    /// Per partition of `topic`, the next offset the projection will write
    /// (a partition never written is left out).
    fn checkpoints(
        &self,
        topic: &str,
        partitions: &[i32],
    ) -> impl Future<Output = anyhow::Result<Positions>> + Send;

    /// Every account the read model holds anything of.
    fn accounts(&self) -> impl Future<Output = anyhow::Result<Vec<String>>> + Send;

    /// What the read model holds of `accounts` (an account it holds nothing of
    /// is left out).
    fn read(
        &self,
        accounts: &[String],
    ) -> impl Future<Output = anyhow::Result<HashMap<String, Self::Found>>> + Send;

    /// Whether the read model shows `version` of `account` (or a later one): a
    /// point read, as `query` makes it.
    fn shows(
        &self,
        account: &str,
        version: u64,
    ) -> impl Future<Output = anyhow::Result<bool>> + Send;

    /// Compares what the read model holds of an account with its events.
    fn compare(&self, subject: Subject<'_>, found: Option<&Self::Found>) -> Verdict;

    /// Writes the accounts again from their events, over whatever the read model
    /// holds of them (`found`), while the live projector may write them too.
    fn repair(
        &self,
        subjects: &[(Subject<'_>, Option<&Self::Found>)],
    ) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// The versions of `history` whose event the checkpoint covers: the last one
/// (0: none).
pub fn covered_version(subject: &Subject<'_>) -> u64 {
    subject
        .history
        .events
        .iter()
        .filter(|e| e.offset < subject.covered)
        .map(|e| u64::try_from(e.event.metadata().version).unwrap_or(0))
        .max()
        .unwrap_or(0)
}

/// One entry of a read model's statement of an account, in version order.
#[derive(Debug, Clone, Copy)]
pub struct StatementEntry {
    pub version: u64,
    /// What the entry adds to the balance.
    pub movement: i64,
    pub balance_after: i64,
    /// Whether the chain is checked into this entry: false for one that records
    /// no movement of its own (a closing's row in ClickHouse).
    pub checked: bool,
}

/// Where the statement breaks: between consecutive versions, each balance after
/// must be the one before plus the movement. A missing version is reported
/// elsewhere, so the chain is only checked across consecutive ones.
pub fn statement_breaks(entries: impl IntoIterator<Item = StatementEntry>) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut previous: Option<StatementEntry> = None;
    for entry in entries {
        if let Some(previous) = previous
            && previous.version + 1 == entry.version
            && entry.checked
            && previous.balance_after + entry.movement != entry.balance_after
        {
            findings.push(Finding::new(
                format!("statement at version {}", entry.version),
                format!(
                    "balance after {} + {}",
                    previous.balance_after, entry.movement
                ),
                entry.balance_after,
            ));
        }
        previous = Some(entry);
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(version: u64, movement: i64, balance_after: i64) -> StatementEntry {
        StatementEntry {
            version,
            movement,
            balance_after,
            checked: true,
        }
    }

    #[test]
    fn a_statement_breaks_only_where_a_balance_is_not_the_one_before_plus_the_movement() {
        let entries = [
            entry(1, 100, 100),
            entry(2, 50, 150),
            // Wrong: 150 + 10 is 160.
            entry(3, 10, 170),
            // After a missing version 4: not checked across the gap.
            entry(5, 5, 999),
            StatementEntry {
                checked: false,
                ..entry(6, 0, 0)
            },
        ];
        let breaks = statement_breaks(entries);
        assert_eq!(breaks.len(), 1, "{breaks:?}");
        assert_eq!(breaks[0].what, "statement at version 3");
    }
}
