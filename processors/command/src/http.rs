//! `/metrics` (Prometheus text) and `/health` (200 once every assigned partition is
//! restored and the owner view has caught up; 503 with the reason before).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ledgerstream_runtime::telemetry::{self, HealthCheck};

use super::metrics::Metrics;

/// What `/health` reports; the processing loop keeps it current.
#[derive(Debug, Default)]
pub struct Health {
    ready: AtomicBool,
    detail: std::sync::Mutex<String>,
}

impl Health {
    /// Sets readiness and the sentence that explains it.
    pub fn set(&self, ready: bool, detail: impl Into<String>) {
        *self.detail.lock().unwrap_or_else(|p| p.into_inner()) = detail.into();
        self.ready.store(ready, Ordering::Release);
    }

    /// Whether the processor is ready.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    fn detail(&self) -> String {
        self.detail
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl HealthCheck for Health {
    fn check(&self) -> (bool, String) {
        (self.is_ready(), self.detail())
    }
}

/// Serves both endpoints on `listen` until `shutdown` resolves.
pub async fn serve(
    listen: SocketAddr,
    metrics: Metrics,
    health: Arc<Health>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    telemetry::serve(listener, metrics.registry, health, shutdown).await
}
