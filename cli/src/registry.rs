//! `ledgerstream registry`: the Confluent-compatible Schema Registry, its schemas kept
//! in a compacted Kafka topic.

use std::net::SocketAddr;

use ledgerstream_infra::Endpoints;
use ledgerstream_registry::config::{DEFAULT_LISTEN, DEFAULT_TOPIC, RegistryConfig};
use ledgerstream_registry::server;
use ledgerstream_runtime::kafka::probe::probe_broker;
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
    probe_broker(&broker).await?;
    let config = RegistryConfig {
        listen: args.listen,
        topic: args.topic,
        ..RegistryConfig::new(broker.address)
    };
    server::run(config, async {
        crate::signals::shutdown().await;
        info!("shutting down");
    })
    .await?;
    Ok(())
}
