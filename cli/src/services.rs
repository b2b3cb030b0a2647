//! `ledgerstream services`: is every service there?

use anyhow::bail;
use ledgerstream_infra::{Endpoints, Service, probe};

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
    for (endpoint, outcome) in probe::probe_all(&endpoints).await {
        if !wanted.is_empty() && !wanted.contains(&endpoint.service) {
            continue;
        }
        match outcome {
            Ok(detail) => {
                println!(
                    "{:<22} {:<24} ok    {detail}",
                    endpoint.service, endpoint.address
                )
            }
            Err(error) => {
                println!(
                    "{:<22} {:<24} DOWN  {}",
                    endpoint.service, endpoint.address, error.reason
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
