//! Services of a test's own, started and stopped through the project's scripts
//! (`infra/local/stack.sh up|down SERVICE`) in a folder of their own and on free
//! ports: a test may stop them and start them again, which it must never do to
//! the shared local stack.

use std::path::Path;
use std::process::{Command, Output};

use crate::TempDir;
use crate::pipeline::free_port;

/// One service of the local stack run by a test; stopped when dropped. Its data
/// folder is kept across [`stop`](Self::stop) and [`start`](Self::start), as a
/// restarted server keeps its disk.
#[derive(Debug)]
pub struct OwnService {
    name: &'static str,
    home: TempDir,
    ports: Vec<(&'static str, u16)>,
    env: Vec<(&'static str, String)>,
}

impl OwnService {
    /// A ClickHouse of its own (HTTP, native and interserver ports free), started.
    pub fn clickhouse() -> Self {
        Self::start_new(
            "clickhouse",
            &[
                "LEDGERSTREAM_CLICKHOUSE_HTTP_PORT",
                "LEDGERSTREAM_CLICKHOUSE_TCP_PORT",
                "LEDGERSTREAM_CLICKHOUSE_INTERSERVER_PORT",
            ],
        )
    }

    /// A registry of its own (a free port, schemas in the broker's topic
    /// `topic`), run from this workspace's debug build, started.
    pub fn registry(topic: &str) -> Self {
        Self::start_with(
            "registry",
            &["LEDGERSTREAM_REGISTRY_PORT"],
            &[
                ("LEDGERSTREAM_REGISTRY_TOPIC", topic.to_owned()),
                ("LEDGERSTREAM_PROFILE", "dev".to_owned()),
            ],
        )
    }

    /// `name` with each of `port_variables` set to a free port, started.
    pub fn start_new(name: &'static str, port_variables: &[&'static str]) -> Self {
        Self::start_with(name, port_variables, &[])
    }

    /// [`start_new`](Self::start_new) with `env` set for the scripts as well.
    pub fn start_with(
        name: &'static str,
        port_variables: &[&'static str],
        env: &[(&'static str, String)],
    ) -> Self {
        let service = Self {
            name,
            home: TempDir::new(name),
            ports: port_variables.iter().map(|v| (*v, free_port())).collect(),
            env: env.to_vec(),
        };
        service.start();
        service
    }

    /// The port given to `variable`.
    ///
    /// # Panics
    ///
    /// When the service was not given that variable.
    pub fn port(&self, variable: &str) -> u16 {
        self.ports
            .iter()
            .find(|(v, _)| *v == variable)
            .map(|(_, port)| *port)
            .unwrap_or_else(|| panic!("{} has no port {variable}", self.name))
    }

    /// `infra/local/stack.sh up SERVICE`: returns once the script says it is ready.
    ///
    /// # Panics
    ///
    /// When the script fails, with its output and the service's log.
    pub fn start(&self) {
        self.stack("up");
    }

    /// `infra/local/stack.sh down SERVICE`: TERM, then KILL after 20 s.
    pub fn stop(&self) {
        self.stack("down");
    }

    /// The service's log, for assertion messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.home.path().join(format!("logs/{}.log", self.name)))
            .unwrap_or_default()
    }

    fn stack(&self, command: &str) -> Output {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/local/stack.sh");
        let mut run = Command::new(&script);
        run.args([command, self.name])
            .env("LEDGERSTREAM_HOME", self.home.path());
        for (variable, port) in &self.ports {
            run.env(variable, port.to_string());
        }
        run.envs(self.env.iter().map(|(k, v)| (*k, v)));
        // What cargo sets for this test, not for a build: the registry's install
        // step builds the binary, and ring's build script would run again (and
        // everything above it be rebuilt) for a CARGO_MANIFEST_DIR it did not see.
        for (variable, _) in std::env::vars_os() {
            let name = variable.to_string_lossy();
            if [
                "CARGO_MANIFEST_",
                "CARGO_PKG_",
                "CARGO_CRATE_",
                "CARGO_PRIMARY_",
            ]
            .iter()
            .any(|prefix| name.starts_with(prefix))
                || name == "CARGO_TARGET_TMPDIR"
            {
                run.env_remove(&variable);
            }
        }
        let output = run
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", script.display()));
        assert!(
            output.status.success() || command == "down",
            "`infra/local/stack.sh {command} {}` failed (the local stack installs its \
             services: run `make up` once):\n{}{}\nlog:\n{}",
            self.name,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            self.log()
        );
        output
    }
}

impl Drop for OwnService {
    fn drop(&mut self) {
        self.stack("down");
    }
}
