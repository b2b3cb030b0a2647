//! Current ClickHouse for the tests: chDB (ClickHouse's engine in-process, from
//! PyPI), driven through `tests/chdb/driver.py` — SQL in as JSON lines, answers
//! back as JSON. No current ClickHouse server installs on these machines; chDB
//! runs the same SQL engine. `infra/local/chdb.sh install` (run by `make test`)
//! installs the version `infra/chdb/requirements.txt` pins.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{Value, json};

use crate::TempDir;

/// The pin file: its `chdb==<version>` line names the version.
const REQUIREMENTS: &str = include_str!("../../infra/chdb/requirements.txt");

/// The chDB version `infra/chdb/requirements.txt` pins.
pub fn pinned_version() -> &'static str {
    REQUIREMENTS
        .lines()
        .find_map(|line| line.trim().strip_prefix("chdb=="))
        .expect("infra/chdb/requirements.txt pins chdb==<version>")
}

/// The interpreter of the venv `infra/local/chdb.sh` installs:
/// `LEDGERSTREAM_CHDB_PYTHON`, or `<tools>/chdb-<version>/venv/bin/python` with
/// the tools folder the local stack uses (`LEDGERSTREAM_TOOLS`, by default
/// `~/.local/share/ledgerstream/tools`).
pub fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("LEDGERSTREAM_CHDB_PYTHON") {
        return PathBuf::from(python);
    }
    let tools = std::env::var_os("LEDGERSTREAM_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").expect("HOME is set");
            PathBuf::from(home).join(".local/share/ledgerstream/tools")
        });
    tools
        .join(format!("chdb-{}", pinned_version()))
        .join("venv/bin/python")
}

/// What a statement returned: columns and rows (JSONCompact's `meta` and `data`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// `(name, type)` of each column.
    pub columns: Vec<(String, String)>,
    /// Every value as text: 18.16 quotes 64-bit integers in JSON, current
    /// releases do not, and the values are the same either way.
    pub rows: Vec<Vec<String>>,
}

impl Answer {
    /// Reads a `JSONCompact` answer.
    ///
    /// # Panics
    ///
    /// When `value` is not one.
    pub fn from_json_compact(value: &Value) -> Self {
        let columns = value["meta"]
            .as_array()
            .expect("JSONCompact has meta")
            .iter()
            .map(|column| {
                let text = |key: &str| column[key].as_str().expect("name and type").to_owned();
                (text("name"), text("type"))
            })
            .collect();
        let rows = value["data"]
            .as_array()
            .expect("JSONCompact has data")
            .iter()
            .map(|row| {
                row.as_array()
                    .expect("a row is an array")
                    .iter()
                    .map(|cell| match cell {
                        Value::String(text) => text.clone(),
                        other => other.to_string(),
                    })
                    .collect()
            })
            .collect();
        Self { columns, rows }
    }
}

/// A chDB session in a process of its own, its data in a temporary folder.
#[derive(Debug)]
pub struct ChDb {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// The chDB release.
    pub chdb_version: String,
    /// `version()`: the ClickHouse release it embeds.
    pub version: String,
    _data: TempDir,
}

impl ChDb {
    /// Starts a session.
    ///
    /// # Panics
    ///
    /// When chDB is not installed (the message says how to install it) or does
    /// not start.
    pub fn start() -> Self {
        let python = python();
        assert!(
            python.exists(),
            "chDB {} is not installed ({} is missing); install it with \
             `infra/local/chdb.sh install` (`make test` does), or point \
             LEDGERSTREAM_CHDB_PYTHON at a Python that has `chdb`",
            pinned_version(),
            python.display()
        );
        let data = TempDir::new("chdb");
        let driver = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("chdb/driver.py");
        let mut child = Command::new(&python)
            .arg(&driver)
            .arg(data.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {} {}: {e}", python.display(), driver.display()));
        let stdin = child.stdin.take().expect("piped stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let hello = read_line(&mut stdout);
        let text = |key: &str| {
            hello[key]
                .as_str()
                .unwrap_or_else(|| panic!("the driver's first line lacks {key}: {hello}"))
                .to_owned()
        };
        Self {
            chdb_version: text("chdb"),
            version: text("clickhouse"),
            child,
            stdin,
            stdout,
            _data: data,
        }
    }

    /// Runs one statement; `rows` asks for its answer (a `SELECT`). The
    /// server's message when it refuses.
    pub fn run(&mut self, sql: &str, rows: bool) -> Result<Option<Answer>, String> {
        let request = if rows {
            json!({ "sql": sql, "format": "JSONCompact" })
        } else {
            json!({ "sql": sql })
        };
        writeln!(self.stdin, "{request}").expect("writing to the chDB driver");
        self.stdin.flush().expect("writing to the chDB driver");
        let reply = read_line(&mut self.stdout);
        if reply["ok"] != Value::Bool(true) {
            return Err(reply["error"].as_str().unwrap_or("no message").to_owned());
        }
        Ok(match &reply["answer"] {
            Value::Null => None,
            answer => Some(Answer::from_json_compact(answer)),
        })
    }
}

fn read_line(stdout: &mut BufReader<ChildStdout>) -> Value {
    let mut line = String::new();
    let read = stdout
        .read_line(&mut line)
        .expect("reading from the chDB driver");
    assert!(read > 0, "the chDB driver stopped; its errors are above");
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("the chDB driver said {line:?}: {e}"))
}

impl Drop for ChDb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
