//! Every metric of the command processor, defined once. Labels are low-cardinality:
//! command type, outcome, reason code, partition — never an account id.

use ledgerstream_runtime::telemetry::{Registrar, exponential_buckets};
use prometheus::{HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Registry};

/// The processor's metrics, registered in their own registry.
#[derive(Debug, Clone)]
pub struct Metrics {
    pub registry: Registry,
    /// Commands decided, by `command` type and `outcome` (accepted, rejected, repeated).
    pub commands: IntCounterVec,
    /// Rejections by `reason` code.
    pub rejections: IntCounterVec,
    /// Records sent to the dead-letter topic, by error `class`.
    pub dead_letters: IntCounterVec,
    /// Commands per batch.
    pub batch_size: HistogramVec,
    /// Seconds from a batch's close to its transaction being committed.
    pub commit_seconds: HistogramVec,
    /// Transactions ended, by `outcome` (committed, aborted).
    pub transactions: IntCounterVec,
    /// Bytes of the local state store, by `partition`.
    pub store_bytes: IntGaugeVec,
    /// Events folded into the state while restoring, by `partition`.
    pub restored_events: IntGaugeVec,
    /// Events still to fold before the partition is ready, by `partition`.
    pub restore_remaining: IntGaugeVec,
    /// Partitions assigned and ready to process.
    pub ready_partitions: IntGauge,
    /// Refunds the source account rejected: money debited that is not back.
    pub refunds_rejected: IntCounter,
    /// Times the processing loop was started again with a new producer, after it
    /// was fenced or a transaction could not be ended.
    pub restarts: IntCounter,
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Self {
        let registry = Registry::new();
        let metric = Registrar::new(&registry);
        Self {
            commands: metric.counter_vec(
                "ledgerstream_processor_commands_total",
                "Commands decided, by type and outcome",
                &["command", "outcome"],
            ),
            rejections: metric.counter_vec(
                "ledgerstream_processor_rejections_total",
                "Commands rejected, by reason code",
                &["reason"],
            ),
            dead_letters: metric.counter_vec(
                "ledgerstream_dead_letters_total",
                "Records sent to the dead-letter topic, by error class",
                &["source", "class"],
            ),
            batch_size: metric.histogram_vec(
                "ledgerstream_processor_batch_commands",
                "Commands per batch",
                &[],
                vec![1.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2000.0, 5000.0],
            ),
            commit_seconds: metric.histogram_vec(
                "ledgerstream_processor_commit_seconds",
                "Seconds from closing a batch to its transaction being committed",
                &[],
                exponential_buckets(0.001, 2.0, 14),
            ),
            transactions: metric.counter_vec(
                "ledgerstream_processor_transactions_total",
                "Transactions ended, by outcome: committed, or aborted (the batch is decided again)",
                &["outcome"],
            ),
            store_bytes: metric.int_gauge_vec(
                "ledgerstream_processor_store_bytes",
                "Approximate bytes of the local state store",
                &["partition"],
            ),
            restored_events: metric.int_gauge_vec(
                "ledgerstream_processor_restored_events",
                "Events folded into the state store while restoring",
                &["partition"],
            ),
            restore_remaining: metric.int_gauge_vec(
                "ledgerstream_processor_restore_remaining_events",
                "Events still to fold before the partition is ready",
                &["partition"],
            ),
            ready_partitions: metric.int_gauge(
                "ledgerstream_processor_ready_partitions",
                "Partitions ready to process",
            ),
            refunds_rejected: metric.counter(
                "ledgerstream_processor_refunds_rejected_total",
                "Refunds of failed transfers that the source account rejected: money debited that is not back (alert)",
            ),
            restarts: metric.counter(
                "ledgerstream_processor_restarts_total",
                "Times the processing loop started again with a new producer (fenced, or a transaction that could not be ended)",
            ),
            registry,
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
