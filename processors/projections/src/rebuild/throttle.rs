//! `--throttle`: at most so many events per second, so that a replay leaves the
//! broker and ClickHouse room for the live pipeline.
//!
//! A token bucket wrapped around the sink: [`Throttled::add`] takes a token per
//! event, and when the bucket is empty the runner's thread sleeps before taking
//! the event into its batch. Fetching slows down behind it (the consumer's queue
//! fills up), and nothing else in the runner changes.

use std::time::{Duration, Instant};

use crate::checkpoint::Checkpoint;
use crate::{Rejected, Sink, SourcedEvent, Written};

/// Sleeps shorter than this are saved up: the OS cannot sleep for microseconds,
/// and many small debts make one sleep worth taking.
const MIN_SLEEP: Duration = Duration::from_millis(2);

/// Tokens refill at `rate` per second up to `burst`; each event takes one. A
/// missing token is a debt, paid by waiting `debt / rate`.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// `rate` events per second, with a burst of one second's worth: the
    /// runner stops taking events while it writes a batch, and the tokens saved
    /// meanwhile let it catch up, so that over a few seconds the rate is what
    /// was asked for. Starts full.
    pub fn new(rate: u32, now: Instant) -> Self {
        let rate = f64::from(rate.max(1));
        let burst = rate;
        Self {
            rate,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes a token at `now`: how long to wait before the event may go.
    pub fn take(&mut self, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst) - 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

/// A sink whose events go through a [`TokenBucket`] (none: no limit);
/// everything else is the inner sink's (its name too: checkpoints are keyed by
/// it).
#[derive(Debug)]
pub struct Throttled<S> {
    inner: S,
    bucket: Option<TokenBucket>,
}

impl<S> Throttled<S> {
    pub fn new(inner: S, events_per_second: Option<u32>) -> Self {
        Self {
            inner,
            bucket: events_per_second.map(|rate| TokenBucket::new(rate, Instant::now())),
        }
    }
}

impl<S: Sink> Sink for Throttled<S> {
    type Batch = S::Batch;
    type Error = S::Error;

    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn add(&mut self, batch: &mut Self::Batch, event: SourcedEvent) -> Result<(), Rejected> {
        if let Some(bucket) = &mut self.bucket {
            let wait = bucket.take(Instant::now());
            if wait >= MIN_SLEEP {
                // The runner's own thread (never a runtime worker): sleeping here
                // is what slows the replay down.
                std::thread::sleep(wait);
            }
        }
        self.inner.add(batch, event)
    }

    async fn write(&mut self, batch: &Self::Batch) -> Result<Written, Self::Error> {
        self.inner.write(batch).await
    }

    async fn load_checkpoints(
        &mut self,
        topic: &str,
        partitions: &[i32],
    ) -> Result<Vec<Checkpoint>, Self::Error> {
        self.inner.load_checkpoints(topic, partitions).await
    }

    async fn save_checkpoints(
        &mut self,
        topic: &str,
        checkpoints: &[Checkpoint],
    ) -> Result<(), Self::Error> {
        self.inner.save_checkpoints(topic, checkpoints).await
    }

    fn revoked(&mut self, partitions: &[i32]) {
        self.inner.revoked(partitions);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `wait` is `millis` ms, give or take float rounding.
    fn about(wait: Duration, millis: f64) -> bool {
        (wait.as_secs_f64() * 1_000.0 - millis).abs() < 1e-6
    }

    #[test]
    fn a_full_bucket_lets_a_burst_through_then_paces_events() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(1_000, start);
        // A second's worth goes at once.
        for _ in 0..1_000 {
            assert_eq!(bucket.take(start), Duration::ZERO);
        }
        // Then each event owes a millisecond more.
        assert!(about(bucket.take(start), 1.0));
        assert!(about(bucket.take(start), 2.0));
        // Waiting pays the debt: 2 ms later the next one owes 1 ms.
        let later = start + Duration::from_millis(2);
        assert!(about(bucket.take(later), 1.0));
    }

    #[test]
    fn over_a_second_the_rate_holds() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(200, start);
        let mut now = start;
        let mut events = 0;
        while now < start + Duration::from_secs(10) {
            let wait = bucket.take(now);
            now += wait;
            events += 1;
        }
        // 10 s at 200/s, plus the burst of 200 at the start.
        assert!((2_000..=2_201).contains(&events), "{events}");
    }

    #[test]
    fn an_idle_bucket_refills_only_up_to_its_burst() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(10, start);
        let later = start + Duration::from_secs(60);
        for _ in 0..10 {
            assert_eq!(bucket.take(later), Duration::ZERO, "a burst of 10 events");
        }
        assert!(about(bucket.take(later), 100.0));
    }
}
