//! An isolated pipeline for one test: its own topics (the standard names plus a
//! random suffix), its schemas registered, and `ledgerstream process` children.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ledgerstream_infra::{Endpoint, Service};
use ledgerstream_producers::CommandSender;
use ledgerstream_runtime::topics::{self, Admin, TopicNames, TopicsConfig};
use ledgerstream_schemas::catalog::Kind;
use ledgerstream_schemas::client::{RegistryClient, RegistryConfig};
use ledgerstream_schemas::codec::{Codec, Setup};
use ledgerstream_schemas::records::RecordUnion;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::workload::PacedSend;
use crate::{TempDir, ledgerstream_bin, require, unique_name};

/// How [`Pipeline::spawn_child`] opens a process's log.
#[derive(Debug, Clone, Copy)]
enum Log {
    /// Anew: a processor started again under its name starts a new log.
    Create,
    /// After what is there: a projector started again under its name goes on
    /// with the log of the one before.
    Append,
}

/// One record read back from a topic.
#[derive(Debug, Clone)]
pub struct Read {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<String>,
    pub payload: Vec<u8>,
    pub headers: BTreeMap<String, String>,
}

/// Topics, schemas and a sender for one test.
pub struct Pipeline {
    pub broker: Endpoint,
    pub registry: RegistryClient,
    pub suffix: String,
    pub topics: TopicNames,
    pub partitions: i32,
    pub sender: CommandSender,
    pub codec: Arc<Codec>,
    pub state: TempDir,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("suffix", &self.suffix)
            .finish()
    }
}

impl Pipeline {
    /// Creates the topics with `partitions` partitions and registers every schema.
    pub async fn new(partitions: i32) -> Self {
        Self::on_broker(require(Service::Broker).await, partitions).await
    }

    /// [`new`](Self::new), on the broker at `broker` (a test's own).
    pub async fn on_broker(broker: Endpoint, partitions: i32) -> Self {
        let registry_endpoint = require(Service::Registry).await;
        Self::on(broker, &registry_endpoint.address, partitions).await
    }

    /// [`new`](Self::new), on the broker at `broker` and the registry at
    /// `registry_url` (a test's own).
    pub async fn on(broker: Endpoint, registry_url: &str, partitions: i32) -> Self {
        let suffix = format!("-{}", unique_name("t").trim_start_matches("t_"));
        let names = TopicNames::with_suffix(&suffix);
        let config = TopicsConfig {
            partitions,
            ..TopicsConfig::default()
        };
        let admin = Admin::connect(&broker.address).expect("admin client");
        let specs = config.specs_named(&names).expect("topic specs");
        let report = topics::create(&admin, &specs).await.expect("create topics");
        assert!(
            report.mismatches.is_empty(),
            "topics: {:?}",
            report.mismatches
        );
        let registry = RegistryClient::new(RegistryConfig::new(registry_url.to_owned()))
            .expect("registry client");
        let all = [
            (Kind::Commands, names.commands.as_str()),
            (Kind::Events, names.events.as_str()),
            (Kind::Results, names.results.as_str()),
        ];
        let codec = Codec::connect(&registry, &all, Setup::Register)
            .await
            .expect("register schemas");
        let sender =
            CommandSender::connect(&broker.address, &registry, &names.commands, Setup::LookUp)
                .await
                .expect("command sender");
        Self {
            broker,
            registry,
            suffix,
            topics: names,
            partitions,
            sender,
            codec: Arc::new(codec),
            state: TempDir::new("processor_state"),
        }
    }

    /// Starts `ledgerstream process` for this pipeline (extra flags appended), and
    /// waits until its `/health` says ready.
    pub async fn processor(&self, name: &str, extra: &[&str]) -> ProcessorChild {
        let mut processor = self.spawn_processor(name, extra);
        processor.wait_ready(Duration::from_secs(60)).await;
        processor
    }

    /// [`processor`](Self::processor) with `/metrics` and `/health` on `port`: a
    /// fixed port, such as the one the local Prometheus scrapes (9601).
    pub async fn processor_on_port(&self, name: &str, port: u16, extra: &[&str]) -> ProcessorChild {
        let mut processor = self.spawn_processor_on_port(name, port, extra);
        processor.wait_ready(Duration::from_secs(60)).await;
        processor
    }

    /// Starts `ledgerstream process` for this pipeline without waiting for it.
    pub fn spawn_processor(&self, name: &str, extra: &[&str]) -> ProcessorChild {
        self.spawn_processor_on_port(name, free_port(), extra)
    }

    /// [`spawn_processor`](Self::spawn_processor) with `/metrics` and `/health` on
    /// `port`.
    pub fn spawn_processor_on_port(&self, name: &str, port: u16, extra: &[&str]) -> ProcessorChild {
        let state_dir = self.state.path().join(name);
        let group = format!("processor{}", self.suffix);
        let state_dir = state_dir.to_str().expect("a UTF-8 temporary folder");
        let mut args = vec!["process", "--group", &group, "--state-dir", state_dir];
        args.extend_from_slice(extra);
        self.spawn_child(name, port, &args, &[], Log::Create)
    }

    /// Every committed record of `topic`, all partitions, up to the end: what a
    /// `read_committed` reader sees.
    pub fn read_all(&self, topic: &str) -> Vec<Read> {
        self.read_all_as(topic, "read_committed")
    }

    /// Every record of `topic` up to the end, as a reader with `isolation`
    /// (`read_committed` or `read_uncommitted`, which also sees the records of
    /// aborted transactions) sees them.
    pub fn read_all_as(&self, topic: &str, isolation: &str) -> Vec<Read> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.broker.address)
            .set("group.id", "ledgerstream-test-reader")
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "true")
            .set("isolation.level", isolation)
            .create()
            .expect("reader");
        let partitions = if topic == self.topics.dead_letters {
            3
        } else {
            self.partitions
        };
        let mut list = TopicPartitionList::new();
        for partition in 0..partitions {
            list.add_partition_offset(topic, partition, Offset::Beginning)
                .expect("a partition of an existing topic");
        }
        consumer.assign(&list).expect("assign");
        // The end is where the reader reports it: the last offset of a
        // transactional topic is a transaction marker, never returned as a record.
        let mut remaining: std::collections::BTreeSet<i32> = (0..partitions).collect();
        let mut records = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !remaining.is_empty() {
            assert!(
                Instant::now() < deadline,
                "reading {topic}: partitions {remaining:?} not read to their end after 60 s"
            );
            let message = match consumer.poll(Duration::from_millis(200)) {
                None => continue,
                Some(Err(rdkafka::error::KafkaError::PartitionEOF(partition))) => {
                    remaining.remove(&partition);
                    continue;
                }
                Some(message) => message.expect("read"),
            };
            let headers = message
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|h| {
                            let value = h.value.map(|v| String::from_utf8_lossy(v).into_owned());
                            (h.key.to_owned(), value.unwrap_or_default())
                        })
                        .collect()
                })
                .unwrap_or_default();
            records.push(Read {
                partition: message.partition(),
                offset: message.offset(),
                key: message
                    .key()
                    .map(|k| String::from_utf8_lossy(k).into_owned()),
                payload: message.payload().unwrap_or_default().to_vec(),
                headers,
            });
        }
        records
    }

    /// Decodes records of a topic (fetching unknown writer schemas).
    pub async fn decode<U: RecordUnion>(&self, records: &[Read]) -> Vec<(Read, U)> {
        let mut decoded = Vec::new();
        for record in records {
            let value = self
                .codec
                .decode_resolving::<U>(&record.payload, &self.registry)
                .await
                .unwrap_or_else(|e| {
                    panic!(
                        "record at {}/{} does not decode: {e}",
                        record.partition, record.offset
                    )
                });
            decoded.push((record.clone(), value));
        }
        decoded
    }
}

/// A running `ledgerstream process`; killed when dropped.
#[derive(Debug)]
pub struct ProcessorChild {
    child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl ProcessorChild {
    /// The tail of its log, for assertion messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// `/health`: its status and body, or `None` when it does not answer.
    pub async fn health(&self) -> Option<(u16, String)> {
        let response = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{}/health", self.port))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .ok()?;
        let status = response.status().as_u16();
        Some((status, response.text().await.unwrap_or_default()))
    }

    /// Waits until `/health` answers 200, asking every 200 ms.
    ///
    /// # Panics
    ///
    /// When the process exits, or after `timeout`, with its log.
    pub async fn wait_ready(&mut self, timeout: Duration) {
        self.wait_health("readiness (/health 200)", timeout, |status, _| {
            status == 200
        })
        .await;
    }

    /// Waits until `/health` answers with a status and body that `wanted` accepts
    /// (`what` names it in the failure), asking every 200 ms, and returns them.
    ///
    /// # Panics
    ///
    /// When the process exits, or after `timeout`, with its log.
    pub async fn wait_health(
        &mut self,
        what: &str,
        timeout: Duration,
        wanted: impl Fn(u16, &str) -> bool,
    ) -> (u16, String) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some((status, body)) = self.health().await
                && wanted(status, &body)
            {
                return (status, body);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "exited ({status}) while waiting for {what}; log:\n{}",
                    self.log_tail()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no {what} after {timeout:?}; health {:?}; log:\n{}",
                self.health().await,
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Whether the process still runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// `/metrics` as text.
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("http://127.0.0.1:{}/metrics", self.port))
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text")
    }

    /// SIGTERM, then waits up to `timeout` for the exit.
    pub fn terminate(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        self.wait_exit(timeout)
    }

    /// Waits up to `timeout` for the process to exit by itself, looking every
    /// 100 ms.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }

    /// SIGSTOP: the process stalls (a long GC pause, a frozen VM) until
    /// [`resume`](Self::resume).
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// SIGCONT after [`pause`](Self::pause).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(signal)
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} {} failed", self.child.id());
    }

    /// SIGTERM, then waits up to `timeout` for the process to exit.
    ///
    /// # Panics
    ///
    /// When it has not exited with success within `timeout`, with its log.
    pub fn assert_clean_exit(&mut self, timeout: Duration) {
        let status = self.terminate(timeout);
        assert!(
            status.is_some_and(|s| s.success()),
            "no clean exit within {timeout:?} of SIGTERM: {status:?}\n{}",
            self.log_tail()
        );
    }

    /// SIGKILL: a crash.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGKILL as soon as `mid_flush` answers true — a projector's batch is
    /// written and its checkpoint not yet — asking it again and again for
    /// `patience`; after that, SIGKILL at once. Whether the kill landed mid-flush.
    pub async fn kill_mid_flush<F>(
        &mut self,
        patience: Duration,
        mut mid_flush: impl FnMut() -> F,
    ) -> bool
    where
        F: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline {
            if mid_flush().await {
                self.kill();
                return true;
            }
        }
        self.kill();
        false
    }
}

/// Three crashes of `projector` under `sender`'s load: once 700, 1,400 and 2,100
/// commands are sent, a SIGKILL as [`ProcessorChild::kill_mid_flush`] does it
/// (with 10 s of patience for `mid_flush`), then a restart at once with
/// `restart`, as a supervisor would (the broker hands the killed member's
/// partitions on when its session expires). How many kills landed mid-flush.
pub async fn kill_three_times_mid_flush<F, R>(
    projector: &mut ProcessorChild,
    sender: &PacedSend,
    mut mid_flush: impl FnMut() -> F,
    mut restart: impl FnMut() -> R,
) -> usize
where
    F: std::future::Future<Output = bool>,
    R: std::future::Future<Output = ProcessorChild>,
{
    let mut landed = 0;
    for kill in 1..=3 {
        sender.wait_sent(kill * 700).await;
        if projector
            .kill_mid_flush(Duration::from_secs(10), &mut mid_flush)
            .await
        {
            landed += 1;
        }
        *projector = restart().await;
    }
    landed
}

impl Drop for ProcessorChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Pipeline {
    /// Starts `ledgerstream project clickhouse` for this pipeline (its ClickHouse
    /// tables named `<table>_<table_suffix>`, extra flags appended), and waits until
    /// its `/health` says ready. The handle is the processor's: it fits any
    /// `ledgerstream` service with `/health` and `/metrics`.
    pub async fn projector(
        &self,
        name: &str,
        table_suffix: &str,
        extra: &[&str],
    ) -> ProcessorChild {
        let mut projector = self.spawn_projector(name, table_suffix, extra);
        projector.wait_ready(Duration::from_secs(60)).await;
        projector
    }

    /// [`projector`](Self::projector) with `/metrics` and `/health` on `port`: a
    /// fixed port, such as the one the local Prometheus scrapes (9602).
    pub async fn projector_on_port(
        &self,
        name: &str,
        table_suffix: &str,
        port: u16,
        extra: &[&str],
    ) -> ProcessorChild {
        let mut projector = self.spawn_projector_on_port(name, table_suffix, port, extra);
        projector.wait_ready(Duration::from_secs(60)).await;
        projector
    }

    /// Starts `ledgerstream project clickhouse` for this pipeline without waiting.
    pub fn spawn_projector(
        &self,
        name: &str,
        table_suffix: &str,
        extra: &[&str],
    ) -> ProcessorChild {
        self.spawn_projector_on_port(name, table_suffix, free_port(), extra)
    }

    /// [`spawn_projector`](Self::spawn_projector) with `/metrics` and `/health` on
    /// `port`.
    pub fn spawn_projector_on_port(
        &self,
        name: &str,
        table_suffix: &str,
        port: u16,
        extra: &[&str],
    ) -> ProcessorChild {
        let group = format!("projector{}", self.suffix);
        let mut args = vec![
            "project",
            "clickhouse",
            "--table-suffix",
            table_suffix,
            "--group",
            &group,
        ];
        args.extend_from_slice(extra);
        self.spawn_child(name, port, &args, &[], Log::Append)
    }

    /// Starts `ledgerstream project` for this pipeline with `args` (the
    /// projections and their own flags; the topic suffix, a free `--listen` port
    /// and every service's address are set here), and waits until its `/health`
    /// says ready.
    pub async fn project(&self, name: &str, args: &[&str]) -> ProcessorChild {
        let mut projector = self.spawn_project(name, args);
        projector.wait_ready(Duration::from_secs(60)).await;
        projector
    }

    /// [`project`](Self::project) without waiting.
    pub fn spawn_project(&self, name: &str, args: &[&str]) -> ProcessorChild {
        self.spawn_project_with(name, args, &[])
    }

    /// [`project`](Self::project) with `env` set over the defaults (the address
    /// of a service of the test's own), and waits until it is ready.
    pub async fn project_with(
        &self,
        name: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> ProcessorChild {
        let mut projector = self.spawn_project_with(name, args, env);
        projector.wait_ready(Duration::from_secs(60)).await;
        projector
    }

    /// [`project_with`](Self::project_with) without waiting.
    pub fn spawn_project_with(
        &self,
        name: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> ProcessorChild {
        let mut all = vec!["project"];
        all.extend_from_slice(args);
        self.spawn_child(name, free_port(), &all, env, Log::Append)
    }

    /// `ledgerstream <args>` with this pipeline's broker and registry, and the
    /// ClickHouse and search server of [`endpoints`](crate::endpoints), in its
    /// environment; warnings logged; standard output and error piped. Not
    /// started: the caller adds what its command needs (`--topic-suffix` too).
    pub fn ledgerstream(&self, args: &[&str]) -> Command {
        self.command(ledgerstream_bin(), args)
    }

    /// [`ledgerstream`](Self::ledgerstream), for the binary at `binary` (the
    /// bench's load generator takes the same environment).
    pub fn command(&self, binary: PathBuf, args: &[&str]) -> Command {
        let endpoints = crate::endpoints();
        let mut command = Command::new(binary);
        command
            .args(args)
            .env("LEDGERSTREAM_BROKERS", &self.broker.address)
            .env("LEDGERSTREAM_REGISTRY_URL", &self.registry.config().url)
            .env("LEDGERSTREAM_CLICKHOUSE_URL", &endpoints.clickhouse.address)
            .env("LEDGERSTREAM_SEARCH_URL", &endpoints.search.address)
            .env("LEDGERSTREAM_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// `ledgerstream <args>` started for a long run, named `name`: the topic
    /// suffix, `/metrics` and `/health` on `port`, every service's address in its
    /// environment (`env` over them), debug logs of the pipeline's crates to
    /// `<name>.log` in the pipeline's folder.
    fn spawn_child(
        &self,
        name: &str,
        port: u16,
        args: &[&str],
        env: &[(&str, &str)],
        log: Log,
    ) -> ProcessorChild {
        let path = self.state.path().join(format!("{name}.log"));
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(matches!(log, Log::Append))
            .truncate(matches!(log, Log::Create))
            .open(&path)
            .expect("a log file");
        let endpoints = crate::endpoints();
        let child = Command::new(ledgerstream_bin())
            .args(args)
            .arg(format!("--topic-suffix={}", self.suffix))
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env("LEDGERSTREAM_BROKERS", &self.broker.address)
            .env("LEDGERSTREAM_REGISTRY_URL", &self.registry.config().url)
            .env("LEDGERSTREAM_CLICKHOUSE_URL", &endpoints.clickhouse.address)
            .env("LEDGERSTREAM_SEARCH_URL", &endpoints.search.address)
            .env("LEDGERSTREAM_LOG", crate::CHILD_LOG)
            .envs(env.iter().copied())
            .env_remove("RUST_BACKTRACE")
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("start ledgerstream {}: {e}", args.join(" ")));
        ProcessorChild {
            child,
            port,
            log: path,
        }
    }

    /// Writes one record straight to `topic` (records no processor would write:
    /// garbage, gaps, duplicates), keyed by `key`, and waits for its delivery.
    pub fn produce_raw(&self, topic: &str, partition: i32, key: &str, payload: &[u8]) {
        use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", &self.broker.address)
            // Up to the broker's own limit: tests send oversized records on purpose.
            .set("message.max.bytes", "2000000")
            .create()
            .expect("producer");
        producer
            .send(
                BaseRecord::to(topic)
                    .partition(partition)
                    .key(key)
                    .payload(payload),
            )
            .map_err(|(error, _)| error)
            .expect("send");
        producer.flush(Duration::from_secs(10)).expect("delivered");
    }
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}
