//! What the benchmarks set up before they measure: a run's own id and topics,
//! the schemas registered and a decoder over them, the accounts of a live run,
//! and the processor run in process for the live runs.

// Amounts in minor units read best grouped as units and cents: 1_000_00 is 1,000.00.
#![allow(clippy::inconsistent_digit_grouping)]

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use ledgerstream_processor::{ProcessError, Processor, ProcessorConfig};
use ledgerstream_producers::{CommandSender, commands};
use ledgerstream_runtime::decoder::Decoder;
use ledgerstream_runtime::topics::{self, Admin, TopicNames, TopicsConfig};
use ledgerstream_schemas::catalog::Kind;
use ledgerstream_schemas::client::RegistryClient;
use ledgerstream_schemas::codec::{Codec, Setup};
use ledgerstream_schemas::records::AccountType;

/// A run's own id, 8 random hex digits: its topics (`-bench-<id>`), tables and
/// indices are named with it, so that runs never share them.
pub fn run_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}

/// Creates the pipeline's topics under `names`, with `partitions` each.
pub async fn create_topics(
    admin: &Admin,
    names: &TopicNames,
    partitions: i32,
) -> anyhow::Result<()> {
    let layout = TopicsConfig {
        partitions,
        ..TopicsConfig::default()
    };
    topics::create(admin, &layout.specs_named(names)?)
        .await?
        .into_result()?;
    Ok(())
}

/// The commands, events and results topics of `names`, with what each carries.
pub fn pipeline_topics(names: &TopicNames) -> [(Kind, &str); 3] {
    [
        (Kind::Commands, names.commands.as_str()),
        (Kind::Events, names.events.as_str()),
        (Kind::Results, names.results.as_str()),
    ]
}

/// A codec for `topics`, their schemas registered, and a decoder over it on
/// the current runtime.
pub async fn codec(
    registry: &RegistryClient,
    topics: &[(Kind, &str)],
) -> anyhow::Result<(Arc<Codec>, Decoder)> {
    let codec = Arc::new(
        Codec::connect(registry, topics, Setup::Register)
            .await
            .context("registering the schemas")?,
    );
    let decoder = Decoder {
        codec: Arc::clone(&codec),
        registry: registry.clone(),
        runtime: tokio::runtime::Handle::current(),
    };
    Ok((codec, decoder))
}

/// Opens the live runs' accounts `live-0..accounts` with 1,000.00 USD each,
/// four accounts per owner.
pub async fn open_live_accounts(sender: &CommandSender, accounts: usize) -> anyhow::Result<()> {
    for i in 0..accounts {
        let open = commands::open_account(
            &format!("live-{i}"),
            &format!("owner-{}", i / 4),
            AccountType::Checking,
            1_000_00,
            "USD",
        );
        sender.send(&open).await?;
    }
    Ok(())
}

/// `ledgerstream process` run in this process, on the topics of `suffix`, with
/// its state in a temporary folder removed when it stops.
pub struct EmbeddedProcessor {
    stop: Arc<AtomicBool>,
    running: tokio::task::JoinHandle<Result<(), ProcessError>>,
    state: PathBuf,
}

impl EmbeddedProcessor {
    /// Starts it on a blocking thread of the runtime.
    pub fn start(brokers: &str, suffix: &str, decoder: Decoder) -> Self {
        let state = std::env::temp_dir().join(format!("ledgerstream{suffix}"));
        let mut config = ProcessorConfig::new(brokers.to_owned());
        config.topic_suffix = suffix.to_owned();
        config.group = format!("processor{suffix}");
        config.state_dir = state.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let running = {
            let stop = Arc::clone(&stop);
            tokio::task::spawn_blocking(move || Processor::run_embedded(config, decoder, stop))
        };
        Self {
            stop,
            running,
            state,
        }
    }

    /// Stops it, waits until it has, and removes its state.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.stop.store(true, Ordering::Release);
        self.running.await??;
        let _ = std::fs::remove_dir_all(&self.state);
        Ok(())
    }
}
