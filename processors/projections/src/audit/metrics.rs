//! The continuous auditor's metrics (`ledgerstream audit --serve`), defined
//! once. Labels: `read_model` only — never an account id.

use ledgerstream_runtime::telemetry::{Registrar, exponential_buckets};
use prometheus::{HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Registry};

/// The auditor's metrics.
#[derive(Debug, Clone)]
pub struct AuditMetrics {
    pub registry: Registry,
    /// Accounts compared with the log, by `read_model`.
    pub checked: IntCounterVec,
    /// Comparisons that found the account divergent, by `read_model`.
    pub divergent: IntCounterVec,
    /// Accounts divergent at their last check, by `read_model`: what the alert
    /// watches (it falls back to 0 once they are repaired and checked again).
    pub divergent_accounts: IntGaugeVec,
    /// Seconds from an event's append to the log to its first answer from the
    /// read model, by `read_model`: the consistency SLO. A sample of the events,
    /// at most `--slo-samples` a second; one never seen within
    /// `--slo-timeout` counts in `+Inf`.
    pub visibility_seconds: HistogramVec,
    /// Events read from the log.
    pub log_events: IntCounter,
    /// When the last pass over a read model ended, epoch seconds, by
    /// `read_model`.
    pub last_pass: IntGaugeVec,
}

impl AuditMetrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let metric = Registrar::new(&registry);
        Self {
            checked: metric.counter_vec(
                "ledgerstream_audit_accounts_checked_total",
                "Accounts compared with the log, by read model",
                &["read_model"],
            ),
            divergent: metric.counter_vec(
                "ledgerstream_audit_accounts_divergent_total",
                "Comparisons that found the account divergent from the log, by read model",
                &["read_model"],
            ),
            divergent_accounts: metric.int_gauge_vec(
                "ledgerstream_audit_divergent_accounts",
                "Accounts divergent from the log at their last check, by read model",
                &["read_model"],
            ),
            visibility_seconds: metric.histogram_vec(
                "ledgerstream_audit_visibility_seconds",
                "Seconds from an event's append to the log to its visibility in the read model",
                &["read_model"],
                exponential_buckets(0.01, 2.0, 14),
            ),
            log_events: metric.counter(
                "ledgerstream_audit_log_events_total",
                "Events read from account-events by the auditor",
            ),
            last_pass: metric.int_gauge_vec(
                "ledgerstream_audit_last_pass_timestamp_seconds",
                "When the last audit pass over a read model ended, epoch seconds",
                &["read_model"],
            ),
            registry,
        }
    }
}

impl Default for AuditMetrics {
    fn default() -> Self {
        Self::new()
    }
}
