//! How far a replay is, on stderr: an indicatif bar (events per second, the time
//! left) drawn in place while stderr is a terminal and hidden otherwise, then a
//! closing line printed either way. [`StatusLine`] is the same without a bar,
//! for the commands that only have a line of figures to show.

use indicatif::{HumanCount, ProgressBar, ProgressDrawTarget, ProgressStyle};

const BAR_TEMPLATE: &str =
    "[{bar:30}] {percent:>3}% {human_pos}/{human_len} events  {per_sec:0}  ETA {eta}  {msg}";

/// The replay's bar on stderr.
#[derive(Debug)]
pub struct Bar {
    bar: ProgressBar,
}

impl Bar {
    /// A bar at `done` of `total` events; the rate counts only what is done
    /// from here on (a resumed replay does not start with a burst).
    pub fn start(done: u64, total: u64) -> Self {
        let style = ProgressStyle::with_template(BAR_TEMPLATE)
            .expect("the bar's template is valid")
            .progress_chars("#-");
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
            .with_style(style)
            .with_position(done.min(total));
        // Records the starting position, then forgets it for the rate.
        bar.tick();
        bar.reset_eta();
        Self { bar }
    }

    /// Where the replay is; beyond `total` (the log has grown) counts as done.
    pub fn update(&self, done: u64, total: u64, note: &str) {
        self.bar.set_length(total);
        self.bar.set_position(done.min(total));
        self.bar.set_message(note.to_owned());
    }

    /// Clears the bar and prints the closing line, terminal or not.
    pub fn finish(&self, done: u64, total: u64, note: &str) {
        self.update(done, total, note);
        let per_second = self.bar.per_sec();
        self.bar.finish_and_clear();
        eprintln!("{}", closing_line(done, total, per_second, note));
    }

    /// Leaves the bar as it is, so that what follows starts on a line of its own.
    pub fn break_line(&self) {
        self.bar.abandon();
    }
}

/// ` 100% 2,000/2,000 events  400 ev/s  caught up`.
fn closing_line(done: u64, total: u64, per_second: f64, note: &str) -> String {
    let shown = done.min(total);
    let percent = (shown * 100).checked_div(total).unwrap_or(100);
    let mut text = format!(
        "{percent:>3}% {}/{} events  {} ev/s",
        HumanCount(shown),
        HumanCount(total),
        HumanCount(per_second.round() as u64),
    );
    if !note.is_empty() {
        text.push_str("  ");
        text.push_str(note);
    }
    text
}

/// A line of figures on stderr, redrawn in place while stderr is a terminal and
/// hidden otherwise.
#[derive(Debug)]
pub struct StatusLine {
    line: ProgressBar,
}

impl Default for StatusLine {
    fn default() -> Self {
        Self::new()
    }
}

impl StatusLine {
    pub fn new() -> Self {
        let style = ProgressStyle::with_template("{msg}").expect("the line's template is valid");
        Self {
            line: ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
                .with_style(style),
        }
    }

    pub fn show(&self, text: impl Into<String>) {
        self.line.set_message(text.into());
    }

    /// Takes the line off the screen.
    pub fn clear(&self) {
        self.line.finish_and_clear();
    }

    /// Takes the line off the screen and prints `text` for good, terminal or not.
    pub fn finish(&self, text: &str) {
        self.clear();
        eprintln!("{text}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_closing_line_shows_share_counts_rate_and_note() {
        assert_eq!(
            closing_line(2_500, 2_000, 399.6, "caught up"),
            "100% 2,000/2,000 events  400 ev/s  caught up"
        );
        assert_eq!(
            closing_line(500, 2_000, 0.0, ""),
            " 25% 500/2,000 events  0 ev/s"
        );
        assert!(
            closing_line(0, 0, 0.0, "").starts_with("100%"),
            "an empty log is done"
        );
    }
}
