//! What the `bench` subcommands measure with: a timed run (wall and CPU time),
//! the machine's load, latency quantiles, and a producer that waits when its queue
//! is full.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use ledgerstream_runtime::kafka::{JAVA_PARTITIONER, KafkaSettings};
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, BaseRecord};
use rdkafka::types::RDKafkaErrorCode;

/// A timed run: records, wall time, CPU time of this process.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub records: usize,
    pub wall: Duration,
    pub cpu: Duration,
}

impl Run {
    pub fn per_second(&self) -> f64 {
        self.records as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    pub fn cpu_micros_per_record(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.records.max(1) as f64
    }
}

/// The `ledgerstream` binary beside this one (both are built into the same
/// folder), for the benchmarks that time a whole command.
pub fn ledgerstream_binary() -> anyhow::Result<std::path::PathBuf> {
    use anyhow::Context;
    let this = std::env::current_exe().context("locating this binary")?;
    let binary = this.with_file_name("ledgerstream");
    anyhow::ensure!(
        binary.exists(),
        "{} is missing; build it with `cargo build -p ledgerstream` (same profile as this one)",
        binary.display()
    );
    Ok(binary)
}

/// The 1, 5 and 15 minute load averages, from /proc/loadavg.
pub fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Latencies to the microsecond in an HdrHistogram: three significant digits,
/// up to an hour (longer ones count as an hour), in constant memory however
/// long the run. Quantiles are by nearest rank.
#[derive(Debug, Clone)]
pub struct Latencies(Histogram<u64>);

/// An hour, in microseconds: the longest latency told apart.
const LONGEST_MICROS: u64 = 3_600_000_000;

impl Default for Latencies {
    fn default() -> Self {
        Self(Histogram::new_with_max(LONGEST_MICROS, 3).expect("an hour at 3 digits is valid"))
    }
}

impl Latencies {
    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.0.saturating_record(micros);
    }

    pub fn count(&self) -> u64 {
        self.0.len()
    }

    /// The `q` quantile (0 to 1); `None` before the first latency.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        (!self.0.is_empty()).then(|| Duration::from_micros(self.0.value_at_quantile(q)))
    }

    pub fn max(&self) -> Option<Duration> {
        self.quantile(1.0)
    }

    /// The `q` quantile in milliseconds; NaN before the first latency.
    pub fn ms(&self, q: f64) -> f64 {
        self.quantile(q)
            .map_or(f64::NAN, |latency| latency.as_secs_f64() * 1_000.0)
    }

    /// `p50 1.20 ms  p90 …  p99 …  max …  (n <what>)`.
    pub fn summary(&self, what: &str) -> String {
        format!(
            "p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms  ({} {what})",
            self.ms(0.50),
            self.ms(0.90),
            self.ms(0.99),
            self.ms(1.0),
            self.count()
        )
    }
}

/// From `sent` to `seen` for every id in both: how long each took to become
/// visible.
pub fn latencies(seen: &HashMap<String, Instant>, sent: &HashMap<String, Instant>) -> Latencies {
    let mut latencies = Latencies::default();
    for (id, visible) in seen {
        if let Some(sent) = sent.get(id) {
            latencies.record(visible.duration_since(*sent));
        }
    }
    latencies
}

/// An idempotent producer that batches for `linger_ms`, partitioning keys as the
/// Java client does.
pub fn producer(brokers: &str, linger_ms: u32, compression: &str) -> anyhow::Result<BaseProducer> {
    Ok(KafkaSettings::new(brokers)
        .idempotent_producer()
        .set("linger.ms", linger_ms.to_string())
        .set("compression.type", compression)
        .set("partitioner", JAVA_PARTITIONER)
        .create()?)
}

/// Queues `record`, serving delivery reports while the producer's queue is full.
pub fn send(producer: &BaseProducer, mut record: BaseRecord<'_, [u8], [u8]>) -> anyhow::Result<()> {
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                producer.poll(Duration::from_millis(5));
                record = back;
            }
            Err((error, _)) => return Err(error.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_latency_summary_names_the_quantiles() {
        let mut latencies = Latencies::default();
        assert!(latencies.ms(0.5).is_nan());
        // Below 2,048 µs the histogram is exact.
        for micros in (1..=100).rev() {
            latencies.record(Duration::from_micros(micros * 20));
        }
        assert_eq!(
            latencies.summary("runs"),
            "p50 1.00 ms  p90 1.80 ms  p99 1.98 ms  max 2.00 ms  (100 runs)"
        );
    }
}
