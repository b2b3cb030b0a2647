//! HTTPS to ClickHouse with a CA of the deployment's own.
//!
//! The `clickhouse` crate speaks HTTPS by itself (its `rustls-tls-ring` and
//! `rustls-tls-webpki-roots` features) and trusts the public web's roots. A server
//! with a certificate of a private CA needs that CA too: the client is then built on
//! a hyper client of our own whose roots are the public ones plus the CA file's.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use clickhouse::Client;
use hyper_rustls::HttpsConnectorBuilder;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::RootCertStore;
use rustls::crypto::ring;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// As the crate's own client: TCP keep-alive, and idle connections closed before
/// ClickHouse's keep-alive timeout (3 s) closes them.
const TCP_KEEPALIVE: Duration = Duration::from_secs(60);
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(2);

/// The public roots and every certificate of the PEM file at `path`; `Err` says
/// what is wrong with the file.
pub fn roots_with(path: &Path) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let mut added = 0;
    for certificate in certificates {
        let certificate =
            certificate.map_err(|error| format!("{} is not PEM: {error}", path.display()))?;
        roots.add(certificate).map_err(|error| {
            format!(
                "{} holds a certificate that cannot be a root: {error}",
                path.display()
            )
        })?;
        added += 1;
    }
    if added == 0 {
        return Err(format!("{} holds no PEM certificate", path.display()));
    }
    Ok(roots)
}

/// A ClickHouse client that trusts `roots` (http:// URLs work too).
pub fn client_trusting(roots: RootCertStore) -> Client {
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("ring supports rustls' default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut tcp = HttpConnector::new();
    tcp.set_keepalive(Some(TCP_KEEPALIVE));
    tcp.enforce_http(false);
    let connector = HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp);
    let http = HyperClient::builder(TokioExecutor::new())
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .build(connector);
    Client::with_http_client(http)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_must_hold_pem_certificates() {
        let missing = roots_with(Path::new("/nonexistent/ca.pem")).unwrap_err();
        assert!(missing.contains("/nonexistent/ca.pem"), "{missing}");
        let not_pem = roots_with(Path::new("/etc/hostname")).unwrap_err();
        assert!(not_pem.contains("no PEM certificate"), "{not_pem}");
    }
}
