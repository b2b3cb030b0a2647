//! `/health` and `/metrics` of `ledgerstream project`, for every projection the
//! process runs. `/health` answers 200 when every projection is ready (its store
//! migrated, its consumer in the group, its last batch written), else 503 with one
//! line per projection saying why.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use ledgerstream_runtime::telemetry::{self, HealthCheck};
use prometheus::Registry;

/// One projection's readiness; its runner keeps it current.
#[derive(Debug)]
pub struct ProjectionHealth {
    name: &'static str,
    ready: AtomicBool,
    detail: Mutex<String>,
}

impl ProjectionHealth {
    /// Not ready yet.
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            ready: AtomicBool::new(false),
            detail: Mutex::new("starting".to_owned()),
        }
    }

    /// Sets readiness and the sentence that explains it.
    pub fn set(&self, ready: bool, detail: impl Into<String>) {
        *self.detail.lock().unwrap_or_else(|p| p.into_inner()) = detail.into();
        self.ready.store(ready, Ordering::Release);
    }

    /// Whether the projection is ready.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// The projection's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    fn detail(&self) -> String {
        self.detail
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// The readiness of every projection of the process.
#[derive(Debug, Clone, Default)]
pub struct HealthBoard {
    projections: Arc<Mutex<Vec<Arc<ProjectionHealth>>>>,
}

impl HealthBoard {
    /// Adds a projection; the board is ready only when it is.
    pub fn add(&self, name: &'static str) -> Arc<ProjectionHealth> {
        let health = Arc::new(ProjectionHealth::new(name));
        self.projections
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Arc::clone(&health));
        health
    }

    /// Whether every projection is ready (and there is at least one), with one
    /// line per projection.
    pub fn status(&self) -> (bool, String) {
        let projections = self.projections.lock().unwrap_or_else(|p| p.into_inner());
        let ready = !projections.is_empty() && projections.iter().all(|p| p.is_ready());
        let lines: Vec<String> = projections
            .iter()
            .map(|p| format!("{}: {}", p.name(), p.detail()))
            .collect();
        (ready, lines.join("\n"))
    }
}

impl HealthCheck for HealthBoard {
    fn check(&self) -> (bool, String) {
        self.status()
    }
}

/// Serves `/metrics` and `/health` on `listen` until `shutdown` resolves.
pub async fn serve(
    listen: SocketAddr,
    registry: Registry,
    board: HealthBoard,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    telemetry::serve(listener, registry, Arc::new(board), shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_every_projection_is() {
        let board = HealthBoard::default();
        assert!(!board.status().0, "no projection: not ready");
        let clickhouse = board.add("clickhouse");
        let history = board.add("history");
        clickhouse.set(true, "ready; partitions [0, 1]");
        let (ready, detail) = board.status();
        assert!(!ready);
        assert_eq!(
            detail,
            "clickhouse: ready; partitions [0, 1]\nhistory: starting"
        );
        history.set(true, "ready");
        assert!(board.status().0);
    }
}
