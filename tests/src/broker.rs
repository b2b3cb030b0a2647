//! A Kafka broker of a test's own, for tests that kill and restart the broker:
//! started by the local stack's own script (`infra/local/stack.sh up broker`) on
//! free ports, with its data in a temporary folder, so that the stack's broker and
//! every other test stay untouched. Stopped and removed on drop.

use std::path::{Path, PathBuf};
use std::process::Command;

use ledgerstream_infra::{Endpoint, Service};

use crate::TempDir;
use crate::pipeline::free_port;

/// A running broker of the test's own.
#[derive(Debug)]
pub struct OwnBroker {
    home: TempDir,
    port: u16,
    controller_port: u16,
    /// More `LEDGERSTREAM_BROKER_*` settings for `broker.sh` (secured listeners).
    env: Vec<(String, String)>,
}

impl OwnBroker {
    /// Starts a new single-node broker and waits until it is ready (transactions
    /// and consumer groups work).
    ///
    /// # Panics
    ///
    /// When the broker does not start: the message holds the script's output,
    /// which names what is missing and how to install it.
    pub fn start() -> Self {
        Self::start_with(Vec::new())
    }

    /// Like [`start`](Self::start), with more settings for
    /// `infra/local/services/broker.sh` (`LEDGERSTREAM_BROKER_SASL_SSL_PORT`, ...).
    pub fn start_with(env: Vec<(String, String)>) -> Self {
        let broker = Self {
            home: TempDir::new("broker"),
            port: free_port(),
            controller_port: free_port(),
            env,
        };
        broker.up();
        broker
    }

    /// The folder of its data, settings and logs.
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// Where clients reach it.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint {
            service: Service::Broker,
            address: format!("127.0.0.1:{}", self.port),
        }
    }

    /// SIGKILL to the broker's process group: a crash, with no clean shutdown.
    ///
    /// # Panics
    ///
    /// When the broker's pid file is missing (it was not running).
    pub fn kill(&self) {
        let pid_file = self.home.path().join("run/broker.pid");
        let pid = std::fs::read_to_string(&pid_file)
            .unwrap_or_else(|e| panic!("{}: {e}; is the broker running?", pid_file.display()));
        let status = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", pid.trim())])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -KILL of the broker failed");
        // The process group is gone once its leader has been reaped by nobody:
        // wait until the port no longer answers.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            assert!(
                std::time::Instant::now() < deadline,
                "the broker still answers 30 s after SIGKILL"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// Starts the broker again on its data (after [`kill`](Self::kill)) and waits
    /// until it is ready.
    pub fn up(&self) {
        self.stack(&["up", "broker"]);
    }

    /// Its log, for assertion messages.
    pub fn log(&self) -> PathBuf {
        self.home.path().join("logs/broker.log")
    }

    /// `infra/local/stack.sh <args>` for this broker: its home, ports and
    /// environment.
    fn stack_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(stack_script());
        command
            .args(args)
            .env("LEDGERSTREAM_HOME", self.home.path())
            .env("LEDGERSTREAM_BROKER_PORT", self.port.to_string())
            .env(
                "LEDGERSTREAM_CONTROLLER_PORT",
                self.controller_port.to_string(),
            )
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    fn stack(&self, args: &[&str]) {
        let output = self
            .stack_command(args)
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", stack_script().display()));
        assert!(
            output.status.success(),
            "`infra/local/stack.sh {}` for a test's own broker failed (the local stack \
             installs Kafka: run `make up` once):\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

fn stack_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/local/stack.sh")
}

impl Drop for OwnBroker {
    fn drop(&mut self) {
        let _ = self.stack_command(&["down", "broker"]).output();
    }
}
