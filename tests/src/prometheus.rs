//! A Prometheus of a test's own, for tests that watch an alert fire: started by
//! the local stack's own script (`infra/local/stack.sh up prometheus`) on a free
//! port, with its TSDB and a configuration written by the test in a temporary
//! folder, so that the stack's Prometheus stays untouched. Stopped on drop.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::TempDir;
use crate::pipeline::free_port;

/// A running Prometheus of the test's own.
#[derive(Debug)]
pub struct OwnPrometheus {
    home: TempDir,
    port: u16,
}

impl OwnPrometheus {
    /// Starts Prometheus scraping `targets` (job name, `host:port`) every second
    /// and evaluating `rule_files` (paths from the repository's root) every
    /// second, and waits until it is ready.
    ///
    /// # Panics
    ///
    /// When it does not start: the message holds the script's output.
    pub fn start(targets: &[(&str, String)], rule_files: &[&str]) -> Self {
        let home = TempDir::new("prometheus");
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut config = String::from(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n",
        );
        for file in rule_files {
            config.push_str(&format!("  - {}\n", root.join(file).display()));
        }
        config.push_str("scrape_configs:\n");
        for (job, target) in targets {
            config.push_str(&format!(
                "  - job_name: {job}\n    static_configs:\n      - targets: [\"{target}\"]\n"
            ));
        }
        let file = home.path().join("prometheus.yml");
        std::fs::write(&file, config).expect("write prometheus.yml");
        let prometheus = Self {
            home,
            port: free_port(),
        };
        prometheus.stack(&["up", "prometheus"]);
        prometheus
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Waits until alert `name` fires, for at most `timeout`; the labels of
    /// every firing instance.
    ///
    /// # Panics
    ///
    /// When it has not fired in time.
    pub async fn wait_firing(&self, name: &str, timeout: Duration) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        let mut last = Value::Null;
        loop {
            if let Ok(response) = reqwest::get(format!("{}/api/v1/alerts", self.url())).await
                && let Ok(answer) = response.json::<Value>().await
            {
                let firing: Vec<Value> = answer["data"]["alerts"]
                    .as_array()
                    .map(|alerts| {
                        alerts
                            .iter()
                            .filter(|a| a["labels"]["alertname"] == name && a["state"] == "firing")
                            .map(|a| a["labels"].clone())
                            .collect()
                    })
                    .unwrap_or_default();
                if !firing.is_empty() {
                    return firing;
                }
                last = answer;
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not fire within {timeout:?}; alerts: {last}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    fn stack(&self, args: &[&str]) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/local/stack.sh");
        let output = Command::new(&script)
            .args(args)
            .env("LEDGERSTREAM_HOME", self.home.path())
            .env("LEDGERSTREAM_PROMETHEUS_PORT", self.port.to_string())
            .env(
                "LEDGERSTREAM_PROMETHEUS_CONFIG",
                self.home.path().join("prometheus.yml"),
            )
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", script.display()));
        assert!(
            output.status.success(),
            "`infra/local/stack.sh {}` for a test's own Prometheus failed (the local stack \
             installs it: run `make up` once):\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for OwnPrometheus {
    fn drop(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/local/stack.sh");
        let _ = Command::new(script)
            .args(["down", "prometheus"])
            .env("LEDGERSTREAM_HOME", self.home.path())
            .env("LEDGERSTREAM_PROMETHEUS_PORT", self.port.to_string())
            .output();
    }
}
