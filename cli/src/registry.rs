//! `ledgerstream registry`: the Confluent-compatible Schema Registry, its schemas kept
//! in a compacted Kafka topic.

use std::net::SocketAddr;
use std::time::Duration;

use ledgerstream_infra::Endpoints;
use ledgerstream_registry::auth::Users;
use ledgerstream_registry::config::{
    DEFAULT_LISTEN, DEFAULT_MAX_BODY_BYTES, DEFAULT_REQUEST_TIMEOUT_SECS, DEFAULT_TOPIC,
    RegistryConfig,
};
use ledgerstream_registry::server;
use ledgerstream_runtime::kafka::probe::probe_broker;
use tracing::info;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "The broker is LEDGERSTREAM_BROKERS (default 127.0.0.1:9092). On start the \
                  registry creates the topic when it is missing, reads it to the end, then \
                  serves; SIGTERM or Ctrl-C stops it after the requests in flight.\n\n\
                  Basic authentication is on when LEDGERSTREAM_REGISTRY_ADMIN_USER is set, \
                  with LEDGERSTREAM_REGISTRY_ADMIN_PASSWORD or \
                  LEDGERSTREAM_REGISTRY_ADMIN_PASSWORD_FILE; a read-only user is \
                  LEDGERSTREAM_REGISTRY_READER_USER with LEDGERSTREAM_REGISTRY_READER_PASSWORD \
                  or LEDGERSTREAM_REGISTRY_READER_PASSWORD_FILE. Registering, deleting and \
                  changing levels need the admin; GET /metrics stays open."
)]
pub struct Args {
    /// Address the REST API listens on (host:port).
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    listen: SocketAddr,

    /// Compacted, single-partition Kafka topic that holds the schemas; created when
    /// missing. Registries on different topics share nothing.
    #[arg(long, value_name = "TOPIC", default_value = DEFAULT_TOPIC)]
    topic: String,

    /// How long a write may wait for the broker to confirm it, in seconds, before the
    /// request fails with 50001.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    write_timeout: u64,

    /// The largest request body, in bytes; a larger one is answered 413.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: usize,

    /// How long a request may take, body included, in seconds, before it is answered
    /// 500 with error code 50002. Must be above --write-timeout.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_REQUEST_TIMEOUT_SECS)]
    request_timeout: u64,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let broker = Endpoints::from_env().broker;
    // Fails with how to start the broker when it is not there.
    probe_broker(&broker).await?;
    let users = Users::from_lookup(|name| std::env::var(name).ok())?;
    let config = RegistryConfig {
        listen: args.listen,
        topic: args.topic,
        write_timeout: Duration::from_secs(args.write_timeout),
        max_body_bytes: args.max_body_bytes,
        request_timeout: Duration::from_secs(args.request_timeout),
        users,
        ..RegistryConfig::new(broker.address)
    };
    server::run(config, async {
        crate::signals::shutdown().await;
        info!("shutting down");
    })
    .await?;
    Ok(())
}
