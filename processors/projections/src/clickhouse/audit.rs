//! The ClickHouse read model checked against the log (`ledgerstream audit
//! clickhouse`), and repaired.
//!
//! The expected rows are made by the sink's own code ([`Projected`],
//! [`BalanceRow::apply`], [`EventRow::new`]) from the account's events, so the
//! audit expects exactly what the projector writes. Rows are read without
//! `FINAL`: every copy is seen, and copies that differ are a divergence (a
//! reader without `FINAL` may meet either).
//!
//! Repair: rows that differ from the log are deleted by a mutation that names
//! them exactly (account, version, event id), which touches only the parts that
//! exist when it is made; then every event row and the account's state are
//! inserted again. A row the live projector writes meanwhile is the same row
//! (or, for the state, a later version, which wins), so the two writers cannot
//! undo each other.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clickhouse::sql::Identifier;
use ledgerstream_runtime::clock::now_millis;

use super::read::Reader;
use super::rows::{BalanceRow, EventRow, Projected, epoch_seconds};
use super::sql::{self, AuditRow};
use crate::audit::check::{
    Finding, ReadModel, StatementEntry, Subject, Verdict, covered_version, statement_breaks,
};
use crate::audit::truth::History;
use crate::gaps::Sequence;
use crate::rebuild::positions::{self, Positions};

/// Accounts per read.
const CHUNK: usize = 2_000;

/// How long a repair waits for its deletes to be applied.
const MUTATION_WAIT: Duration = Duration::from_secs(120);

/// What the tables hold of one account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    /// `account_balances FINAL`.
    pub state: Option<BalanceRow>,
    /// `account_events`, every copy.
    pub events: Vec<AuditRow>,
}

/// What the log says the tables should hold of one account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expected {
    /// Per version, the row.
    pub events: BTreeMap<u64, AuditRow>,
    /// Per version, the state after it.
    pub states: BTreeMap<u64, BalanceRow>,
}

impl Expected {
    /// The rows and states the projector writes for `history`.
    pub fn of(account: &str, history: &History) -> Self {
        let mut expected = Self::default();
        let mut state = BalanceRow::unknown(account);
        let mut known = false;
        for sourced in &history.events {
            // What the sink rejects went to the dead-letter topic.
            let Ok(event) = Projected::from_event(sourced.clone()) else {
                continue;
            };
            if Sequence::of(known.then_some(state.version), event.version).applies() {
                state.apply(&event);
                known = true;
                expected.states.insert(event.version, state.clone());
            }
            let row = EventRow::new(&event, &state, 0);
            expected.events.insert(event.version, audit_row(&row));
        }
        expected
    }
}

fn audit_row(row: &EventRow<'_>) -> AuditRow {
    AuditRow {
        account_id: row.account_id.to_owned(),
        version: row.version,
        event_id: row.event_id.to_owned(),
        event_type: row.event_type.to_owned(),
        occurred_at_ms: row.occurred_at_ms,
        owner_id: row.owner_id.to_owned(),
        account_type: row.account_type.to_owned(),
        currency: row.currency.to_owned(),
        amount_minor: row.amount_minor,
        fee_minor: row.fee_minor,
        balance_delta_minor: row.balance_delta_minor,
        balance_after_minor: row.balance_after_minor,
        counterparty_account_id: row.counterparty_account_id.to_owned(),
        transfer_id: row.transfer_id.to_owned(),
    }
}

/// A row in a line: what a finding shows.
fn show_row(row: &AuditRow) -> String {
    format!(
        "{} {} amount={} fee={} delta={} balance_after={} event_id={}",
        row.version,
        row.event_type,
        row.amount_minor,
        row.fee_minor,
        row.balance_delta_minor,
        row.balance_after_minor,
        row.event_id
    )
}

fn show_state(state: &BalanceRow) -> String {
    format!(
        "version={} balance={} status={} currency={} owner={} type={}",
        state.version,
        state.balance_minor,
        state.status,
        state.currency,
        state.owner_id,
        state.account_type
    )
}

/// Whether two states agree on everything an event decides.
fn same_state(a: &BalanceRow, b: &BalanceRow) -> bool {
    let mut b = b.clone();
    b.projected_at = a.projected_at;
    *a == b
}

/// Compares what the tables hold of an account with its events.
pub fn compare(subject: Subject<'_>, found: Option<&Found>) -> Verdict {
    let expected = Expected::of(subject.account, subject.history);
    let covered = covered_version(&subject);
    let last = expected.events.keys().next_back().copied().unwrap_or(0);
    let empty = Found::default();
    let found = found.unwrap_or(&empty);
    let mut findings = Vec::new();
    let mut ahead = false;

    // Event rows: one value per version, each as the log says.
    let mut by_version: BTreeMap<u64, &AuditRow> = BTreeMap::new();
    let mut versions_of_id: HashMap<&str, u64> = HashMap::new();
    for row in &found.events {
        if let Some(other) = by_version.insert(row.version, row)
            && other != row
        {
            findings.push(Finding::new(
                format!("version {}", row.version),
                "one row",
                format!("rows that differ: {} / {}", show_row(other), show_row(row)),
            ));
        }
        if let Some(version) = versions_of_id.insert(&row.event_id, row.version)
            && version != row.version
        {
            findings.push(Finding::new(
                format!("event {}", row.event_id),
                "at one version",
                format!("at versions {version} and {}", row.version),
            ));
        }
    }
    for (&version, row) in &by_version {
        match expected.events.get(&version) {
            Some(want) if want == *row => {}
            Some(want) => findings.push(Finding::new(
                format!("version {version}"),
                show_row(want),
                show_row(row),
            )),
            None if version > last => ahead = true,
            None => findings.push(Finding::new(
                format!("version {version}"),
                "no row: no such event",
                show_row(row),
            )),
        }
    }
    let missing: Vec<u64> = expected
        .events
        .keys()
        .copied()
        .filter(|v| *v <= covered && !by_version.contains_key(v))
        .collect();
    if !missing.is_empty() {
        findings.push(Finding::new(
            "movements",
            format!("{covered} rows (versions 1..={covered}, written per the checkpoint)"),
            format!(
                "{} rows; missing versions {}",
                by_version.len(),
                list(&missing)
            ),
        ));
    }
    // The statement chain, as the rows hold it.
    findings.extend(statement_breaks(by_version.values().map(|row| {
        StatementEntry {
            version: row.version,
            movement: row.balance_delta_minor,
            balance_after: row.balance_after_minor,
            checked: row.event_type != "AccountClosed",
        }
    })));

    // The state: at least at the checkpoint's version, and as the log says.
    match (&found.state, covered) {
        (None, 0) => {}
        (None, _) => findings.push(Finding::new(
            "state",
            show_state(&expected.states[&covered]),
            "no row",
        )),
        (Some(state), _) if state.version > last => ahead = true,
        (Some(state), _) if state.version < covered => findings.push(Finding::new(
            "state",
            show_state(&expected.states[&covered]),
            show_state(state),
        )),
        (Some(state), _) => match expected.states.get(&state.version) {
            Some(want) if same_state(want, state) => {}
            Some(want) => findings.push(Finding::new("state", show_state(want), show_state(state))),
            None => findings.push(Finding::new(
                "state",
                "a version the log has",
                show_state(state),
            )),
        },
    }

    if !findings.is_empty() {
        Verdict::Divergent(findings)
    } else if ahead {
        Verdict::Ahead
    } else {
        Verdict::Consistent
    }
}

/// Versions as `1, 2, 5` (the first ten, then how many more).
fn list(versions: &[u64]) -> String {
    let mut shown: Vec<String> = versions.iter().take(10).map(u64::to_string).collect();
    if versions.len() > 10 {
        shown.push(format!("and {} more", versions.len() - 10));
    }
    shown.join(", ")
}

/// The ClickHouse read model, for the audit.
#[derive(Debug, Clone)]
pub struct Audited {
    reader: Reader,
}

impl Audited {
    pub fn new(reader: Reader) -> Self {
        Self { reader }
    }

    async fn wait_for_mutations(&self, table: &str) -> anyhow::Result<()> {
        let deadline = Instant::now() + MUTATION_WAIT;
        loop {
            let pending: u64 = self
                .reader
                .client()
                .query(sql::PENDING_MUTATIONS)
                .bind(table)
                .fetch_one()
                .await
                .context("reading system.mutations")?;
            if pending == 0 {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the deletes on {table} were not applied within {MUTATION_WAIT:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl ReadModel for Audited {
    type Found = Found;

    fn name(&self) -> &'static str {
        super::NAME
    }

    async fn checkpoints(&self, topic: &str, _partitions: &[i32]) -> anyhow::Result<Positions> {
        positions::checkpoints(
            self.reader.client(),
            &self.reader.tables().checkpoints,
            topic,
        )
        .await
        .context("reading the clickhouse checkpoints")
    }

    async fn accounts(&self) -> anyhow::Result<Vec<String>> {
        let tables = self.reader.tables();
        let mut all = HashSet::new();
        for table in [&tables.balances, &tables.events] {
            let ids: Vec<String> = self
                .reader
                .client()
                .query(sql::ACCOUNT_IDS)
                .bind(Identifier(table))
                .fetch_all()
                .await
                .with_context(|| format!("listing the accounts of {table}"))?;
            all.extend(ids);
        }
        Ok(all.into_iter().collect())
    }

    async fn read(&self, accounts: &[String]) -> anyhow::Result<HashMap<String, Found>> {
        let tables = self.reader.tables();
        let client = self.reader.client();
        let mut found: HashMap<String, Found> = HashMap::new();
        for chunk in accounts.chunks(CHUNK) {
            let states = client
                .query(sql::ACCOUNT_STATES)
                .bind(Identifier(&tables.balances))
                .bind(chunk)
                .fetch_all::<BalanceRow>();
            let events = client
                .query(sql::AUDIT_EVENTS)
                .bind(Identifier(&tables.events))
                .bind(chunk)
                .fetch_all::<AuditRow>();
            let (states, events) =
                tokio::try_join!(states, events).context("reading accounts from clickhouse")?;
            for state in states {
                let account = state.account_id.clone();
                found.entry(account).or_default().state = Some(state);
            }
            for row in events {
                let account = row.account_id.clone();
                found.entry(account).or_default().events.push(row);
            }
        }
        Ok(found)
    }

    async fn shows(&self, account: &str, version: u64) -> anyhow::Result<bool> {
        let row = self.reader.account(account).await?;
        Ok(row.is_some_and(|row| row.version >= version))
    }

    fn compare(&self, subject: Subject<'_>, found: Option<&Found>) -> Verdict {
        compare(subject, found)
    }

    async fn repair(&self, subjects: &[(Subject<'_>, Option<&Found>)]) -> anyhow::Result<()> {
        let tables = self.reader.tables();
        let client = self.reader.client();
        let mut wrong_events: Vec<(String, String, String)> = Vec::new();
        let mut wrong_states: Vec<(String, String)> = Vec::new();
        let mut expected = Vec::with_capacity(subjects.len());
        for (subject, found) in subjects {
            let want = Expected::of(subject.account, subject.history);
            if let Some(found) = found {
                for row in &found.events {
                    if want.events.get(&row.version) != Some(row) {
                        wrong_events.push((
                            row.account_id.clone(),
                            row.version.to_string(),
                            row.event_id.clone(),
                        ));
                    }
                }
                if let Some(state) = &found.state {
                    let right = want
                        .states
                        .get(&state.version)
                        .is_some_and(|want| same_state(want, state));
                    if !right {
                        wrong_states.push((state.account_id.clone(), state.version.to_string()));
                    }
                }
            }
            expected.push(want);
        }
        if !wrong_events.is_empty() {
            client
                .query(sql::DELETE_EVENTS)
                .bind(Identifier(&tables.events))
                .bind(&wrong_events)
                .execute()
                .await
                .context("deleting event rows no event made")?;
            self.wait_for_mutations(&tables.events).await?;
        }
        if !wrong_states.is_empty() {
            client
                .query(sql::DELETE_BALANCES)
                .bind(Identifier(&tables.balances))
                .bind(&wrong_states)
                .execute()
                .await
                .context("deleting balance rows no event made")?;
            self.wait_for_mutations(&tables.balances).await?;
        }

        // Everything again, from the log: the same rows the projector writes.
        let projected_at = epoch_seconds(now_millis());
        let mut rows = client
            .insert::<EventRow<'_>>(&tables.events)
            .await
            .context("inserting event rows")?;
        let mut states = client
            .insert::<BalanceRow>(&tables.balances)
            .await
            .context("inserting balances")?;
        for ((subject, _), want) in subjects.iter().zip(&expected) {
            let mut state = BalanceRow::unknown(subject.account);
            let mut known = false;
            for sourced in &subject.history.events {
                let Ok(event) = Projected::from_event(sourced.clone()) else {
                    continue;
                };
                if Sequence::of(known.then_some(state.version), event.version).applies() {
                    state.apply(&event);
                    state.projected_at = projected_at;
                    known = true;
                }
                rows.write(&EventRow::new(&event, &state, projected_at))
                    .await
                    .context("inserting event rows")?;
            }
            if let Some((_, last)) = want.states.last_key_value() {
                let mut last = last.clone();
                last.projected_at = projected_at;
                states.write(&last).await.context("inserting balances")?;
            }
        }
        rows.end().await.context("inserting event rows")?;
        states.end().await.context("inserting balances")?;
        Ok(())
    }
}

// Amounts in minor units read best grouped as units and cents.
#[allow(clippy::inconsistent_digit_grouping, clippy::unwrap_used)]
#[cfg(test)]
pub(crate) mod tests {
    use ledgerstream_schemas::records::{
        AccountOpened, AccountType, EventMetadata, EventRecord, MoneyDeposited,
    };

    use super::*;
    use crate::sink::SourcedEvent;

    fn meta(version: i64) -> EventMetadata {
        EventMetadata {
            event_id: format!("e{version}"),
            account_id: "acc-1".to_owned(),
            version,
            occurred_at: 1_700_000_000_000 + version,
            command_id: "c".to_owned(),
            correlation_id: "r".to_owned(),
            causation_id: "s".to_owned(),
        }
    }

    /// Opened with 100.00, then a deposit of 10.00 per version, at offsets 10, 11 ...
    pub(crate) fn history(versions: i64) -> History {
        let mut events = vec![EventRecord::from(AccountOpened {
            metadata: meta(1),
            owner_id: "o".to_owned(),
            account_type: AccountType::Checking,
            currency: "EUR".to_owned(),
            initial_deposit_minor: 100_00,
            balance_after_minor: 100_00,
        })];
        for version in 2..=versions {
            events.push(EventRecord::from(MoneyDeposited {
                metadata: meta(version),
                amount_minor: 10_00,
                currency: "EUR".to_owned(),
                balance_after_minor: 100_00 + 10_00 * (version - 1),
                reference: None,
            }));
        }
        History {
            partition: 0,
            events: events
                .into_iter()
                .enumerate()
                .map(|(i, event)| SourcedEvent {
                    partition: 0,
                    offset: 10 + i as i64,
                    event,
                })
                .collect(),
        }
    }

    fn written(history: &History, up_to: u64) -> Found {
        let expected = Expected::of("acc-1", history);
        Found {
            state: expected.states.get(&up_to).cloned(),
            events: expected
                .events
                .range(..=up_to)
                .map(|(_, row)| row.clone())
                .collect(),
        }
    }

    fn subject(history: &History, covered: i64) -> Subject<'_> {
        Subject {
            account: "acc-1",
            history,
            covered,
        }
    }

    fn findings(verdict: Verdict) -> Vec<String> {
        match verdict {
            Verdict::Divergent(findings) => findings.into_iter().map(|f| f.what).collect(),
            other => panic!("not divergent: {other:?}"),
        }
    }

    #[test]
    fn tables_as_the_log_says_are_consistent_and_lag_is_not_drift() {
        let history = history(4);
        // Everything written, checkpoint at the end.
        assert_eq!(
            compare(subject(&history, 14), Some(&written(&history, 4))),
            Verdict::Consistent
        );
        // Versions 3 and 4 not written yet, and the checkpoint says so.
        assert_eq!(
            compare(subject(&history, 12), Some(&written(&history, 2))),
            Verdict::Consistent
        );
        // Nothing written, no checkpoint.
        assert_eq!(compare(subject(&history, 0), None), Verdict::Consistent);
    }

    #[test]
    fn a_row_missing_behind_the_checkpoint_is_drift() {
        let history = history(4);
        let mut found = written(&history, 4);
        found.events.retain(|row| row.version != 3);
        assert_eq!(
            findings(compare(subject(&history, 14), Some(&found))),
            vec!["movements"]
        );
        let mut behind = written(&history, 2);
        behind.events = written(&history, 4).events;
        assert_eq!(
            findings(compare(subject(&history, 14), Some(&behind))),
            vec!["state"]
        );
    }

    #[test]
    fn a_changed_balance_or_row_is_drift() {
        let history = history(4);
        let mut found = written(&history, 4);
        found.state.as_mut().unwrap().balance_minor += 1;
        assert_eq!(
            findings(compare(subject(&history, 14), Some(&found))),
            vec!["state"]
        );
        let mut found = written(&history, 4);
        found.events[1].balance_after_minor = 1;
        let what = findings(compare(subject(&history, 14), Some(&found)));
        assert!(what.contains(&"version 2".to_owned()), "{what:?}");
        assert!(what.iter().any(|w| w.starts_with("statement")), "{what:?}");
    }

    #[test]
    fn a_row_past_the_log_read_sends_the_audit_further_and_a_copy_that_differs_is_drift() {
        let history = history(4);
        let longer = self::history(5);
        let found = written(&longer, 5);
        assert_eq!(compare(subject(&history, 14), Some(&found)), Verdict::Ahead);
        assert_eq!(
            compare(subject(&longer, 14), Some(&found)),
            Verdict::Consistent
        );

        let mut twice = written(&history, 4);
        let mut copy = twice.events[0].clone();
        twice.events.push(copy.clone());
        assert_eq!(
            compare(subject(&history, 14), Some(&twice)),
            Verdict::Consistent,
            "an equal copy is an at-least-once write"
        );
        copy.amount_minor = 7;
        twice.events.push(copy);
        assert!(
            findings(compare(subject(&history, 14), Some(&twice)))
                .contains(&"version 1".to_owned())
        );
    }
}
