//! Per account, is each event's version the next one? The processor writes every
//! account's versions 1, 2, 3 … without holes; a projection that sees otherwise has
//! met a record it could not project (dead-lettered), a log that was tampered
//! with, or — the usual case — events again after a restart from its checkpoint.
//! Anomalies are counted and logged; a projection never stops for one.
//!
//! A sink keeps each account's last projected version (the ClickHouse sink reads it
//! back from `account_balances` when it has not seen the account since it
//! started) and asks [`Sequence::of`] what the next event is.

use tracing::{debug, warn};

use super::metrics::ProjectionMetrics;

/// Where an event's version stands against the account's last projected version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sequence {
    /// The next version: apply it.
    Next,
    /// Versions are missing before it: apply it, and report the hole.
    Gap { expected: u64, found: u64 },
    /// Projected before: a re-delivery (after a restart or a retried batch), or
    /// a second event under a version. The projection keeps its state.
    Duplicate { last: u64, found: u64 },
}

impl Sequence {
    /// `last` is the account's last projected version, `None` for an account the
    /// projection has never seen (whose first version must be 1).
    pub fn of(last: Option<u64>, found: u64) -> Self {
        let last_seen = last.unwrap_or(0);
        match found {
            v if v == last_seen + 1 => Sequence::Next,
            v if v <= last_seen => Sequence::Duplicate {
                last: last_seen,
                found,
            },
            _ => Sequence::Gap {
                expected: last_seen + 1,
                found,
            },
        }
    }

    /// Whether the event moves the account's state forward.
    pub fn applies(&self) -> bool {
        !matches!(self, Sequence::Duplicate { .. })
    }
}

/// Counts and logs anomalies of one projection.
#[derive(Debug, Clone)]
pub struct GapReport {
    projection: &'static str,
    metrics: ProjectionMetrics,
}

impl GapReport {
    /// Reports for `projection`.
    pub fn new(projection: &'static str, metrics: ProjectionMetrics) -> Self {
        Self {
            projection,
            metrics,
        }
    }

    /// Reports `sequence` of the event at `partition`/`offset`, if it is an anomaly.
    /// Gaps are warnings; duplicates are expected after every restart, so debug.
    pub fn report(&self, sequence: Sequence, account_id: &str, partition: i32, offset: i64) {
        match sequence {
            Sequence::Next => {}
            Sequence::Gap { expected, found } => {
                self.metrics
                    .version_anomalies
                    .with_label_values(&[self.projection, "gap"])
                    .inc();
                warn!(
                    projection = self.projection,
                    account_id,
                    expected,
                    found,
                    partition,
                    offset,
                    "version gap: events of the account are missing before this one"
                );
            }
            Sequence::Duplicate { last, found } => {
                self.metrics
                    .version_anomalies
                    .with_label_values(&[self.projection, "duplicate"])
                    .inc();
                debug!(
                    projection = self.projection,
                    account_id, last, found, partition, offset, "version seen before"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_version_of_a_new_account_is_next() {
        assert_eq!(Sequence::of(None, 1), Sequence::Next);
    }

    #[test]
    fn a_new_account_that_starts_later_has_a_gap() {
        assert_eq!(
            Sequence::of(None, 3),
            Sequence::Gap {
                expected: 1,
                found: 3
            }
        );
    }

    #[test]
    fn contiguous_versions_are_next() {
        assert_eq!(Sequence::of(Some(7), 8), Sequence::Next);
    }

    #[test]
    fn a_skipped_version_is_a_gap_that_still_applies() {
        let sequence = Sequence::of(Some(7), 10);
        assert_eq!(
            sequence,
            Sequence::Gap {
                expected: 8,
                found: 10
            }
        );
        assert!(sequence.applies());
    }

    #[test]
    fn the_same_or_an_older_version_is_a_duplicate_that_does_not_apply() {
        for found in [1, 6, 7] {
            let sequence = Sequence::of(Some(7), found);
            assert_eq!(sequence, Sequence::Duplicate { last: 7, found });
            assert!(!sequence.applies());
        }
    }

    #[test]
    fn anomalies_are_counted_by_kind_and_nothing_panics() {
        let metrics = ProjectionMetrics::new();
        let report = GapReport::new("test", metrics.clone());
        let mut last = None;
        // 1, 2, 2 (duplicate), 5 (gap), 3 (duplicate of an older one), 6.
        for version in [1, 2, 2, 5, 3, 6] {
            let sequence = Sequence::of(last, version);
            report.report(sequence, "acc-1", 0, version as i64);
            if sequence.applies() {
                last = Some(version);
            }
        }
        let count = |kind: &str| {
            metrics
                .version_anomalies
                .with_label_values(&["test", kind])
                .get()
        };
        assert_eq!((count("gap"), count("duplicate")), (1, 2));
        assert_eq!(last, Some(6));
    }
}
