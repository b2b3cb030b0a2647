//! `--throttle`: at most so many events per second, so that a replay leaves the
//! broker and ClickHouse room for the live pipeline.
//!
//! A governor rate limiter (GCRA: a token bucket kept as one timestamp) wrapped
//! around the sink: [`Throttled::add`] lets one event through per cell, and
//! when none is free the runner's thread sleeps before taking the event into
//! its batch. Fetching slows down behind it (the consumer's queue fills up),
//! and nothing else in the runner changes.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::checkpoint::Checkpoint;
use crate::{Rejected, Sink, SourcedEvent, Written};

/// Sleeps shorter than this are not taken: the OS cannot sleep for
/// microseconds, and the cells freed meanwhile let the next events through at
/// once, so one longer sleep paces as well as many short ones.
const MIN_SLEEP: Duration = Duration::from_millis(2);

/// `rate` events per second (at least one), with a burst of one second's
/// worth: the runner stops taking events while it writes a batch, and the
/// cells saved meanwhile let it catch up, so that over a few seconds the rate
/// is what was asked for. Starts full.
fn quota(rate: u32) -> Quota {
    Quota::per_second(NonZeroU32::new(rate).unwrap_or(NonZeroU32::MIN))
}

/// Returns once `limiter` lets an event through, `sleep`ing until then.
fn until_ready<C: Clock>(
    limiter: &RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<C::Instant>>,
    sleep: impl Fn(Duration),
) {
    while let Err(not_until) = limiter.check() {
        sleep(
            not_until
                .wait_time_from(limiter.clock().now())
                .max(MIN_SLEEP),
        );
    }
}

/// A sink whose events go through a rate limiter (none: no limit); everything
/// else is the inner sink's (its name too: checkpoints are keyed by it).
#[derive(Debug)]
pub struct Throttled<S> {
    inner: S,
    limiter: Option<DefaultDirectRateLimiter>,
}

impl<S> Throttled<S> {
    pub fn new(inner: S, events_per_second: Option<u32>) -> Self {
        Self {
            inner,
            limiter: events_per_second.map(|rate| RateLimiter::direct(quota(rate))),
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
        if let Some(limiter) = &self.limiter {
            // The runner's own thread (never a runtime worker): sleeping here is
            // what slows the replay down.
            until_ready(limiter, std::thread::sleep);
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
    use std::cell::Cell;

    use governor::clock::FakeRelativeClock;

    use super::*;

    #[test]
    fn a_second_worth_goes_at_once_then_events_are_paced() {
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::direct_with_clock(quota(1_000), clock.clone());
        for _ in 0..1_000 {
            assert!(limiter.check().is_ok());
        }
        let refused = limiter.check().expect_err("the burst is spent");
        assert_eq!(
            refused.wait_time_from(clock.now()),
            Duration::from_millis(1)
        );
        clock.advance(Duration::from_millis(1));
        assert!(limiter.check().is_ok());
    }

    #[test]
    fn over_ten_seconds_the_rate_holds() {
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::direct_with_clock(quota(200), clock.clone());
        let (slept, sleeps) = (Cell::new(Duration::ZERO), Cell::new(0));
        let sleep = |wait: Duration| {
            assert!(wait >= MIN_SLEEP, "{wait:?}");
            clock.advance(wait);
            slept.set(slept.get() + wait);
            sleeps.set(sleeps.get() + 1);
        };
        let mut events = 0;
        while slept.get() < Duration::from_secs(10) {
            until_ready(&limiter, sleep);
            events += 1;
        }
        // 10 s at 200/s, plus the burst of 200 at the start.
        assert!((2_000..=2_201).contains(&events), "{events}");
        assert!(sleeps.get() <= 2_000, "{} sleeps", sleeps.get());
    }

    #[test]
    fn no_rate_is_one_a_second() {
        assert_eq!(quota(0), quota(1));
    }
}
