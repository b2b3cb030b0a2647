//! The owner view: how many open accounts each owner has, from every partition of
//! `account-events` (like a Kafka Streams global table). Each processor keeps its
//! own, fed by a thread that reads all partitions from the beginning, and folds the
//! `AccountOpened` it writes itself at once, so that two opens in one batch count.
//!
//! The view lags the log a little: two opens for one owner decided on different
//! partitions within that lag can both pass (see the domain's "owner limit").

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use ledgerstream_domain::OwnerSnapshot;
use ledgerstream_runtime::kafka::Reader;
use ledgerstream_schemas::records::EventRecord;
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::{Message, Offset, TopicPartitionList};
use tracing::{info, warn};

use ledgerstream_runtime::decoder::Decoder;

/// Open accounts per owner.
#[derive(Debug, Default)]
pub struct Owners {
    accounts_of: HashMap<String, HashSet<String>>,
    owner_of: HashMap<String, String>,
}

impl Owners {
    /// Folds one event; folding the same event twice changes nothing.
    pub fn apply(&mut self, event: &EventRecord) {
        match event {
            EventRecord::AccountOpened(opened) => {
                let account = opened.metadata.account_id.clone();
                self.owner_of
                    .insert(account.clone(), opened.owner_id.clone());
                self.accounts_of
                    .entry(opened.owner_id.clone())
                    .or_default()
                    .insert(account);
            }
            EventRecord::AccountClosed(closed) => {
                if let Some(owner) = self.owner_of.get(&closed.metadata.account_id)
                    && let Some(accounts) = self.accounts_of.get_mut(owner)
                {
                    accounts.remove(&closed.metadata.account_id);
                }
            }
            _ => {}
        }
    }

    /// The owner's open accounts, as the decision needs them.
    pub fn snapshot(&self, owner: &str) -> OwnerSnapshot {
        let open = self.accounts_of.get(owner).map_or(0, HashSet::len);
        OwnerSnapshot {
            open_accounts: u32::try_from(open).unwrap_or(u32::MAX),
        }
    }
}

/// The view shared by the feeding thread and the processor.
#[derive(Debug, Default)]
pub struct OwnerView {
    owners: RwLock<Owners>,
    caught_up: AtomicBool,
}

impl OwnerView {
    /// Folds an event the processor wrote itself.
    pub fn apply(&self, event: &EventRecord) {
        self.owners
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .apply(event);
    }

    /// The owner's open accounts.
    pub fn snapshot(&self, owner: &str) -> OwnerSnapshot {
        self.owners
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .snapshot(owner)
    }

    /// Whether the view has read every partition up to where it stood at start.
    pub fn caught_up(&self) -> bool {
        self.caught_up.load(Ordering::Acquire)
    }

    /// Starts the thread that feeds the view from every partition of `topic`.
    pub fn spawn(
        self: &Arc<Self>,
        reader: Reader,
        topic: String,
        decoder: Decoder,
        stop: Arc<AtomicBool>,
    ) -> Result<JoinHandle<()>, KafkaError> {
        let metadata = reader.fetch_metadata(Some(&topic), Duration::from_secs(10))?;
        let partitions: Vec<i32> = metadata
            .topics()
            .iter()
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        let mut assignment = TopicPartitionList::new();
        let mut remaining = HashMap::new();
        for &partition in &partitions {
            assignment.add_partition_offset(&topic, partition, Offset::Beginning)?;
            let (_, high) = reader.fetch_watermarks(&topic, partition, Duration::from_secs(10))?;
            if high > 0 {
                remaining.insert(partition, high);
            }
        }
        reader.assign(&assignment)?;
        if remaining.is_empty() {
            self.caught_up.store(true, Ordering::Release);
        }
        let view = Arc::clone(self);
        let thread = std::thread::Builder::new()
            .name("owner-view".to_owned())
            .spawn(move || view.feed(reader, decoder, remaining, stop))
            .map_err(|e| KafkaError::Subscription(e.to_string()))?;
        Ok(thread)
    }

    fn feed(
        &self,
        reader: Reader,
        decoder: Decoder,
        mut remaining: HashMap<i32, i64>,
        stop: Arc<AtomicBool>,
    ) {
        while !stop.load(Ordering::Acquire) {
            let Some(message) = reader.poll(Duration::from_millis(100)) else {
                continue;
            };
            let message = match message {
                Ok(message) => message,
                Err(KafkaError::PartitionEOF(partition)) => {
                    remaining.remove(&partition);
                    self.mark_caught_up(&remaining);
                    continue;
                }
                Err(error) => {
                    warn!(%error, "owner view: reading account-events failed; retrying");
                    continue;
                }
            };
            if let Some(high) = remaining.get(&message.partition())
                && message.offset() + 1 >= *high
            {
                remaining.remove(&message.partition());
            }
            // Undecodable events are counted and dead-lettered by the projections;
            // the view only needs the ones it can read.
            if let Some(payload) = message.payload() {
                match decoder.decode::<EventRecord>(payload) {
                    Ok(event) => self.apply(&event),
                    Err(error) => {
                        warn!(partition = message.partition(), offset = message.offset(), %error, "owner view: event skipped")
                    }
                }
            }
            self.mark_caught_up(&remaining);
        }
    }

    fn mark_caught_up(&self, remaining: &HashMap<i32, i64>) {
        if remaining.is_empty() && !self.caught_up.swap(true, Ordering::AcqRel) {
            info!("owner view caught up");
        }
    }
}

#[cfg(test)]
mod tests {
    use ledgerstream_schemas::records::samples;

    use super::*;

    fn opened(account: &str, owner: &str) -> EventRecord {
        let EventRecord::AccountOpened(mut opened) = samples::events().remove(0) else {
            unreachable!()
        };
        opened.metadata.account_id = account.to_owned();
        opened.owner_id = owner.to_owned();
        opened.into()
    }

    fn closed(account: &str) -> EventRecord {
        let EventRecord::AccountClosed(mut closed) = samples::events().pop().unwrap() else {
            unreachable!()
        };
        closed.metadata.account_id = account.to_owned();
        closed.into()
    }

    #[test]
    fn opens_count_once_and_closes_free_the_slot() {
        let mut owners = Owners::default();
        owners.apply(&opened("a1", "o"));
        owners.apply(&opened("a1", "o"));
        owners.apply(&opened("a2", "o"));
        owners.apply(&opened("b1", "p"));
        assert_eq!(owners.snapshot("o").open_accounts, 2);
        owners.apply(&closed("a1"));
        owners.apply(&closed("a1"));
        assert_eq!(owners.snapshot("o").open_accounts, 1);
        assert_eq!(owners.snapshot("p").open_accounts, 1);
        assert_eq!(owners.snapshot("nobody").open_accounts, 0);
    }
}
