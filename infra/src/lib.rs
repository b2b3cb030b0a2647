//! Where ledgerstream's services live, and how to tell that they answer.
//!
//! # Layout
//!
//! Every process of the pipeline reaches the same five services:
//!
//! ```text
//!   Kafka-protocol broker   LEDGERSTREAM_BROKERS          127.0.0.1:9092
//!   Schema Registry         LEDGERSTREAM_REGISTRY_URL     http://127.0.0.1:8081
//!   ClickHouse (HTTP)       LEDGERSTREAM_CLICKHOUSE_URL   http://127.0.0.1:8123
//!   history search (ES API) LEDGERSTREAM_SEARCH_URL       http://127.0.0.1:9200
//!   Prometheus              LEDGERSTREAM_PROMETHEUS_URL   http://127.0.0.1:9090
//! ```
//!
//! [`Endpoints`] reads them from the environment with those loopback defaults (the
//! ports of `make up`); [`probe`] asks each one whether it is really there, and its
//! errors say how to start what is missing. The folders beside this crate hold the
//! service side: `local/` (install, start and stop the stack without Docker),
//! `clickhouse/`, `prometheus/` and `grafana/` (configuration for both stacks).

mod endpoints;
pub mod probe;

pub use endpoints::{Endpoint, Endpoints, Service};
