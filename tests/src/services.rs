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

    /// `name` with each of `port_variables` set to a free port, started.
    pub fn start_new(name: &'static str, port_variables: &[&'static str]) -> Self {
        let service = Self {
            name,
            home: TempDir::new(name),
            ports: port_variables.iter().map(|v| (*v, free_port())).collect(),
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
