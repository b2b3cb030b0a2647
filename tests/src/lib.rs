//! Helpers shared by the integration tests under `tests/tests/`.
//!
//! The tests talk to real services found through [`Endpoints::from_env`] (the local
//! stack of `make up` by default, or docker-compose's when the `LEDGERSTREAM_*`
//! variables point there). Each test names its own topics, tables and indices with
//! [`unique_name`] and removes them after itself. A missing service fails the test
//! with the probe's message, which says how to start it — nothing is skipped.

use ledgerstream_infra::{Endpoint, Endpoints, Service, probe};

/// Where the services under test are.
pub fn endpoints() -> Endpoints {
    Endpoints::from_env()
}

/// `prefix` followed by a random suffix, safe as a topic, table or index name.
pub fn unique_name(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}_{}", &id[..12])
}

/// The endpoint of `service`, after checking that it answers.
///
/// # Panics
///
/// When the service does not answer: the message names it and says how to start it.
pub async fn require(service: Service) -> Endpoint {
    let endpoints = endpoints();
    let endpoint = endpoints
        .all()
        .into_iter()
        .find(|endpoint| endpoint.service == service)
        .cloned()
        .expect("every service has an endpoint");
    if let Err(error) = probe::probe(&endpoint).await {
        panic!("{error}");
    }
    endpoint
}
