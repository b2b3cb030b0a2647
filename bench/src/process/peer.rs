//! The Kafka Streams peer (`bench/peer-kafka-streams`), run on the same broker
//! with the same workload right after the processor: its driver preloads a copy
//! of the commands into topics of its own, runs the peer in a JVM and prints its
//! figures, which are passed through and read back for the ratio.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

/// The peer's figures that the comparison needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeerFigures {
    /// Commands per second in its steady window.
    pub steady: f64,
    /// µs of the peer JVM's CPU per command (all its threads).
    pub cpu_micros: Option<f64>,
}

/// What the peer run is asked to do: the processor's workload and batch time.
#[derive(Debug, Clone, Copy)]
pub struct PeerRun {
    pub commands: usize,
    pub accounts: usize,
    pub partitions: i32,
    pub warmup_seconds: u64,
    pub commit_interval_millis: u64,
}

/// The peer's launcher, kept beside this crate's sources.
fn launcher() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("peer-kafka-streams/run.sh")
}

/// Runs the peer to the end, its report shown as it comes; its figures.
pub fn run(run: PeerRun) -> anyhow::Result<PeerFigures> {
    let launcher = launcher();
    anyhow::ensure!(
        launcher.exists(),
        "{} is missing: --peer kafka-streams runs from a checkout of the repository",
        launcher.display()
    );
    let mut child = Command::new(&launcher)
        .args([
            "--commands",
            &run.commands.to_string(),
            "--accounts",
            &run.accounts.to_string(),
            "--partitions",
            &run.partitions.to_string(),
            "--warmup-seconds",
            &run.warmup_seconds.to_string(),
            "--commit-interval-ms",
            &run.commit_interval_millis.to_string(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| {
            format!(
                "starting {} (it needs Java 17+ and Maven)",
                launcher.display()
            )
        })?;
    let stdout = child.stdout.take().context("the peer's output")?;
    let mut report = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        println!("  peer | {line}");
        report.push_str(&line);
        report.push('\n');
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("the Kafka Streams peer failed ({status}); its output is above");
    }
    parse(&report).context("the peer's report has no `steady` line")
}

/// Reads `steady   27988 commands/s …` and `peer CPU   46.4 µs per command …`.
fn parse(report: &str) -> Option<PeerFigures> {
    let figure = |label: &str| {
        report
            .lines()
            .find_map(|line| line.strip_prefix(label))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|number| number.parse::<f64>().ok())
    };
    Some(PeerFigures {
        steady: figure("steady")?,
        cpu_micros: figure("peer CPU"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peer_report_gives_its_rate_and_cpu() {
        let report = "peer          Kafka Streams 4.4.0\n\
                      steady            27988 commands/s over 81.2 s after a 10 s warm-up (2272000 commands)\n\
                      peer CPU           46.4 µs per command (JVM process, all threads; 1.30 cores)\n";
        assert_eq!(
            parse(report),
            Some(PeerFigures {
                steady: 27_988.0,
                cpu_micros: Some(46.4)
            })
        );
    }

    #[test]
    fn a_report_ended_in_the_warm_up_has_no_figures() {
        assert_eq!(
            parse("overall   1000 commands/s from the first commit\n"),
            None
        );
    }
}
