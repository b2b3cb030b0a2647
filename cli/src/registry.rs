//! `ledgerstream registry`: the Confluent-compatible Schema Registry, its schemas kept
//! in a compacted Kafka topic.

use std::net::SocketAddr;

use ledgerstream_infra::{Endpoints, probe};
use ledgerstream_schemas::registry::config::{DEFAULT_LISTEN, DEFAULT_TOPIC, RegistryConfig};
use ledgerstream_schemas::registry::server;
use tracing::info;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "The broker is LEDGERSTREAM_BROKERS (default 127.0.0.1:9092). On start the \
                  registry creates the topic when it is missing, reads it to the end, then \
                  serves; SIGTERM or Ctrl-C stops it after the requests in flight."
)]
pub struct Args {
    /// Address the REST API listens on (host:port).
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    listen: SocketAddr,

    /// Compacted, single-partition Kafka topic that holds the schemas; created when
    /// missing. Registries on different topics share nothing.
    #[arg(long, value_name = "TOPIC", default_value = DEFAULT_TOPIC)]
    topic: String,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let broker = Endpoints::from_env().broker;
    // Fails with how to start the broker when it is not there.
    probe::probe(&broker).await?;
    let config = RegistryConfig {
        listen: args.listen,
        topic: args.topic,
        ..RegistryConfig::new(broker.address)
    };
    server::run(config, shutdown_signal()).await?;
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    info!("shutting down");
}
