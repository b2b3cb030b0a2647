//! Ctrl-C and SIGTERM: how every long-running command learns that it should stop.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tracing::{info, warn};

/// Completes on the first Ctrl-C or SIGTERM. A signal that cannot be listened
/// for is logged and left out; the other still works.
pub async fn shutdown() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(error) => {
                warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

/// Sets `stop` on Ctrl-C or SIGTERM, saying what happens next (`what`, e.g.
/// "finishing the open batch"); the loops polling `stop` then wind down.
pub fn stop_on_signal(stop: Arc<AtomicBool>, what: &'static str) {
    tokio::spawn(async move {
        shutdown().await;
        info!("stopping: {what}");
        stop.store(true, Ordering::Release);
    });
}
