//! Every metric the registry exports at `GET /metrics`, defined once. Labels are
//! low-cardinality: the route template (`/subjects/{subject}/versions`), never a
//! subject name, and one of five method values.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// The registry's metrics and the Prometheus registry that exports them.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// Requests answered, by method (`GET`, `POST`, `PUT`, `DELETE`, or `other` for
    /// any other), route template and status code.
    pub requests: IntCounterVec,
    /// Time to answer, by route template.
    pub request_seconds: HistogramVec,
    /// New versions registered since start (re-registering an existing one is not).
    pub registered: IntCounter,
    /// Schemas (distinct ids) held.
    pub schemas: IntGauge,
    /// Subjects with at least one version that is not soft-deleted.
    pub subjects: IntGauge,
    /// Records that could not be written to the `_schemas` topic.
    pub write_failures: IntCounter,
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "ledgerstream_registry_http_requests_total",
                "HTTP requests answered by the schema registry",
            ),
            &["method", "route", "status"],
        )?;
        let request_seconds = HistogramVec::new(
            HistogramOpts::new(
                "ledgerstream_registry_http_request_duration_seconds",
                "Time the schema registry took to answer a request",
            )
            .buckets(vec![0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0]),
            &["route"],
        )?;
        let registered = IntCounter::new(
            "ledgerstream_registry_schemas_registered_total",
            "New subject versions registered since the registry started",
        )?;
        let schemas = IntGauge::new(
            "ledgerstream_registry_schemas",
            "Schemas (distinct ids) held by the registry",
        )?;
        let subjects = IntGauge::new(
            "ledgerstream_registry_subjects",
            "Subjects with at least one version that is not soft-deleted",
        )?;
        let write_failures = IntCounter::new(
            "ledgerstream_registry_write_failures_total",
            "Records the registry could not write to its topic",
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(request_seconds.clone()))?;
        registry.register(Box::new(registered.clone()))?;
        registry.register(Box::new(schemas.clone()))?;
        registry.register(Box::new(subjects.clone()))?;
        registry.register(Box::new(write_failures.clone()))?;
        Ok(Self {
            registry,
            requests,
            request_seconds,
            registered,
            schemas,
            subjects,
            write_failures,
        })
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut text = String::new();
        TextEncoder::new().encode_utf8(&self.registry.gather(), &mut text)?;
        Ok(text)
    }

    /// The content type of [`Metrics::render`]'s text.
    pub fn content_type() -> String {
        TextEncoder::new().format_type().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_exported_under_its_name() {
        let metrics = Metrics::new().unwrap();
        metrics
            .requests
            .with_label_values(&["GET", "/subjects", "200"])
            .inc();
        metrics
            .request_seconds
            .with_label_values(&["/subjects"])
            .observe(0.01);
        metrics.registered.inc();
        metrics.schemas.set(3);
        metrics.subjects.set(2);
        let text = metrics.render().unwrap();
        for name in [
            r#"ledgerstream_registry_http_requests_total{method="GET",route="/subjects",status="200"} 1"#,
            "ledgerstream_registry_http_request_duration_seconds_count",
            "ledgerstream_registry_schemas_registered_total 1",
            "ledgerstream_registry_schemas 3",
            "ledgerstream_registry_subjects 2",
            "ledgerstream_registry_write_failures_total 0",
        ] {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
    }
}
