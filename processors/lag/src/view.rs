//! The terminal view: one table row per group and partition, then one line per
//! group that says where it is heading. Pure text; the caller decides where it goes
//! and whether to clear the screen first.
//!
//! ```text
//! ledgerstream lag · 12:30:05 UTC · 1 group · every 5 s · stalled after 5 m
//!
//! GROUP      TOPIC             PARTITION  COMMITTED  LOG END  LAG  LAG (S)  TREND  ETA  STATUS
//! processor  account-commands          0        120      120    0      0.0  →      0 s  caught up
//! processor  account-commands          1         98      130   32      1.3  ↓      4 s  behind
//!
//! processor: 32 behind, oldest 1.3 s, ↓ -8.0/s, caught up in ~4 s
//! ```
//!
//! Unknowns print as `-`: a trend needs two samples, so `--once` has none.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use comfy_table::presets::NOTHING;
use comfy_table::{Attribute, Cell, CellAlignment, Color, Table};
use crossterm::style::Stylize;
use jiff::Timestamp;

use super::config::LagConfig;
use super::monitor::{GroupReport, PartitionReport, Report};
use super::trend::Direction;

/// How the view is drawn.
#[derive(Debug, Clone, Copy)]
pub struct ViewOptions {
    /// ANSI colours (a terminal).
    pub color: bool,
    pub interval: Duration,
    pub stall_after: Duration,
}

impl ViewOptions {
    /// The view of `config` on standard output: coloured only for the live view
    /// on a terminal; one table (`once`) is for files, pipes and scripts as
    /// often as for people.
    pub fn for_stdout(config: &LagConfig, once: bool, terminal: bool) -> Self {
        Self {
            color: terminal && !once,
            interval: config.interval(),
            stall_after: config.stall_after(),
        }
    }
}

/// The column titles, in order; scripts can rely on them.
pub const COLUMNS: [&str; 10] = [
    "GROUP",
    "TOPIC",
    "PARTITION",
    "COMMITTED",
    "LOG END",
    "LAG",
    "LAG (S)",
    "TREND",
    "ETA",
    "STATUS",
];

/// Columns aligned right (the numbers).
const RIGHT: [bool; 10] = [
    false, false, true, true, true, true, true, false, true, false,
];

/// Spaces between two columns.
const GAP: u16 = 2;

/// The whole view of `report`.
pub fn render(report: &Report, options: ViewOptions) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "ledgerstream lag · {} · {} group{} · every {} · stalled after {}",
        time_of_day(report.taken_at),
        report.groups.len(),
        if report.groups.len() == 1 { "" } else { "s" },
        duration(options.interval),
        duration(options.stall_after),
    );
    out.push('\n');
    if report.groups.is_empty() {
        out.push_str("no consumer groups\n");
        return out;
    }
    let rows: Vec<(Vec<String>, Status)> = report
        .groups
        .iter()
        .flat_map(|group| group.partitions.iter().map(move |p| row(group, p)))
        .collect();
    if !rows.is_empty() {
        out.push_str(&table(rows, options.color).trim_fmt());
        out.push_str("\n\n");
    }
    for group in &report.groups {
        out.push_str(&summary(group, options));
        out.push('\n');
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    CaughtUp,
    Behind,
    Stalled,
}

impl Status {
    fn text(self) -> &'static str {
        match self {
            Status::CaughtUp => "caught up",
            Status::Behind => "behind",
            Status::Stalled => "STALLED",
        }
    }

    /// The status cell: green, yellow or bold red when styled.
    fn cell(self) -> Cell {
        let cell = Cell::new(self.text());
        match self {
            Status::CaughtUp => cell.fg(Color::DarkGreen),
            Status::Behind => cell.fg(Color::DarkYellow),
            Status::Stalled => cell.fg(Color::DarkRed).add_attribute(Attribute::Bold),
        }
    }
}

/// A row's cells but the status, and the status.
fn row(group: &GroupReport, partition: &PartitionReport) -> (Vec<String>, Status) {
    let sample = &partition.sample;
    let trend = &partition.trend;
    let status = if trend.stalled {
        Status::Stalled
    } else if sample.lag > 0 {
        Status::Behind
    } else {
        Status::CaughtUp
    };
    let cells = vec![
        group.group.clone(),
        sample.topic.clone(),
        sample.partition.to_string(),
        sample
            .committed
            .map_or_else(|| "-".to_owned(), |c| c.to_string()),
        sample.log_end.to_string(),
        sample.lag.to_string(),
        sample
            .lag_seconds
            .map_or_else(|| "-".to_owned(), |s| format!("{s:.1}")),
        trend.direction.map_or("-", Direction::arrow).to_owned(),
        trend.eta.map_or_else(|| "-".to_owned(), duration),
    ];
    (cells, status)
}

/// The rows under [`COLUMNS`], without borders: columns two spaces apart,
/// numbers aligned right, the status coloured only when `color` (never from
/// comfy-table's own look at stdout: the caller decides).
fn table(rows: Vec<(Vec<String>, Status)>, color: bool) -> Table {
    let mut table = Table::new();
    table.load_style(NOTHING).set_header(COLUMNS);
    if color {
        table.enforce_styling().style_text_only();
    } else {
        table.force_no_tty();
    }
    for (cells, status) in rows {
        table.add_row(cells.into_iter().map(Cell::new).chain([status.cell()]));
    }
    let last = COLUMNS.len() - 1;
    for (index, column) in table.column_iter_mut().enumerate() {
        column.set_padding((0, if index == last { 0 } else { GAP }));
        if RIGHT[index] {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    table
}

/// `group: 32 behind, oldest 1.3 s, ↓ -8.0/s, caught up in ~4 s`
fn summary(group: &GroupReport, options: ViewOptions) -> String {
    let mut text = group.group.clone();
    if let Some(state) = &group.state {
        let _ = write!(text, " ({state})");
    }
    text.push_str(": ");
    if group.partitions.is_empty() {
        text.push_str("no committed offsets on any existing topic");
        return text;
    }
    if group.lag == 0 {
        text.push_str("caught up");
        return text;
    }
    let _ = write!(text, "{} behind", group.lag);
    if let Some(seconds) = group.lag_seconds {
        let _ = write!(text, ", oldest {}", age(seconds));
    }
    if let (Some(direction), Some(rate)) = (group.trend.direction, group.trend.rate) {
        let _ = write!(text, ", {} {rate:+.1}/s", direction.arrow());
    }
    if group.stalled {
        let stuck = group
            .partitions
            .iter()
            .map(|p| p.trend.without_progress)
            .chain([group.trend.without_progress])
            .max()
            .unwrap_or_default();
        let flag = if options.color {
            "STALLED".dark_red().bold().to_string()
        } else {
            "STALLED".to_owned()
        };
        let _ = write!(text, ", {flag}: not falling for {}", duration(stuck));
    } else {
        match group.trend.eta {
            Some(eta) => {
                let _ = write!(text, ", caught up in ~{}", duration(eta));
            }
            None if group.trend.direction.is_some() => text.push_str(", not catching up"),
            None => {}
        }
    }
    text
}

/// `0 s`, `45 s`, `3 m 20 s`, `2 h 5 m`, `3 d 4 h`.
pub fn duration(duration: Duration) -> String {
    let secs = duration.as_secs_f64().round() as u64;
    let (d, h, m, s) = (secs / 86_400, secs / 3_600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, _) if s == 0 => format!("{m} m"),
        (0, 0, _) => format!("{m} m {s} s"),
        (0, _, _) => format!("{h} h {m} m"),
        _ => format!("{d} d {h} h"),
    }
}

/// `1.3 s` under a minute, then as [`duration`].
fn age(seconds: f64) -> String {
    if seconds < 60.0 {
        format!("{seconds:.1} s")
    } else {
        duration(Duration::from_secs_f64(seconds))
    }
}

/// `HH:MM:SS UTC`.
fn time_of_day(at: SystemTime) -> String {
    let at = Timestamp::try_from(at).unwrap_or(Timestamp::UNIX_EPOCH);
    at.strftime("%H:%M:%S UTC").to_string()
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::sample::PartitionSample;
    use crate::trend::Assessment;

    fn assessment(lag: i64, direction: Option<Direction>, stalled: bool) -> Assessment {
        Assessment {
            lag,
            direction,
            rate: direction.map(|d| if d == Direction::Falling { -8.0 } else { 0.0 }),
            eta: match (lag, direction) {
                (0, _) => Some(Duration::ZERO),
                (_, Some(Direction::Falling)) => Some(Duration::from_secs(4)),
                _ => None,
            },
            stalled,
            without_progress: if stalled {
                Duration::from_secs(320)
            } else {
                Duration::ZERO
            },
        }
    }

    fn partition(
        partition: i32,
        committed: Option<i64>,
        log_end: i64,
        trend: Assessment,
    ) -> PartitionReport {
        PartitionReport {
            sample: PartitionSample {
                topic: "account-commands".to_owned(),
                partition,
                committed,
                log_start: 0,
                log_end,
                lag: log_end - committed.unwrap_or(0),
                lag_seconds: Some(if trend.lag > 0 { 1.3 } else { 0.0 }),
            },
            trend,
        }
    }

    fn report() -> Report {
        let falling = assessment(32, Some(Direction::Falling), false);
        let caught_up = assessment(0, Some(Direction::Flat), false);
        let stuck = assessment(10, Some(Direction::Flat), true);
        Report {
            // 12:30:05 UTC
            taken_at: UNIX_EPOCH
                + Duration::from_secs(1_700_000_000 - 1_700_000_000 % 86_400 + 45_005),
            groups: vec![
                GroupReport {
                    group: "processor".to_owned(),
                    state: Some("Stable".to_owned()),
                    lag: 32,
                    lag_seconds: Some(1.3),
                    trend: falling,
                    stalled: false,
                    partitions: vec![
                        partition(0, Some(120), 120, caught_up),
                        partition(1, Some(98), 130, falling),
                    ],
                },
                GroupReport {
                    group: "sink".to_owned(),
                    state: None,
                    lag: 10,
                    lag_seconds: Some(1.3),
                    trend: stuck,
                    stalled: true,
                    partitions: vec![partition(0, None, 10, stuck)],
                },
                GroupReport {
                    group: "idle".to_owned(),
                    state: None,
                    lag: 0,
                    lag_seconds: None,
                    trend: assessment(0, None, false),
                    stalled: false,
                    partitions: vec![],
                },
            ],
        }
    }

    const PLAIN: ViewOptions = ViewOptions {
        color: false,
        interval: Duration::from_secs(5),
        stall_after: Duration::from_secs(300),
    };

    #[test]
    fn the_table_has_a_row_per_group_and_partition() {
        let text = render(&report(), PLAIN);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "ledgerstream lag · 12:30:05 UTC · 3 groups · every 5 s · stalled after 5 m"
        );
        let header: Vec<&str> = lines[2]
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        assert_eq!(header, COLUMNS);
        let rows: Vec<Vec<&str>> = lines[3..6]
            .iter()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(
            rows[0],
            [
                "processor",
                "account-commands",
                "0",
                "120",
                "120",
                "0",
                "0.0",
                "→",
                "0",
                "s",
                "caught",
                "up"
            ]
        );
        assert_eq!(
            rows[1],
            [
                "processor",
                "account-commands",
                "1",
                "98",
                "130",
                "32",
                "1.3",
                "↓",
                "4",
                "s",
                "behind"
            ]
        );
        assert_eq!(
            rows[2],
            [
                "sink",
                "account-commands",
                "0",
                "-",
                "10",
                "10",
                "1.3",
                "→",
                "-",
                "STALLED"
            ]
        );
    }

    #[test]
    fn columns_line_up() {
        let text = render(&report(), PLAIN);
        let lines: Vec<&str> = text.lines().collect();
        let lag_end = lines[2].find("LAG ").unwrap() + "LAG".len();
        for row in &lines[3..6] {
            let before: String = row.chars().take(lag_end).collect();
            assert!(
                before.ends_with(char::is_numeric),
                "LAG right-aligned in `{row}`"
            );
        }
    }

    #[test]
    fn each_group_gets_a_summary() {
        let text = render(&report(), PLAIN);
        assert!(
            text.contains(
                "processor (Stable): 32 behind, oldest 1.3 s, ↓ -8.0/s, caught up in ~4 s"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "sink: 10 behind, oldest 1.3 s, → +0.0/s, STALLED: not falling for 5 m 20 s"
            ),
            "{text}"
        );
        assert!(
            text.contains("idle: no committed offsets on any existing topic"),
            "{text}"
        );
    }

    #[test]
    fn colour_marks_the_status_only_when_asked() {
        let plain = render(&report(), PLAIN);
        assert!(!plain.contains('\x1b'), "{plain:?}");
        let colored = render(
            &report(),
            ViewOptions {
                color: true,
                ..PLAIN
            },
        );
        let lines: Vec<&str> = colored.lines().collect();
        for (row, status) in lines[3..6].iter().zip(["caught up", "behind", "STALLED"]) {
            let (before, styled) = row.split_once('\x1b').expect("a styled status");
            assert!(
                !before.contains(status) && styled.contains(status),
                "{row:?}"
            );
        }
        assert!(colored.contains(&"STALLED".dark_red().bold().to_string()));
        assert_eq!(colored.lines().count(), plain.lines().count());
    }

    #[test]
    fn off_a_terminal_or_once_the_view_carries_no_escape_codes() {
        let config = LagConfig::new("localhost:9092");
        for (once, terminal) in [(true, false), (false, false), (true, true)] {
            let text = render(&report(), ViewOptions::for_stdout(&config, once, terminal));
            assert!(text.contains("STALLED"), "{text}");
            assert!(
                !text.contains('\x1b'),
                "once {once}, terminal {terminal}: {text:?}"
            );
        }
        let live = render(&report(), ViewOptions::for_stdout(&config, false, true));
        assert!(
            live.contains('\x1b'),
            "the live view on a terminal has colour"
        );
    }

    #[test]
    fn no_groups_says_so() {
        let empty = Report {
            taken_at: UNIX_EPOCH,
            groups: vec![],
        };
        assert!(render(&empty, PLAIN).ends_with("no consumer groups\n"));
    }

    #[test]
    fn ages_over_a_minute_read_as_durations() {
        assert_eq!(age(1.3), "1.3 s");
        assert_eq!(age(59.94), "59.9 s");
        assert_eq!(age(95_264_557.2), "1102 d 14 h");
    }

    #[test]
    fn durations_read_at_a_glance() {
        let cases = [
            (0, "0 s"),
            (45, "45 s"),
            (180, "3 m"),
            (200, "3 m 20 s"),
            (7_500, "2 h 5 m"),
            (273_600, "3 d 4 h"),
        ];
        for (secs, text) in cases {
            assert_eq!(duration(Duration::from_secs(secs)), text);
        }
    }
}
