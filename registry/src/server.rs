//! Starting and stopping a registry: listen, make sure of the topic, replay it, serve
//! until told to stop.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tracing::{info, warn};

use super::api;
use super::config::{ConfigError, RegistryConfig};
use super::log::{self, LogError, ReadRecord, SchemaLog};
use super::metrics::Metrics;
use super::record::RecordError;
use super::service::Registry;
use super::store::Store;

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
    axum::serve(listener, api::router(registry, guard))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(ServeError::Http)?;
    info!("registry stopped");
    Ok(())
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
