//! Retriable or permanent: what the runner does with a failure.
//!
//! Each sink classifies its own errors in one place (its `retry.rs`, implementing
//! [`Classify`]); the runner only acts on the answer:
//!
//! | failure | class | the runner |
//! |---|---|---|
//! | a write or checkpoint of a whole batch | [`Retry::Retriable`] | waits ([`Backoff`]) and writes the same batch again; after `retry_give_up_millis` it stops, to be started again from the last checkpoint |
//! | a write or checkpoint of a whole batch | [`Retry::Permanent`] | stops with the error: retrying cannot help, a person must (a missing table, a refused schema) |
//! | one record ([`Rejected`](super::sink::Rejected)) | permanent by definition | sends it to the dead-letter topic and goes on |
//!
//! Writing a batch again is always safe: every sink is idempotent per event
//! (ClickHouse collapses rows by account and version; the history index keys
//! documents by event id with external versions).

use std::time::{Duration, Instant};

/// What retrying a failed write can achieve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// The service was unreachable, busy or slow: the same write may succeed later.
    Retriable,
    /// The write can never succeed as it is.
    Permanent,
}

/// A sink error that knows whether it is worth retrying.
pub trait Classify: std::error::Error {
    /// Retriable or permanent.
    fn retry(&self) -> Retry;
    /// A short, stable name of the kind of failure, for the `class` label of the
    /// retry metric (`network`, `timeout`, `too-many-parts` ...).
    fn class(&self) -> &'static str;
}

/// Exponential pauses between attempts, doubling from `initial` up to `max`, for
/// at most `give_up_after` in all.
///
/// The budget counts the time the attempts took as well as the pauses: a runner
/// must give up well before its consumer's poll interval runs out, however slow
/// the failing writes are. (backon's total delay counts the pauses only, and its
/// doubling is in `f32` seconds; the restarts use backon.)
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    give_up_after: Duration,
}

impl Backoff {
    /// A backoff policy.
    pub fn new(initial: Duration, max: Duration, give_up_after: Duration) -> Self {
        Self {
            initial,
            max,
            give_up_after,
        }
    }

    /// A fresh sequence of pauses, starting now.
    pub fn start(&self) -> Attempts {
        Attempts {
            policy: self.clone(),
            started: Instant::now(),
            paused: Duration::ZERO,
            next: self.initial,
            attempts: 0,
        }
    }
}

/// The pauses of one write, as they are taken.
#[derive(Debug)]
pub struct Attempts {
    policy: Backoff,
    started: Instant,
    /// The pauses handed out so far (what has elapsed at least, once taken).
    paused: Duration,
    next: Duration,
    attempts: u32,
}

impl Attempts {
    /// The pause before the next attempt, or `None` once the time is up.
    pub fn next_pause(&mut self) -> Option<Duration> {
        let pause = self.next;
        let spent = self.started.elapsed().max(self.paused);
        if spent + pause > self.policy.give_up_after {
            return None;
        }
        self.attempts += 1;
        self.paused += pause;
        self.next = (self.next * 2).min(self.policy.max);
        Some(pause)
    }

    /// Failed attempts so far.
    pub fn failed(&self) -> u32 {
        self.attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_the_maximum_then_stop_at_the_deadline() {
        let policy = Backoff::new(
            Duration::from_millis(100),
            Duration::from_millis(400),
            Duration::from_secs(2),
        );
        let mut attempts = policy.start();
        let pauses: Vec<u64> = std::iter::from_fn(|| attempts.next_pause())
            .map(|p| p.as_millis() as u64)
            .collect();
        // 100 + 200 + 4 × 400 = 1900 ms; one more 400 would pass 2 s.
        assert_eq!(pauses, vec![100, 200, 400, 400, 400, 400]);
        assert_eq!(attempts.failed(), 6);
    }

    #[test]
    fn no_time_means_no_retry() {
        let policy = Backoff::new(
            Duration::from_millis(100),
            Duration::from_millis(100),
            Duration::ZERO,
        );
        assert_eq!(policy.start().next_pause(), None);
    }
}
