//! CPU time per thread of this process, and of another process, from `/proc`:
//! what the processor's own threads cost apart from librdkafka's and the
//! broker's.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

/// One thread's name and CPU time (user + system) so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadTime {
    pub name: String,
    pub cpu: Duration,
}

/// Every thread of this process, by id, at one moment.
#[derive(Debug, Clone, Default)]
pub struct Threads(pub BTreeMap<u32, ThreadTime>);

impl Threads {
    /// The threads of this process now; threads that end while being read are
    /// left out.
    pub fn now() -> Self {
        let mut threads = BTreeMap::new();
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
            return Self(threads);
        };
        for task in tasks.flatten() {
            let Some(id) = task.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            if let Some((name, cpu)) = read_stat(&task.path().join("stat")) {
                threads.insert(id, ThreadTime { name, cpu });
            }
        }
        Self(threads)
    }

    /// The CPU each thread not in `before_start` spent from `self` to `later`,
    /// summed by thread name: the threads started since `before_start` was taken.
    pub fn spent_by_new(
        &self,
        later: &Threads,
        before_start: &Threads,
    ) -> BTreeMap<String, Duration> {
        let mut by_name = BTreeMap::new();
        for (id, end) in &later.0 {
            if before_start.0.contains_key(id) {
                continue;
            }
            let start = self.0.get(id).map_or(Duration::ZERO, |t| t.cpu);
            *by_name.entry(end.name.clone()).or_insert(Duration::ZERO) +=
                end.cpu.saturating_sub(start);
        }
        by_name
    }
}

/// A whole process's CPU time so far (every thread); `None` once it is gone.
pub fn process_cpu(pid: u32) -> Option<Duration> {
    read_stat(Path::new(&format!("/proc/{pid}/stat"))).map(|(_, cpu)| cpu)
}

/// The name and user + system time of a `/proc/…/stat` file.
fn read_stat(path: &Path) -> Option<(String, Duration)> {
    parse_stat(&std::fs::read_to_string(path).ok()?, ticks_per_second())
}

/// `pid (name) state ppid …`: the name may hold spaces and parentheses, so the
/// fields are counted from the last `)`; utime and stime are fields 14 and 15.
fn parse_stat(stat: &str, ticks_per_second: u64) -> Option<(String, Duration)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_owned();
    let mut fields = stat.get(close + 1..)?.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    let ticks = user + system;
    let tick = Duration::from_secs(1) / u32::try_from(ticks_per_second.max(1)).unwrap_or(100);
    Some((name, tick * u32::try_from(ticks).unwrap_or(u32::MAX)))
}

/// The kernel's clock ticks per second for `/proc` times (`getconf CLK_TCK`;
/// 100 on every Linux this runs on, asked once).
fn ticks_per_second() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(100)
    })
}

/// The process listening on `port` of this machine (the broker), found with
/// `ss`; `None` when it is not visible (another user's process, or remote).
pub fn listener_pid(port: u16) -> Option<u32> {
    let out = std::process::Command::new("ss")
        .args(["-ltnpH", &format!("sport = :{port}")])
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let at = text.find("pid=")? + 4;
    let digits: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_gives_its_name_and_cpu() {
        let stat = "4242 (rdk:broker (1)) S 1 4242 4242 0 -1 4194368 97 0 0 0 \
                    250 50 0 0 20 0 12 0 1000 1000 100";
        let (name, cpu) = parse_stat(stat, 100).expect("parses");
        assert_eq!(name, "rdk:broker (1)");
        assert_eq!(cpu, Duration::from_secs(3));
    }

    #[test]
    fn a_cut_stat_line_is_refused() {
        assert_eq!(parse_stat("4242 (main) S 1 2", 100), None);
    }

    #[test]
    fn new_threads_are_summed_by_name() {
        let at = |entries: &[(u32, &str, u64)]| {
            Threads(
                entries
                    .iter()
                    .map(|&(id, name, millis)| {
                        (
                            id,
                            ThreadTime {
                                name: name.into(),
                                cpu: Duration::from_millis(millis),
                            },
                        )
                    })
                    .collect(),
            )
        };
        let before_start = at(&[(1, "main", 5)]);
        let window_start = at(&[(1, "main", 10), (2, "rdk:main", 100), (3, "rdk:main", 40)]);
        let window_end = at(&[
            (1, "main", 500),
            (2, "rdk:main", 130),
            (3, "rdk:main", 50),
            (4, "processor", 70),
        ]);
        let spent = window_start.spent_by_new(&window_end, &before_start);
        assert_eq!(
            spent.get("main"),
            None,
            "threads older than the start are not counted"
        );
        assert_eq!(spent["rdk:main"], Duration::from_millis(40));
        assert_eq!(spent["processor"], Duration::from_millis(70));
    }
}
