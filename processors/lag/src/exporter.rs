//! `ledgerstream lag --serve`: `/metrics` (Prometheus text) and `/health` (200 while
//! the latest sampling round is recent and succeeded; 503 with the reason before
//! the first one and after failures).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ledgerstream_runtime::telemetry::{self, HealthCheck};

use super::metrics::LagMetrics;

/// What `/health` reports; the sampling loop keeps it current.
#[derive(Debug)]
pub struct ExporterHealth {
    /// How old the last good round may be.
    max_age: Duration,
    state: Mutex<Rounds>,
}

#[derive(Debug, Default)]
struct Rounds {
    last_ok: Option<Instant>,
    last_error: Option<String>,
}

impl ExporterHealth {
    /// Healthy while a round succeeded within `max_age`.
    pub fn new(max_age: Duration) -> Self {
        Self {
            max_age,
            state: Mutex::default(),
        }
    }

    /// A round succeeded at `at`.
    pub fn ok(&self, at: Instant) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.last_ok = Some(at);
        state.last_error = None;
    }

    /// A round failed.
    pub fn failed(&self, error: impl Into<String>) {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .last_error = Some(error.into());
    }

    /// Healthy or not at `now`, and the sentence that says why.
    pub fn check(&self, now: Instant) -> (bool, String) {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let error = state.last_error.as_deref();
        match (state.last_ok, error) {
            (None, None) => (false, "no sample taken yet".to_owned()),
            (None, Some(error)) => (
                false,
                format!("no sample taken yet; the last round failed: {error}"),
            ),
            (Some(at), error) => {
                let age = now.saturating_duration_since(at);
                if age > self.max_age {
                    let why =
                        error.map_or_else(String::new, |e| format!("; the last round failed: {e}"));
                    return (
                        false,
                        format!("the last good sample is {} s old{why}", age.as_secs()),
                    );
                }
                match error {
                    None => (true, format!("sampled {} s ago", age.as_secs())),
                    Some(error) => (
                        true,
                        format!(
                            "sampled {} s ago; the last round failed: {error}",
                            age.as_secs()
                        ),
                    ),
                }
            }
        }
    }
}

impl HealthCheck for ExporterHealth {
    fn check(&self) -> (bool, String) {
        ExporterHealth::check(self, Instant::now())
    }
}

/// Serves `/metrics` and `/health` on `listener` (bound by the caller, so a taken
/// port is reported before anything else starts) until `shutdown` resolves.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    metrics: LagMetrics,
    health: Arc<ExporterHealth>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    telemetry::serve(listener, metrics.registry.clone(), health, shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unhealthy_until_the_first_good_round() {
        let health = ExporterHealth::new(Duration::from_secs(30));
        let now = Instant::now();
        assert_eq!(health.check(now), (false, "no sample taken yet".to_owned()));
        health.failed("the broker did not answer Metadata");
        let (healthy, why) = health.check(now);
        assert!(!healthy);
        assert!(why.contains("did not answer Metadata"), "{why}");
        health.ok(now);
        assert_eq!(
            health.check(now + Duration::from_secs(2)),
            (true, "sampled 2 s ago".to_owned())
        );
    }

    #[test]
    fn a_failure_after_a_good_round_is_reported_until_the_good_round_is_too_old() {
        let health = ExporterHealth::new(Duration::from_secs(30));
        let now = Instant::now();
        health.ok(now);
        health.failed("timed out");
        let (healthy, why) = health.check(now + Duration::from_secs(10));
        assert!(healthy);
        assert!(why.ends_with("the last round failed: timed out"), "{why}");
        let (healthy, why) = health.check(now + Duration::from_secs(31));
        assert!(!healthy);
        assert!(why.starts_with("the last good sample is 31 s old"), "{why}");
    }
}
