//! The history projection's client over HTTPS with a private CA, against the local
//! search engine (OpenSearch) behind a TLS front whose certificate comes from a CA
//! made at test time with openssl (tests/src/tls.rs).
//!
//! The local OpenSearch runs without its security plugin, so it accepts the basic
//! authentication the client sends without checking it: what is tested here is TLS
//! and the CA file; a password refused by the engine is not (the config and its
//! checks are unit-tested in `history::config`).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use ledgerstream_infra::Service;
use ledgerstream_projections::history::{HistoryConfig, HistoryError, client, engine};
use ledgerstream_tests::require;
use ledgerstream_tests::tls::{Certificates, tls_front};

#[tokio::test(flavor = "multi_thread")]
async fn the_history_client_reaches_the_search_engine_over_https_with_a_private_ca() {
    let search = require(Service::Search).await;
    let upstream = search
        .address
        .trim_start_matches("http://")
        .parse()
        .expect("the search engine's address is host:port");
    let certificates = Certificates::make("search");
    let (front, _task) = tls_front(&certificates, upstream).await;

    let mut config = HistoryConfig::new(format!("https://localhost:{}", front.port()));
    config.user = Some("projector".to_owned());
    config.set_password(Some("s3arch-Pa55-tls".to_owned()));
    config.ca_file = Some(certificates.ca.clone());
    config.validate().expect("a valid https config");
    let trusted = client(&config).expect("a client");
    let found = engine::detect(&trusted)
        .await
        .expect("the engine over HTTPS");
    assert!(
        found.to_string().to_lowercase().contains("opensearch"),
        "{found}"
    );

    // Without the CA, the certificate is refused, with an error that says so.
    config.ca_file = None;
    let untrusting = client(&config).expect("a client");
    let refused = engine::detect(&untrusting).await.unwrap_err();
    assert!(
        matches!(refused, HistoryError::Transport { .. }),
        "{refused:?}"
    );
    let shown = format!("{refused} {refused:?}");
    assert!(shown.to_lowercase().contains("certificate"), "{shown}");
    assert!(!shown.contains("s3arch-Pa55-tls"), "{shown}");
}
