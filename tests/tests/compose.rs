//! Keeps `docker-compose.yml`, the `Dockerfile` and the Prometheus configuration of
//! compose honest without Docker: they are read as files and checked against each
//! other and against the code (`ledgerstream_infra::Service`).
//!
//! Every check collects all of its problems and reports them together, each naming
//! the service (or file) and what is wrong with it.

// Test code: a failed unwrap is a failed test, and amounts read as units_cents.
#![allow(clippy::unwrap_used, clippy::inconsistent_digit_grouping)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::PathBuf;

use ledgerstream_infra::Service;
use ledgerstream_runtime::topics::TopicsConfig;
use serde_yaml::Value;

const COMPOSE_FILE: &str = "docker-compose.yml";
const DOCKERFILE: &str = "Dockerfile";

/// The local stack's Kafka, whose `kafka.version` compose's Kafka images follow.
const KAFKA_POM: &str = "infra/kafka/pom.xml";
const KAFKA_IMAGE: &str = "apache/kafka";

/// Where Prometheus reads its configuration inside its container.
const PROMETHEUS_CONFIG_TARGET: &str = "/etc/prometheus/prometheus.yml";

/// Grafana is not one of the pipeline's services, so its port is not in the code.
const GRAFANA_SERVICE: &str = "grafana";
const GRAFANA_HOST_PORT: u16 = 3000;

/// The topics the pipeline reads and writes; topic-init must create each.
const PIPELINE_TOPICS: [&str; 4] = [
    "account-commands",
    "account-events",
    "account-command-results",
    "account-dead-letters",
];

/// Commands and events are keyed by account and must have the same partitions.
const CO_PARTITIONED_TOPICS: [&str; 2] = ["account-commands", "account-events"];

// --- tests -------------------------------------------------------------------------

#[test]
fn the_compose_file_parses_and_defines_services() {
    let services = services();
    assert!(!services.is_empty(), "{COMPOSE_FILE} defines no services");
}

#[test]
fn every_service_pins_its_image_or_is_built() {
    let mut problems = Vec::new();
    for (name, service) in &services() {
        let image = service.get("image").and_then(Value::as_str);
        let built = service.get("build").is_some();
        match (image, built) {
            (_, true) => {}
            (None, false) => problems.push(format!("service `{name}` has neither image nor build")),
            (Some(image), false) => {
                if let Err(why) = check_pinned(image) {
                    problems.push(format!("service `{name}`: image `{image}` {why}"));
                }
            }
        }
    }
    assert_no_problems(COMPOSE_FILE, &problems);
}

/// The local stack and compose run the same Kafka: the tests pass on one and
/// the pipeline runs on the other.
#[test]
fn every_kafka_image_is_the_local_stacks_version() {
    let pom = read(KAFKA_POM);
    let version = pom
        .split_once("<kafka.version>")
        .and_then(|(_, rest)| rest.split_once("</kafka.version>"))
        .map(|(version, _)| version.trim())
        .unwrap_or_else(|| panic!("{KAFKA_POM} has no <kafka.version>"));
    let mut kafka_images = 0;
    let mut problems = Vec::new();
    for (name, service) in &services() {
        let Some(image) = service.get("image").and_then(Value::as_str) else {
            continue;
        };
        let Some(tag) = image
            .strip_prefix(KAFKA_IMAGE)
            .and_then(|rest| rest.strip_prefix(':'))
        else {
            continue;
        };
        kafka_images += 1;
        if tag != version {
            problems.push(format!(
                "service `{name}` runs {image}, but {KAFKA_POM} has kafka.version {version}"
            ));
        }
    }
    assert!(
        kafka_images > 0,
        "{COMPOSE_FILE} runs no {KAFKA_IMAGE} image"
    );
    assert_no_problems(COMPOSE_FILE, &problems);
}

#[test]
fn every_long_running_service_has_a_healthcheck() {
    let services = services();
    let one_shot = one_shot_services(&services);
    let mut problems = Vec::new();
    for (name, service) in &services {
        if one_shot.contains(name) {
            continue;
        }
        if let Err(why) = check_healthcheck(service) {
            problems.push(format!("long-running service `{name}` {why}"));
        }
    }
    assert_no_problems(COMPOSE_FILE, &problems);
}

#[test]
fn every_dependency_exists_and_can_be_waited_for() {
    let services = services();
    let mut problems = Vec::new();
    for (name, service) in &services {
        for (target, condition) in depends_on(name, service) {
            let Some(dependency) = services.get(&target) else {
                problems.push(format!(
                    "service `{name}` depends on `{target}`, which is not defined"
                ));
                continue;
            };
            match condition.as_deref() {
                None | Some("service_started" | "service_completed_successfully") => {}
                Some("service_healthy") => {
                    if let Err(why) = check_healthcheck(dependency) {
                        problems.push(format!(
                            "service `{name}` waits for `{target}` to be healthy, but `{target}` {why}"
                        ));
                    }
                }
                Some(other) => problems.push(format!(
                    "service `{name}` waits for `{target}` with unknown condition `{other}`"
                )),
            }
        }
    }
    assert_no_problems(COMPOSE_FILE, &problems);
}

#[test]
fn every_built_service_sets_every_endpoint_variable() {
    let services = services();
    let built = built_services(&services);
    assert!(
        !built.is_empty(),
        "{COMPOSE_FILE}: no service is built from the {DOCKERFILE}"
    );
    let mut problems = Vec::new();
    for name in &built {
        let environment = environment(name, &services[name]);
        for service in Service::ALL {
            let var = service.env_var();
            match environment.get(var).map(|value| value.trim()) {
                None => problems.push(format!("service `{name}` does not set {var} ({service})")),
                Some("") => problems.push(format!("service `{name}` sets {var} ({service}) empty")),
                Some(_) => {}
            }
        }
    }
    assert_no_problems(COMPOSE_FILE, &problems);
}

#[test]
fn every_endpoint_variable_points_at_a_compose_service() {
    let services = services();
    let mut problems = Vec::new();
    for (name, service) in &services {
        let environment = environment(name, service);
        for endpoint in Service::ALL {
            let var = endpoint.env_var();
            let Some(value) = environment.get(var) else {
                continue;
            };
            for address in value.split(',').map(str::trim).filter(|a| !a.is_empty()) {
                let host = host_of(address);
                if !services.contains_key(host) {
                    problems.push(format!(
                        "service `{name}`: {var}={value} names host `{host}`, \
                         which is not a service of the compose file"
                    ));
                }
            }
        }
    }
    assert_no_problems(COMPOSE_FILE, &problems);
}

#[test]
fn every_published_host_port_is_unique() {
    let mut owners: BTreeMap<u16, Vec<String>> = BTreeMap::new();
    for (name, service) in &services() {
        for port in published_ports(name, service) {
            owners.entry(port.host).or_default().push(name.clone());
        }
    }
    let problems: Vec<String> = owners
        .iter()
        .filter(|(_, names)| names.len() > 1)
        .map(|(port, names)| format!("host port {port} is published by {}", names.join(", ")))
        .collect();
    assert_no_problems(COMPOSE_FILE, &problems);
}

#[test]
fn infrastructure_publishes_the_local_stack_ports() {
    let services = services();
    let built = built_services(&services);
    let pipeline = built.first().expect("a service built from the Dockerfile");
    let environment = environment(pipeline, &services[pipeline]);
    let mut problems = Vec::new();
    for endpoint in Service::ALL {
        let var = endpoint.env_var();
        let Some(value) = environment.get(var) else {
            problems.push(format!("service `{pipeline}` does not set {var}"));
            continue;
        };
        // The service that the pipeline reaches in the network is the one that must be
        // on the local stack's port on the host, so the host's binary finds it.
        let host = host_of(value.split(',').next().unwrap_or_default().trim());
        let expected = port_of(endpoint.default_address());
        let Some(service) = services.get(host) else {
            problems.push(format!("{var}={value}: no service `{host}` ({endpoint})"));
            continue;
        };
        let published: Vec<u16> = published_ports(host, service)
            .iter()
            .map(|p| p.host)
            .collect();
        if !published.contains(&expected) {
            problems.push(format!(
                "service `{host}` ({endpoint}) publishes host ports {published:?}, \
                 but the local stack and the binary's default use {expected} ({})",
                endpoint.default_address()
            ));
        }
    }
    match services.get(GRAFANA_SERVICE) {
        None => problems.push(format!("no `{GRAFANA_SERVICE}` service")),
        Some(grafana) => {
            let published: Vec<u16> = published_ports(GRAFANA_SERVICE, grafana)
                .iter()
                .map(|p| p.host)
                .collect();
            if !published.contains(&GRAFANA_HOST_PORT) {
                problems.push(format!(
                    "service `{GRAFANA_SERVICE}` publishes host ports {published:?}, \
                     expected {GRAFANA_HOST_PORT}"
                ));
            }
        }
    }
    assert_no_problems(COMPOSE_FILE, &problems);
}

#[test]
fn every_mounted_repository_path_exists() {
    let mut problems = Vec::new();
    let mut mounts = 0;
    for (name, service) in &services() {
        for mount in bind_mounts(name, service) {
            mounts += 1;
            let path = repo_root().join(&mount.source);
            if !path.exists() {
                problems.push(format!(
                    "service `{name}` mounts `{}` at {}, but {} does not exist",
                    mount.source,
                    mount.target,
                    path.display()
                ));
            }
        }
    }
    assert!(
        mounts > 0,
        "{COMPOSE_FILE} mounts nothing from the repository"
    );
    assert_no_problems(COMPOSE_FILE, &problems);
}

#[test]
fn topic_init_creates_the_pipeline_topics_co_partitioned() {
    let services = services();
    let one_shot = one_shot_services(&services);
    let topics: BTreeMap<String, CreatedTopic> = one_shot
        .iter()
        .flat_map(|name| created_topics(name, &services[name]))
        .map(|topic| (topic.name.clone(), topic))
        .collect();
    let mut problems = Vec::new();
    for topic in PIPELINE_TOPICS {
        if !topics.contains_key(topic) {
            problems.push(format!(
                "topic `{topic}` is not created by a one-shot service ({})",
                names(&one_shot)
            ));
        }
    }
    let partitions: BTreeSet<Option<u32>> = CO_PARTITIONED_TOPICS
        .iter()
        .filter_map(|topic| topics.get(*topic))
        .map(|topic| topic.partitions)
        .collect();
    if partitions.len() > 1 || partitions.contains(&None) {
        let counts: Vec<String> = CO_PARTITIONED_TOPICS
            .iter()
            .filter_map(|topic| topics.get(*topic))
            .map(|topic| format!("{} {:?}", topic.name, topic.partitions))
            .collect();
        problems.push(format!(
            "co-partitioned topics need the same explicit partition count: {}",
            counts.join(", ")
        ));
    }
    // Every config `ledgerstream topics create` sets, set the same way: otherwise
    // the processor's start-up check refuses the topic (the broker's default
    // retention of 7 days is too short for dead letters, for one).
    let specs = TopicsConfig::default()
        .specs()
        .expect("the default topic settings are valid");
    for spec in &specs {
        let Some(created) = topics.get(&spec.name) else {
            continue;
        };
        for config in &spec.configs {
            let wanted = format!("{}={}", config.key, config.value);
            if !created.configs.contains(&wanted) {
                problems.push(format!(
                    "{} is created without --config {wanted} ({}); created with {:?}",
                    spec.name, config.why, created.configs
                ));
            }
        }
    }
    assert_no_problems(COMPOSE_FILE, &problems);
}

#[test]
fn the_dockerfile_runs_the_binary_on_its_own_runtime_image() {
    let dockerfile = read(DOCKERFILE);
    let stages = stages(&dockerfile);
    assert!(
        stages.len() >= 2,
        "{DOCKERFILE}: expected a builder and a runtime stage, found {} stage(s)",
        stages.len()
    );
    let mut problems = Vec::new();
    let earlier = &stages[..stages.len() - 1];
    for stage in &stages {
        let is_stage = earlier
            .iter()
            .any(|s| s.alias.as_deref() == Some(stage.image.as_str()));
        if !is_stage && let Err(why) = check_pinned(&stage.image) {
            problems.push(format!("FROM {} {why}", stage.image));
        }
    }
    let runtime = stages.last().expect("at least two stages");
    let builder_images: Vec<&str> = earlier
        .iter()
        .flat_map(|s| [Some(s.image.as_str()), s.alias.as_deref()])
        .flatten()
        .collect();
    if builder_images.contains(&runtime.image.as_str()) {
        problems.push(format!(
            "the runtime stage starts FROM {}, an image of the build stages ({})",
            runtime.image,
            builder_images.join(", ")
        ));
    }
    let binary = runtime.lines.iter().find_map(|line| copied_binary(line));
    match binary {
        None => problems.push(
            "the runtime stage has no `COPY --from=<stage> .../ledgerstream <dest>`".to_owned(),
        ),
        Some(dest) if !on_default_path(&dest) => problems.push(format!(
            "the runtime stage copies the binary to {dest}, not into /usr/local/bin or \
             /usr/bin, so `ledgerstream` in the compose commands would not be found"
        )),
        Some(_) => {}
    }
    assert_no_problems(DOCKERFILE, &problems);
}

#[test]
fn prometheus_scrapes_compose_services_only() {
    let services = services();
    let config_path = prometheus_config(&services);
    let config = yaml(&config_path);
    let targets = scrape_targets(&config_path, &config);
    assert!(!targets.is_empty(), "{config_path}: no scrape targets");
    let mut problems = Vec::new();
    for (job, target) in &targets {
        let host = host_of(target);
        let port = port_of(target);
        let Some(service) = services.get(host) else {
            problems.push(format!(
                "job `{job}` scrapes {target}, but `{host}` is not a service"
            ));
            continue;
        };
        let ports: Vec<u16> = published_ports(host, service)
            .iter()
            .map(|p| p.container)
            .collect();
        if !ports.contains(&port) {
            problems.push(format!(
                "job `{job}` scrapes {target}, but `{host}` publishes container ports {ports:?}"
            ));
        }
    }
    let scraped: BTreeSet<&str> = targets.iter().map(|(_, target)| host_of(target)).collect();
    for name in built_services(&services) {
        if !scraped.contains(name.as_str()) {
            problems.push(format!("pipeline service `{name}` is not scraped"));
        }
    }
    assert_no_problems(&config_path, &problems);
}

// --- safe by default ---------------------------------------------------------------

/// Makes the env files compose reads its passwords from.
const SECRETS_SCRIPT: &str = "infra/compose/secrets.sh";
const CLICKHOUSE_SERVICE: &str = "clickhouse";
const CLICKHOUSE_ENV_FILE: &str = "infra/compose/clickhouse.env";
const GRAFANA_ENV_FILE: &str = "infra/compose/grafana.env";
/// The pipeline services that reach ClickHouse: the projector writes, the auditor
/// reads.
const CLICKHOUSE_CLIENTS: [&str; 2] = ["projector", "auditor"];

/// A port published on every interface is reachable by anyone on the host's networks:
/// each one names 127.0.0.1.
#[test]
fn every_published_port_is_bound_to_loopback() {
    let mut problems = Vec::new();
    for (name, service) in &services() {
        for (address, text) in published_addresses(name, service) {
            if address.as_deref() != Some("127.0.0.1") {
                problems.push(format!(
                    "service `{name}` publishes `{text}` on {}; write 127.0.0.1:{text}",
                    address.map_or("every interface".to_owned(), |a| format!("`{a}`"))
                ));
            }
        }
    }
    assert_no_problems(COMPOSE_FILE, &problems);
}

/// ClickHouse's `default` user has a password, from an env file that git ignores and
/// that the secrets script makes; the projector and the auditor read the same file.
/// No password is written in the compose file itself.
#[test]
fn clickhouse_has_a_password_from_an_env_file_and_its_clients_have_it_too() {
    let services = services();
    let mut problems = Vec::new();
    let clickhouse = &services[CLICKHOUSE_SERVICE];
    let clickhouse_environment = environment(CLICKHOUSE_SERVICE, clickhouse);
    for forbidden in ["CLICKHOUSE_SKIP_USER_SETUP", "CLICKHOUSE_PASSWORD"] {
        if clickhouse_environment.contains_key(forbidden) {
            problems.push(format!(
                "service `{CLICKHOUSE_SERVICE}` sets {forbidden} in the compose file"
            ));
        }
    }
    for name in std::iter::once(CLICKHOUSE_SERVICE).chain(CLICKHOUSE_CLIENTS) {
        let Some(service) = services.get(name) else {
            problems.push(format!("no service `{name}`"));
            continue;
        };
        if !env_files(name, service).contains(&CLICKHOUSE_ENV_FILE.to_owned()) {
            problems.push(format!(
                "service `{name}` does not read {CLICKHOUSE_ENV_FILE}"
            ));
        }
    }
    for (name, service) in &services {
        let environment = environment(name, service);
        if environment.contains_key("LEDGERSTREAM_CLICKHOUSE_PASSWORD") {
            problems.push(format!(
                "service `{name}` writes LEDGERSTREAM_CLICKHOUSE_PASSWORD in the compose file"
            ));
        }
    }
    assert_no_problems(COMPOSE_FILE, &problems);
}

/// Grafana asks for a login: no anonymous access, the login form on, the admin's
/// password from an env file.
#[test]
fn grafana_has_no_anonymous_admin() {
    let services = services();
    let grafana = &services[GRAFANA_SERVICE];
    let environment = environment(GRAFANA_SERVICE, grafana);
    let mut problems = Vec::new();
    let is_true = |name: &str| {
        environment
            .get(name)
            .is_some_and(|value| value.eq_ignore_ascii_case("true"))
    };
    if is_true("GF_AUTH_ANONYMOUS_ENABLED") {
        problems.push(format!(
            "GF_AUTH_ANONYMOUS_ENABLED is true (role {:?})",
            environment.get("GF_AUTH_ANONYMOUS_ORG_ROLE")
        ));
    }
    for name in ["GF_AUTH_DISABLE_LOGIN_FORM", "GF_USERS_ALLOW_SIGN_UP"] {
        if is_true(name) {
            problems.push(format!("{name} is true"));
        }
    }
    if environment.contains_key("GF_SECURITY_ADMIN_PASSWORD") {
        problems.push("GF_SECURITY_ADMIN_PASSWORD is written in the compose file".to_owned());
    }
    if !env_files(GRAFANA_SERVICE, grafana).contains(&GRAFANA_ENV_FILE.to_owned()) {
        problems.push(format!("does not read {GRAFANA_ENV_FILE}"));
    }
    let problems: Vec<String> = problems
        .into_iter()
        .map(|problem| format!("service `{GRAFANA_SERVICE}`: {problem}"))
        .collect();
    assert_no_problems(COMPOSE_FILE, &problems);
}

/// The lifecycle API stops Prometheus and the admin API deletes its data, for
/// anyone who reaches the port: both stay off.
#[test]
fn prometheus_lifecycle_and_admin_apis_are_off() {
    let services = services();
    let (name, prometheus) = services
        .iter()
        .find(|(_, service)| {
            service
                .get("image")
                .and_then(Value::as_str)
                .is_some_and(|image| image.starts_with("prom/prometheus"))
        })
        .expect("a prom/prometheus service");
    let mut words: Vec<String> = Vec::new();
    for field in ["command", "entrypoint"] {
        match prometheus.get(field) {
            Some(Value::Sequence(items)) => {
                words.extend(items.iter().map(|item| scalar(name, field, item)));
            }
            Some(other) => words.push(scalar(name, field, other)),
            None => {}
        }
    }
    let problems: Vec<String> = ["--web.enable-lifecycle", "--web.enable-admin-api"]
        .iter()
        .filter(|flag| words.iter().any(|word| word.contains(*flag)))
        .map(|flag| format!("service `{name}` runs with {flag}"))
        .collect();
    assert_no_problems(COMPOSE_FILE, &problems);
}

/// The script makes every env file compose reads, with random passwords readable by
/// their owner only, consistent between ClickHouse and its client, and keeps them
/// when run again; git ignores them.
#[test]
fn the_secrets_script_makes_private_env_files_that_git_ignores() {
    use std::os::unix::fs::PermissionsExt;

    let dir = std::env::temp_dir().join(format!("compose-secrets-{}", std::process::id()));
    let run = || {
        let output = std::process::Command::new(repo_root().join(SECRETS_SCRIPT))
            .arg(&dir)
            .output()
            .expect("run the secrets script");
        assert!(
            output.status.success(),
            "{SECRETS_SCRIPT} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    run();
    let variables = |file: &str| -> BTreeMap<String, String> {
        let path = dir.join(file);
        let mode = fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{SECRETS_SCRIPT} made no {file}: {e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{file} is readable by others: {mode:o}");
        fs::read_to_string(&path)
            .unwrap()
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    };
    let clickhouse = variables("clickhouse.env");
    let password = &clickhouse["CLICKHOUSE_PASSWORD"];
    assert!(password.len() >= 32, "a short password: {}", password.len());
    assert_eq!(
        Some(password),
        clickhouse.get("LEDGERSTREAM_CLICKHOUSE_PASSWORD")
    );
    let grafana = variables("grafana.env");
    assert!(grafana["GF_SECURITY_ADMIN_PASSWORD"].len() >= 32);
    run();
    assert_eq!(
        variables("clickhouse.env"),
        clickhouse,
        "a second run changed it"
    );
    fs::remove_dir_all(&dir).unwrap();

    // Every env file the compose file reads is one the script makes, and git ignores.
    let mut problems = Vec::new();
    for (name, service) in &services() {
        for file in env_files(name, service) {
            if ![CLICKHOUSE_ENV_FILE, GRAFANA_ENV_FILE].contains(&file.as_str()) {
                problems.push(format!(
                    "service `{name}` reads {file}, which {SECRETS_SCRIPT} does not make"
                ));
            }
            let ignored = std::process::Command::new("git")
                .args(["check-ignore", "-q", &file])
                .current_dir(repo_root())
                .status()
                .expect("run git check-ignore");
            if !ignored.success() {
                problems.push(format!("{file} (read by `{name}`) is not ignored by git"));
            }
        }
    }
    assert_no_problems(COMPOSE_FILE, &problems);
}

// --- reading files -----------------------------------------------------------------

fn repo_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The text of a file, given relative to the repository root.
fn read(relative: &str) -> String {
    let path = repo_root().join(relative);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// A YAML file with its `<<` merge keys applied (serde_yaml resolves anchors and
/// aliases, but leaves merging to the caller).
fn yaml(relative: &str) -> Value {
    let mut value: Value = serde_yaml::from_str(&read(relative))
        .unwrap_or_else(|e| panic!("{relative} is not valid YAML: {e}"));
    value
        .apply_merge()
        .unwrap_or_else(|e| panic!("{relative}: cannot apply its `<<` merge keys: {e}"));
    value
}

/// The compose file's services by name.
fn services() -> BTreeMap<String, Value> {
    let compose = yaml(COMPOSE_FILE);
    let services = compose
        .get("services")
        .and_then(Value::as_mapping)
        .unwrap_or_else(|| panic!("{COMPOSE_FILE} has no `services` mapping"));
    services
        .iter()
        .map(|(name, service)| {
            let name = name
                .as_str()
                .unwrap_or_else(|| panic!("{COMPOSE_FILE}: service name {name:?} is not a string"));
            assert!(
                service.is_mapping(),
                "{COMPOSE_FILE}: service `{name}` is not a mapping"
            );
            (name.to_owned(), service.clone())
        })
        .collect()
}

fn assert_no_problems(file: &str, problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{file}:\n  - {}",
        problems.join("\n  - ")
    );
}

fn names<'a>(names: impl IntoIterator<Item = &'a String>) -> String {
    names
        .into_iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

// --- compose services --------------------------------------------------------------

/// Services that others wait on to finish: they run once and need no healthcheck.
fn one_shot_services(services: &BTreeMap<String, Value>) -> BTreeSet<String> {
    services
        .iter()
        .flat_map(|(name, service)| depends_on(name, service))
        .filter(|(_, condition)| condition.as_deref() == Some("service_completed_successfully"))
        .map(|(target, _)| target)
        .collect()
}

/// Services built from the repository's Dockerfile: the pipeline's own processes.
fn built_services(services: &BTreeMap<String, Value>) -> Vec<String> {
    services
        .iter()
        .filter(|(_, service)| service.get("build").is_some())
        .map(|(name, _)| name.clone())
        .collect()
}

/// `Err` says what is missing.
fn check_healthcheck(service: &Value) -> Result<(), String> {
    let Some(healthcheck) = service.get("healthcheck") else {
        return Err("has no healthcheck".to_owned());
    };
    if healthcheck.get("disable").and_then(Value::as_bool) == Some(true) {
        return Err("disables its healthcheck".to_owned());
    }
    let test = healthcheck.get("test");
    let runs_something = match test {
        Some(Value::String(command)) => !command.trim().is_empty(),
        Some(Value::Sequence(words)) => {
            words.len() >= 2 && words.first().and_then(Value::as_str) != Some("NONE")
        }
        _ => false,
    };
    if !runs_something {
        return Err(format!(
            "has a healthcheck without a test command ({test:?})"
        ));
    }
    Ok(())
}

/// An image reference must name an exact version: a tag other than `latest`, or a
/// digest.
fn check_pinned(image: &str) -> Result<(), String> {
    if image.contains("@sha256:") {
        return Ok(());
    }
    // A `:` before the last `/` belongs to a registry host's port, not to a tag.
    let last_segment = image.rsplit('/').next().unwrap_or(image);
    match last_segment.split_once(':') {
        None => Err("has no tag, which means `latest`".to_owned()),
        Some((_, "")) => Err("has an empty tag".to_owned()),
        Some((_, "latest")) => Err("uses `latest`, which changes under us".to_owned()),
        Some(_) => Ok(()),
    }
}

/// Each dependency of `service` and the condition it waits for, if any.
fn depends_on(name: &str, service: &Value) -> Vec<(String, Option<String>)> {
    match service.get("depends_on") {
        None => Vec::new(),
        Some(Value::Sequence(targets)) => targets
            .iter()
            .map(|target| (scalar(name, "depends_on", target), None))
            .collect(),
        Some(Value::Mapping(targets)) => targets
            .iter()
            .map(|(target, options)| {
                let condition = options
                    .get("condition")
                    .map(|c| scalar(name, "condition", c));
                (scalar(name, "depends_on", target), condition)
            })
            .collect(),
        Some(other) => {
            panic!("service `{name}`: depends_on is neither a list nor a map: {other:?}")
        }
    }
}

/// The service's environment, from either the map or the `KEY=VALUE` list form.
fn environment(name: &str, service: &Value) -> BTreeMap<String, String> {
    match service.get("environment") {
        None => BTreeMap::new(),
        Some(Value::Mapping(vars)) => vars
            .iter()
            .map(|(key, value)| {
                let value = match value {
                    Value::Null => String::new(),
                    other => scalar(name, "environment", other),
                };
                (scalar(name, "environment", key), value)
            })
            .collect(),
        Some(Value::Sequence(vars)) => vars
            .iter()
            .map(|entry| {
                let entry = scalar(name, "environment", entry);
                match entry.split_once('=') {
                    Some((key, value)) => (key.to_owned(), value.to_owned()),
                    None => (entry, String::new()),
                }
            })
            .collect(),
        Some(other) => {
            panic!("service `{name}`: environment is neither a list nor a map: {other:?}")
        }
    }
}

/// A string, number or boolean as compose would pass it on.
fn scalar(service: &str, field: &str, value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("service `{service}`: {field} holds {other:?}, expected a scalar"),
    }
}

#[derive(Debug)]
struct PublishedPort {
    host: u16,
    container: u16,
}

/// The ports a service publishes on the host, short (`[IP:]HOST:CONTAINER[/proto]`)
/// or long (`{target, published}`) syntax. A port only exposed inside the network is
/// not listed.
fn published_ports(name: &str, service: &Value) -> Vec<PublishedPort> {
    let Some(ports) = service.get("ports") else {
        return Vec::new();
    };
    let ports = ports
        .as_sequence()
        .unwrap_or_else(|| panic!("service `{name}`: ports is not a list"));
    let parse = |text: &str| -> u16 {
        text.parse()
            .unwrap_or_else(|e| panic!("service `{name}`: port `{text}` is not a port: {e}"))
    };
    let mut published = Vec::new();
    for port in ports {
        if let Value::Mapping(_) = port {
            let Some(host) = port.get("published") else {
                continue;
            };
            let container = port
                .get("target")
                .unwrap_or_else(|| panic!("service `{name}`: port {port:?} has no target"));
            published.push(PublishedPort {
                host: parse(&scalar(name, "ports", host)),
                container: parse(&scalar(name, "ports", container)),
            });
            continue;
        }
        let text = scalar(name, "ports", port);
        let without_protocol = text.split('/').next().unwrap_or_default();
        let parts: Vec<&str> = without_protocol.split(':').collect();
        match parts.as_slice() {
            [_container_only] => {}
            [host, container] | [_, host, container] => published.push(PublishedPort {
                host: parse(host),
                container: parse(container),
            }),
            _ => panic!("service `{name}`: cannot read port mapping `{text}`"),
        }
    }
    published
}

/// Every published port's host address (`None`: every interface) and its text.
fn published_addresses(name: &str, service: &Value) -> Vec<(Option<String>, String)> {
    let Some(ports) = service.get("ports").and_then(Value::as_sequence) else {
        return Vec::new();
    };
    let mut published = Vec::new();
    for port in ports {
        if let Value::Mapping(_) = port {
            let Some(host) = port.get("published") else {
                continue;
            };
            let address = port.get("host_ip").map(|ip| scalar(name, "ports", ip));
            published.push((address, scalar(name, "ports", host)));
            continue;
        }
        let text = scalar(name, "ports", port);
        let without_protocol = text.split('/').next().unwrap_or_default();
        match without_protocol
            .rsplitn(3, ':')
            .collect::<Vec<_>>()
            .as_slice()
        {
            [_container_only] => {}
            [_, _] => published.push((None, text.clone())),
            [_, _, address] => published.push((Some((*address).to_owned()), text.clone())),
            _ => unreachable!("rsplitn(3) gives one to three parts"),
        }
    }
    published
}

/// The env files a service reads, as written (a path, a list of paths, or a list
/// of `{path, required}`).
fn env_files(name: &str, service: &Value) -> Vec<String> {
    match service.get("env_file") {
        None => Vec::new(),
        Some(Value::Sequence(items)) => items
            .iter()
            .map(|item| match item.get("path") {
                Some(path) => scalar(name, "env_file", path),
                None => scalar(name, "env_file", item),
            })
            .collect(),
        Some(one) => vec![scalar(name, "env_file", one)],
    }
}

#[derive(Debug)]
struct BindMount {
    /// Relative to the repository root, as written in the compose file.
    source: String,
    target: String,
}

/// Paths of the repository that a service mounts; named volumes are left out.
fn bind_mounts(name: &str, service: &Value) -> Vec<BindMount> {
    let Some(volumes) = service.get("volumes") else {
        return Vec::new();
    };
    let volumes = volumes
        .as_sequence()
        .unwrap_or_else(|| panic!("service `{name}`: volumes is not a list"));
    volumes
        .iter()
        .filter_map(|volume| {
            let (source, target) = match volume {
                Value::Mapping(_) => (
                    volume.get("source").map(|s| scalar(name, "volumes", s))?,
                    volume
                        .get("target")
                        .map(|t| scalar(name, "volumes", t))
                        .unwrap_or_default(),
                ),
                other => {
                    let text = scalar(name, "volumes", other);
                    let mut parts = text.split(':');
                    let source = parts.next().unwrap_or_default().to_owned();
                    let target = parts.next().unwrap_or_default().to_owned();
                    (source, target)
                }
            };
            source
                .starts_with('.')
                .then_some(BindMount { source, target })
        })
        .collect()
}

/// The Prometheus configuration file that compose mounts, relative to the repository.
fn prometheus_config(services: &BTreeMap<String, Value>) -> String {
    services
        .iter()
        .flat_map(|(name, service)| bind_mounts(name, service))
        .find(|mount| mount.target == PROMETHEUS_CONFIG_TARGET)
        .map(|mount| mount.source.trim_start_matches("./").to_owned())
        .unwrap_or_else(|| {
            panic!("{COMPOSE_FILE}: nothing is mounted at {PROMETHEUS_CONFIG_TARGET}")
        })
}

// --- addresses ---------------------------------------------------------------------

/// The host of `kafka:9092`, `http://clickhouse:8123/path` or `localhost`.
fn host_of(address: &str) -> &str {
    let without_scheme = address.split_once("://").map_or(address, |(_, rest)| rest);
    let authority = without_scheme.split('/').next().unwrap_or_default();
    authority.split(':').next().unwrap_or_default()
}

/// The explicit port of an address.
fn port_of(address: &str) -> u16 {
    let without_scheme = address.split_once("://").map_or(address, |(_, rest)| rest);
    let authority = without_scheme.split('/').next().unwrap_or_default();
    let port = authority
        .rsplit_once(':')
        .map(|(_, port)| port)
        .unwrap_or_else(|| panic!("address `{address}` has no explicit port"));
    port.parse()
        .unwrap_or_else(|e| panic!("address `{address}`: port `{port}` is not a number: {e}"))
}

// --- topics ------------------------------------------------------------------------

#[derive(Debug)]
struct CreatedTopic {
    name: String,
    partitions: Option<u32>,
    configs: Vec<String>,
}

/// Topics created by a one-shot service's script: every line that names `--topic`.
fn created_topics(name: &str, service: &Value) -> Vec<CreatedTopic> {
    let script: String = match service.get("command") {
        None => String::new(),
        Some(Value::Sequence(words)) => words
            .iter()
            .map(|word| scalar(name, "command", word))
            .collect::<Vec<_>>()
            .join("\n"),
        Some(other) => scalar(name, "command", other),
    };
    script
        .lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let value_of = |flag: &str| -> Vec<String> {
                words
                    .windows(2)
                    .filter(|pair| pair[0] == flag)
                    .map(|pair| pair[1].to_owned())
                    .collect()
            };
            let topic = value_of("--topic").into_iter().next()?;
            let partitions = value_of("--partitions").into_iter().next().map(|count| {
                count.parse().unwrap_or_else(|e| {
                    panic!("service `{name}`: topic {topic}: --partitions `{count}`: {e}")
                })
            });
            Some(CreatedTopic {
                name: topic,
                partitions,
                configs: value_of("--config"),
            })
        })
        .collect()
}

// --- Dockerfile --------------------------------------------------------------------

#[derive(Debug)]
struct Stage {
    image: String,
    alias: Option<String>,
    /// The instructions after `FROM`, continuation lines joined.
    lines: Vec<String>,
}

fn stages(dockerfile: &str) -> Vec<Stage> {
    let mut stages: Vec<Stage> = Vec::new();
    for instruction in instructions(dockerfile) {
        let words: Vec<&str> = instruction.split_whitespace().collect();
        let Some(keyword) = words.first() else {
            continue;
        };
        if !keyword.eq_ignore_ascii_case("FROM") {
            if let Some(stage) = stages.last_mut() {
                stage.lines.push(instruction);
            }
            continue;
        }
        let mut rest = words[1..].iter().filter(|word| !word.starts_with("--"));
        let image = rest
            .next()
            .unwrap_or_else(|| panic!("{DOCKERFILE}: `{instruction}` names no image"));
        let alias = match (rest.next(), rest.next()) {
            (Some(as_), Some(alias)) if as_.eq_ignore_ascii_case("AS") => Some(alias.to_string()),
            _ => None,
        };
        stages.push(Stage {
            image: image.to_string(),
            alias,
            lines: Vec::new(),
        });
    }
    stages
}

/// The Dockerfile's instructions, comments and blank lines dropped, lines ending in
/// `\` joined to the next.
fn instructions(dockerfile: &str) -> Vec<String> {
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in dockerfile.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                instructions.push(std::mem::take(&mut current));
            }
        }
    }
    if !current.trim().is_empty() {
        instructions.push(current);
    }
    instructions
}

/// Where `COPY --from=<stage> <...>/ledgerstream <dest>` puts the binary.
fn copied_binary(instruction: &str) -> Option<String> {
    let words: Vec<&str> = instruction.split_whitespace().collect();
    if !words.first()?.eq_ignore_ascii_case("COPY")
        || !words.iter().any(|word| word.starts_with("--from="))
    {
        return None;
    }
    let paths: Vec<&str> = words[1..]
        .iter()
        .copied()
        .filter(|w| !w.starts_with("--"))
        .collect();
    let (dest, sources) = paths.split_last()?;
    sources
        .iter()
        .find(|source| source.ends_with("/ledgerstream"))?;
    Some(if dest.ends_with('/') {
        format!("{dest}ledgerstream")
    } else {
        (*dest).to_owned()
    })
}

fn on_default_path(binary: &str) -> bool {
    ["/usr/local/bin/ledgerstream", "/usr/bin/ledgerstream"].contains(&binary)
}

// --- Prometheus --------------------------------------------------------------------

/// Every `(job, target)` of the configuration's static scrape configs.
fn scrape_targets(path: &str, config: &Value) -> Vec<(String, String)> {
    let jobs = config
        .get("scrape_configs")
        .and_then(Value::as_sequence)
        .unwrap_or_else(|| panic!("{path}: no `scrape_configs` list"));
    let mut targets = Vec::new();
    for job in jobs {
        let name = job
            .get("job_name")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{path}: a scrape config has no job_name: {job:?}"));
        let statics = job.get("static_configs").and_then(Value::as_sequence);
        for static_config in statics.into_iter().flatten() {
            let listed = static_config.get("targets").and_then(Value::as_sequence);
            for target in listed.into_iter().flatten() {
                let target = target
                    .as_str()
                    .unwrap_or_else(|| panic!("{path}: job `{name}`: target {target:?}"));
                targets.push((name.to_owned(), target.to_owned()));
            }
        }
    }
    targets
}
