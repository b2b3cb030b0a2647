//! Keeping a long-running component up: the processor, a projection, a replay's
//! projection. Each runs until it returns, fails, or is asked to stop; after a
//! failure that a restart may fix, it is started again after a pause.
//!
//! ```text
//!  attempt() ──Ok──────────────────────────────────────────────────▶ Ok
//!      │
//!      └─Err(e) ─┬─ e.is_restartable() and no stop asked ─▶ restarting(&e, pause)
//!                │                                           sleep(pause) ─▶ attempt()
//!                └─ otherwise ─────────────────────────────────────────────▶ Err(e)
//! ```
//!
//! A component started again resumes from what is durable (the processor from
//! its store and the committed log, a projection from its checkpoints), so a
//! restart neither loses nor repeats committed work. The pauses come from
//! `backon`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use backon::{ConstantBuilder, Retryable};

/// The pause before each restart.
pub const RESTART_PAUSE: Duration = Duration::from_secs(2);

/// An error that knows whether starting its component again may help; the other
/// errors need a person.
pub trait Restartable {
    fn is_restartable(&self) -> bool;
}

/// Runs `attempt` until it succeeds, fails with an error that is not
/// restartable, or fails after `stop` was set; that outcome is returned. After
/// every other failure, `restarting` is told (with the pause) and `attempt` runs
/// again after [`RESTART_PAUSE`].
///
/// A restartable error is returned only when a stop was asked: the caller
/// decides whether that ends the component cleanly.
pub async fn supervise<T, E, Fut>(
    stop: &AtomicBool,
    attempt: impl FnMut() -> Fut,
    mut restarting: impl FnMut(&E, Duration),
) -> Result<T, E>
where
    E: Restartable,
    Fut: Future<Output = Result<T, E>>,
{
    let pauses = ConstantBuilder::new()
        .with_delay(RESTART_PAUSE)
        .without_max_times();
    attempt
        .retry(pauses)
        .when(|error: &E| error.is_restartable() && !stop.load(Ordering::Acquire))
        .notify(|error, pause| restarting(error, pause))
        .await
}

/// Runs the blocking `work` on a thread of its own (`spawn_blocking`): every
/// component's loop blocks, and must not hold a runtime worker. A panic there
/// goes on in the caller's task, as if `work` had run in it.
pub async fn on_own_thread<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(work).await {
        Ok(output) => output,
        Err(error) => match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            // Only a runtime shutting down cancels a blocking task, and then
            // nobody waits for this one.
            Err(cancelled) => panic!("{cancelled}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[derive(Debug, PartialEq)]
    enum Failure {
        Transient,
        Fatal,
    }

    impl Restartable for Failure {
        fn is_restartable(&self) -> bool {
            *self == Failure::Transient
        }
    }

    // Time is paused: tokio moves the clock past each pause at once.
    #[tokio::test(start_paused = true)]
    async fn a_restartable_failure_is_started_again_until_it_succeeds() {
        let (attempts, restarts) = (Cell::new(0), Cell::new(0));
        let stop = AtomicBool::new(false);
        let outcome = supervise(
            &stop,
            || {
                attempts.set(attempts.get() + 1);
                let n = attempts.get();
                async move {
                    if n < 3 {
                        Err(Failure::Transient)
                    } else {
                        Ok(n)
                    }
                }
            },
            |error, pause| {
                assert_eq!((error, pause), (&Failure::Transient, RESTART_PAUSE));
                restarts.set(restarts.get() + 1);
            },
        )
        .await;
        assert_eq!(outcome, Ok(3));
        assert_eq!(restarts.get(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_that_is_not_restartable_is_returned_at_once() {
        let stop = AtomicBool::new(false);
        let outcome: Result<(), _> = supervise(
            &stop,
            || async { Err(Failure::Fatal) },
            |_, _| panic!("not started again"),
        )
        .await;
        assert_eq!(outcome, Err(Failure::Fatal));
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_is_started_again_once_a_stop_is_asked() {
        let stop = AtomicBool::new(false);
        let attempts = Cell::new(0);
        let outcome: Result<(), _> = supervise(
            &stop,
            || {
                attempts.set(attempts.get() + 1);
                // The stop arrives while the first attempt runs.
                stop.store(true, Ordering::Release);
                async { Err(Failure::Transient) }
            },
            |_, _| panic!("not started again"),
        )
        .await;
        assert_eq!(outcome, Err(Failure::Transient));
        assert_eq!(attempts.get(), 1);
    }

    #[tokio::test]
    async fn a_panic_on_the_thread_goes_on_in_the_caller() {
        let caught = tokio::spawn(on_own_thread(|| panic!("boom"))).await;
        assert!(caught.is_err_and(|error| error.is_panic()));
        assert_eq!(on_own_thread(|| 7).await, 7);
    }
}
