//! The Grafana dashboards and the Prometheus alert rules, proven without Grafana:
//!
//! - every dashboard under `infra/grafana/dashboards/` is provisionable JSON whose
//!   panels query the data source with uid `prometheus`;
//! - `promtool` accepts `infra/prometheus/rules/` and their unit tests pass;
//! - every panel's PromQL, run against the real local Prometheus while it scrapes a
//!   running processor (port 9601) and lag exporter (port 9603), returns data; the
//!   projector's panels (`projections.json`) likewise with a running projector (port
//!   9602), in a test of their own.
//!
//! Those two tests need the ports the local Prometheus scrapes, which are the same
//! for every checkout on the machine: each takes a file lock first, and fails
//! (never skips) when something else holds a port.

// Test code: a failed unwrap is a failed test, and amounts read as units_cents.
#![allow(clippy::unwrap_used, clippy::inconsistent_digit_grouping)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ledgerstream_infra::Service;
use ledgerstream_producers::commands;
use ledgerstream_projections::clickhouse::{ClickHouseConfig, client, schema};
use ledgerstream_schemas::records::{AccountType, Channel};
use ledgerstream_tests::pipeline::Pipeline;
use ledgerstream_tests::{TempDir, ledgerstream_bin, require, unique_name};
use serde_json::Value;

const DASHBOARDS: &str = "infra/grafana/dashboards";
const RULES: &str = "infra/prometheus/rules";
const RULE_TESTS: &str = "infra/prometheus/tests";
const DATASOURCE_UID: &str = "prometheus";

/// Where the local Prometheus scrapes the processor, the projector and the lag
/// exporter (`infra/prometheus/prometheus.yml`).
const PROCESSOR_PORT: u16 = 9601;
const PROJECTOR_PORT: u16 = 9602;
const LAG_PORT: u16 = 9603;
/// The dashboard of the projector's own metrics.
const PROJECTIONS: &str = "projections.json";
/// The dashboard of the continuous auditor (`ledgerstream audit --serve`).
const AUDIT: &str = "audit.json";
/// Held while a test uses those ports.
const PORTS_LOCK: &str = "ledgerstream-scraped-ports.lock";

/// What Grafana puts in place of its built-in interval variables.
const INTERVALS: [(&str, &str); 4] = [
    ("__rate_interval", "1m"),
    ("__interval", "1m"),
    ("__range", "5m"),
    ("__range_s", "300"),
];

// --- tests -------------------------------------------------------------------------

#[test]
fn every_dashboard_is_provisionable_json_on_the_prometheus_data_source() {
    let dashboards = dashboards();
    assert!(
        dashboards.len() >= 4,
        "{DASHBOARDS}: expected lag, throughput, latency and dead letters"
    );
    let mut problems = Vec::new();
    let mut uids = BTreeSet::new();
    let mut titles = BTreeSet::new();
    for dashboard in &dashboards {
        let file = &dashboard.file;
        let json = &dashboard.json;
        let text = |key: &str| json.get(key).and_then(Value::as_str).unwrap_or_default();
        let uid = text("uid");
        if uid.is_empty() || uid.len() > 40 {
            problems.push(format!("{file}: uid `{uid}` must be 1 to 40 characters"));
        }
        if !uids.insert(uid.to_owned()) {
            problems.push(format!("{file}: uid `{uid}` is used twice"));
        }
        if text("title").is_empty() || !titles.insert(text("title").to_owned()) {
            problems.push(format!("{file}: the title is empty or used twice"));
        }
        if json.get("schemaVersion").and_then(Value::as_u64).is_none() {
            problems.push(format!("{file}: no schemaVersion"));
        }
        let variables = variable_names(json);
        for variable in templating(json) {
            let name = variable
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if datasource_uid(variable) != Some(DATASOURCE_UID) {
                problems.push(format!(
                    "{file}: variable `{name}` does not use data source `{DATASOURCE_UID}`"
                ));
            }
            if label_values(&variable_query(variable)).is_none() {
                problems.push(format!(
                    "{file}: variable `{name}` is not a label_values(...) query"
                ));
            }
        }
        let panels = panels(json);
        if panels.is_empty() {
            problems.push(format!("{file}: no panels"));
        }
        let mut ids = BTreeSet::new();
        for panel in panels {
            let title = panel
                .get("title")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let at = format!("{file}: panel `{title}`");
            if title.is_empty() {
                problems.push(format!("{file}: a panel has no title"));
            }
            match panel.get("id").and_then(Value::as_u64) {
                Some(id) if ids.insert(id) => {}
                id => problems.push(format!("{at}: id {id:?} missing or used twice")),
            }
            let grid = panel.get("gridPos");
            let cell = |key: &str| grid.and_then(|g| g.get(key)).and_then(Value::as_u64);
            match (cell("x"), cell("y"), cell("w"), cell("h")) {
                (Some(x), Some(_), Some(w), Some(h)) if x + w <= 24 && w > 0 && h > 0 => {}
                other => problems.push(format!(
                    "{at}: gridPos {other:?} is not inside the 24-column grid"
                )),
            }
            if panel.get("type").and_then(Value::as_str) == Some("row") {
                continue;
            }
            if datasource_uid(panel) != Some(DATASOURCE_UID) {
                problems.push(format!("{at}: does not use data source `{DATASOURCE_UID}`"));
            }
            let targets = panel
                .get("targets")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if targets.is_empty() {
                problems.push(format!("{at}: no query"));
            }
            let mut refs = BTreeSet::new();
            for target in &targets {
                let ref_id = target
                    .get("refId")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if ref_id.is_empty() || !refs.insert(ref_id.to_owned()) {
                    problems.push(format!("{at}: refId `{ref_id}` empty or used twice"));
                }
                if datasource_uid(target) != Some(DATASOURCE_UID) {
                    problems.push(format!(
                        "{at} {ref_id}: does not use data source `{DATASOURCE_UID}`"
                    ));
                }
                let expr = target
                    .get("expr")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if expr.trim().is_empty() {
                    problems.push(format!("{at} {ref_id}: empty expr"));
                }
                for used in used_variables(expr) {
                    if !variables.contains(&used)
                        && !INTERVALS.iter().any(|(name, _)| *name == used)
                    {
                        problems.push(format!(
                            "{at} {ref_id}: uses `${used}`, which the dashboard does not define"
                        ));
                    }
                }
            }
        }
    }
    assert_no_problems(&problems);
}

#[test]
fn the_alert_rules_pass_promtool_and_their_unit_tests() {
    match Command::new("promtool").arg("--version").output() {
        Ok(output) if output.status.success() => {}
        Ok(output) => panic!(
            "promtool --version failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(error) => panic!(
            "promtool is missing ({error}): it checks the alert rules. Install Debian's \
             prometheus package, which ships it: apt-get install -y --no-install-recommends prometheus"
        ),
    }
    let root = repo_root();
    let rules = yaml_files(&root.join(RULES));
    assert!(!rules.is_empty(), "no rule files under {RULES}");
    let check = Command::new("promtool")
        .args(["check", "rules"])
        .args(&rules)
        .output()
        .expect("promtool");
    assert!(
        check.status.success(),
        "promtool check rules:\n{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let tests = yaml_files(&root.join(RULE_TESTS));
    assert!(!tests.is_empty(), "no rule unit tests under {RULE_TESTS}");
    let test = Command::new("promtool")
        .args(["test", "rules"])
        .args(&tests)
        .output()
        .expect("promtool");
    assert!(
        test.status.success(),
        "promtool test rules:\n{}{}",
        String::from_utf8_lossy(&test.stdout),
        String::from_utf8_lossy(&test.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_panel_returns_data_from_a_running_pipeline() {
    let _ports = lock_scraped_ports();
    for port in [PROCESSOR_PORT, LAG_PORT] {
        assert_port_free(port);
    }
    let prometheus = Prometheus::new(require(Service::Prometheus).await.address);
    for (job, port) in [
        ("ledgerstream-processor", PROCESSOR_PORT),
        ("ledgerstream-lag", LAG_PORT),
    ] {
        prometheus.assert_scrapes(job, port).await;
    }

    // A processor where Prometheus looks, fed commands that are accepted, one that
    // is rejected and one that cannot be read (a dead letter).
    let pipeline = Pipeline::new(3).await;
    let processor = pipeline
        .processor_on_port("dashboards", PROCESSOR_PORT, &[])
        .await;
    send_commands(&pipeline).await;
    let exporter = LagExporter::start(&format!("processor{}", pipeline.suffix));
    let logs = || {
        format!(
            "lag exporter log:\n{}\nprocessor log:\n{}",
            exporter.log(),
            processor.log_tail()
        )
    };
    for job in ["ledgerstream-processor", "ledgerstream-lag"] {
        prometheus.wait_up(job, &logs).await;
    }
    let dashboards = dashboards()
        .into_iter()
        .filter(|d| !d.file.ends_with(PROJECTIONS) && !d.file.ends_with(AUDIT))
        .collect();
    assert_every_query_has_data(&prometheus, dashboards, &logs).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_projection_panel_returns_data_from_a_running_projector() {
    let _ports = lock_scraped_ports();
    assert_port_free(PROJECTOR_PORT);
    let prometheus = Prometheus::new(require(Service::Prometheus).await.address);
    prometheus
        .assert_scrapes("ledgerstream-projector", PROJECTOR_PORT)
        .await;
    let tables = TableSet::new().await;

    let pipeline = Pipeline::new(3).await;
    let processor = pipeline.processor("dashboards", &[]).await;
    send_commands(&pipeline).await;
    let projector = pipeline
        .projector_on_port(
            "projector",
            &tables.suffix,
            PROJECTOR_PORT,
            &["--batch-millis", "50"],
        )
        .await;
    let logs = || {
        format!(
            "projector log:\n{}\nprocessor log:\n{}",
            projector.log_tail(),
            processor.log_tail()
        )
    };
    prometheus.wait_up("ledgerstream-projector", &logs).await;
    let dashboards = dashboards()
        .into_iter()
        .filter(|d| d.file.ends_with(PROJECTIONS))
        .collect();
    assert_every_query_has_data(&prometheus, dashboards, &logs).await;
}

/// Commands that are accepted, one that is rejected and one that cannot be read
/// (a dead letter).
async fn send_commands(pipeline: &Pipeline) {
    // Amounts in cents.
    let sent = [
        commands::open_account(
            "acc-dash-a",
            "owner-1",
            AccountType::Checking,
            50_000,
            "USD",
        ),
        commands::open_account(
            "acc-dash-b",
            "owner-2",
            AccountType::Savings,
            100_000,
            "USD",
        ),
        commands::deposit("acc-dash-a", 2_500, "USD"),
        commands::withdraw("acc-dash-a", 1_000, "USD", Channel::Atm),
        commands::transfer("acc-dash-b", "acc-dash-a", 5_000, "USD"),
        // More than the balance: rejected.
        commands::withdraw("acc-dash-a", 100_000_000, "USD", Channel::Online),
    ];
    for command in &sent {
        pipeline.sender.send(command).await.expect("send a command");
    }
    pipeline
        .sender
        .send_raw(b"acc-dash-a", b"not avro")
        .await
        .expect("send garbage");
}

/// Runs every panel query and variable query of `dashboards` until each has data,
/// for up to two minutes in all (rates need two scrapes inside their window).
async fn assert_every_query_has_data(
    prometheus: &Prometheus,
    dashboards: Vec<Dashboard>,
    logs: &dyn Fn() -> String,
) {
    assert!(!dashboards.is_empty(), "no dashboards to check");
    let queries: Vec<PanelQuery> = dashboards.iter().flat_map(panel_queries).collect();
    let variables: Vec<(String, String)> = dashboards
        .iter()
        .flat_map(|d| {
            let names = variable_names(&d.json);
            templating(&d.json)
                .into_iter()
                .map(|v| {
                    (
                        format!("{}: variable {}", d.file, v["name"]),
                        substitute(&variable_query(v), &names),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();

    let started = Instant::now();
    let deadline = started + Duration::from_secs(120);
    let mut pending: BTreeMap<usize, String> =
        (0..queries.len()).map(|i| (i, String::new())).collect();
    let mut variables_pending: BTreeMap<usize, String> =
        (0..variables.len()).map(|i| (i, String::new())).collect();
    let mut found = BTreeMap::new();
    loop {
        for (index, last) in pending.iter_mut() {
            match prometheus.query(&queries[*index].expr).await {
                Ok(series) if series > 0 => {
                    found.insert(*index, series);
                }
                Ok(_) => *last = "no data".to_owned(),
                Err(error) => *last = error,
            }
        }
        pending.retain(|index, _| !found.contains_key(index));
        for (index, last) in variables_pending.iter_mut() {
            match prometheus.label_values(&variables[*index].1).await {
                Ok(values) if !values.is_empty() => last.clear(),
                Ok(_) => *last = "no values".to_owned(),
                Err(error) => *last = error,
            }
        }
        variables_pending.retain(|_, last| !last.is_empty());
        if (pending.is_empty() && variables_pending.is_empty()) || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
    }

    for (index, series) in &found {
        let query = &queries[*index];
        println!(
            "{} / {} / {}: {series} series",
            query.file, query.panel, query.ref_id
        );
    }
    println!(
        "{} of {} queries had data {:.1} s after Prometheus first scraped the processes",
        found.len(),
        queries.len(),
        started.elapsed().as_secs_f64()
    );
    let mut problems: Vec<String> = pending
        .iter()
        .map(|(index, why)| {
            let query = &queries[*index];
            format!(
                "{} / panel `{}` / {}: {why}: {}",
                query.file, query.panel, query.ref_id, query.expr
            )
        })
        .collect();
    problems.extend(
        variables_pending
            .iter()
            .map(|(index, why)| format!("{}: {why}", variables[*index].0)),
    );
    assert!(
        problems.is_empty(),
        "{} of {} panel queries and {} of {} variables have no data after 2 minutes:\n  - {}\n{}",
        pending.len(),
        queries.len(),
        variables_pending.len(),
        variables.len(),
        problems.join("\n  - "),
        logs()
    );
}

/// A ClickHouse table set of the projector's, dropped when it goes.
struct TableSet {
    suffix: String,
    config: ClickHouseConfig,
}

impl TableSet {
    async fn new() -> Self {
        let endpoint = require(Service::ClickHouse).await;
        let suffix = unique_name("t");
        let mut config = ClickHouseConfig::new(endpoint.address);
        config.table_suffix = suffix.clone();
        Self { suffix, config }
    }
}

impl Drop for TableSet {
    fn drop(&mut self) {
        let (client, tables) = (client(&self.config), self.config.tables());
        // On a thread of its own: the test's runtime may be gone or busy.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime
                .block_on(schema::drop_all(&client, &tables))
                .map_err(std::io::Error::other)
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!(
                "dropping the test tables *_{} failed: {dropped:?}",
                self.suffix
            );
        }
    }
}

// --- dashboards --------------------------------------------------------------------

struct Dashboard {
    file: String,
    json: Value,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn dashboards() -> Vec<Dashboard> {
    let folder = repo_root().join(DASHBOARDS);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap_or_else(|e| panic!("{}: {e}", folder.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let file = format!(
                "{DASHBOARDS}/{}",
                path.file_name().unwrap_or_default().to_string_lossy()
            );
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
            let json =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file} is not JSON: {e}"));
            Dashboard { file, json }
        })
        .collect()
}

/// Every panel, those inside collapsed rows included.
fn panels(dashboard: &Value) -> Vec<&Value> {
    let top = dashboard
        .get("panels")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut all = Vec::new();
    for panel in top {
        all.push(panel);
        if let Some(nested) = panel.get("panels").and_then(Value::as_array) {
            all.extend(nested);
        }
    }
    all
}

fn templating(dashboard: &Value) -> Vec<&Value> {
    dashboard
        .pointer("/templating/list")
        .and_then(Value::as_array)
        .map(|list| list.iter().collect())
        .unwrap_or_default()
}

fn variable_names(dashboard: &Value) -> BTreeSet<String> {
    templating(dashboard)
        .iter()
        .filter_map(|v| v.get("name").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

fn variable_query(variable: &Value) -> String {
    match variable.get("query") {
        Some(Value::String(query)) => query.clone(),
        Some(query) => query
            .get("query")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        None => String::new(),
    }
}

fn datasource_uid(item: &Value) -> Option<&str> {
    item.get("datasource")
        .and_then(|d| d.get("uid"))
        .and_then(Value::as_str)
}

struct PanelQuery {
    file: String,
    panel: String,
    ref_id: String,
    expr: String,
}

fn panel_queries(dashboard: &Dashboard) -> Vec<PanelQuery> {
    let variables = variable_names(&dashboard.json);
    let mut queries = Vec::new();
    for panel in panels(&dashboard.json) {
        let title = panel
            .get("title")
            .and_then(Value::as_str)
            .unwrap_or_default();
        for target in panel
            .get("targets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(expr) = target.get("expr").and_then(Value::as_str) else {
                continue;
            };
            queries.push(PanelQuery {
                file: dashboard.file.clone(),
                panel: title.to_owned(),
                ref_id: target
                    .get("refId")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                expr: substitute(expr, &variables),
            });
        }
    }
    queries
}

/// The names after `$`, `${` or `[[` in `expr`.
fn used_variables(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let start = match (bytes[i], bytes.get(i + 1)) {
            (b'$', Some(b'{')) | (b'[', Some(b'[')) => i + 2,
            (b'$', _) => i + 1,
            _ => {
                i += 1;
                continue;
            }
        };
        let end = expr[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(expr.len(), |n| start + n);
        if end > start {
            names.insert(expr[start..end].to_owned());
        }
        i = end.max(i + 1);
    }
    names
}

/// `expr` as Grafana would send it with every variable at "All": intervals as in
/// [`INTERVALS`], dashboard variables as `.*` (they are only used with `=~`).
fn substitute(expr: &str, variables: &BTreeSet<String>) -> String {
    let mut names: Vec<(String, &str)> = INTERVALS
        .iter()
        .map(|(n, v)| ((*n).to_owned(), *v))
        .collect();
    names.extend(variables.iter().map(|n| (n.clone(), ".*")));
    // Longest first: `$__range_s` before `$__range`.
    names.sort_by_key(|(name, _)| std::cmp::Reverse(name.len()));
    let mut expr = expr.to_owned();
    for (name, value) in names {
        for form in [
            format!("${{{name}}}"),
            format!("[[{name}]]"),
            format!("${name}"),
        ] {
            expr = expr.replace(&form, value);
        }
    }
    expr
}

/// `(selector, label)` of `label_values(selector, label)`; the selector is empty
/// for `label_values(label)`.
fn label_values(query: &str) -> Option<(String, String)> {
    let inner = query
        .trim()
        .strip_prefix("label_values(")?
        .strip_suffix(')')?;
    Some(match inner.rsplit_once(',') {
        Some((selector, label)) => (selector.trim().to_owned(), label.trim().to_owned()),
        None => (String::new(), inner.trim().to_owned()),
    })
}

fn yaml_files(folder: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .unwrap_or_else(|e| panic!("{}: {e}", folder.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| {
            path.extension()
                .is_some_and(|ext| ext == "yml" || ext == "yaml")
        })
        .collect();
    files.sort();
    files
}

fn assert_no_problems(problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{} problem(s):\n  - {}",
        problems.len(),
        problems.join("\n  - ")
    );
}

#[test]
fn variables_are_replaced_as_grafana_would_at_all() {
    let variables = BTreeSet::from(["group".to_owned(), "topic".to_owned()]);
    let expr = r#"sum by (group) (rate(x{group=~"$group", topic=~"${topic}"}[$__rate_interval])) + y[$__range_s]"#;
    assert_eq!(
        substitute(expr, &variables),
        r#"sum by (group) (rate(x{group=~".*", topic=~".*"}[1m])) + y[300]"#
    );
    assert_eq!(
        used_variables(expr),
        BTreeSet::from(["group", "topic", "__rate_interval", "__range_s"].map(str::to_owned))
    );
    assert_eq!(
        label_values(r#"label_values(m{group=~"$group"}, topic)"#),
        Some((r#"m{group=~"$group"}"#.to_owned(), "topic".to_owned()))
    );
}

// --- the running pipeline -----------------------------------------------------------

/// An exclusive lock on the ports the local Prometheus scrapes, held while the
/// returned file is open.
fn lock_scraped_ports() -> std::fs::File {
    let path = std::env::temp_dir().join(PORTS_LOCK);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    file.lock()
        .unwrap_or_else(|e| panic!("locking {}: {e}", path.display()));
    file
}

fn assert_port_free(port: u16) {
    if let Err(error) = std::net::TcpListener::bind(("127.0.0.1", port)) {
        panic!(
            "port {port} is taken ({error}). The local Prometheus scrapes the pipeline on \
             fixed ports (infra/prometheus/prometheus.yml), so this test must start its own \
             processes there: stop whatever listens on {port} (`make demo`, a `ledgerstream \
             process` or `lag --serve`; `ss -ltnp 'sport = :{port}'` names it) and run again"
        );
    }
}

/// `ledgerstream lag --serve` on the port Prometheus scrapes; killed when dropped.
struct LagExporter {
    child: Child,
    log: PathBuf,
    _dir: TempDir,
}

impl LagExporter {
    fn start(group: &str) -> Self {
        let dir = TempDir::new("dashboards_lag");
        let log = dir.path().join("lag.log");
        let child = Command::new(ledgerstream_bin())
            .args([
                "lag",
                "--serve",
                "--listen",
                &format!("127.0.0.1:{LAG_PORT}"),
            ])
            .args(["--group", group, "--interval", "2"])
            .env("LEDGERSTREAM_LOG", ledgerstream_tests::CHILD_LOG)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("exporter log"))
            .spawn()
            .expect("start ledgerstream lag --serve");
        Self {
            child,
            log,
            _dir: dir,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for LagExporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Prometheus HTTP API.
struct Prometheus {
    url: String,
    client: reqwest::Client,
}

impl Prometheus {
    fn new(url: String) -> Self {
        Self {
            url: url.trim_end_matches('/').to_owned(),
            client: reqwest::Client::new(),
        }
    }

    async fn api(&self, path: &str, params: &[(&str, &str)]) -> Result<Value, String> {
        let response = self
            .client
            .get(format!("{}/api/v1/{path}", self.url))
            .query(params)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| format!("Prometheus did not answer: {e}"))?;
        let body: Value = response
            .json()
            .await
            .map_err(|e| format!("not JSON: {e}"))?;
        if body["status"] != "success" {
            return Err(format!("{}: {}", body["errorType"], body["error"]));
        }
        Ok(body["data"].clone())
    }

    /// How many series an instant query returns.
    async fn query(&self, expr: &str) -> Result<usize, String> {
        let data = self.api("query", &[("query", expr)]).await?;
        Ok(data["result"].as_array().map_or(0, Vec::len))
    }

    /// The values of a `label_values(...)` variable query.
    async fn label_values(&self, query: &str) -> Result<BTreeSet<String>, String> {
        let (selector, label) =
            label_values(query).ok_or_else(|| format!("not label_values: {query}"))?;
        let data = if selector.is_empty() {
            self.api(&format!("label/{label}/values"), &[]).await?
        } else {
            self.api("series", &[("match[]", selector.as_str())])
                .await?
        };
        let values = data.as_array().cloned().unwrap_or_default();
        Ok(values
            .iter()
            .filter_map(|v| {
                if selector.is_empty() {
                    v.as_str()
                } else {
                    v[&label].as_str()
                }
            })
            .map(str::to_owned)
            .collect())
    }

    /// Fails unless Prometheus has a target of `job` on 127.0.0.1:`port` (it runs
    /// with the local stack's configuration).
    async fn assert_scrapes(&self, job: &str, port: u16) {
        let targets = self
            .api("targets", &[])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let address = format!("127.0.0.1:{port}");
        let scraped = targets["activeTargets"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|target| {
                target["labels"]["job"] == job
                    && target["scrapeUrl"]
                        .as_str()
                        .is_some_and(|u| u.contains(&address))
            });
        assert!(
            scraped,
            "Prometheus at {} has no `{job}` target on {address}; start it with the local \
             stack's configuration: infra/local/stack.sh up prometheus",
            self.url
        );
    }

    /// Waits until `up{job}` is 1: Prometheus scraped the process we started.
    async fn wait_up(&self, job: &str, logs: &dyn Fn() -> String) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let query = format!(r#"up{{job="{job}"}} == 1"#);
        loop {
            if matches!(self.query(&query).await, Ok(n) if n > 0) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "Prometheus has not scraped `{job}` for 60 s\n{}",
                logs()
            );
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}
