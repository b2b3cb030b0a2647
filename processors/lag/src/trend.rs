//! Where a lag is heading, from the samples of the last few minutes: falling, rising
//! or flat, how fast, when it reaches zero, and whether it is stalled.
//!
//! Pure: the caller passes the sample times in, so every rule is tested without a
//! broker or a clock.
//!
//! - **Rate**: the least-squares slope of lag over time across the window, in
//!   messages per second (negative while catching up). A line fitted over several
//!   samples is steadier than the difference of the last two, which jumps with every
//!   batch a consumer commits.
//! - **Direction**: flat when the fitted line moves by less than one message over the
//!   window; otherwise falling or rising.
//! - **ETA**: zero when caught up; the lag divided by the rate while falling; none
//!   otherwise (at this pace it never catches up).
//! - **Stalled**: behind, and the lag has not gone down once for `stall_after`. Both
//!   a consumer that stopped and one that cannot keep up are stalled: neither will
//!   catch up at this pace.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Where the lag is heading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Catching up.
    Falling,
    /// Falling behind.
    Rising,
    /// Neither, within one message over the window.
    Flat,
}

impl Direction {
    /// The arrow the terminal view shows.
    pub fn arrow(self) -> &'static str {
        match self {
            Direction::Falling => "↓",
            Direction::Rising => "↑",
            Direction::Flat => "→",
        }
    }
}

/// What the samples say at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Assessment {
    /// The latest lag, in messages.
    pub lag: i64,
    /// None until two samples at different times are in the window.
    pub direction: Option<Direction>,
    /// Messages per second, negative while falling; None with the direction.
    pub rate: Option<f64>,
    /// Time to catch up at the current rate: zero when caught up, None when the lag
    /// is not falling (or not known yet).
    pub eta: Option<Duration>,
    /// Behind, with no fall for `stall_after`.
    pub stalled: bool,
    /// How long the lag has gone without falling while behind; zero when caught up.
    pub without_progress: Duration,
}

/// The recent samples of one lag series (a partition, or a group's total).
#[derive(Debug, Clone)]
pub struct Trend {
    window: Duration,
    samples: VecDeque<(Instant, i64)>,
    /// When the lag last fell or was zero, or when watching began.
    progress_at: Option<Instant>,
}

impl Trend {
    /// A trend that fits its rate over the samples of the last `window`.
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            samples: VecDeque::new(),
            progress_at: None,
        }
    }

    /// Adds the lag seen at `at`. Samples arrive in time order; an older one than
    /// the latest is ignored.
    pub fn observe(&mut self, at: Instant, lag: i64) {
        let lag = lag.max(0);
        match self.samples.back() {
            Some(&(last_at, _)) if at < last_at => return,
            Some(&(_, last_lag)) if lag < last_lag => self.progress_at = Some(at),
            None => self.progress_at = Some(at),
            Some(_) => {}
        }
        if lag == 0 {
            self.progress_at = Some(at);
        }
        self.samples.push_back((at, lag));
        // Keep the window, but never fewer than two samples: a rate needs two.
        while self.samples.len() > 2 {
            let Some(&(oldest, _)) = self.samples.front() else {
                break;
            };
            if at.duration_since(oldest) <= self.window {
                break;
            }
            self.samples.pop_front();
        }
    }

    /// The assessment at `now` (the time of the latest sample, or later).
    pub fn assess(&self, now: Instant, stall_after: Duration) -> Assessment {
        let lag = self.samples.back().map_or(0, |&(_, lag)| lag);
        let (direction, rate) = match self.slope() {
            Some((slope, span)) => (Some(direction(slope, span)), Some(slope)),
            None => (None, None),
        };
        let eta = match (lag, direction, rate) {
            (0, _, _) => Some(Duration::ZERO),
            (_, Some(Direction::Falling), Some(rate)) => {
                Some(Duration::from_secs_f64(lag as f64 / -rate))
            }
            _ => None,
        };
        let without_progress = match self.progress_at {
            Some(since) if lag > 0 => now.saturating_duration_since(since),
            _ => Duration::ZERO,
        };
        Assessment {
            lag,
            direction,
            rate,
            eta,
            stalled: lag > 0 && without_progress >= stall_after,
            without_progress,
        }
    }

    /// The least-squares slope (messages per second) and the time the samples
    /// span, in seconds; None without two samples at different times.
    fn slope(&self) -> Option<(f64, f64)> {
        let &(first, _) = self.samples.front()?;
        let points: Vec<(f64, f64)> = self
            .samples
            .iter()
            .map(|&(at, lag)| (at.duration_since(first).as_secs_f64(), lag as f64))
            .collect();
        let n = points.len() as f64;
        let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
        let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
        let spread: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
        if spread <= f64::EPSILON {
            return None;
        }
        let covariance: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
        let span = points.last().map_or(0.0, |p| p.0);
        Some((covariance / spread, span))
    }
}

fn direction(slope: f64, span: f64) -> Direction {
    let change = slope * span;
    if change.abs() < 1.0 {
        Direction::Flat
    } else if change < 0.0 {
        Direction::Falling
    } else {
        Direction::Rising
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(60);
    const STALL: Duration = Duration::from_secs(30);

    /// A trend fed `lags`, one sample every `step` seconds from `start`.
    fn fed(start: Instant, step: u64, lags: &[i64]) -> (Trend, Instant) {
        let mut trend = Trend::new(WINDOW);
        let mut at = start;
        for (i, &lag) in lags.iter().enumerate() {
            at = start + Duration::from_secs(step * i as u64);
            trend.observe(at, lag);
        }
        (trend, at)
    }

    #[test]
    fn one_sample_has_no_direction_and_no_eta_unless_caught_up() {
        let start = Instant::now();
        let (behind, at) = fed(start, 5, &[100]);
        let assessment = behind.assess(at, STALL);
        assert_eq!(assessment.direction, None);
        assert_eq!(assessment.rate, None);
        assert_eq!(assessment.eta, None);
        assert!(!assessment.stalled);

        let (caught_up, at) = fed(start, 5, &[0]);
        assert_eq!(caught_up.assess(at, STALL).eta, Some(Duration::ZERO));
    }

    #[test]
    fn a_steady_fall_gives_its_rate_and_the_time_to_zero() {
        let (trend, at) = fed(Instant::now(), 5, &[500, 450, 400, 350, 300]);
        let assessment = trend.assess(at, STALL);
        assert_eq!(assessment.direction, Some(Direction::Falling));
        let rate = assessment.rate.unwrap();
        assert!((rate + 10.0).abs() < 1e-9, "rate {rate}");
        assert_eq!(assessment.eta, Some(Duration::from_secs(30)));
        assert!(!assessment.stalled);
    }

    #[test]
    fn a_rise_has_no_eta() {
        let (trend, at) = fed(Instant::now(), 5, &[10, 20, 30, 40]);
        let assessment = trend.assess(at, STALL);
        assert_eq!(assessment.direction, Some(Direction::Rising));
        assert!(assessment.rate.unwrap() > 0.0);
        assert_eq!(assessment.eta, None);
    }

    #[test]
    fn less_than_one_message_over_the_window_is_flat() {
        let (trend, at) = fed(Instant::now(), 5, &[100, 100, 100, 100]);
        let assessment = trend.assess(at, STALL);
        assert_eq!(assessment.direction, Some(Direction::Flat));
        assert_eq!(assessment.eta, None);
        // One message up at the end fits a line that moves by 0.9: still flat.
        let (trend, at) = fed(Instant::now(), 5, &[100, 100, 100, 101]);
        assert_eq!(trend.assess(at, STALL).direction, Some(Direction::Flat));
        // Two fit one that moves by 1.8: rising.
        let (trend, at) = fed(Instant::now(), 5, &[100, 100, 100, 102]);
        assert_eq!(trend.assess(at, STALL).direction, Some(Direction::Rising));
    }

    #[test]
    fn the_fit_smooths_out_batches() {
        // A consumer committing in batches: down, up a little, down a lot.
        let (trend, at) = fed(Instant::now(), 5, &[1000, 1010, 800, 820, 600, 610, 400]);
        let assessment = trend.assess(at, STALL);
        assert_eq!(assessment.direction, Some(Direction::Falling));
        // The fitted rate is -20 messages/s: 400 left, 20 s.
        let eta = assessment.eta.unwrap().as_secs_f64();
        assert!((eta - 20.0).abs() < 1e-6, "eta {eta} s");
    }

    #[test]
    fn behind_and_not_falling_for_stall_after_is_stalled() {
        let start = Instant::now();
        let mut trend = Trend::new(WINDOW);
        trend.observe(start, 100);
        assert!(!trend.assess(start, STALL).stalled, "no history yet");
        trend.observe(start + Duration::from_secs(29), 100);
        assert!(!trend.assess(start + Duration::from_secs(29), STALL).stalled);
        trend.observe(start + Duration::from_secs(30), 100);
        let assessment = trend.assess(start + Duration::from_secs(30), STALL);
        assert!(assessment.stalled);
        assert_eq!(assessment.without_progress, Duration::from_secs(30));
    }

    #[test]
    fn a_rising_lag_that_never_falls_is_stalled() {
        let (trend, at) = fed(Instant::now(), 10, &[10, 20, 30, 40]);
        assert!(trend.assess(at, STALL).stalled);
    }

    #[test]
    fn one_fall_restarts_the_stall_clock() {
        let start = Instant::now();
        let (mut trend, _) = fed(start, 10, &[100, 100, 100]);
        assert!(trend.assess(start + Duration::from_secs(30), STALL).stalled);
        trend.observe(start + Duration::from_secs(30), 99);
        let assessment = trend.assess(start + Duration::from_secs(30), STALL);
        assert!(!assessment.stalled);
        assert_eq!(assessment.without_progress, Duration::ZERO);
        trend.observe(start + Duration::from_secs(50), 120);
        assert!(!trend.assess(start + Duration::from_secs(50), STALL).stalled);
        trend.observe(start + Duration::from_secs(60), 130);
        assert!(trend.assess(start + Duration::from_secs(60), STALL).stalled);
    }

    #[test]
    fn caught_up_is_never_stalled_however_long_it_stays_flat() {
        let (trend, at) = fed(Instant::now(), 30, &[0, 0, 0, 0, 0]);
        let assessment = trend.assess(at, STALL);
        assert!(!assessment.stalled);
        assert_eq!(assessment.without_progress, Duration::ZERO);
        assert_eq!(assessment.eta, Some(Duration::ZERO));
    }

    #[test]
    fn falling_behind_again_after_catching_up_starts_from_zero_lag() {
        let start = Instant::now();
        let (mut trend, _) = fed(start, 10, &[50, 0]);
        trend.observe(start + Duration::from_secs(20), 5);
        trend.observe(start + Duration::from_secs(40), 7);
        // Zero at 10 s, behind since: 30 s without a fall.
        assert!(trend.assess(start + Duration::from_secs(40), STALL).stalled);
        assert!(!trend.assess(start + Duration::from_secs(39), STALL).stalled);
    }

    #[test]
    fn samples_older_than_the_window_drop_out_of_the_rate() {
        let start = Instant::now();
        let mut trend = Trend::new(Duration::from_secs(20));
        // A steep fall long ago, then flat.
        trend.observe(start, 10_000);
        trend.observe(start + Duration::from_secs(10), 100);
        for s in [40, 50, 60] {
            trend.observe(start + Duration::from_secs(s), 100);
        }
        let assessment = trend.assess(start + Duration::from_secs(60), STALL);
        assert_eq!(assessment.direction, Some(Direction::Flat));
        assert_eq!(trend.samples.len(), 3);
    }

    #[test]
    fn a_window_shorter_than_the_interval_still_keeps_two_samples() {
        let start = Instant::now();
        let mut trend = Trend::new(Duration::from_secs(1));
        trend.observe(start, 100);
        trend.observe(start + Duration::from_secs(10), 50);
        let assessment = trend.assess(start + Duration::from_secs(10), STALL);
        assert_eq!(assessment.direction, Some(Direction::Falling));
        assert_eq!(assessment.eta, Some(Duration::from_secs(10)));
    }

    #[test]
    fn samples_out_of_order_or_at_one_instant_are_harmless() {
        let start = Instant::now();
        let mut trend = Trend::new(WINDOW);
        trend.observe(start + Duration::from_secs(10), 100);
        trend.observe(start, 0);
        assert_eq!(trend.samples.len(), 1, "an older sample is ignored");
        trend.observe(start + Duration::from_secs(10), 90);
        // Two samples at the same instant: no rate, and no division by zero.
        let assessment = trend.assess(start + Duration::from_secs(10), STALL);
        assert_eq!(assessment.direction, None);
        assert_eq!(assessment.lag, 90);
    }

    #[test]
    fn a_negative_lag_counts_as_caught_up() {
        // A committed offset past the log end (a truncated topic) reads as -n.
        let (trend, at) = fed(Instant::now(), 5, &[-3]);
        let assessment = trend.assess(at, STALL);
        assert_eq!(assessment.lag, 0);
        assert_eq!(assessment.eta, Some(Duration::ZERO));
    }
}
