use std::fmt;

/// One of the services the pipeline talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Broker,
    Registry,
    ClickHouse,
    Search,
    Prometheus,
}

impl Service {
    /// Every service, in the order `make status` lists them.
    pub const ALL: [Service; 5] = [
        Service::Broker,
        Service::Registry,
        Service::ClickHouse,
        Service::Search,
        Service::Prometheus,
    ];

    /// The environment variable that overrides where the service is.
    pub const fn env_var(self) -> &'static str {
        match self {
            Service::Broker => "LEDGERSTREAM_BROKERS",
            Service::Registry => "LEDGERSTREAM_REGISTRY_URL",
            Service::ClickHouse => "LEDGERSTREAM_CLICKHOUSE_URL",
            Service::Search => "LEDGERSTREAM_SEARCH_URL",
            Service::Prometheus => "LEDGERSTREAM_PROMETHEUS_URL",
        }
    }

    /// Where the local stack (`make up`) serves it.
    pub const fn default_address(self) -> &'static str {
        match self {
            Service::Broker => "127.0.0.1:9092",
            Service::Registry => "http://127.0.0.1:8081",
            Service::ClickHouse => "http://127.0.0.1:8123",
            Service::Search => "http://127.0.0.1:9200",
            Service::Prometheus => "http://127.0.0.1:9090",
        }
    }

    /// The name `infra/local/stack.sh` and `make status` use for it.
    pub const fn stack_name(self) -> &'static str {
        match self {
            Service::Broker => "broker",
            Service::Registry => "registry",
            Service::ClickHouse => "clickhouse",
            Service::Search => "search",
            Service::Prometheus => "prometheus",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Service::Broker => "Kafka broker",
            Service::Registry => "Schema Registry",
            Service::ClickHouse => "ClickHouse",
            Service::Search => "history search server",
            Service::Prometheus => "Prometheus",
        })
    }
}

/// A service and the address it is reached at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub service: Service,
    pub address: String,
}

impl Endpoint {
    /// What to tell a user whose service did not answer.
    pub fn how_to_start(&self) -> String {
        let service = self.service;
        format!(
            "start the local stack with `make up` (or just this one with \
             `infra/local/stack.sh up {}`), or point {} at a running {service}",
            service.stack_name(),
            service.env_var(),
        )
    }
}

/// Where every service is, from the environment, with the local stack's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub broker: Endpoint,
    pub registry: Endpoint,
    pub clickhouse: Endpoint,
    pub search: Endpoint,
    pub prometheus: Endpoint,
}

impl Endpoints {
    /// Reads the `LEDGERSTREAM_*` variables; an unset or empty one takes the default.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`Endpoints::from_env`], with the variables looked up by `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let endpoint = |service: Service| {
            let address = lookup(service.env_var())
                .map(|value| value.trim().trim_end_matches('/').to_owned())
                .filter(|value| !value.is_empty())
                .unwrap_or_else(|| service.default_address().to_owned());
            Endpoint { service, address }
        };
        Self {
            broker: endpoint(Service::Broker),
            registry: endpoint(Service::Registry),
            clickhouse: endpoint(Service::ClickHouse),
            search: endpoint(Service::Search),
            prometheus: endpoint(Service::Prometheus),
        }
    }

    /// Each endpoint, in [`Service::ALL`] order.
    pub fn all(&self) -> [&Endpoint; 5] {
        [
            &self.broker,
            &self.registry,
            &self.clickhouse,
            &self.search,
            &self.prometheus,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_variables_take_the_local_defaults() {
        let endpoints = Endpoints::from_lookup(|_| None);
        assert_eq!(endpoints.broker.address, "127.0.0.1:9092");
        assert_eq!(endpoints.search.address, "http://127.0.0.1:9200");
    }

    #[test]
    fn set_variables_win_and_lose_their_trailing_slash() {
        let endpoints = Endpoints::from_lookup(|name| match name {
            "LEDGERSTREAM_CLICKHOUSE_URL" => Some("http://ch:8123/".into()),
            "LEDGERSTREAM_BROKERS" => Some("   ".into()),
            _ => None,
        });
        assert_eq!(endpoints.clickhouse.address, "http://ch:8123");
        assert_eq!(
            endpoints.broker.address, "127.0.0.1:9092",
            "blank means unset"
        );
    }

    #[test]
    fn every_service_has_a_distinct_variable() {
        let mut vars: Vec<_> = Service::ALL.iter().map(|s| s.env_var()).collect();
        vars.sort_unstable();
        vars.dedup();
        assert_eq!(vars.len(), Service::ALL.len());
    }

    #[test]
    fn the_hint_names_the_variable_and_the_stack_command() {
        let endpoints = Endpoints::from_lookup(|_| None);
        let hint = endpoints.search.how_to_start();
        assert!(hint.contains("LEDGERSTREAM_SEARCH_URL"), "{hint}");
        assert!(hint.contains("stack.sh up search"), "{hint}");
    }
}
