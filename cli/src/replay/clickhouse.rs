//! `ledgerstream replay clickhouse`: the ClickHouse read model built again from
//! offset zero into a table set of its own, while the live one keeps serving,
//! then switched in.
//!
//! ```text
//!  account-events ──▶ runner (group <GROUP>-clickhouse-<set>, --throttle) ──▶ account_events_v2, …
//!        │                  progress: checkpoints of the set vs the high watermarks
//!        │  caught up (every event up to a recent log end written) ──▶ runner stops at R
//!        └──▶ RENAME TABLE live → old, v2 → live ──▶ tail R..end into the live names
//!             ──▶ views ──▶ journal: switched ──▶ --drop-old
//! ```
//!
//! Every step is recorded in the journal ([`super::journal`]) before it is
//! taken, so running the same command again resumes where it stopped: the
//! runner from the set's checkpoints, a switch from its recorded position; a set
//! once switched in is never switched again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use indicatif::HumanCount;
use jiff::Timestamp;
use ledgerstream_infra::{Endpoints, probe};
use ledgerstream_projections::clickhouse::server::ServerVersion;
use ledgerstream_projections::clickhouse::{
    self as sink, ClickHouseConfig, ClickHouseError, ClickHouseSink, Client, Tables, schema,
};
use ledgerstream_projections::{
    ProjectionConfig, ProjectionHealth, ProjectionMetrics, RunnerParts,
};
use ledgerstream_runtime::clock::now_millis;
use ledgerstream_runtime::decoder::Decoder;
use ledgerstream_runtime::kafka::probe::probe_broker;
use tracing::{info, warn};

use super::progress::Bar;
use ledgerstream_projections::clickhouse::journal::{Entry, Journal, Stage};
use ledgerstream_projections::clickhouse::switch::{
    self, next_version, parse_version, set_suffix, stamp,
};
use ledgerstream_projections::clickhouse::tail;
use ledgerstream_projections::rebuild::positions::{self, EventLog, Marks, Positions};

/// Caught up: every event up to a log end sampled at most this long ago is
/// written. What is left for the tail after the stop is about this much.
const CAUGHT_UP_WITHIN: Duration = Duration::from_secs(3);

/// How often the progress is read and drawn (a query of the replayed set's
/// checkpoints each time), and so how late the catch-up is seen.
const TICK: Duration = Duration::from_millis(200);

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The table set to build, `v<N>` (tables `account_events_v<N>`, ...).
    /// Default: the next version free next to the live set. Running the same
    /// --into again resumes that replay.
    #[arg(long, value_name = "VERSION")]
    into: Option<String>,
    /// The live table set: its suffix, as given to `ledgerstream project
    /// clickhouse --table-suffix` (empty: the plain names). The replayed set is
    /// `<table>_<SUFFIX>_<VERSION>`, the set it replaces `<table>_<SUFFIX>_old_<time>`.
    #[arg(long, value_name = "SUFFIX", default_value = "")]
    table_suffix: String,
    /// Appended to every topic name (`account-events<SUFFIX>`), as for
    /// `ledgerstream project --topic-suffix`.
    #[arg(long, value_name = "SUFFIX", default_value = "")]
    topic_suffix: String,
    /// Consumer group prefix: the replay reads in group
    /// `<GROUP>-clickhouse-<set suffix>`, a group of its own per set.
    #[arg(long, value_name = "GROUP", default_value = "ledgerstream-replay")]
    group: String,
    /// At most this many events per second (default: as fast as it goes), to
    /// leave the broker and ClickHouse room for the live pipeline.
    #[arg(long, value_name = "EVENTS_PER_S", value_parser = clap::value_parser!(u32).range(1..))]
    throttle: Option<u32>,
    /// After the switch, drop the set that was live before it (also: run with
    /// the --into of a replay switched earlier to drop what it replaced).
    #[arg(long)]
    drop_old: bool,
    /// Stop once caught up, leaving the replayed set beside the live one (to
    /// compare them); the same command without it switches.
    #[arg(long)]
    no_switch: bool,
    /// Write a batch after this many events ...
    #[arg(long, value_name = "N", default_value_t = 50_000)]
    batch_rows: usize,
    /// ... or this many milliseconds after its first event.
    #[arg(long, value_name = "MS", default_value_t = 250)]
    batch_millis: u64,
    /// ClickHouse database of the tables.
    #[arg(long, value_name = "NAME", default_value = "default")]
    clickhouse_database: String,
    /// ClickHouse user; its password is read from LEDGERSTREAM_CLICKHOUSE_PASSWORD,
    /// and an https:// URL's private CA from LEDGERSTREAM_CLICKHOUSE_CA_FILE.
    #[arg(long, value_name = "USER", env = "LEDGERSTREAM_CLICKHOUSE_USER")]
    clickhouse_user: Option<String>,
}

/// Everything the steps of a replay share.
struct Replay {
    args: Args,
    brokers: String,
    client: Client,
    /// How the switch is made on this server ([`server`]).
    server: ServerVersion,
    journal: Journal,
    live_config: ClickHouseConfig,
    replay_config: ClickHouseConfig,
    live: Tables,
    replayed: Tables,
    /// The replayed set's suffix (`v2`), its key in the journal.
    set: String,
    projection: ProjectionConfig,
    log: EventLog,
    decoder: Decoder,
}

enum Outcome {
    CaughtUp,
    Interrupted,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let endpoints = Endpoints::from_env();
    let mut live_config = ClickHouseConfig::new(endpoints.clickhouse.address.clone());
    live_config.database = args.clickhouse_database.clone();
    live_config.table_suffix = args.table_suffix.clone();
    live_config.user = args.clickhouse_user.clone();
    live_config.set_password(std::env::var("LEDGERSTREAM_CLICKHOUSE_PASSWORD").ok());
    live_config.set_ca_file(std::env::var("LEDGERSTREAM_CLICKHOUSE_CA_FILE").ok());
    live_config.validate()?;
    if let Some(into) = &args.into {
        parse_version(into).map_err(|e| anyhow!("--into {e}"))?;
    }
    probe_broker(&endpoints.broker).await?;
    probe::probe(&endpoints.clickhouse).await?;

    let client = sink::client(&live_config);
    let server = ServerVersion::read(&client)
        .await
        .context("asking ClickHouse for its version")?;
    info!(version = %server.version, database_engine = %server.database_engine, "clickhouse server");
    let live = live_config.tables();
    let journal = Journal::open(&client, &live)
        .await
        .context("creating the replay journal")?;
    let existing = switch::table_names(&client).await?;
    let entries = journal.all().await?;
    let label = match &args.into {
        Some(into) => into.clone(),
        None => format!(
            "v{}",
            next_version(
                &args.table_suffix,
                existing.iter().map(String::as_str),
                entries.iter().map(|e| e.replay_set.as_str()),
            )
        ),
    };
    let set = set_suffix(&args.table_suffix, &label);
    let mut replay_config = live_config.clone();
    replay_config.table_suffix = set.clone();
    replay_config.validate()?;
    let replayed = replay_config.tables();
    let entry = entries.into_iter().find(|e| e.replay_set == set);

    let brokers = endpoints.broker.address.clone();
    let mut projection =
        ProjectionConfig::new(brokers.clone(), format!("{}-clickhouse-{set}", args.group));
    projection.topic_suffix = args.topic_suffix.clone();
    projection.batch_rows = args.batch_rows;
    projection.batch_millis = args.batch_millis;
    projection.validate()?;
    let topics = projection.topics();
    let log = EventLog::connect(&brokers, &topics.events)?;
    let partitions = log.partitions().await?;
    let decoder = super::events_decoder(&topics.events).await?;

    let replay = Replay {
        args,
        brokers,
        client,
        server,
        journal,
        live_config,
        replay_config,
        live,
        replayed,
        set,
        projection,
        log,
        decoder,
    };
    let entry = match entry {
        Some(Entry {
            stage: Stage::Switched { old_set },
            updated_at_ms,
            ..
        }) => return replay.already_live(&old_set, updated_at_ms).await,
        Some(entry) => {
            if let Stage::Switching { old_set, tail_from } = &entry.stage {
                eprintln!(
                    "finishing the switch of {} that stopped half-way",
                    replay.set
                );
                return replay.finish_switch(&entry, old_set, tail_from).await;
            }
            entry
        }
        None => {
            if existing.contains(&replay.replayed.events) {
                bail!(
                    "{} exists, but no replay made it (nothing in {}); \
                     replay into another set (--into), or drop that one first",
                    replay.replayed.events,
                    replay.journal.table()
                );
            }
            let now = now_millis();
            replay
                .journal
                .record(&replay.set, &Stage::Replaying, now, None)
                .await?
        }
    };
    match replay.replay(&partitions).await? {
        Outcome::Interrupted => bail!(
            "interrupted; run the same command (--into {}) again to resume from the checkpoints",
            label
        ),
        Outcome::CaughtUp if replay.args.no_switch => {
            eprintln!(
                "caught up; {} stays beside the live set (--no-switch). \
                 Run the same command without --no-switch to switch.",
                replay.replayed.events
            );
            Ok(())
        }
        Outcome::CaughtUp => {
            let mut tail_from = positions::checkpoints(
                &replay.client,
                &replay.replayed.checkpoints,
                replay.log.topic(),
            )
            .await
            .context("reading where the replay stopped")?;
            // A partition the replay wrote nothing for (empty until now) is
            // tailed from its start.
            for (partition, (low, _)) in replay.log.marks(&partitions).await? {
                tail_from.entry(partition).or_insert(low);
            }
            replay.switch(&entry, tail_from).await
        }
    }
}

impl Replay {
    /// Runs the projection into the replayed set until it has caught up with
    /// the log (or a signal stops it).
    async fn replay(&self, partitions: &[i32]) -> anyhow::Result<Outcome> {
        let metrics = ProjectionMetrics::new();
        let (first, applied) = ClickHouseSink::connect(&self.replay_config, metrics.clone())
            .await
            .with_context(|| format!("creating the tables of {}", self.set))?;
        if !applied.is_empty() {
            info!(?applied, set = %self.set, "migrations applied to the replayed set");
        }
        // Nobody reads the replayed set before the switch, and the runner stops
        // before it (also for the sinks of reconnections, below).
        let first = first.unread();
        self.check_the_log_holds_the_live_set(partitions).await?;
        let start = self.log.marks(partitions).await?;
        let topic = self.log.topic().to_owned();
        let already = positions::checkpoints(&self.client, &self.replayed.checkpoints, &topic)
            .await
            .context("reading the replay's checkpoints")?;
        let (done, total) = positions::progress(&already, &start);
        if done > 0 {
            eprintln!(
                "resuming: {} of {} events already in {}",
                HumanCount(done),
                HumanCount(total),
                self.replayed.events
            );
        }
        eprintln!(
            "replaying {topic} into {} (group {}{})",
            self.replayed.events,
            self.projection.group,
            self.args
                .throttle
                .map_or(String::new(), |t| format!(", at most {t} events/s"))
        );

        let stop = Arc::new(AtomicBool::new(false));
        let interrupted = Arc::new(AtomicBool::new(false));
        {
            let (stop, interrupted) = (Arc::clone(&stop), Arc::clone(&interrupted));
            tokio::spawn(async move {
                crate::signals::shutdown().await;
                info!("stopping: finishing the open batch");
                interrupted.store(true, Ordering::Release);
                stop.store(true, Ordering::Release);
            });
        }
        let parts = RunnerParts {
            config: self.projection.clone(),
            decoder: self.decoder.clone(),
            metrics,
            health: Arc::new(ProjectionHealth::new(sink::NAME)),
            stop: Arc::clone(&stop),
        };
        let started = Instant::now();
        let (config, metrics) = (self.replay_config.clone(), parts.metrics.clone());
        let connect = move || {
            let (config, metrics) = (config.clone(), metrics.clone());
            async move {
                let (sink, _) = ClickHouseSink::connect(&config, metrics).await?;
                Ok::<_, ClickHouseError>(sink.unread())
            }
        };
        let mut runner = tokio::spawn(super::keep_running(
            "connecting to ClickHouse",
            first,
            parts,
            self.args.throttle,
            connect,
        ));

        let bar = Bar::start(done, total);
        let mut mark: (Instant, Marks) = (Instant::now(), start.clone());
        let mut latest = start.clone();
        let mut finished = None;
        // When the log's end at the start was reached, and the events written by then.
        let mut through_start: Option<(Duration, u64)> = None;
        let outcome = loop {
            tokio::select! {
                result = &mut runner => {
                    finished = Some(result);
                    break Outcome::Interrupted;
                }
                () = tokio::time::sleep(TICK) => {}
            }
            if interrupted.load(Ordering::Acquire) {
                break Outcome::Interrupted;
            }
            let at = match positions::checkpoints(&self.client, &self.replayed.checkpoints, &topic)
                .await
            {
                Ok(at) => at,
                Err(error) => {
                    warn!(%error, "reading the replay's checkpoints failed; retrying");
                    continue;
                }
            };
            let (done, total) = positions::progress(&at, &start);
            if positions::reached(&at, &start) && through_start.is_none() {
                through_start = Some((
                    started.elapsed(),
                    positions::advanced(&already, &at, &start),
                ));
            }
            let note = if positions::reached(&at, &start) {
                format!(
                    "past the start's log end; lag {}",
                    HumanCount(positions::lag(&at, &latest))
                )
            } else {
                String::new()
            };
            bar.update(done, total, &note);
            if positions::reached(&at, &mark.1) {
                if mark.0.elapsed() <= CAUGHT_UP_WITHIN {
                    bar.finish(done, total, "caught up");
                    let (took, written) = through_start.unwrap_or((
                        started.elapsed(),
                        positions::advanced(&already, &at, &start),
                    ));
                    eprintln!(
                        "replayed {} events up to the log's end at the start in {:.1} s: {} events/s \
                         (group join included; seen every {} ms)",
                        HumanCount(written),
                        took.as_secs_f64(),
                        HumanCount((written as f64 / took.as_secs_f64().max(1e-9)) as u64),
                        TICK.as_millis()
                    );
                    break Outcome::CaughtUp;
                }
                // Past an older end: the log has grown since; chase its end now.
                let now = Instant::now();
                match self.log.marks(partitions).await {
                    Ok(marks) => {
                        latest = marks.clone();
                        mark = (now, marks);
                    }
                    Err(error) => warn!(%error, "reading the log's end failed; retrying"),
                }
            }
        };

        stop.store(true, Ordering::Release);
        let result = match finished {
            Some(result) => result,
            None => runner.await,
        };
        result.context("the replay's runner panicked")??;
        if matches!(outcome, Outcome::Interrupted) && !interrupted.load(Ordering::Acquire) {
            bail!("the replay's runner stopped by itself");
        }
        if matches!(outcome, Outcome::Interrupted) {
            bar.break_line();
        }
        Ok(outcome)
    }

    /// Records the switch, then makes it.
    async fn switch(&self, entry: &Entry, tail_from: Positions) -> anyhow::Result<()> {
        let old_set = set_suffix(
            &self.args.table_suffix,
            &format!("old_{}", stamp(Timestamp::now())),
        );
        let stage = Stage::Switching {
            old_set: old_set.clone(),
            tail_from: tail_from.clone(),
        };
        let entry = self
            .journal
            .record(&self.set, &stage, entry.started_at_ms, Some(entry))
            .await?;
        self.finish_switch(&entry, &old_set, &tail_from).await
    }

    /// The switch from where it stands: the renames left, the tail, the views,
    /// the journal, and --drop-old.
    async fn finish_switch(
        &self,
        entry: &Entry,
        old_set: &str,
        tail_from: &Positions,
    ) -> anyhow::Result<()> {
        let old = Tables::with_suffix(old_set);
        let exist = switch::table_names(&self.client).await?;
        let statements = switch::statements(
            &self.client,
            self.server.switch(),
            &self.set,
            [&self.live, &self.replayed, &old],
            &exist,
        )
        .await?;
        if !statements.is_empty() {
            let partitions = self.log.partitions().await?;
            self.check_the_log_holds_the_live_set(&partitions).await?;
            switch::run(&self.client, &statements).await?;
            info!(statements = statements.len(), old = %old_set, "tables switched");
        }
        let written = tail::write(
            &self.live_config,
            &self.brokers,
            self.log.topic(),
            self.decoder.clone(),
            tail_from.clone(),
        )
        .await
        .context("writing the tail after the switch; run the same command again to finish")?;
        self.fix_views(&old).await?;
        self.journal
            .record(
                &self.set,
                &Stage::Switched {
                    old_set: old_set.to_owned(),
                },
                entry.started_at_ms,
                Some(entry),
            )
            .await?;
        let before = if exist.contains(&self.live.events) || exist.contains(&old.events) {
            format!("the set live before is *{}", old.suffix)
        } else {
            "there was no live set before".to_owned()
        };
        eprintln!(
            "switched: {} and the rest of the set now hold the replay ({} events of the tail \
             written after the rename); {before}",
            self.live.events,
            HumanCount(written.events),
        );
        if self.args.drop_old {
            self.drop_set(&old).await?;
        } else if exist.contains(&self.live.events) {
            eprintln!(
                "drop it when no longer needed: the same command with --drop-old, \
                 or DROP TABLE for each *{} table",
                old.suffix
            );
        }
        Ok(())
    }

    /// Refuses to go on when the live set has read further than the log now
    /// ends: the topic lost records (recreated, or emptied by the broker), and
    /// a replay of what is left would switch in less than the live set holds.
    async fn check_the_log_holds_the_live_set(&self, partitions: &[i32]) -> anyhow::Result<()> {
        let exist = switch::table_names(&self.client).await?;
        if !exist.contains(&self.live.checkpoints) {
            return Ok(());
        }
        let live = positions::checkpoints(&self.client, &self.live.checkpoints, self.log.topic())
            .await
            .context("reading the live set's checkpoints")?;
        // The log's end after the checkpoints: a live projector moving on
        // meanwhile stays behind it.
        let marks = self.log.marks(partitions).await?;
        if let Some((partition, read, end)) = positions::beyond_the_end(&live, &marks) {
            bail!(
                "{} has read {} partition {partition} up to offset {read}, but the log now ends \
                 at {end}: the topic lost records (recreated, or emptied by the broker). A \
                 replay of what is left would hold less than the live set; refusing",
                self.live.events,
                self.log.topic()
            );
        }
        Ok(())
    }

    /// After the rename: the replayed set's views read tables that are gone;
    /// the live names get the views their (new) migrations define, and the old
    /// set views of its own.
    async fn fix_views(&self, old: &Tables) -> anyhow::Result<()> {
        switch::fix_views(&self.client, &self.replayed, [&self.live, old]).await
    }

    async fn drop_set(&self, old: &Tables) -> anyhow::Result<()> {
        schema::drop_all(&self.client, old)
            .await
            .with_context(|| format!("dropping the old set *{}", old.suffix))?;
        eprintln!("dropped the old set *{}", old.suffix);
        Ok(())
    }

    /// The set was switched in by an earlier run: only --drop-old has work left.
    async fn already_live(&self, old_set: &str, switched_at_ms: i64) -> anyhow::Result<()> {
        let old = Tables::with_suffix(old_set);
        if self.args.drop_old {
            let exist = switch::table_names(&self.client).await?;
            if old.all().iter().any(|t| exist.contains(*t)) {
                return self.drop_set(&old).await;
            }
            eprintln!("nothing to drop: the old set *{} is gone", old.suffix);
            return Ok(());
        }
        let journaled: Vec<Entry> = self.journal.all().await?;
        let exist = switch::table_names(&self.client).await?;
        let next = next_version(
            &self.args.table_suffix,
            exist.iter().map(String::as_str),
            journaled.iter().map(|e| e.replay_set.as_str()),
        );
        bail!(
            "table set {} is live already: it was switched in at {} (epoch ms; the set it \
             replaced is *{}). A replay switches once; replay into a new set with --into v{next} \
             (or without --into), or add --drop-old to drop the set it replaced",
            self.set,
            switched_at_ms,
            old.suffix
        )
    }
}
