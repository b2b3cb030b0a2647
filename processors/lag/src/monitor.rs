//! Samples in, reports out: each sample joins the trend of its partition and of its
//! group's total, and the report says per partition and per group where the lag
//! stands and where it is heading. Pure; [`Watcher`](super::Watcher) feeds it.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use super::sample::{GroupSample, PartitionSample, Sample};
use super::trend::{Assessment, Trend};

/// One partition of one group, with its trend.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionReport {
    pub sample: PartitionSample,
    pub trend: Assessment,
}

/// One group: its total, its trend, whether it is stalled, and its partitions.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupReport {
    pub group: String,
    pub state: Option<String>,
    /// Messages behind, over every partition.
    pub lag: i64,
    /// The oldest unconsumed record's age over every partition; None when a
    /// partition behind has none (its record was not read in time).
    pub lag_seconds: Option<f64>,
    /// The trend of the group's total lag (its ETA is the group's).
    pub trend: Assessment,
    /// A partition is stalled, or the total has not fallen for the stall time
    /// while behind.
    pub stalled: bool,
    pub partitions: Vec<PartitionReport>,
}

/// Every watched group at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub taken_at: SystemTime,
    pub groups: Vec<GroupReport>,
}

impl Report {
    /// The group named `group`.
    pub fn group(&self, group: &str) -> Option<&GroupReport> {
        self.groups.iter().find(|g| g.group == group)
    }
}

/// The trends of every series seen, kept between samples.
#[derive(Debug)]
pub struct Monitor {
    window: Duration,
    stall_after: Duration,
    partitions: HashMap<(String, String, i32), Trend>,
    groups: HashMap<String, Trend>,
}

impl Monitor {
    /// Trends fitted over `window`; stalled after `stall_after` without a fall.
    pub fn new(window: Duration, stall_after: Duration) -> Self {
        Self {
            window,
            stall_after,
            partitions: HashMap::new(),
            groups: HashMap::new(),
        }
    }

    /// Adds `sample`, taken at `at`, and reports. Series missing from the sample
    /// (a group or topic gone) are forgotten.
    pub fn update(&mut self, sample: Sample, at: Instant) -> Report {
        self.partitions.retain(|(group, topic, partition), _| {
            sample.groups.iter().any(|g| {
                &g.group == group
                    && g.partitions
                        .iter()
                        .any(|p| &p.topic == topic && p.partition == *partition)
            })
        });
        self.groups
            .retain(|group, _| sample.groups.iter().any(|g| &g.group == group));
        let groups = sample
            .groups
            .into_iter()
            .map(|group| self.group_report(group, at))
            .collect();
        Report {
            taken_at: sample.taken_at,
            groups,
        }
    }

    fn group_report(&mut self, group: GroupSample, at: Instant) -> GroupReport {
        let mut partitions = Vec::with_capacity(group.partitions.len());
        for sample in group.partitions {
            let key = (group.group.clone(), sample.topic.clone(), sample.partition);
            let trend = self
                .partitions
                .entry(key)
                .or_insert_with(|| Trend::new(self.window));
            trend.observe(at, sample.lag);
            let trend = trend.assess(at, self.stall_after);
            partitions.push(PartitionReport { sample, trend });
        }
        let lag = partitions.iter().map(|p| p.sample.lag).sum();
        // Unknown when a partition behind has no figure: the others' maximum
        // would understate it.
        let unknown = partitions
            .iter()
            .any(|p| p.sample.lag > 0 && p.sample.lag_seconds.is_none());
        let lag_seconds = partitions
            .iter()
            .filter_map(|p| p.sample.lag_seconds)
            .reduce(f64::max)
            .filter(|_| !unknown);
        let total = self
            .groups
            .entry(group.group.clone())
            .or_insert_with(|| Trend::new(self.window));
        total.observe(at, lag);
        let trend = total.assess(at, self.stall_after);
        let stalled = trend.stalled || partitions.iter().any(|p| p.trend.stalled);
        GroupReport {
            group: group.group,
            state: group.state,
            lag,
            lag_seconds,
            trend,
            stalled,
            partitions,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partition(topic: &str, partition: i32, committed: i64, log_end: i64) -> PartitionSample {
        PartitionSample {
            topic: topic.to_owned(),
            partition,
            committed: Some(committed),
            log_start: 0,
            log_end,
            lag: log_end - committed,
            lag_seconds: Some(if log_end > committed { 2.5 } else { 0.0 }),
        }
    }

    fn sample(groups: Vec<(&str, Vec<PartitionSample>)>) -> Sample {
        Sample {
            taken_at: SystemTime::UNIX_EPOCH,
            groups: groups
                .into_iter()
                .map(|(group, partitions)| GroupSample {
                    group: group.to_owned(),
                    state: None,
                    partitions,
                })
                .collect(),
        }
    }

    const STALL: Duration = Duration::from_secs(20);

    #[test]
    fn a_group_totals_its_partitions() {
        let mut monitor = Monitor::new(Duration::from_secs(60), STALL);
        let report = monitor.update(
            sample(vec![(
                "g",
                vec![partition("t", 0, 10, 20), partition("t", 1, 20, 20)],
            )]),
            Instant::now(),
        );
        let group = report.group("g").unwrap();
        assert_eq!(group.lag, 10);
        assert_eq!(group.lag_seconds, Some(2.5));
        assert_eq!(group.partitions.len(), 2);
        assert!(!group.stalled);
    }

    #[test]
    fn one_stuck_partition_stalls_its_group_while_the_total_falls() {
        let mut monitor = Monitor::new(Duration::from_secs(60), STALL);
        let start = Instant::now();
        let mut last = None;
        for step in 0..4 {
            let at = start + Duration::from_secs(10 * step);
            let moving = partition("t", 0, 100 * step as i64, 1_000);
            let stuck = partition("t", 1, 5, 10);
            last = Some(monitor.update(sample(vec![("g", vec![moving, stuck])]), at));
        }
        let report = last.unwrap();
        let group = report.group("g").unwrap();
        assert!(!group.trend.stalled, "the total keeps falling");
        assert!(group.partitions[1].trend.stalled);
        assert!(group.stalled);
    }

    #[test]
    fn groups_are_tracked_apart() {
        let mut monitor = Monitor::new(Duration::from_secs(60), STALL);
        let start = Instant::now();
        for step in 0..3 {
            let at = start + Duration::from_secs(10 * step);
            let report = monitor.update(
                sample(vec![
                    ("stuck", vec![partition("t", 0, 0, 50)]),
                    ("busy", vec![partition("t", 0, 10 * step as i64, 50)]),
                ]),
                at,
            );
            if step == 2 {
                assert!(report.group("stuck").unwrap().stalled);
                assert!(!report.group("busy").unwrap().stalled);
                let eta = report.group("busy").unwrap().trend.eta.unwrap();
                assert_eq!(eta, Duration::from_secs(30));
            }
        }
    }

    #[test]
    fn series_that_disappear_are_forgotten() {
        let mut monitor = Monitor::new(Duration::from_secs(60), STALL);
        let start = Instant::now();
        monitor.update(sample(vec![("g", vec![partition("t", 0, 0, 50)])]), start);
        monitor.update(sample(vec![("h", vec![])]), start + Duration::from_secs(10));
        assert!(monitor.partitions.is_empty());
        assert_eq!(monitor.groups.keys().collect::<Vec<_>>(), ["h"]);
        // Back again: a fresh trend, not stalled by its old history.
        let report = monitor.update(
            sample(vec![("g", vec![partition("t", 0, 0, 50)])]),
            start + Duration::from_secs(40),
        );
        assert!(!report.group("g").unwrap().stalled);
    }

    #[test]
    fn a_partition_behind_without_seconds_leaves_the_group_without_seconds() {
        let mut monitor = Monitor::new(Duration::from_secs(60), STALL);
        let mut unread = partition("t", 1, 10, 20);
        unread.lag_seconds = None;
        let report = monitor.update(
            sample(vec![("g", vec![partition("t", 0, 10, 20), unread])]),
            Instant::now(),
        );
        assert_eq!(report.group("g").unwrap().lag_seconds, None);
    }

    #[test]
    fn a_group_without_partitions_is_caught_up() {
        let mut monitor = Monitor::new(Duration::from_secs(60), STALL);
        let report = monitor.update(sample(vec![("idle", vec![])]), Instant::now());
        let group = report.group("idle").unwrap();
        assert_eq!(
            (group.lag, group.lag_seconds, group.stalled),
            (0, None, false)
        );
    }
}
