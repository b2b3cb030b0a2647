//! Starting and stopping a registry: listen, make sure of the topic, replay it, serve
//! until told to stop.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tracing::{debug, info, warn};

use super::api;
use super::config::{ConfigError, RegistryConfig};
use super::log::{self, LogError, ReadRecord, SchemaLog};
use super::metrics::Metrics;
use super::record::RecordError;
use super::service::Registry;
use super::store::Store;

/// How long to wait after a failed accept before the next.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Why the registry could not start, or stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    #[error(
        "cannot listen on {address}: {cause}; is another registry running there? Pick \
         another address with --listen"
    )]
    Bind {
        address: SocketAddr,
        cause: std::io::Error,
    },
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("serving HTTP failed: {0}")]
    Http(std::io::Error),
}

/// Runs a registry until `shutdown` completes, then lets requests in flight finish.
pub async fn run(
    config: RegistryConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    config.validate()?;
    let metrics = Metrics::new()?;
    // Listen first: a taken port fails at once, not after the replay.
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|cause| ServeError::Bind {
            address: config.listen,
            cause,
        })?;
    let address = listener.local_addr().map_err(ServeError::Http)?;

    log::ensure_topic(&config.brokers, &config.topic).await?;
    let records = log::read_all(&config.brokers, &config.topic).await?;
    let record_count = records.len();
    let store = replay(records);
    let writer = SchemaLog::connect(&config.brokers, &config.topic, config.write_timeout)?;
    info!(
        schemas = store.schema_count(),
        subjects = store.live_subject_count(),
        records = record_count,
        topic = config.topic,
        %address,
        authentication = config.users.is_some(),
        max_body_bytes = config.max_body_bytes,
        request_timeout = ?config.request_timeout,
        "registry ready"
    );

    let guard = api::Guard::new(&config);
    let registry = Arc::new(Registry::new(store, writer, metrics));
    serve(
        listener,
        api::router(registry, guard),
        config.request_timeout,
        shutdown,
    )
    .await;
    info!("registry stopped");
    Ok(())
}

/// Serves HTTP/1.1 until `shutdown` completes, then lets requests in flight finish.
///
/// hyper's own connection loop rather than `axum::serve`, for its header read
/// timeout: a client that never finishes its headers is cut off after
/// `header_timeout` (the API's request timeout covers the body and the answer).
async fn serve(
    listener: TcpListener,
    router: axum::Router,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let service = TowerToHyperService::new(router);
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(error) => {
                        // Out of file descriptors, or a connection reset before it was
                        // accepted: wait a little rather than spin.
                        warn!(%error, "accepting a connection failed");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                        continue;
                    }
                };
                let connection = http.serve_connection(TokioIo::new(stream), service.clone());
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(error) = connection.await {
                        debug!(%error, "connection ended");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    graceful.shutdown().await;
}

/// The state the records describe; records that cannot be used are reported and left
/// out.
pub fn replay(records: Vec<ReadRecord>) -> Store {
    let mut store = Store::default();
    for (offset, record) in records {
        match record {
            Ok(record) => {
                if let Err(skipped) = store.apply(record) {
                    warn!(offset, %skipped, "record skipped");
                }
            }
            Err(RecordError::OtherKeyType(keytype)) => {
                tracing::debug!(offset, keytype, "record of another key type skipped");
            }
            Err(error) => warn!(offset, %error, "record skipped"),
        }
    }
    store
}
