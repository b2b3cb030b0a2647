//! `ledgerstream services`: is every service there?

use anyhow::bail;
use ledgerstream_infra::{Endpoint, Endpoints, Service, probe};
use ledgerstream_runtime::kafka::probe::{AccessError, probe_broker};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only these services (default: all).
    #[arg(value_enum)]
    only: Vec<Which>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Which {
    Broker,
    Registry,
    Clickhouse,
    Search,
    Prometheus,
}

impl Which {
    fn service(self) -> Service {
        match self {
            Which::Broker => Service::Broker,
            Which::Registry => Service::Registry,
            Which::Clickhouse => Service::ClickHouse,
            Which::Search => Service::Search,
            Which::Prometheus => Service::Prometheus,
        }
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let endpoints = Endpoints::from_env();
    let wanted: Vec<Service> = args.only.iter().map(|w| w.service()).collect();
    let mut failed = Vec::new();
    let probes = endpoints
        .all()
        .into_iter()
        .filter(|endpoint| wanted.is_empty() || wanted.contains(&endpoint.service))
        .map(|endpoint| async move { (endpoint, ask(endpoint).await) });
    for (endpoint, outcome) in futures::future::join_all(probes).await {
        match outcome {
            Ok(detail) => {
                println!(
                    "{:<22} {:<24} ok    {detail}",
                    endpoint.service, endpoint.address
                )
            }
            Err((reason, error)) => {
                println!(
                    "{:<22} {:<24} DOWN  {reason}",
                    endpoint.service, endpoint.address
                );
                failed.push(error);
            }
        }
    }
    if failed.is_empty() {
        return Ok(());
    }
    for error in &failed {
        eprintln!("error: {error}");
    }
    bail!("{} service(s) did not answer", failed.len())
}

/// Probes `endpoint`; on failure, the short reason for the table and the whole
/// error. The broker is asked as every component reaches it: through the Kafka
/// security settings.
async fn ask(endpoint: &Endpoint) -> Result<String, (String, String)> {
    if endpoint.service == Service::Broker {
        return probe_broker(endpoint).await.map_err(|error| {
            let reason = match &error {
                AccessError::Unreachable(unreachable) => unreachable.reason.clone(),
                refused => refused.to_string(),
            };
            (reason, error.to_string())
        });
    }
    probe::probe(endpoint)
        .await
        .map_err(|error| (error.reason.clone(), error.to_string()))
}
