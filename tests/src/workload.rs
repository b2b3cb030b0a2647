//! Commands for end-to-end tests: accounts opened, then the processor's own
//! mix of deposits, withdrawals and transfers (some invalid on purpose), from a
//! fixed seed so that a failure can be run again.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ledgerstream_producers::commands;
use ledgerstream_schemas::records::{AccountType, Channel, CommandRecord};

use crate::pipeline::Pipeline;

/// The id of account `i`: `acc-007`.
pub fn account(i: usize) -> String {
    format!("acc-{i:03}")
}

/// `OpenAccount` for accounts `0..accounts`: types in turn, four accounts per
/// owner, 3,000.00 USD each.
pub fn opens(accounts: usize) -> Vec<CommandRecord> {
    (0..accounts)
        .map(|i| {
            let kind = [
                AccountType::Checking,
                AccountType::Savings,
                AccountType::Business,
            ][i % 3];
            commands::open_account(
                &account(i),
                &format!("owner-{}", i / 4),
                kind,
                300_000, // 3,000.00
                "USD",
            )
        })
        .collect()
}

/// A fixed-seed pseudo-random source (a 64-bit linear congruential generator):
/// the same seed gives the same workload, so that a failure can be run again.
#[derive(Debug, Clone)]
pub struct Seeded(u64);

impl Seeded {
    /// Starts from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as usize % n
    }
}

/// What tells one [`mix_of`] from another.
#[derive(Debug, Clone, Copy)]
pub struct Mix {
    /// The seed of the [`Seeded`] source.
    pub seed: u64,
    /// Amounts are 1.00 to `largest` .00, in whole units.
    pub largest: usize,
    /// The channel of the withdrawals.
    pub channel: Channel,
}

/// `count` commands over accounts `0..accounts`: 40 % deposits, 30 %
/// withdrawals, 30 % transfers (some to the two accounts that never open, or
/// beyond a balance: rejected); amounts up to 800.00, withdrawals online.
pub fn mix(count: usize, accounts: usize) -> Vec<CommandRecord> {
    mix_of(
        count,
        accounts,
        Mix {
            seed: 0xC11C_4005,
            largest: 800,
            channel: Channel::Online,
        },
    )
}

/// `count` commands over accounts `0..accounts`, split as in [`mix`], with the
/// seed, amounts and channel of `shape`.
pub fn mix_of(count: usize, accounts: usize, shape: Mix) -> Vec<CommandRecord> {
    let mut random = Seeded::new(shape.seed);
    (0..count)
        .map(|_| {
            let from = account(random.below(accounts));
            let amount = (random.below(shape.largest) as i64 + 1) * 100;
            match random.below(10) {
                0..=3 => commands::deposit(&from, amount, "USD"),
                4..=6 => commands::withdraw(&from, amount, "USD", shape.channel),
                _ => commands::transfer(&from, &account(random.below(accounts + 2)), amount, "USD"),
            }
        })
        .collect()
}

/// Commands sent in order in the background, at one of two paces: each 2.5 ms
/// after the broker acknowledged the one before ([`start`](Self::start), about
/// 400 a second), or at a fixed rate with sends overlapping
/// ([`at_rate`](Self::at_rate)). Slow enough that what a test does to a
/// processor or projector meanwhile lands mid-stream.
#[derive(Debug)]
pub struct PacedSend {
    sent: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl PacedSend {
    /// Starts sending `commands` on `pipeline`'s command topic, each once the
    /// one before is acknowledged and 2.5 ms more have passed.
    pub fn start(pipeline: &Arc<Pipeline>, commands: Vec<CommandRecord>) -> Self {
        let sent = Arc::new(AtomicUsize::new(0));
        let task = {
            let (pipeline, sent) = (Arc::clone(pipeline), Arc::clone(&sent));
            tokio::spawn(async move {
                for command in &commands {
                    pipeline.sender.send(command).await.expect("send");
                    sent.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_micros(2_500)).await;
                }
            })
        };
        Self { sent, task }
    }

    /// Starts sending `commands` on `pipeline`'s command topic at `rate` a
    /// second, whether or not the broker has acknowledged the ones before: a
    /// command counts as sent once handed to the producer.
    pub fn at_rate(pipeline: &Arc<Pipeline>, commands: Vec<CommandRecord>, rate: usize) -> Self {
        let sent = Arc::new(AtomicUsize::new(0));
        let task = {
            let (pipeline, sent) = (Arc::clone(pipeline), Arc::clone(&sent));
            tokio::spawn(async move {
                let started = Instant::now();
                let mut in_flight = Vec::with_capacity(commands.len());
                for (i, command) in commands.into_iter().enumerate() {
                    let due = started + Duration::from_secs_f64(i as f64 / rate as f64);
                    tokio::time::sleep_until(due.into()).await;
                    let pipeline = Arc::clone(&pipeline);
                    in_flight.push(tokio::spawn(
                        async move { pipeline.sender.send(&command).await },
                    ));
                    sent.fetch_add(1, Ordering::Relaxed);
                }
                for sending in in_flight {
                    sending
                        .await
                        .expect("a send task")
                        .expect("Kafka took every command");
                }
            })
        };
        Self { sent, task }
    }

    /// How many commands are sent so far.
    pub fn sent(&self) -> usize {
        self.sent.load(Ordering::Relaxed)
    }

    /// Waits until `count` commands are sent, looking every 20 ms; no deadline
    /// of its own (the pace sets how long).
    ///
    /// # Panics
    ///
    /// When the sending stopped before `count` (a send failed).
    pub async fn wait_sent(&self, count: usize) {
        loop {
            // Finished first: once it has, what it sent is final.
            let finished = self.task.is_finished();
            if self.sent() >= count {
                return;
            }
            assert!(
                !finished,
                "the sending stopped after {} commands, before {count}",
                self.sent()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until every command is sent and acknowledged.
    ///
    /// # Panics
    ///
    /// When a send failed.
    pub async fn finish(self) {
        self.task.await.expect("sender");
    }
}
