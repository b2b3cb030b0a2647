//! `ledgerstream replay history`: the history index built again from offset zero
//! into a concrete index of its own, while the live one keeps serving the
//! alias, then swapped in.
//!
//! ```text
//!  account-events ──▶ runner (group <GROUP>-history-<into>, --throttle) ──▶ transaction-history-<into>
//!        │                  progress: the new index's checkpoints vs the high watermarks
//!        │  caught up (every event up to a recent log end written) ──▶ runner stops
//!        └──▶ POST /_aliases {remove old, add new} (one atomic request) ──▶ --drop-old
//! ```
//!
//! Resuming needs no journal: the new index keeps its own checkpoints (keyed by
//! its uuid), so the same `--into` continues from them, and documents written
//! twice are 409s that change nothing. The swap is one request, so it either
//! happened (the alias points at the new index: a later run says so) or did not
//! (a later run catches up and swaps).
//!
//! The replay does not stay on as the writer: after the swap, the live
//! `project history` is restarted with `--index-suffix <into>` and resumes from
//! the new index's checkpoints (docs/history.md, "Rebuilding the index").

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use indicatif::HumanCount;
use ledgerstream_infra::{Endpoints, probe};
use ledgerstream_projections::history::alias::{
    self, concrete_indices, delete_index, next_version, swap,
};
use ledgerstream_projections::history::{self as sink, HistoryError, HistorySink};
use ledgerstream_projections::{
    ProjectionConfig, ProjectionHealth, ProjectionMetrics, RunnerParts,
};
use ledgerstream_runtime::kafka::probe::probe_broker;
use tracing::{info, warn};

use super::progress::Bar;
use ledgerstream_projections::history::read::HistoryReader;

use crate::query::history::Source;
use ledgerstream_projections::rebuild::positions::{self, EventLog, Marks};

/// Caught up: every event up to a log end sampled at most this long ago is
/// written. What the live projector has left to write after the swap is about
/// this much.
const CAUGHT_UP_WITHIN: Duration = Duration::from_secs(3);

/// How often the progress is read and drawn.
const TICK: Duration = Duration::from_secs(1);

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The suffix of the index to build: `transaction-history-<INTO>`. Default:
    /// `v<N>`, one above any `v<N>` index of the alias (at least v2). Running
    /// the same --into again resumes that replay.
    #[arg(long, value_name = "SUFFIX")]
    into: Option<String>,
    /// Consumer group prefix: the replay reads in group `<GROUP>-history-<INTO>`,
    /// a group of its own per index.
    #[arg(long, value_name = "GROUP", default_value = "ledgerstream-replay")]
    group: String,
    /// At most this many events per second (default: as fast as it goes), to
    /// leave the broker and the search server room for the live pipeline.
    #[arg(long, value_name = "EVENTS_PER_S", value_parser = clap::value_parser!(u32).range(1..))]
    throttle: Option<u32>,
    /// After the swap, delete the index the alias pointed at before it.
    #[arg(long)]
    drop_old: bool,
    /// Stop once caught up, leaving the new index beside the live one (to
    /// compare them); the same command without it swaps.
    #[arg(long)]
    no_switch: bool,
    /// Documents per bulk request.
    #[arg(long, value_name = "N", default_value_t = sink::config::DEFAULT_BULK_DOCUMENTS)]
    bulk_documents: usize,
    /// Bulk requests in flight at once.
    #[arg(long, value_name = "N", default_value_t = sink::config::DEFAULT_BULK_CONCURRENCY)]
    bulk_concurrency: usize,
    /// Write a batch after this many events ...
    #[arg(long, value_name = "N", default_value_t = 50_000)]
    batch_rows: usize,
    /// ... or this many milliseconds after its first event.
    #[arg(long, value_name = "MS", default_value_t = 250)]
    batch_millis: u64,
    #[command(flatten)]
    source: Source,
}

enum Outcome {
    CaughtUp,
    Interrupted,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let endpoints = Endpoints::from_env();
    let mut config = args.source.config(Duration::from_secs(30))?;
    config.bulk_documents = args.bulk_documents;
    config.bulk_concurrency = args.bulk_concurrency;
    probe::probe(&endpoints.search).await?;
    let client = sink::client(&config)?;
    let alias = config.indices().alias;
    let existing = concrete_indices(&client, &alias).await?;
    config.index_suffix = match &args.into {
        Some(into) => into.clone(),
        None => format!("v{}", next_version(&alias, &existing)),
    };
    config.validate().map_err(|e| anyhow!("--into: {e}"))?;
    let indices = config.indices();
    let before = alias::alias_targets(&client, &alias).await?;
    if before.len() == 1 && before[0] == indices.concrete {
        eprintln!(
            "{} is live already: the alias {alias} points at it. A replay swaps once; \
             replay into a new index with --into v{}",
            indices.concrete,
            next_version(&alias, &existing)
        );
        if args.drop_old {
            eprintln!(
                "the index it replaced is not recorded: delete it with \
                 `curl -XDELETE $LEDGERSTREAM_SEARCH_URL/<index>`"
            );
        }
        return Ok(());
    }

    probe_broker(&endpoints.broker).await?;
    let mut projection = ProjectionConfig::new(
        endpoints.broker.address.clone(),
        format!("{}-history-{}", args.group, config.index_suffix),
    );
    projection.topic_suffix = args.source.topic_suffix.clone();
    projection.batch_rows = args.batch_rows;
    projection.batch_millis = args.batch_millis;
    projection.validate()?;
    let topic = projection.topics().events;
    let log = EventLog::connect(&endpoints.broker.address, &topic)?;
    let partitions = log.partitions().await?;
    let decoder = super::events_decoder(&topic).await?;

    let metrics = ProjectionMetrics::new();
    let (first, prepared) = HistorySink::connect(&config, metrics.clone())
        .await
        .with_context(|| format!("setting up {}", indices.concrete))?;
    let first = first.without_refresh_per_bulk();
    if prepared.created {
        info!(index = %indices.concrete, "replay index created");
    }
    let reader = HistoryReader::new(&config)?;
    let start = log.marks(&partitions).await?;
    let already = reader
        .checkpoints(&indices.concrete, &topic, &partitions)
        .await
        .context("reading the replay's checkpoints")?;
    let (done, total) = positions::progress(&already, &start);
    if done > 0 {
        eprintln!(
            "resuming: {} of {} events already in {}",
            HumanCount(done),
            HumanCount(total),
            indices.concrete
        );
    }
    eprintln!(
        "replaying {topic} into {} on {} (group {}{}); readers stay on {alias} → {}",
        indices.concrete,
        first.engine(),
        projection.group,
        args.throttle
            .map_or(String::new(), |t| format!(", at most {t} events/s")),
        if before.is_empty() {
            "nothing yet".to_owned()
        } else {
            before.join(", ")
        }
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
        config: projection,
        decoder,
        metrics,
        health: Arc::new(ProjectionHealth::new(sink::NAME)),
        stop: Arc::clone(&stop),
    };
    let (connect_config, metrics) = (config.clone(), parts.metrics.clone());
    let connect = move || {
        let (config, metrics) = (connect_config.clone(), metrics.clone());
        async move {
            let (sink, _) = HistorySink::connect(&config, metrics).await?;
            Ok::<_, HistoryError>(sink.without_refresh_per_bulk())
        }
    };
    let mut runner = tokio::spawn(super::keep_running(
        "connecting to the search server",
        first,
        parts,
        args.throttle,
        connect,
    ));

    let bar = Bar::start(done, total);
    let mut mark: (Instant, Marks) = (Instant::now(), start.clone());
    let mut finished = None;
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
        let at = match reader
            .checkpoints(&indices.concrete, &topic, &partitions)
            .await
        {
            Ok(at) => at,
            Err(error) => {
                warn!(error = %format!("{error:#}"), "reading the replay's checkpoints failed; retrying");
                continue;
            }
        };
        let (done, total) = positions::progress(&at, &start);
        let note = if positions::reached(&at, &start) {
            format!(
                "past the start's log end; lag {}",
                HumanCount(positions::lag(&at, &mark.1))
            )
        } else {
            String::new()
        };
        bar.update(done, total, &note);
        if positions::reached(&at, &mark.1) {
            if mark.0.elapsed() <= CAUGHT_UP_WITHIN {
                bar.finish(done, total, "caught up");
                break Outcome::CaughtUp;
            }
            // Past an older end: the log has grown since; chase its end now.
            let now = Instant::now();
            match log.marks(&partitions).await {
                Ok(marks) => mark = (now, marks),
                Err(error) => {
                    warn!(error = %format!("{error:#}"), "reading the log's end failed; retrying")
                }
            }
        }
    };
    stop.store(true, Ordering::Release);
    let result = match finished {
        Some(result) => result,
        None => runner.await,
    };
    result.context("the replay's runner panicked")??;
    if matches!(outcome, Outcome::Interrupted) {
        bar.break_line();
        if !interrupted.load(Ordering::Acquire) {
            bail!("the replay's runner stopped by itself");
        }
        bail!(
            "interrupted; run the same command (--into {}) again to resume from the checkpoints",
            config.index_suffix
        );
    }
    if args.no_switch {
        eprintln!(
            "caught up; {} stays beside the live index (--no-switch). \
             Run the same command without --no-switch to swap the alias.",
            indices.concrete
        );
        return Ok(());
    }

    // Read again: another replay may have swapped meanwhile.
    let old = alias::alias_targets(&client, &alias).await?;
    let old: Vec<String> = old
        .into_iter()
        .filter(|index| *index != indices.concrete)
        .collect();
    swap(&client, &alias, &old, &indices.concrete).await?;
    eprintln!(
        "swapped: {alias} → {} (was {}). Restart the live `ledgerstream project history` \
         with --index-suffix {}: it resumes from the new index's checkpoints",
        indices.concrete,
        if old.is_empty() {
            "nothing".to_owned()
        } else {
            old.join(", ")
        },
        config.index_suffix
    );
    if args.drop_old {
        for index in &old {
            delete_index(&client, index).await?;
            eprintln!("deleted the old index {index}");
        }
    } else if !old.is_empty() {
        eprintln!(
            "delete the old index when no longer needed (once its projector is stopped: a \
             projector still writing it would create it again): curl -XDELETE \
             $LEDGERSTREAM_SEARCH_URL/{}",
            old.join(",")
        );
    }
    Ok(())
}
