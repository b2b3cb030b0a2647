//! ClickHouse over HTTPS: a ClickHouse 18.16 of the test's own, started through the
//! project's scripts (`infra/local/stack.sh up clickhouse`) on free ports with an
//! HTTPS port whose certificate comes from a CA made at test time with openssl. The
//! projection's client applies its migrations and reads back through it, trusting
//! the CA from `ca_file`; without the CA the certificate is refused; the built
//! binary's probe (`ledgerstream services clickhouse`) reaches it the same way.
//!
//! Needs Debian's clickhouse-server (`make up` installs it) and the binary
//! (`cargo build -p ledgerstream`; `make test` builds it first).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use ledgerstream_projections::clickhouse::{ClickHouseConfig, client, schema};
use ledgerstream_tests::pipeline::free_port;
use ledgerstream_tests::tls::Certificates;
use ledgerstream_tests::{TempDir, ledgerstream_bin, unique_name};

/// A ClickHouse started by the project's scripts in a folder of its own, with HTTPS;
/// stopped when dropped.
struct OwnClickHouse {
    home: TempDir,
    ports: [(&'static str, u16); 4],
    https_port: u16,
}

impl OwnClickHouse {
    fn start(certificates: &Certificates) -> Self {
        let https_port = free_port();
        let clickhouse = Self {
            home: TempDir::new("clickhouse-tls"),
            ports: [
                ("LEDGERSTREAM_CLICKHOUSE_HTTP_PORT", free_port()),
                ("LEDGERSTREAM_CLICKHOUSE_TCP_PORT", free_port()),
                ("LEDGERSTREAM_CLICKHOUSE_INTERSERVER_PORT", free_port()),
                ("LEDGERSTREAM_CLICKHOUSE_HTTPS_PORT", https_port),
            ],
            https_port,
        };
        clickhouse.stack("up", Some(certificates));
        clickhouse
    }

    fn stack(&self, command: &str, certificates: Option<&Certificates>) -> std::process::Output {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/local/stack.sh");
        let mut run = Command::new(&script);
        run.args([command, "clickhouse"])
            .env("LEDGERSTREAM_HOME", self.home.path());
        for (variable, port) in self.ports {
            run.env(variable, port.to_string());
        }
        if let Some(certificates) = certificates {
            run.env("LEDGERSTREAM_CLICKHOUSE_TLS_CERT", &certificates.cert)
                .env("LEDGERSTREAM_CLICKHOUSE_TLS_KEY", &certificates.key);
        }
        let output = run
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", script.display()));
        assert!(
            output.status.success() || command == "down",
            "`infra/local/stack.sh {command} clickhouse` with HTTPS failed (the local \\
             stack installs clickhouse-server: run `make up` once):\n{}{}\nlog:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            std::fs::read_to_string(self.home.path().join("logs/clickhouse.log"))
                .unwrap_or_default()
        );
        output
    }

    fn url(&self) -> String {
        // By name, as a deployment would; the certificate holds localhost.
        format!("https://localhost:{}", self.https_port)
    }
}

impl Drop for OwnClickHouse {
    fn drop(&mut self) {
        self.stack("down", None);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_projection_reaches_clickhouse_over_https_with_a_private_ca() {
    let certificates = Certificates::make("clickhouse");
    let clickhouse = OwnClickHouse::start(&certificates);

    let mut config = ClickHouseConfig::new(clickhouse.url());
    config.table_suffix = unique_name("tls");
    config.ca_file = Some(certificates.ca.clone());
    config.validate().expect("a valid https config");
    let tables = config.tables();
    let https = client(&config);
    let applied = schema::migrate(&https, &tables)
        .await
        .expect("migrations over HTTPS");
    assert!(!applied.is_empty(), "a new table set gets every migration");
    let version: String = https
        .query("SELECT version()")
        .fetch_one()
        .await
        .expect("a query over HTTPS");
    assert_eq!(version, "18.16.1");
    let rows: u64 = https
        .query(&format!("SELECT count() FROM {}", tables.migrations))
        .fetch_one()
        .await
        .expect("read back the migrations table");
    assert_eq!(rows as usize, applied.len());

    // Without the CA, the server's certificate is refused.
    let mut untrusting = config.clone();
    untrusting.ca_file = None;
    let refused = client(&untrusting)
        .query("SELECT 1")
        .fetch_one::<u8>()
        .await
        .unwrap_err();
    assert!(
        format!("{refused:?}")
            .to_lowercase()
            .contains("certificate"),
        "{refused:?}"
    );

    // The binary's probe, configured as a deployment is: URL and CA from the
    // environment.
    let probe = |ca: Option<&Path>| {
        let mut run = Command::new(ledgerstream_bin());
        run.args(["services", "clickhouse"])
            .env("LEDGERSTREAM_CLICKHOUSE_URL", clickhouse.url())
            .env("NO_COLOR", "1");
        if let Some(ca) = ca {
            run.env("LEDGERSTREAM_CLICKHOUSE_CA_FILE", ca);
        }
        run.output().expect("run ledgerstream services")
    };
    let trusted = probe(Some(&certificates.ca));
    let text = String::from_utf8_lossy(&trusted.stdout).into_owned();
    assert!(
        trusted.status.success() && text.contains("version 18.16.1"),
        "{text}{}",
        String::from_utf8_lossy(&trusted.stderr)
    );
    let untrusted = probe(None);
    assert!(
        !untrusted.status.success(),
        "a probe without the CA must fail"
    );
}
