//! Every metric of the projections, defined once, in one registry that every
//! projection of the process shares. Labels are low-cardinality: projection, table,
//! partition, failure class — never an account id.

use ledgerstream_runtime::telemetry::{Registrar, exponential_buckets};
use prometheus::{HistogramVec, IntCounterVec, IntGaugeVec, Registry};

/// The projections' metrics.
#[derive(Debug, Clone)]
pub struct ProjectionMetrics {
    pub registry: Registry,
    /// Events taken from `account-events`, by `projection` and `outcome`
    /// (`projected`, `dead-lettered`).
    pub events: IntCounterVec,
    /// Rows (or documents) written, by `projection` and `table`. Rows written again
    /// after a retry or a restart count again: this measures work, not content.
    pub rows_written: IntCounterVec,
    /// Seconds to write one batch durably (the sink's write and the checkpoint),
    /// retries included, by `projection`.
    pub batch_seconds: HistogramVec,
    /// Events per batch, by `projection`.
    pub batch_events: HistogramVec,
    /// Failed write attempts that were retried, by `projection` and error `class`.
    pub retries: IntCounterVec,
    /// Records sent to the dead-letter topic, by `source` topic and error `class`
    /// (the processor's metric of the same name counts its own).
    pub dead_letters: IntCounterVec,
    /// Seconds from an event's `occurred_at` to its batch being durable (visible to
    /// queries), by `projection`.
    pub end_to_end_seconds: HistogramVec,
    /// Events whose version was not the account's last version + 1, by
    /// `projection` and `kind` (`gap`: versions missing before it; `duplicate`:
    /// seen already).
    pub version_anomalies: IntCounterVec,
    /// Writes the store answered "had it already" (the history index's 409 under
    /// external versions): a replay or a retried batch, done, by `projection`.
    pub duplicates_skipped: IntCounterVec,
    /// The checkpoint's next offset, by `projection` and `partition`.
    pub checkpoint_offset: IntGaugeVec,
    /// The event time of the checkpoint's last event, epoch seconds, by
    /// `projection` and `partition`.
    pub checkpoint_event_time: IntGaugeVec,
    /// Partitions assigned, by `projection`.
    pub assigned_partitions: IntGaugeVec,
    /// Batches given up without being written (a revoke during a failing write, or
    /// a stop), by `projection` and `reason`; their events are read again.
    pub dropped_batches: IntCounterVec,
}

impl ProjectionMetrics {
    /// Creates and registers every metric.
    pub fn new() -> Self {
        let registry = Registry::new();
        let metric = Registrar::new(&registry);
        let seconds = exponential_buckets(0.005, 2.0, 14);
        Self {
            events: metric.counter_vec(
                "ledgerstream_projection_events_total",
                "Events taken from account-events, by projection and outcome",
                &["projection", "outcome"],
            ),
            rows_written: metric.counter_vec(
                "ledgerstream_projection_rows_written_total",
                "Rows or documents written, by projection and table",
                &["projection", "table"],
            ),
            batch_seconds: metric.histogram_vec(
                "ledgerstream_projection_batch_seconds",
                "Seconds to write one batch durably, retries included",
                &["projection"],
                seconds.clone(),
            ),
            batch_events: metric.histogram_vec(
                "ledgerstream_projection_batch_events",
                "Events per batch",
                &["projection"],
                vec![
                    1.0, 10.0, 100.0, 1_000.0, 5_000.0, 10_000.0, 25_000.0, 50_000.0, 100_000.0,
                ],
            ),
            retries: metric.counter_vec(
                "ledgerstream_projection_retries_total",
                "Failed write attempts that were retried, by projection and error class",
                &["projection", "class"],
            ),
            dead_letters: metric.counter_vec(
                "ledgerstream_dead_letters_total",
                "Records sent to the dead-letter topic, by source topic and error class",
                &["source", "class"],
            ),
            end_to_end_seconds: metric.histogram_vec(
                "ledgerstream_projection_end_to_end_seconds",
                "Seconds from an event's occurred_at to it being visible in the store",
                &["projection"],
                seconds,
            ),
            version_anomalies: metric.counter_vec(
                "ledgerstream_projection_version_anomalies_total",
                "Events whose version is not the account's last + 1, by kind (gap, duplicate)",
                &["projection", "kind"],
            ),
            duplicates_skipped: metric.counter_vec(
                "ledgerstream_projection_duplicates_skipped_total",
                "Writes the store already had (a replay or a retry), by projection",
                &["projection"],
            ),
            checkpoint_offset: metric.int_gauge_vec(
                "ledgerstream_projection_checkpoint_offset",
                "Next offset of the last durable checkpoint, by partition",
                &["projection", "partition"],
            ),
            checkpoint_event_time: metric.int_gauge_vec(
                "ledgerstream_projection_checkpoint_event_time_seconds",
                "Event time of the last event of the checkpoint, epoch seconds",
                &["projection", "partition"],
            ),
            assigned_partitions: metric.int_gauge_vec(
                "ledgerstream_projection_assigned_partitions",
                "Partitions of account-events assigned to the projection",
                &["projection"],
            ),
            dropped_batches: metric.counter_vec(
                "ledgerstream_projection_dropped_batches_total",
                "Batches given up unwritten (read again later), by reason",
                &["projection", "reason"],
            ),
            registry,
        }
    }
}

impl Default for ProjectionMetrics {
    fn default() -> Self {
        Self::new()
    }
}
