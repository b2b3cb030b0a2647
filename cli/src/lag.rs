//! `ledgerstream lag`: consumer-group lag, as a live terminal view, one table
//! (`--once`), or Prometheus metrics (`--serve`).

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use crossterm::cursor::MoveTo;
use crossterm::execute;
use crossterm::style::Print;
use crossterm::terminal::{Clear, ClearType};
use ledgerstream_infra::Endpoints;
use ledgerstream_lag::{
    ExporterHealth, LagConfig, LagError, LagMetrics, Report, ViewOptions, Watcher, exporter, view,
};
use ledgerstream_runtime::kafka::probe::probe_broker;
use tracing::{error, info, warn};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A consumer group to watch; repeat for several. Without one, every group the
    /// cluster lists.
    #[arg(long = "group", value_name = "GROUP")]
    groups: Vec<String>,
    /// Seconds between two samples.
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    interval: u64,
    /// Flag a group STALLED when it is behind and its lag has not fallen for this
    /// many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    stall_after: u64,
    /// Seconds of samples the trend and the ETA are fitted over (at least two
    /// intervals; default: 60, or two intervals if longer).
    #[arg(long, value_name = "SECS")]
    trend_window: Option<u64>,
    /// Serve the figures as Prometheus metrics on --listen (/metrics, /health)
    /// instead of drawing them.
    #[arg(long, conflicts_with = "once")]
    serve: bool,
    /// Where --serve listens (0.0.0.0:9603 in a container).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9603")]
    listen: SocketAddr,
    /// Print one table and exit (no trend: that needs two samples).
    #[arg(long)]
    once: bool,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let endpoints = Endpoints::from_env();
    let mut config = LagConfig::new(endpoints.broker.address.clone());
    config.groups = args.groups;
    config.interval_secs = args.interval;
    config.stall_after_secs = args.stall_after;
    config.trend_window_secs = args
        .trend_window
        .unwrap_or_else(|| config.trend_window_secs.max(2 * args.interval));
    config.validate()?;
    probe_broker(&endpoints.broker).await?;

    let view = ViewOptions::for_stdout(&config, args.once, std::io::stdout().is_terminal());
    let mut watcher = Watcher::new(config.clone());
    if args.once {
        let report = watcher.round().await?;
        print(&view::render(&report, view))?;
        return Ok(());
    }
    if args.serve {
        return serve(watcher, &config, args.listen).await;
    }
    draw(watcher, &config, view).await
}

/// The live view: a fresh table every interval until Ctrl-C.
async fn draw(mut watcher: Watcher, config: &LagConfig, view: ViewOptions) -> anyhow::Result<()> {
    let mut stop = stop_signal();
    let mut last: Option<Report> = None;
    loop {
        let started = Instant::now();
        let round = tokio::select! {
            round = watcher.round() => round,
            _ = stop.changed() => return Ok(()),
        };
        let text = match (round, &last) {
            (Ok(report), _) => {
                let text = view::render(&report, view);
                last = Some(report);
                text
            }
            (Err(error), _) if error.is_permanent() => return Err(error.into()),
            // Keep the last figures on screen, marked stale.
            (Err(error), Some(report)) => format!(
                "{}\nthis round failed (the figures above are the previous round's): {error}\n",
                view::render(report, view)
            ),
            (Err(error), None) => format!("this round failed: {error}\n"),
        };
        if view.color {
            // Home and clear, then the new table: a redraw in place.
            execute!(
                std::io::stdout(),
                MoveTo(0, 0),
                Clear(ClearType::All),
                Print(text)
            )?;
        } else {
            print(&format!("{text}\n"))?;
        }
        if wait_or_stop(
            &mut stop,
            config.interval().saturating_sub(started.elapsed()),
        )
        .await
        {
            return Ok(());
        }
    }
}

/// The exporter: a round every interval, its figures on /metrics, until a signal.
async fn serve(mut watcher: Watcher, config: &LagConfig, listen: SocketAddr) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| {
            format!("cannot listen on {listen} (is another `ledgerstream lag --serve` running?)")
        })?;
    let metrics = LagMetrics::new();
    // Healthy while a round succeeded within three intervals (one minute at least:
    // a round waits for the broker and for records).
    let max_age = (3 * config.interval()).max(Duration::from_secs(60));
    let health = Arc::new(ExporterHealth::new(max_age));
    let (stopped_tx, stopped_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(exporter::serve_on(
        listener,
        metrics.clone(),
        Arc::clone(&health),
        async {
            let _ = stopped_rx.await;
        },
    ));
    info!(%listen, groups = ?config.groups, interval_secs = config.interval_secs, "lag exporter serving");
    let mut stop = stop_signal();
    let outcome = loop {
        let started = Instant::now();
        let round = tokio::select! {
            round = watcher.round() => round,
            _ = stop.changed() => break Ok(()),
        };
        match round {
            Ok(report) => {
                metrics.record(&report);
                metrics.round(true, started.elapsed().as_secs_f64());
                health.ok(Instant::now());
            }
            Err(error) if error.is_permanent() => break Err(error),
            Err(error) => {
                warn!(%error, "lag sample failed; trying again next interval");
                metrics.round(false, started.elapsed().as_secs_f64());
                health.failed(error.to_string());
            }
        }
        if wait_or_stop(
            &mut stop,
            config.interval().saturating_sub(started.elapsed()),
        )
        .await
        {
            break Ok(());
        }
    };
    info!("lag exporter stopping");
    let _ = stopped_tx.send(());
    if let Ok(Err(error)) = server.await {
        error!(%error, "metrics endpoint failed");
    }
    outcome.map_err(|error: LagError| anyhow::anyhow!(error))
}

/// Set once Ctrl-C or SIGTERM arrives; listening starts when it is made, so a
/// signal during a round is not missed.
fn stop_signal() -> tokio::sync::watch::Receiver<bool> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        crate::signals::shutdown().await;
        let _ = tx.send(true);
    });
    rx
}

/// Sleeps `duration`; true when a stop came first (or had come already).
async fn wait_or_stop(stop: &mut tokio::sync::watch::Receiver<bool>, duration: Duration) -> bool {
    if *stop.borrow() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(duration) => false,
        _ = stop.changed() => true,
    }
}

fn print(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}
