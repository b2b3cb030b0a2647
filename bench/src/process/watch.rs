//! Watching a consumer group work through the preloaded commands: its committed
//! offsets every 100 ms (each commit is the transaction that also made the
//! commands' events and results visible), a steady window that opens a warm-up
//! after the first commit and closes at the last command, and the CPU spent in it.

use std::time::{Duration, Instant};

use ledgerstream_runtime::kafka::KafkaSettings;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use super::threads::{Threads, process_cpu};
use crate::measure::load_average;

/// How often the committed offsets are asked for.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// The name of the watching thread, whose CPU is not the processor's.
pub const WATCH_THREAD: &str = "bench-watch";

/// A point of the run: when, commands committed, this process's threads, the
/// broker's CPU and the machine's load.
#[derive(Debug, Clone)]
pub struct Mark {
    pub at: Instant,
    pub committed: usize,
    pub threads: Threads,
    pub broker_cpu: Option<Duration>,
    pub load: String,
}

impl Mark {
    fn now(committed: usize, broker_pid: Option<u32>) -> Self {
        Self {
            at: Instant::now(),
            committed,
            threads: Threads::now(),
            broker_cpu: broker_pid.and_then(process_cpu),
            load: load_average(),
        }
    }
}

/// What the watch saw: the first commit, the start of the steady window (`None`
/// when the run ended within the warm-up) and the last commit.
#[derive(Debug, Clone)]
pub struct Watched {
    pub first: Mark,
    pub warm: Option<Mark>,
    pub end: Mark,
}

/// The group's committed offsets on a topic, summed: commands done.
pub struct Watcher {
    consumer: BaseConsumer,
    partitions: TopicPartitionList,
}

impl Watcher {
    /// Connects before the work starts, so that its client's threads are not
    /// counted as the processor's.
    pub fn connect(
        brokers: &str,
        group: &str,
        topic: &str,
        partitions: i32,
    ) -> anyhow::Result<Self> {
        let consumer: BaseConsumer = KafkaSettings::new(brokers)
            .positions()
            .set("group.id", group)
            .create()?;
        let mut list = TopicPartitionList::new();
        for partition in 0..partitions {
            list.add_partition(topic, partition);
        }
        Ok(Self {
            consumer,
            partitions: list,
        })
    }

    fn committed(&self) -> anyhow::Result<usize> {
        let committed = self
            .consumer
            .committed_offsets(self.partitions.clone(), Duration::from_secs(10))?;
        let done: i64 = committed
            .elements()
            .iter()
            .map(|e| match e.offset() {
                Offset::Offset(offset) => offset,
                _ => 0,
            })
            .sum();
        Ok(usize::try_from(done).unwrap_or(0))
    }

    /// Samples until `total` commands are committed, or fails at `limit`.
    pub fn watch(
        &self,
        total: usize,
        warmup: Duration,
        broker_pid: Option<u32>,
        limit: Duration,
    ) -> anyhow::Result<Watched> {
        let deadline = Instant::now() + limit;
        let mut first: Option<Mark> = None;
        let mut warm: Option<Mark> = None;
        loop {
            std::thread::sleep(SAMPLE_EVERY);
            let committed = self.committed()?;
            if first.is_none() && committed > 0 {
                first = Some(Mark::now(committed, broker_pid));
            }
            let done = committed >= total;
            if let Some(start) = &first
                && warm.is_none()
                && !done
                && start.at.elapsed() >= warmup
            {
                warm = Some(Mark::now(committed, broker_pid));
            }
            if done {
                let end = Mark::now(committed.min(total), broker_pid);
                let first = first.unwrap_or_else(|| end.clone());
                return Ok(Watched { first, warm, end });
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "only {committed} of {total} commands were committed in {limit:?}"
            );
        }
    }
}
