//! How far a replay is, on stderr: a bar redrawn in place when stderr is a
//! terminal, a plain line every few seconds when it is a file or a pipe. Events
//! per second over a sliding window, and the time left at that rate.

use std::collections::VecDeque;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// How far back the rate looks: long enough to smooth batches, short enough to
/// follow a change of pace.
const RATE_WINDOW: Duration = Duration::from_secs(10);

/// How often a line is written when stderr is not a terminal.
const LINE_EVERY: Duration = Duration::from_secs(5);

const BAR_WIDTH: usize = 30;

/// Events per second from `(when, events done)` samples over a sliding window.
#[derive(Debug)]
pub struct Rate {
    window: Duration,
    samples: VecDeque<(Instant, u64)>,
}

impl Rate {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            samples: VecDeque::new(),
        }
    }

    /// Adds a sample; samples older than the window (but the newest of those,
    /// which anchors the window) are let go.
    pub fn record(&mut self, at: Instant, done: u64) {
        self.samples.push_back((at, done));
        while self.samples.len() > 2
            && self
                .samples
                .get(1)
                .is_some_and(|(second, _)| at.duration_since(*second) >= self.window)
        {
            self.samples.pop_front();
        }
    }

    /// Events per second across the window; `None` until two samples are apart.
    pub fn per_second(&self) -> Option<f64> {
        let (first_at, first) = *self.samples.front()?;
        let (last_at, last) = *self.samples.back()?;
        let seconds = last_at.duration_since(first_at).as_secs_f64();
        if seconds <= 0.0 {
            return None;
        }
        Some(last.saturating_sub(first) as f64 / seconds)
    }
}

/// The time `remaining` events take at `per_second`; `None` when nothing moves.
pub fn eta(remaining: u64, per_second: f64) -> Option<Duration> {
    if remaining == 0 {
        return Some(Duration::ZERO);
    }
    if per_second.is_nan() || per_second < 1e-9 {
        return None;
    }
    let seconds = remaining as f64 / per_second;
    (seconds < 1e9).then(|| Duration::from_secs_f64(seconds))
}

/// `1:02:03` or `2:03`.
pub fn clock(duration: Duration) -> String {
    let total = duration.as_secs();
    let (hours, minutes, seconds) = (total / 3600, total / 60 % 60, total % 60);
    if hours > 0 {
        format!("{hours}:{minutes:02}:{seconds:02}")
    } else {
        format!("{minutes}:{seconds:02}")
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// One line of progress: `[######------]  50% 1,000/2,000 events  400 ev/s  ETA 0:03  note`.
pub fn line(done: u64, total: u64, per_second: Option<f64>, note: &str) -> String {
    let shown = done.min(total);
    let fraction = if total == 0 {
        1.0
    } else {
        shown as f64 / total as f64
    };
    let filled = ((fraction * BAR_WIDTH as f64).floor() as usize).min(BAR_WIDTH);
    let mut text = format!(
        "[{}{}] {:>3}% {}/{} events",
        "#".repeat(filled),
        "-".repeat(BAR_WIDTH - filled),
        (fraction * 100.0).floor() as u64,
        thousands(shown),
        thousands(total),
    );
    match per_second {
        Some(rate) => {
            text.push_str(&format!("  {} ev/s", thousands(rate.round() as u64)));
            let left = eta(total - shown, rate).map_or_else(|| "?".to_owned(), clock);
            text.push_str(&format!("  ETA {left}"));
        }
        None => text.push_str("  - ev/s  ETA ?"),
    }
    if !note.is_empty() {
        text.push_str("  ");
        text.push_str(note);
    }
    text
}

/// The bar on stderr.
#[derive(Debug)]
pub struct Bar {
    terminal: bool,
    rate: Rate,
    /// The first sample: the average since, when the window has no rate yet.
    first: Option<(Instant, u64)>,
    last_line: Option<Instant>,
    drawn: bool,
}

impl Default for Bar {
    fn default() -> Self {
        Self::new()
    }
}

impl Bar {
    pub fn new() -> Self {
        Self {
            terminal: std::io::stderr().is_terminal(),
            rate: Rate::new(RATE_WINDOW),
            first: None,
            last_line: None,
            drawn: false,
        }
    }

    /// Records where the replay is and redraws (or, off a terminal, writes a line
    /// when one is due).
    pub fn update(&mut self, done: u64, total: u64, note: &str) {
        let now = Instant::now();
        self.first.get_or_insert((now, done));
        self.rate.record(now, done);
        let text = line(done, total, self.rate.per_second(), note);
        let mut err = std::io::stderr().lock();
        if self.terminal {
            // \x1b[K clears what a longer line left behind.
            let _ = write!(err, "\r{text}\x1b[K");
            let _ = err.flush();
            self.drawn = true;
        } else if self
            .last_line
            .is_none_or(|last| now.duration_since(last) >= LINE_EVERY)
        {
            let _ = writeln!(err, "{text}");
            self.last_line = Some(now);
        }
    }

    /// Ends the bar's line, so that what follows starts on a line of its own.
    pub fn finish(&mut self, done: u64, total: u64, note: &str) {
        let now = Instant::now();
        let (since, from) = *self.first.get_or_insert((now, done));
        let seconds = now.duration_since(since).as_secs_f64();
        let average = (seconds > 0.0).then(|| done.saturating_sub(from) as f64 / seconds);
        let text = line(done, total, self.rate.per_second().or(average), note);
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let _ = writeln!(err, "\r{text}\x1b[K");
        } else {
            let _ = writeln!(err, "{text}");
        }
        self.drawn = false;
    }

    /// Leaves the bar's line before a log line is written, on a terminal.
    pub fn break_line(&mut self) {
        if self.terminal && self.drawn {
            let _ = writeln!(std::io::stderr());
            self.drawn = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_is_events_over_the_window() {
        let start = Instant::now();
        let mut rate = Rate::new(Duration::from_secs(10));
        assert_eq!(rate.per_second(), None);
        rate.record(start, 0);
        assert_eq!(rate.per_second(), None, "one sample is no rate");
        rate.record(start + Duration::from_secs(2), 1_000);
        assert_eq!(rate.per_second(), Some(500.0));
        // 30 s later at a slower pace: the old samples leave the window.
        for s in 3..=32 {
            rate.record(start + Duration::from_secs(s), 1_000 + (s - 2) * 100);
        }
        let per_second = rate.per_second().expect("a rate");
        assert!((per_second - 100.0).abs() < 1e-9, "{per_second}");
    }

    #[test]
    fn the_eta_is_what_is_left_at_the_rate() {
        assert_eq!(eta(1_000, 100.0), Some(Duration::from_secs(10)));
        assert_eq!(eta(0, 0.0), Some(Duration::ZERO));
        assert_eq!(eta(5, 0.0), None, "nothing moves: no ETA");
        assert_eq!(eta(5, f64::NAN), None);
    }

    #[test]
    fn durations_and_counts_read_as_people_write_them() {
        assert_eq!(clock(Duration::from_secs(59)), "0:59");
        assert_eq!(clock(Duration::from_secs(3_723)), "1:02:03");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn a_line_shows_share_counts_rate_and_eta() {
        let text = line(500, 2_000, Some(250.0), "");
        assert_eq!(
            text,
            "[#######-----------------------]  25% 500/2,000 events  250 ev/s  ETA 0:06"
        );
        let done = line(2_500, 2_000, None, "caught up");
        assert!(
            done.starts_with("[##############################] 100% 2,000/2,000 events"),
            "{done}"
        );
        assert!(done.ends_with("caught up"), "{done}");
        assert!(
            line(0, 0, None, "").contains("100%"),
            "an empty log is done"
        );
    }
}
