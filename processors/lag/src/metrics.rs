//! Every metric of the lag exporter, defined once. Labels are low-cardinality:
//! group, topic, partition — the consumer groups and topics of one pipeline.
//!
//! The gauges mirror the latest report: a series whose group, topic or partition is
//! gone from it is removed rather than left at its last value.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use ledgerstream_runtime::telemetry::{Registrar, exponential_buckets};
use prometheus::{GaugeVec, Histogram, IntCounterVec, IntGaugeVec, Registry};

use super::monitor::Report;

/// The exporter's metrics, registered in their own registry.
#[derive(Debug, Clone)]
pub struct LagMetrics {
    pub registry: Registry,
    /// Records between a group's committed offset and the log end, by `group`,
    /// `topic`, `partition`.
    pub lag_messages: IntGaugeVec,
    /// Now minus the timestamp of a group's oldest unconsumed record (0 when
    /// caught up), by `group`, `topic`, `partition`.
    pub lag_seconds: GaugeVec,
    /// A group's committed offset, by `group`, `topic`, `partition`.
    pub committed_offset: IntGaugeVec,
    /// The offset the next record will get, by `topic`, `partition`.
    pub log_end_offset: IntGaugeVec,
    /// 1 when a group is behind and its lag has not fallen for the stall time, by
    /// `group`.
    pub stalled: IntGaugeVec,
    /// Estimated seconds until a group is caught up at its current rate, by
    /// `group`; 0 when caught up, absent when its lag is not falling.
    pub catch_up_seconds: GaugeVec,
    /// Sampling rounds, by `outcome` (ok, error).
    pub rounds: IntCounterVec,
    /// Seconds one sampling round takes.
    pub round_seconds: Histogram,
    /// The label sets set by the latest report, to remove the ones that vanish.
    seen: Arc<Mutex<Seen>>,
}

#[derive(Debug, Default)]
struct Seen {
    partitions: BTreeSet<[String; 3]>,
    topics: BTreeSet<[String; 2]>,
    groups: BTreeSet<String>,
    lag_seconds: BTreeSet<[String; 3]>,
    catch_up: BTreeSet<String>,
}

const PARTITION_LABELS: [&str; 3] = ["group", "topic", "partition"];

impl LagMetrics {
    /// Creates and registers every metric.
    pub fn new() -> Self {
        let registry = Registry::new();
        let metric = Registrar::new(&registry);
        let rounds = metric.counter_vec(
            "ledgerstream_lag_rounds_total",
            "Lag sampling rounds, by outcome",
            &["outcome"],
        );
        // Both outcomes from the start: `rate()` then sees the first error.
        rounds.with_label_values(&["ok"]);
        rounds.with_label_values(&["error"]);
        let round_seconds = metric.histogram(
            "ledgerstream_lag_round_seconds",
            "Seconds one lag sampling round takes",
            exponential_buckets(0.01, 2.0, 12),
        );
        Self {
            lag_messages: metric.int_gauge_vec(
                "ledgerstream_consumer_lag_messages",
                "Records between a consumer group's committed offset and the log end",
                &PARTITION_LABELS,
            ),
            lag_seconds: metric.gauge_vec(
                "ledgerstream_consumer_lag_seconds",
                "Age of a consumer group's oldest unconsumed record; 0 when caught up",
                &PARTITION_LABELS,
            ),
            committed_offset: metric.int_gauge_vec(
                "ledgerstream_consumer_committed_offset",
                "A consumer group's committed offset",
                &PARTITION_LABELS,
            ),
            log_end_offset: metric.int_gauge_vec(
                "ledgerstream_log_end_offset",
                "The offset the next record of a partition will get (high watermark)",
                &["topic", "partition"],
            ),
            stalled: metric.int_gauge_vec(
                "ledgerstream_consumer_stalled",
                "1 when a consumer group is behind and its lag has not fallen for the stall time",
                &["group"],
            ),
            catch_up_seconds: metric.gauge_vec(
                "ledgerstream_consumer_catch_up_seconds",
                "Estimated seconds until a consumer group is caught up at its current rate",
                &["group"],
            ),
            rounds,
            round_seconds,
            registry,
            seen: Arc::default(),
        }
    }

    /// Sets every gauge from `report` and removes the series it no longer has.
    pub fn record(&self, report: &Report) {
        let mut now = Seen::default();
        for group in &report.groups {
            let name = group.group.as_str();
            self.stalled
                .with_label_values(&[name])
                .set(i64::from(group.stalled));
            now.groups.insert(name.to_owned());
            if let Some(eta) = group.trend.eta {
                self.catch_up_seconds
                    .with_label_values(&[name])
                    .set(eta.as_secs_f64());
                now.catch_up.insert(name.to_owned());
            }
            for partition in &group.partitions {
                let sample = &partition.sample;
                let number = sample.partition.to_string();
                let labels = [name, sample.topic.as_str(), number.as_str()];
                self.lag_messages.with_label_values(&labels).set(sample.lag);
                now.partitions.insert(labels.map(str::to_owned));
                if let Some(committed) = sample.committed {
                    self.committed_offset
                        .with_label_values(&labels)
                        .set(committed);
                }
                if let Some(seconds) = sample.lag_seconds {
                    self.lag_seconds.with_label_values(&labels).set(seconds);
                    now.lag_seconds.insert(labels.map(str::to_owned));
                }
                let topic = [sample.topic.as_str(), number.as_str()];
                self.log_end_offset
                    .with_label_values(&topic)
                    .set(sample.log_end);
                now.topics.insert(topic.map(str::to_owned));
            }
        }
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        for gone in seen.partitions.difference(&now.partitions) {
            let labels = gone.each_ref().map(String::as_str);
            let _ = self.lag_messages.remove_label_values(&labels);
            let _ = self.committed_offset.remove_label_values(&labels);
        }
        for gone in seen.lag_seconds.difference(&now.lag_seconds) {
            let _ = self
                .lag_seconds
                .remove_label_values(&gone.each_ref().map(String::as_str));
        }
        for gone in seen.topics.difference(&now.topics) {
            let _ = self
                .log_end_offset
                .remove_label_values(&gone.each_ref().map(String::as_str));
        }
        for gone in seen.groups.difference(&now.groups) {
            let _ = self.stalled.remove_label_values(&[gone.as_str()]);
        }
        for gone in seen.catch_up.difference(&now.catch_up) {
            let _ = self.catch_up_seconds.remove_label_values(&[gone.as_str()]);
        }
        *seen = now;
    }

    /// Counts a round and its duration.
    pub fn round(&self, ok: bool, seconds: f64) {
        let outcome = if ok { "ok" } else { "error" };
        self.rounds.with_label_values(&[outcome]).inc();
        self.round_seconds.observe(seconds);
    }

    /// The registry in the Prometheus text format.
    pub fn text(&self) -> Result<String, prometheus::Error> {
        let mut buffer = Vec::new();
        prometheus::Encoder::encode(
            &prometheus::TextEncoder::new(),
            &self.registry.gather(),
            &mut buffer,
        )?;
        Ok(String::from_utf8_lossy(&buffer).into_owned())
    }
}

impl Default for LagMetrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant, SystemTime};

    use super::*;
    use crate::monitor::Monitor;
    use crate::sample::{GroupSample, PartitionSample, Sample};

    fn sample(partitions: &[(i32, Option<i64>, i64)]) -> Sample {
        Sample {
            taken_at: SystemTime::now(),
            groups: vec![GroupSample {
                group: "g".to_owned(),
                state: None,
                partitions: partitions
                    .iter()
                    .map(|&(partition, committed, log_end)| PartitionSample {
                        topic: "t".to_owned(),
                        partition,
                        committed,
                        log_start: 0,
                        log_end,
                        lag: log_end - committed.unwrap_or(0),
                        lag_seconds: (committed.is_some()).then_some(4.5),
                    })
                    .collect(),
            }],
        }
    }

    fn report(partitions: &[(i32, Option<i64>, i64)]) -> Report {
        Monitor::new(Duration::from_secs(60), Duration::from_secs(300))
            .update(sample(partitions), Instant::now())
    }

    #[test]
    fn a_report_becomes_labelled_series() {
        let metrics = LagMetrics::new();
        metrics.record(&report(&[(0, Some(10), 20), (1, None, 7)]));
        metrics.round(true, 0.2);
        let text = metrics.text().unwrap();
        for line in [
            r#"ledgerstream_consumer_lag_messages{group="g",partition="0",topic="t"} 10"#,
            r#"ledgerstream_consumer_lag_messages{group="g",partition="1",topic="t"} 7"#,
            r#"ledgerstream_consumer_lag_seconds{group="g",partition="0",topic="t"} 4.5"#,
            r#"ledgerstream_consumer_committed_offset{group="g",partition="0",topic="t"} 10"#,
            r#"ledgerstream_log_end_offset{partition="0",topic="t"} 20"#,
            r#"ledgerstream_log_end_offset{partition="1",topic="t"} 7"#,
            r#"ledgerstream_consumer_stalled{group="g"} 0"#,
            r#"ledgerstream_lag_rounds_total{outcome="ok"} 1"#,
            r#"ledgerstream_lag_rounds_total{outcome="error"} 0"#,
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing `{line}` in\n{text}"
            );
        }
        // No commit, no committed offset; unknown seconds, no series.
        assert!(
            !text.contains(r#"ledgerstream_consumer_committed_offset{group="g",partition="1""#)
        );
        assert!(!text.contains(r#"ledgerstream_consumer_lag_seconds{group="g",partition="1""#));
        // One sample: no trend, so no catch-up estimate for a group behind.
        assert!(!text.contains("ledgerstream_consumer_catch_up_seconds{"));
    }

    #[test]
    fn series_gone_from_the_report_are_removed() {
        let metrics = LagMetrics::new();
        metrics.record(&report(&[(0, Some(10), 20), (1, Some(3), 7)]));
        metrics.record(&report(&[(0, Some(20), 20)]));
        let text = metrics.text().unwrap();
        assert!(!text.contains(r#"partition="1""#), "{text}");
        assert!(text.contains(
            r#"ledgerstream_consumer_lag_messages{group="g",partition="0",topic="t"} 0"#
        ));
        assert!(
            text.contains(r#"ledgerstream_consumer_catch_up_seconds{group="g"} 0"#),
            "{text}"
        );
        metrics.record(&Report {
            taken_at: SystemTime::now(),
            groups: vec![],
        });
        let text = metrics.text().unwrap();
        assert!(!text.contains("group=\"g\""), "{text}");
    }
}
