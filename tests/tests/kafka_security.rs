//! Kafka through SASL_SSL and mTLS, end to end, with the real `ledgerstream`
//! binaries.
//!
//! The test runs a broker of its own ([`OwnBroker`], through
//! `infra/local/services/broker.sh`) with, beside its PLAINTEXT listener, a
//! SASL_SSL and a SASL_PLAINTEXT listener (SCRAM and PLAIN) and an SSL listener
//! that requires a client certificate. Its certificates are made at test time
//! (`infra/local/kafka_tls.sh`: openssl and keytool); its SCRAM user is created
//! through the Admin API (`infra/kafka/ScramUser.java`) with a random password.
//!
//! Then `registry`, `topics`, `process`, `project clickhouse`, `produce`,
//! `query`, `replay state` and `lag` all run through SASL_SSL only (`topics
//! check` through PLAIN, SASL_PLAINTEXT and mTLS too); a wrong password, a wrong
//! CA, a missing client certificate and a PLAINTEXT client on the SASL_SSL port
//! each stop a command at start with an error naming the setting to fix; and
//! every log of the run — the binaries', the broker's, the scripts' — and every
//! `/metrics` page is searched for the password: it must not be there.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use ledgerstream_tests::broker::OwnBroker;
use ledgerstream_tests::clickhouse::TableSet;
use ledgerstream_tests::pipeline::free_port;
use ledgerstream_tests::{TempDir, endpoints, ledgerstream_bin};

const USER: &str = "ledgerstream-test";

/// Every Kafka security variable: each command's environment starts without them.
const SECURITY_VARS: [&str; 8] = [
    "LEDGERSTREAM_KAFKA_SECURITY_PROTOCOL",
    "LEDGERSTREAM_KAFKA_SASL_MECHANISM",
    "LEDGERSTREAM_KAFKA_SASL_USERNAME",
    "LEDGERSTREAM_KAFKA_SASL_PASSWORD",
    "LEDGERSTREAM_KAFKA_SASL_PASSWORD_FILE",
    "LEDGERSTREAM_KAFKA_SSL_CA_FILE",
    "LEDGERSTREAM_KAFKA_SSL_CERT_FILE",
    "LEDGERSTREAM_KAFKA_SSL_KEY_FILE",
];

/// The secured broker, its certificates and the folder of every log of the run.
struct Secured {
    broker: OwnBroker,
    tls: PathBuf,
    work: TempDir,
    sasl_port: u16,
    sasl_plaintext_port: u16,
    ssl_port: u16,
    password: String,
    password_file: PathBuf,
    registry_port: u16,
    clickhouse: String,
}

impl Secured {
    fn start() -> Self {
        let work = TempDir::new("kafka_security");
        std::fs::create_dir_all(work.path().join("logs")).unwrap();
        let tls = work.path().join("tls");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/local/kafka_tls.sh");
        let made = Command::new(&script)
            .arg(&tls)
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", script.display()));
        std::fs::write(
            work.path().join("logs/kafka_tls.log"),
            [made.stdout, made.stderr].concat(),
        )
        .unwrap();
        assert!(
            made.status.success(),
            "making the certificates failed; see {}",
            work.path().join("logs/kafka_tls.log").display()
        );
        let password = format!("pw-{}", uuid::Uuid::new_v4().simple());
        let password_file = work.path().join("password");
        std::fs::write(&password_file, format!("{password}\n")).unwrap();

        let (sasl_port, sasl_plaintext_port, ssl_port) = (free_port(), free_port(), free_port());
        let broker = OwnBroker::start_with(vec![
            (
                "LEDGERSTREAM_BROKER_SASL_SSL_PORT".into(),
                sasl_port.to_string(),
            ),
            (
                "LEDGERSTREAM_BROKER_SASL_PLAINTEXT_PORT".into(),
                sasl_plaintext_port.to_string(),
            ),
            ("LEDGERSTREAM_BROKER_SSL_PORT".into(), ssl_port.to_string()),
            (
                "LEDGERSTREAM_BROKER_TLS_DIR".into(),
                tls.display().to_string(),
            ),
            ("LEDGERSTREAM_BROKER_SCRAM_USER".into(), USER.into()),
            (
                "LEDGERSTREAM_BROKER_SCRAM_PASSWORD_FILE".into(),
                password_file.display().to_string(),
            ),
        ]);
        Self {
            broker,
            tls,
            work,
            sasl_port,
            sasl_plaintext_port,
            ssl_port,
            password,
            password_file,
            registry_port: free_port(),
            clickhouse: endpoints().clickhouse.address,
        }
    }

    fn logs(&self) -> PathBuf {
        self.work.path().join("logs")
    }

    /// `ledgerstream <args>` reaching the broker through SASL_SSL (SCRAM-SHA-256,
    /// the password from a file), then `vars` on top (an empty value removes one).
    fn command(&self, args: &[&str], vars: &[(&str, &str)]) -> Command {
        let mut command = Command::new(ledgerstream_bin());
        command.args(args);
        for var in SECURITY_VARS {
            command.env_remove(var);
        }
        let ca = self.tls.join("ca.pem");
        let defaults = [
            (
                "LEDGERSTREAM_BROKERS",
                format!("127.0.0.1:{}", self.sasl_port),
            ),
            (
                "LEDGERSTREAM_KAFKA_SECURITY_PROTOCOL",
                "SASL_SSL".to_owned(),
            ),
            (
                "LEDGERSTREAM_KAFKA_SASL_MECHANISM",
                "SCRAM-SHA-256".to_owned(),
            ),
            ("LEDGERSTREAM_KAFKA_SASL_USERNAME", USER.to_owned()),
            (
                "LEDGERSTREAM_KAFKA_SASL_PASSWORD_FILE",
                self.password_file.display().to_string(),
            ),
            ("LEDGERSTREAM_KAFKA_SSL_CA_FILE", ca.display().to_string()),
            (
                "LEDGERSTREAM_REGISTRY_URL",
                format!("http://127.0.0.1:{}", self.registry_port),
            ),
            ("LEDGERSTREAM_CLICKHOUSE_URL", self.clickhouse.clone()),
            // Everything, so that the search for the password has the most to read.
            ("LEDGERSTREAM_LOG", "debug".to_owned()),
        ];
        for (name, value) in defaults {
            command.env(name, value);
        }
        for (name, value) in vars {
            if value.is_empty() {
                command.env_remove(name);
            } else {
                command.env(name, value);
            }
        }
        command
    }

    /// Runs `ledgerstream <args>` to its end; its output is kept as `<name>.log`.
    fn run(&self, name: &str, args: &[&str], vars: &[(&str, &str)]) -> Ran {
        let output = self
            .command(args, vars)
            .stdin(Stdio::null())
            .output()
            .expect("run ledgerstream");
        let ran = Ran {
            name: name.to_owned(),
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        std::fs::write(
            self.logs().join(format!("{name}.log")),
            format!("{}\n{}", ran.stdout, ran.stderr),
        )
        .unwrap();
        ran
    }

    /// Starts `ledgerstream <args>` in the background, its output to `<name>.log`.
    fn spawn(&self, name: &str, args: &[&str], vars: &[(&str, &str)]) -> Daemon {
        let log = self.logs().join(format!("{name}.log"));
        let file = File::create(&log).unwrap();
        let child = self
            .command(args, vars)
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("start ledgerstream");
        Daemon { child, log }
    }

    /// `topics check` through `vars`: a short command that reaches the broker.
    fn check_topics(&self, name: &str, vars: &[(&str, &str)]) -> Ran {
        self.run(name, &["topics", "check", "--partitions", "2"], vars)
    }
}

#[derive(Debug)]
struct Ran {
    name: String,
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn assert_ok(&self) -> &Self {
        assert!(self.status.success(), "{self:?}");
        self
    }

    /// Failed, saying `needles` (the setting to fix).
    fn assert_refused(&self, needles: &[&str]) {
        let said = self.stderr.lines().filter(|l| l.starts_with("error:"));
        eprintln!("{}: {}", self.name, said.collect::<Vec<_>>().join(" | "));
        assert!(
            !self.status.success(),
            "{} should have failed: {self:?}",
            self.name
        );
        for needle in needles {
            assert!(
                self.stderr.contains(needle),
                "{}: the error should say {needle:?}: {self:?}",
                self.name
            );
        }
    }
}

/// A long-running `ledgerstream` command, stopped (SIGTERM, then SIGKILL) on drop.
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `http://127.0.0.1:{port}{path}` answers 200.
    async fn wait_for(&mut self, port: u16, path: &str) {
        let deadline = Instant::now() + Duration::from_secs(90);
        let url = format!("http://127.0.0.1:{port}{path}");
        loop {
            let answer = reqwest::Client::new()
                .get(&url)
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if answer.is_ok_and(|a| a.status().is_success()) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "exited with {status} before {url} answered:\n{}",
                    self.log_text()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{url} did not answer 200 within 90 s:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    fn stop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn get_text(port: u16, path: &str) -> String {
    reqwest::get(format!("http://127.0.0.1:{port}{path}"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pipeline_runs_through_sasl_ssl_and_never_shows_the_password() {
    let secured = Secured::start();
    let set = TableSet::new().await;

    // The registry keeps its schemas in the broker: through SASL_SSL, its
    // password from the environment rather than a file.
    let mut registry = secured.spawn(
        "registry",
        &[
            "registry",
            "--listen",
            &format!("127.0.0.1:{}", secured.registry_port),
        ],
        &[
            ("LEDGERSTREAM_KAFKA_SASL_PASSWORD_FILE", ""),
            ("LEDGERSTREAM_KAFKA_SASL_PASSWORD", &secured.password),
            ("LEDGERSTREAM_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"),
        ],
    );
    registry.wait_for(secured.registry_port, "/subjects").await;
    secured
        .run(
            "topics-create",
            &["topics", "create", "--partitions", "2"],
            &[],
        )
        .assert_ok();
    secured
        .run("schemas-register", &["schemas", "register"], &[])
        .assert_ok();

    let processor_port = free_port();
    let state = secured.work.path().join("state");
    let mut processor = secured.spawn(
        "process",
        &[
            "process",
            "--state-dir",
            &state.display().to_string(),
            "--listen",
            &format!("127.0.0.1:{processor_port}"),
            "--batch-millis",
            "10",
        ],
        &[],
    );
    processor.wait_for(processor_port, "/health").await;
    let projector_port = free_port();
    let mut projector = secured.spawn(
        "project",
        &[
            "project",
            "clickhouse",
            "--table-suffix",
            &set.suffix,
            "--listen",
            &format!("127.0.0.1:{projector_port}"),
            "--batch-millis",
            "50",
        ],
        &[],
    );
    projector.wait_for(projector_port, "/health").await;

    let open = secured.run(
        "produce-open",
        &[
            "produce",
            "open",
            "--account",
            "acc-sec",
            "--owner",
            "alice",
            "--type",
            "checking",
            "--initial",
            "100.00",
            "--wait",
        ],
        &[],
    );
    open.assert_ok();
    assert!(open.stdout.starts_with("accepted OpenAccount"), "{open:?}");
    let deposit = secured.run(
        "produce-deposit",
        &[
            "produce",
            "deposit",
            "--account",
            "acc-sec",
            "--amount",
            "12.50",
            "--wait",
        ],
        &[],
    );
    deposit.assert_ok();
    assert!(
        deposit
            .stdout
            .starts_with("accepted DepositMoney account=acc-sec version=2"),
        "{deposit:?}"
    );
    // The projection read the events through SASL_SSL too.
    let query = secured.run(
        "query",
        &[
            "query",
            "account",
            "acc-sec",
            "--min-version",
            "2",
            "--timeout",
            "60",
            "--table-suffix",
            &set.suffix,
        ],
        &[],
    );
    query.assert_ok();
    assert!(query.stdout.contains("112.50"), "{query:?}");
    // The processor's state rebuilt from the event log, through SASL_SSL too.
    let replayed = secured.work.path().join("replayed");
    secured
        .run(
            "replay-state",
            &["replay", "state", "--state-dir", replayed.to_str().unwrap()],
            &[],
        )
        .assert_ok();
    assert!(replayed.join("partition-0").exists(), "a store was rebuilt");
    let lag = secured.run("lag", &["lag", "--once"], &[]);
    lag.assert_ok();
    assert!(lag.stdout.contains("ledgerstream-processor"), "{lag:?}");

    // mTLS: the SSL listener takes the client certificate, and only with it.
    let ssl_brokers = format!("127.0.0.1:{}", secured.ssl_port);
    let (cert, key) = (
        secured.tls.join("client.pem"),
        secured.tls.join("client.key"),
    );
    let mtls = [
        ("LEDGERSTREAM_BROKERS", ssl_brokers.as_str()),
        ("LEDGERSTREAM_KAFKA_SECURITY_PROTOCOL", "SSL"),
        ("LEDGERSTREAM_KAFKA_SASL_MECHANISM", ""),
        ("LEDGERSTREAM_KAFKA_SASL_USERNAME", ""),
        ("LEDGERSTREAM_KAFKA_SASL_PASSWORD_FILE", ""),
        ("LEDGERSTREAM_KAFKA_SSL_CERT_FILE", cert.to_str().unwrap()),
        ("LEDGERSTREAM_KAFKA_SSL_KEY_FILE", key.to_str().unwrap()),
    ];
    secured.check_topics("topics-mtls", &mtls).assert_ok();
    secured
        .check_topics("topics-mtls-no-cert", &mtls[..5])
        .assert_refused(&[
            "TLS with the Kafka broker",
            "LEDGERSTREAM_KAFKA_SSL_CERT_FILE",
        ]);

    // The other logins: PLAIN over SASL_SSL, SCRAM-SHA-512 over SASL_PLAINTEXT.
    secured
        .check_topics(
            "topics-plain",
            &[("LEDGERSTREAM_KAFKA_SASL_MECHANISM", "PLAIN")],
        )
        .assert_ok();
    let sasl_plaintext = format!("127.0.0.1:{}", secured.sasl_plaintext_port);
    secured
        .check_topics(
            "topics-sasl-plaintext",
            &[
                ("LEDGERSTREAM_BROKERS", &sasl_plaintext),
                ("LEDGERSTREAM_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT"),
                ("LEDGERSTREAM_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"),
                ("LEDGERSTREAM_KAFKA_SSL_CA_FILE", ""),
            ],
        )
        .assert_ok();

    // Settings that cannot work stop a command at start, naming what to fix.
    let wrong = format!("wrong-{}", uuid::Uuid::new_v4().simple());
    let wrong_password = [
        ("LEDGERSTREAM_KAFKA_SASL_PASSWORD_FILE", ""),
        ("LEDGERSTREAM_KAFKA_SASL_PASSWORD", wrong.as_str()),
    ];
    secured
        .run(
            "produce-wrong-password",
            &[
                "produce",
                "deposit",
                "--account",
                "acc-sec",
                "--amount",
                "1.00",
                "--wait",
            ],
            &wrong_password,
        )
        .assert_refused(&["refused the SASL login", "LEDGERSTREAM_KAFKA_SASL_PASSWORD"]);
    secured
        .run(
            "process-wrong-password",
            &[
                "process",
                "--state-dir",
                &secured.work.path().join("state-2").display().to_string(),
            ],
            &wrong_password,
        )
        .assert_refused(&["refused the SASL login", "LEDGERSTREAM_KAFKA_SASL_PASSWORD"]);
    let other_ca = cert.display().to_string();
    secured
        .check_topics(
            "topics-wrong-ca",
            &[("LEDGERSTREAM_KAFKA_SSL_CA_FILE", &other_ca)],
        )
        .assert_refused(&[
            "TLS with the Kafka broker",
            "LEDGERSTREAM_KAFKA_SSL_CA_FILE",
        ]);
    secured
        .check_topics(
            "topics-plaintext-on-sasl-ssl",
            &[
                ("LEDGERSTREAM_KAFKA_SECURITY_PROTOCOL", ""),
                ("LEDGERSTREAM_KAFKA_SASL_MECHANISM", ""),
                ("LEDGERSTREAM_KAFKA_SASL_USERNAME", ""),
                ("LEDGERSTREAM_KAFKA_SASL_PASSWORD_FILE", ""),
                ("LEDGERSTREAM_KAFKA_SSL_CA_FILE", ""),
            ],
        )
        .assert_refused(&["LEDGERSTREAM_KAFKA_SECURITY_PROTOCOL"]);
    secured
        .check_topics(
            "topics-no-user",
            &[("LEDGERSTREAM_KAFKA_SASL_USERNAME", "")],
        )
        .assert_refused(&["LEDGERSTREAM_KAFKA_SASL_USERNAME"]);

    // The password is in no /metrics page ...
    let mut pages = String::new();
    for (port, path) in [
        (processor_port, "/metrics"),
        (projector_port, "/metrics"),
        (secured.registry_port, "/metrics"),
    ] {
        pages.push_str(&get_text(port, path).await);
    }
    std::fs::write(secured.logs().join("metrics.txt"), &pages).unwrap();
    assert!(
        pages.contains("ledgerstream_processor_"),
        "the processor's metrics were read"
    );
    for daemon in [&mut projector, &mut processor, &mut registry] {
        daemon.stop();
    }

    // ... and in no log of the run: the binaries', the scripts', the broker's.
    let mut logs = files_under(&secured.logs());
    logs.extend(files_under(&secured.broker.home().join("logs")));
    let mut read = 0;
    for log in &logs {
        let text = std::fs::read(log).unwrap();
        read += text.len();
        let shown = text
            .windows(secured.password.len())
            .any(|w| w == secured.password.as_bytes());
        assert!(!shown, "the SASL password is in {}", log.display());
    }
    assert!(
        logs.len() >= 15 && read > 100_000,
        "the logs of the run were read: {} files, {read} bytes",
        logs.len()
    );
    eprintln!("searched {} logs, {read} bytes: no password", logs.len());
}
