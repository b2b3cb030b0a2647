//! What every long-running component shares for telemetry: defining a metric and
//! registering it in one call (every `metrics.rs` lists its metrics through a
//! [`Registrar`] over its own registry), and the HTTP endpoint that serves
//! `/metrics` and `/health` ([`serve`]).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use prometheus::core::Collector;
use prometheus::{
    Encoder, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Creates metrics and registers each in one registry.
///
/// The metrics are defined in code, so an invalid name or a second registration
/// of one name is a bug: the methods panic on it, at start-up.
#[derive(Debug, Clone, Copy)]
pub struct Registrar<'a> {
    registry: &'a Registry,
}

impl<'a> Registrar<'a> {
    pub fn new(registry: &'a Registry) -> Self {
        Self { registry }
    }

    /// A counter of `labels`.
    pub fn counter_vec(&self, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
        self.register(IntCounterVec::new(Opts::new(name, help), labels))
    }

    /// A counter without labels.
    pub fn counter(&self, name: &str, help: &str) -> IntCounter {
        self.register(IntCounter::new(name, help))
    }

    /// An integer gauge of `labels`.
    pub fn int_gauge_vec(&self, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
        self.register(IntGaugeVec::new(Opts::new(name, help), labels))
    }

    /// An integer gauge without labels.
    pub fn int_gauge(&self, name: &str, help: &str) -> IntGauge {
        self.register(IntGauge::new(name, help))
    }

    /// A float gauge of `labels`.
    pub fn gauge_vec(&self, name: &str, help: &str, labels: &[&str]) -> GaugeVec {
        self.register(GaugeVec::new(Opts::new(name, help), labels))
    }

    /// A histogram of `labels` with `buckets`.
    pub fn histogram_vec(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
        buckets: Vec<f64>,
    ) -> HistogramVec {
        self.register(HistogramVec::new(
            HistogramOpts::new(name, help).buckets(buckets),
            labels,
        ))
    }

    /// A histogram without labels, with `buckets`.
    pub fn histogram(&self, name: &str, help: &str, buckets: Vec<f64>) -> Histogram {
        self.register(Histogram::with_opts(
            HistogramOpts::new(name, help).buckets(buckets),
        ))
    }

    fn register<M: Collector + Clone + 'static>(&self, metric: prometheus::Result<M>) -> M {
        let metric = metric.expect("a metric defined in code is valid");
        self.registry
            .register(Box::new(metric.clone()))
            .expect("every metric is registered once");
        metric
    }
}

/// Exponential histogram buckets: `count` of them from `start`, each `factor` times
/// the last.
pub fn exponential_buckets(start: f64, factor: f64, count: usize) -> Vec<f64> {
    prometheus::exponential_buckets(start, factor, count).expect("valid buckets")
}

/// What `/health` answers: whether the component is ready, and the sentence that
/// says why (or why not).
pub trait HealthCheck: Send + Sync + 'static {
    fn check(&self) -> (bool, String);
}

#[derive(Clone)]
struct Endpoint {
    registry: Registry,
    health: Arc<dyn HealthCheck>,
}

/// Serves `/metrics` (the Prometheus text of `registry`) and `/health` (200 when
/// `health` is ready, 503 before; the body says why) on `listener` until
/// `shutdown` resolves. The caller binds the listener, so a taken port is
/// reported before anything else starts.
pub async fn serve(
    listener: tokio::net::TcpListener,
    registry: Registry,
    health: Arc<dyn HealthCheck>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/metrics", get(metrics_text))
        .route("/health", get(health_status))
        .with_state(Endpoint { registry, health });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn metrics_text(State(endpoint): State<Endpoint>) -> (StatusCode, String) {
    let mut buffer = Vec::new();
    match TextEncoder::new().encode(&endpoint.registry.gather(), &mut buffer) {
        Ok(()) => (
            StatusCode::OK,
            String::from_utf8_lossy(&buffer).into_owned(),
        ),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()),
    }
}

async fn health_status(State(endpoint): State<Endpoint>) -> (StatusCode, String) {
    let (ready, detail) = endpoint.health.check();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_metrics_are_gathered() {
        let registry = Registry::new();
        let registrar = Registrar::new(&registry);
        registrar
            .counter_vec("a_total", "a", &["x"])
            .with_label_values(&["1"])
            .inc();
        registrar.int_gauge("b", "b").set(3);
        let names: Vec<String> = registry
            .gather()
            .iter()
            .map(|family| family.name().to_owned())
            .collect();
        assert_eq!(names, ["a_total", "b"]);
    }

    #[test]
    #[should_panic(expected = "registered once")]
    fn a_name_registered_twice_panics() {
        let registry = Registry::new();
        let registrar = Registrar::new(&registry);
        registrar.counter("a_total", "a");
        registrar.counter("a_total", "a");
    }
}
