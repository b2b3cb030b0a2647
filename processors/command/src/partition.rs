//! One assigned partition: its store and the account states in memory.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use ledgerstream_domain::{AccountEvent, AccountState, CommandId, Refusal, Rejection};

use crate::store::{Checkpoint, PartitionStore, StoreError};

/// A partition whose state has seen every event of its events partition.
#[derive(Debug)]
pub struct Partition {
    pub id: i32,
    store: PartitionStore,
    window: usize,
    accounts: HashMap<String, AccountState>,
    dirty: HashSet<String>,
    /// The checkpoint last written to the store.
    pub checkpoint: Checkpoint,
    /// Next offsets of the events and results partitions, as far as committed
    /// (or, while a batch is open, written).
    pub events_end: i64,
    pub results_end: i64,
}

impl Partition {
    /// Opens (or creates) the partition's store under `dir`; a store that cannot be
    /// read is wiped, to be rebuilt from the log.
    pub fn open(dir: &Path, id: i32, window: usize) -> Result<(Self, Checkpoint), StoreError> {
        let store = match PartitionStore::open(dir, id) {
            Ok(store) => store,
            Err(error) if error.needs_rebuild() => {
                tracing::warn!(partition = id, %error, "state store unreadable; rebuilding it from the event log");
                PartitionStore::wipe(dir, id)?;
                PartitionStore::open(dir, id)?
            }
            Err(error) => return Err(error),
        };
        let checkpoint = match store.checkpoint() {
            Ok(Some(checkpoint)) => checkpoint,
            Ok(None) => {
                store.clear()?;
                Checkpoint::START
            }
            Err(error) if error.needs_rebuild() => {
                tracing::warn!(partition = id, %error, "state store unreadable; rebuilding it from the event log");
                store.clear()?;
                Checkpoint::START
            }
            Err(error) => return Err(error),
        };
        let partition = Self {
            id,
            store,
            window,
            accounts: HashMap::new(),
            dirty: HashSet::new(),
            checkpoint,
            events_end: checkpoint.events_offset(),
            results_end: checkpoint.results_offset(),
        };
        Ok((partition, checkpoint))
    }

    /// The account's state: from memory, else from the store, else a new one.
    pub fn account(&mut self, id: &str) -> Result<&mut AccountState, StoreError> {
        if !self.accounts.contains_key(id) {
            let state = self
                .store
                .get_account(id)?
                .unwrap_or_else(|| AccountState::new(self.window));
            self.accounts.insert(id.to_owned(), state);
        }
        Ok(self.accounts.get_mut(id).expect("inserted above"))
    }

    /// Folds an event into its account's state.
    pub fn apply(&mut self, event: &AccountEvent) -> Result<(), StoreError> {
        let id = event.metadata.account_id.as_str().to_owned();
        self.account(&id)?.apply(event);
        self.dirty.insert(id);
        Ok(())
    }

    /// Remembers that `command` was rejected on account `id`.
    pub fn reject(
        &mut self,
        id: &str,
        command: CommandId,
        rejection: &Rejection,
    ) -> Result<(), StoreError> {
        self.account(id)?.reject(command, rejection);
        self.dirty.insert(id.to_owned());
        Ok(())
    }

    /// Remembers a rejection read back from the results (restore).
    pub fn remember_refusal(
        &mut self,
        id: &str,
        command: CommandId,
        refusal: Refusal,
    ) -> Result<(), StoreError> {
        self.account(id)?.remember_refusal(command, refusal);
        self.dirty.insert(id.to_owned());
        Ok(())
    }

    /// Whether accounts changed since the last [`persist`](Self::persist).
    pub fn is_dirty(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// Writes the changed accounts and the checkpoint at `events_end` and
    /// `results_end` to the store. Only between batches: the accounts in memory
    /// must be the committed ones.
    pub fn persist(&mut self) -> Result<(), StoreError> {
        let checkpoint = Checkpoint::new(self.events_end, self.results_end).map_err(|source| {
            StoreError::CheckpointRefused {
                partition: self.id,
                source,
            }
        })?;
        let changed = self
            .dirty
            .iter()
            .filter_map(|id| self.accounts.get(id).map(|state| (id.as_str(), state)));
        self.store.write_batch(changed, checkpoint)?;
        self.dirty.clear();
        self.checkpoint = checkpoint;
        Ok(())
    }

    /// Approximate bytes of the store, for the gauge.
    pub fn store_bytes(&self) -> u64 {
        self.store.approximate_size_bytes()
    }

    /// Keeps memory bounded: forgets clean account states beyond `max` (they are in
    /// the store).
    pub fn trim(&mut self, max: usize) {
        if self.accounts.len() <= max {
            return;
        }
        let dirty = &self.dirty;
        self.accounts.retain(|id, _| dirty.contains(id));
    }
}
