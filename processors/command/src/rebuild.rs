//! A processor's state stores rebuilt from the event log (`ledgerstream replay
//! state`): each partition's events folded per account, as the processor's
//! restore folds them, into new stores under a staging folder.
//!
//! ```text
//!  account-events[p] ──▶ Rebuilds::take (below the target?) ──▶ Rebuilds::fold
//!        ──▶ states in memory ──(past IN_MEMORY_ACCOUNTS)──▶ the new store, unsynced
//!        ──▶ Rebuilds::finish: last states, then the checkpoint, synced
//! ```
//!
//! The new store's checkpoint is at the end of the events folded, so a
//! processor's restore folds no event again. Its results offset is 0: the
//! rejections an account remembers come from `account-command-results`, which a
//! rebuild does not read, so the processor's restore folds them all back from
//! the start of that topic (its retention, 7 days).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::Context;
use ledgerstream_domain::{AccountEvent, AccountState};
use ledgerstream_runtime::decoder::Decoder;
use ledgerstream_schemas::records::EventRecord;
use tracing::{info, warn};

use crate::store::{Checkpoint, PartitionStore, StoreError};
use crate::wire::event_from_record;

/// Accounts kept in memory across all partitions; past it they go to the new
/// stores (unsynced) and are read back when met again.
pub const IN_MEMORY_ACCOUNTS: usize = 500_000;

/// A partition being rebuilt.
struct Rebuild {
    partition: i32,
    /// The new store, in the staging folder.
    store: PartitionStore,
    accounts: HashMap<String, AccountState>,
    /// Whether states went to the store (so a miss may be there).
    spilled: bool,
    /// Where the fold stops: the log's end at the start.
    target: i64,
    /// The next offset to fold.
    next_offset: i64,
    done: bool,
    folded: u64,
    unreadable: u64,
}

/// The partitions being rebuilt into stores under a staging folder, and how
/// many account states they hold in memory between them.
pub struct Rebuilds {
    by_partition: BTreeMap<i32, Rebuild>,
    window: usize,
    in_memory: usize,
}

impl std::fmt::Debug for Rebuilds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rebuilds")
            .field("partitions", &self.by_partition.keys().collect::<Vec<_>>())
            .field("window", &self.window)
            .field("in_memory", &self.in_memory)
            .finish()
    }
}

/// What a rebuild folded.
#[derive(Debug, Clone, Copy, Default)]
pub struct Totals {
    pub events: u64,
    pub accounts: u64,
    pub unreadable: u64,
}

impl Rebuilds {
    /// New stores under `staging` for each `(partition, first offset, target)`;
    /// accounts remember `window` command ids.
    pub fn open(
        staging: &Path,
        window: usize,
        partitions: impl IntoIterator<Item = (i32, i64, i64)>,
    ) -> anyhow::Result<Self> {
        let mut by_partition = BTreeMap::new();
        for (partition, low, high) in partitions {
            let store = PartitionStore::open(staging, partition)?;
            by_partition.insert(
                partition,
                Rebuild {
                    partition,
                    store,
                    accounts: HashMap::new(),
                    spilled: false,
                    target: high,
                    next_offset: low,
                    done: high <= low,
                    folded: 0,
                    unreadable: 0,
                },
            );
        }
        Ok(Self {
            by_partition,
            window,
            in_memory: 0,
        })
    }

    /// The partitions still to read, each with the next offset to fold.
    pub fn pending(&self) -> impl Iterator<Item = (i32, i64)> + '_ {
        self.by_partition
            .values()
            .filter(|r| !r.done)
            .map(|r| (r.partition, r.next_offset))
    }

    /// Every partition rebuilt, with the next offset to fold.
    pub fn next_offsets(&self) -> impl Iterator<Item = (i32, i64)> + '_ {
        self.by_partition.iter().map(|(p, r)| (*p, r.next_offset))
    }

    /// Whether `partition` is rebuilt.
    pub fn covers(&self, partition: i32) -> bool {
        self.by_partition.contains_key(&partition)
    }

    /// The reader reached the end of `partition`: nothing more to fold there.
    pub fn reached_end(&mut self, partition: i32) {
        if let Some(rebuild) = self.by_partition.get_mut(&partition) {
            rebuild.done = true;
        }
    }

    /// Whether the record read at `offset` of `partition` is to be folded (it is
    /// below the target of a partition rebuilt); a partition whose target is
    /// reached is done.
    pub fn take(&mut self, partition: i32, offset: i64) -> bool {
        let Some(rebuild) = self.by_partition.get_mut(&partition) else {
            return false;
        };
        if rebuild.done || offset >= rebuild.target {
            rebuild.done = true;
            return false;
        }
        if offset + 1 >= rebuild.target {
            rebuild.done = true;
        }
        true
    }

    /// Folds the record at `offset` of `partition` (one not rebuilt is left
    /// out); past [`IN_MEMORY_ACCOUNTS`], the states go to the stores.
    pub fn fold(
        &mut self,
        partition: i32,
        offset: i64,
        payload: &[u8],
        decoder: &Decoder,
    ) -> anyhow::Result<()> {
        let Some(rebuild) = self.by_partition.get_mut(&partition) else {
            return Ok(());
        };
        self.in_memory += rebuild.fold(offset, payload, decoder, self.window)?;
        if self.in_memory > IN_MEMORY_ACCOUNTS {
            for rebuild in self.by_partition.values_mut() {
                rebuild.spill()?;
            }
            self.in_memory = 0;
        }
        Ok(())
    }

    /// Writes every store's last states and its checkpoint (synced).
    pub fn finish(self) -> anyhow::Result<Totals> {
        let mut totals = Totals::default();
        for rebuild in self.by_partition.into_values() {
            totals.events += rebuild.folded;
            totals.unreadable += rebuild.unreadable;
            totals.accounts += finish(rebuild)?;
        }
        Ok(totals)
    }
}

impl Rebuild {
    /// Folds the record at `offset`; how many accounts it added to memory.
    fn fold(
        &mut self,
        offset: i64,
        payload: &[u8],
        decoder: &Decoder,
        window: usize,
    ) -> anyhow::Result<usize> {
        self.next_offset = offset + 1;
        let event = match decode(decoder, payload) {
            Ok(event) => event,
            Err(error) => {
                // As the processor's restore: counted and logged, never silent.
                warn!(partition = self.partition, offset, %error, "event in the log cannot be read; state skips it");
                self.unreadable += 1;
                return Ok(0);
            }
        };
        self.folded += 1;
        let id = event.metadata.account_id.as_str();
        if let Some(state) = self.accounts.get_mut(id) {
            state.apply(&event);
            return Ok(0);
        }
        let mut state = match self.spilled {
            true => self.store.get_account(id)?,
            false => None,
        }
        .unwrap_or_else(|| AccountState::new(window));
        state.apply(&event);
        self.accounts.insert(id.to_owned(), state);
        Ok(1)
    }

    /// Moves the states in memory to the new store, unsynced (the closing
    /// checkpoint syncs them).
    fn spill(&mut self) -> Result<(), StoreError> {
        if self.accounts.is_empty() {
            return Ok(());
        }
        self.store
            .load_batch(self.accounts.iter().map(|(id, state)| (id.as_str(), state)))?;
        self.accounts.clear();
        self.spilled = true;
        Ok(())
    }
}

fn decode(decoder: &Decoder, payload: &[u8]) -> Result<AccountEvent, String> {
    let record = decoder
        .decode::<EventRecord>(payload)
        .map_err(|e| e.to_string())?;
    event_from_record(record).map_err(|e| e.to_string())
}

/// Writes the last states and the checkpoint (synced); the accounts stored.
fn finish(mut rebuild: Rebuild) -> anyhow::Result<u64> {
    rebuild.spill()?;
    // Read to the target: what lies between the last record and it is
    // transaction markers or aborted records, which hold no event.
    rebuild.next_offset = rebuild.next_offset.max(rebuild.target);
    // Rejections are folded back from the start of the results by the processor.
    let checkpoint = Checkpoint::new(rebuild.next_offset, 0)?;
    rebuild
        .store
        .write_batch(std::iter::empty(), checkpoint)
        .with_context(|| format!("writing the checkpoint of partition {}", rebuild.partition))?;
    let accounts = rebuild.store.account_count()?;
    info!(
        partition = rebuild.partition,
        events_offset = rebuild.next_offset,
        folded = rebuild.folded,
        accounts,
        "state rebuilt"
    );
    Ok(accounts)
}
