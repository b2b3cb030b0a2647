//! What the `bench` subcommands measure with: a timed run, this process's CPU
//! time, the machine's load, quantiles, and a producer that waits when its queue
//! is full.

use std::time::Duration;

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

/// CPU time (user + system) of this process so far, from /proc/self/stat.
pub fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name (which may hold spaces) start after ") ".
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .map_or(Vec::new(), |(_, rest)| rest.split(' ').collect());
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime: fields 14 and 15 of the line, 11 and 12 after the name.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
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

/// The `p` quantile (0 to 1) of sorted `values`, by nearest rank; `None` when
/// there are none.
pub fn nearest_rank<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    Some(sorted[index])
}

/// The `p` quantile (0 to 1) of sorted `values`; NaN when there are none.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    nearest_rank(values, p).unwrap_or(f64::NAN)
}

/// `p50 1.20 ms  p90 …  p99 …  max …  (n <what>)`, from `samples` (sorted here).
pub fn latency_summary(samples: &mut [Duration], what: &str) -> String {
    samples.sort_unstable();
    let ms = |p: f64| nearest_rank(samples, p).unwrap_or_default().as_secs_f64() * 1_000.0;
    format!(
        "p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms  ({} {what})",
        ms(0.50),
        ms(0.90),
        ms(0.99),
        ms(1.0),
        samples.len()
    )
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
    fn percentiles_pick_the_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 0.5), 50.0);
        assert_eq!(percentile(&values, 0.99), 99.0);
        assert_eq!(percentile(&values, 1.0), 100.0);
        assert_eq!(percentile(&[7.0], 0.99), 7.0);
        assert!(percentile(&[], 0.5).is_nan());
        let durations: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(
            nearest_rank(&durations, 0.99),
            Some(Duration::from_millis(99))
        );
        assert_eq!(nearest_rank::<Duration>(&[], 0.99), None);
    }

    #[test]
    fn a_latency_summary_names_the_quantiles() {
        let mut samples: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        assert_eq!(
            latency_summary(&mut samples, "runs"),
            "p50 50.00 ms  p90 90.00 ms  p99 99.00 ms  max 100.00 ms  (100 runs)"
        );
    }

    #[test]
    fn this_process_uses_cpu() {
        let before = cpu_time();
        let mut x = 0u64;
        for i in 0..30_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        assert!(x > 0);
        assert!(cpu_time() > before, "CPU time did not advance");
    }
}
