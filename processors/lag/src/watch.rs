//! The async face of the monitor: each round samples on a blocking thread (every
//! Kafka call blocks) and folds the sample into the trends.

use std::time::Instant;

use super::config::LagConfig;
use super::error::LagError;
use super::monitor::{Monitor, Report};
use super::sample::Sampler;

/// Samples the watched groups, round after round.
#[derive(Debug)]
pub struct Watcher {
    config: LagConfig,
    /// None before the first round and after a sampling task died: the next round
    /// makes fresh clients.
    sampler: Option<Sampler>,
    monitor: Monitor,
}

impl Watcher {
    /// A watcher for `config` (validated by the caller); no request is sent yet.
    pub fn new(config: LagConfig) -> Self {
        let monitor = Monitor::new(config.trend_window(), config.stall_after());
        Self {
            config,
            sampler: None,
            monitor,
        }
    }

    /// One sample, folded into the trends.
    pub async fn round(&mut self) -> Result<Report, LagError> {
        let sampler = self.sampler.take();
        let config = self.config.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            let mut sampler = match sampler {
                Some(sampler) => sampler,
                None => match Sampler::connect(config) {
                    Ok(sampler) => sampler,
                    Err(error) => return (None, Err(error)),
                },
            };
            let sample = sampler.sample();
            (Some(sampler), sample)
        })
        .await;
        let (sampler, sample) = outcome.map_err(|error| LagError::Task(error.to_string()))?;
        self.sampler = sampler;
        Ok(self.monitor.update(sample?, Instant::now()))
    }
}
