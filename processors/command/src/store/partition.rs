//! One partition's store: a fjall keyspace with two partitions, `accounts`
//! (account id → encoded [`AccountState`]) and `meta` (the [`Checkpoint`]), in
//! `<dir>/partition-<p>/keyspace/`, and a lock file beside it.

use std::any::Any;
use std::fmt;
use std::fs::{self, File, TryLockError};
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use fjall::{Batch, Config, Keyspace, PartitionCreateOptions, PartitionHandle, PersistMode};
use ledgerstream_domain::AccountState;

use super::codec::{self, CodecError};
use super::{Checkpoint, StoreError};

const ACCOUNTS: &str = "accounts";
const META: &str = "meta";
const CHECKPOINT_KEY: &[u8] = b"checkpoint";

/// fjall's block cache per partition. The processor keeps hot accounts in memory
/// itself, so this only has to hold index blocks and recent data blocks.
const CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// Background threads per partition's keyspace, for each of flushing memtables
/// and compacting. fjall's default is one per core (up to 4), per keyspace, and a
/// processor holds one keyspace per assigned partition.
const WORKERS: usize = 1;

/// The state store of one partition.
///
/// Every method blocks (see the [module doc](super)); the store is `Send + Sync`.
/// Writes are serialised inside the store. A read running while a write is being
/// applied may see part of that batch: the processor reads and writes a
/// partition's store from one task, one batch after another, so it never does.
///
/// fjall and the LSM tree under it answer most damage with an error, but a
/// damaged file can also make them panic. So every call into fjall runs under
/// `catch_unwind`, and a panic there is reported as [`StoreError::Corrupt`]; the
/// store then refuses every later call, since fjall may have stopped halfway.
pub struct PartitionStore {
    partition: i32,
    root: PathBuf,
    /// `None` only while being dropped.
    engine: Option<Engine>,
    /// Held for the store's lifetime; fjall does not lock its directory itself.
    _lock: File,
    /// One writer at a time: the checkpoint check and the commit go together.
    writer: Mutex<()>,
    /// Set once fjall has panicked.
    broken: AtomicBool,
}

struct Engine {
    keyspace: Keyspace,
    accounts: PartitionHandle,
    meta: PartitionHandle,
}

impl Engine {
    fn open(path: &Path) -> Result<Self, fjall::Error> {
        let keyspace = Config::new(path)
            .cache_size(CACHE_BYTES)
            .flush_workers(WORKERS)
            .compaction_workers(WORKERS)
            .open()?;
        let accounts = keyspace.open_partition(ACCOUNTS, PartitionCreateOptions::default())?;
        let meta = keyspace.open_partition(META, PartitionCreateOptions::default())?;
        Ok(Self {
            keyspace,
            accounts,
            meta,
        })
    }
}

impl PartitionStore {
    /// Opens the partition's store under `dir`, creating it if needed, and locks
    /// it against a second opener (in this process or another).
    ///
    /// Reads the checkpoint on the way, so a store written by another layout or
    /// visibly damaged fails here, not in the middle of a batch. After a crash,
    /// fjall replays its journal first, dropping a batch torn by the crash (one
    /// whose `write_batch` never returned).
    pub fn open(dir: &Path, partition: i32) -> Result<Self, StoreError> {
        let root = Self::path(dir, partition);
        fs::create_dir_all(&root).map_err(|source| StoreError::Io { partition, source })?;
        let lock = lock(&root, partition)?;
        let keyspace = root.join("keyspace");
        let engine = catch_unwind(|| Engine::open(&keyspace))
            .map_err(|panic| panicked(partition, &panic))?
            .map_err(|e| StoreError::from_engine(partition, e))?;
        let store = Self {
            partition,
            root,
            engine: Some(engine),
            _lock: lock,
            writer: Mutex::new(()),
            broken: AtomicBool::new(false),
        };
        store.checkpoint()?;
        Ok(store)
    }

    /// The directory of the store of `partition` under `dir`.
    pub fn path(dir: &Path, partition: i32) -> PathBuf {
        dir.join(format!("partition-{partition}"))
    }

    /// Deletes the store of `partition` under `dir`, if there is one: the first
    /// step of a rebuild after [`StoreError::needs_rebuild`], and the quick way
    /// to empty a store and give its disk space back. Refused with
    /// [`StoreError::Locked`] while the store is open.
    pub fn wipe(dir: &Path, partition: i32) -> Result<(), StoreError> {
        let root = Self::path(dir, partition);
        if !root.exists() {
            return Ok(());
        }
        let _lock = lock(&root, partition)?;
        match fs::remove_dir_all(&root) {
            Err(source) if source.kind() != io::ErrorKind::NotFound => {
                Err(StoreError::Io { partition, source })
            }
            _ => Ok(()),
        }
    }

    pub fn partition(&self) -> i32 {
        self.partition
    }

    /// The account's last committed state, or `None` if the store has never seen it.
    pub fn get_account(&self, id: &str) -> Result<Option<AccountState>, StoreError> {
        self.guard(|engine| {
            let Some(value) = engine
                .accounts
                .get(id.as_bytes())
                .map_err(|e| self.engine_error(e))?
            else {
                return Ok(None);
            };
            codec::decode_account(&value)
                .map(Some)
                .map_err(|e| self.unreadable(&format!("account {id}"), e))
        })
    }

    /// The last committed checkpoint; `None` for a new or cleared store, or one
    /// whose restore never finished.
    pub fn checkpoint(&self) -> Result<Option<Checkpoint>, StoreError> {
        self.guard(|engine| self.stored_checkpoint(engine))
    }

    /// Writes the batch's account states and its checkpoint as one atomic batch,
    /// handed to the operating system (fjall's journal written, not `fdatasync`ed).
    ///
    /// `Ok`: all of it survives a process crash (`kill -9`); a power cut may take
    /// the last batches back, accounts and checkpoint together, and the caller
    /// folds the log again from the checkpoint that survived. `Err`: none of it
    /// is visible. If the failure was the write itself, what a restart finds is
    /// not known — all of the batch or none of it, with its checkpoint either way,
    /// so the store stays consistent with the checkpoint it reports.
    ///
    /// Refuses a checkpoint behind the stored one ([`StoreError::CheckpointRefused`]).
    /// Later states of the same account in one batch overwrite earlier ones.
    pub fn write_batch<'a>(
        &self,
        accounts: impl IntoIterator<Item = (&'a str, &'a AccountState)>,
        checkpoint: Checkpoint,
    ) -> Result<(), StoreError> {
        let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        self.guard(|engine| {
            // The store trails the log, which is the truth: no `fdatasync` per
            // batch (a few milliseconds each, more than the rest of the write).
            let mut batch = engine
                .keyspace
                .batch()
                .durability(Some(PersistMode::Buffer));
            self.insert_accounts(engine, &mut batch, accounts)?;
            if let Some(stored) = self.stored_checkpoint(engine)? {
                checkpoint.ensure_not_behind(&stored).map_err(|source| {
                    StoreError::CheckpointRefused {
                        partition: self.partition,
                        source,
                    }
                })?;
            }
            batch.insert(
                &engine.meta,
                CHECKPOINT_KEY,
                codec::encode_checkpoint(&checkpoint),
            );
            // An early return above drops `batch` uncommitted: nothing is written.
            batch.commit().map_err(|e| self.engine_error(e))
        })
    }

    /// Writes account states for a restore, without a checkpoint and without
    /// waiting for the disk: the store is not usable until the restore's closing
    /// [`write_batch`](Self::write_batch), whose sync makes everything loaded
    /// before it durable along with the checkpoint. A crash before then leaves a
    /// store with no checkpoint, which the caller wipes and restores again.
    ///
    /// Only on a store without a checkpoint: [`clear`](Self::clear) or
    /// [`wipe`](Self::wipe) it first.
    pub fn load_batch<'a>(
        &self,
        accounts: impl IntoIterator<Item = (&'a str, &'a AccountState)>,
    ) -> Result<(), StoreError> {
        let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        self.guard(|engine| {
            if self.stored_checkpoint(engine)?.is_some() {
                return Err(StoreError::LoadOverCheckpoint {
                    partition: self.partition,
                });
            }
            let mut batch = engine.keyspace.batch().durability(None);
            self.insert_accounts(engine, &mut batch, accounts)?;
            batch.commit().map_err(|e| self.engine_error(e))
        })
    }

    /// Removes every account and the checkpoint in one synced batch: the start of
    /// a restore from scratch into an open store. It writes a tombstone per
    /// account, so it takes time in proportion to the store and gives disk space
    /// back only after compaction; dropping the store and [`wipe`](Self::wipe)
    /// is quicker where that is possible.
    pub fn clear(&self) -> Result<(), StoreError> {
        let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        self.guard(|engine| {
            let mut batch = engine
                .keyspace
                .batch()
                .durability(Some(PersistMode::SyncData));
            for partition in [&engine.accounts, &engine.meta] {
                for key in partition.keys() {
                    batch.remove(partition, key.map_err(|e| self.engine_error(e))?);
                }
            }
            batch.commit().map_err(|e| self.engine_error(e))
        })
    }

    /// How many accounts the store holds. Counts them one by one (an LSM tree
    /// keeps no exact count): for tests and occasional checks, not for a gauge.
    pub fn account_count(&self) -> Result<u64, StoreError> {
        self.guard(|engine| {
            let count = engine.accounts.len().map_err(|e| self.engine_error(e))?;
            Ok(count as u64)
        })
    }

    /// The disk space of the store (journal and tables, not yet compacted data
    /// included); 0 once the store has failed. For a gauge, not for accounting.
    pub fn approximate_size_bytes(&self) -> u64 {
        self.guard(|engine| Ok(engine.keyspace.disk_space()))
            .unwrap_or(0)
    }

    /// Runs `f` against fjall, turning a panic inside it into [`StoreError::Corrupt`].
    fn guard<T>(&self, f: impl FnOnce(&Engine) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let (Some(engine), false) = (&self.engine, self.broken.load(Ordering::Acquire)) else {
            return Err(StoreError::Corrupt {
                partition: self.partition,
                detail: "an earlier call found the store damaged".to_owned(),
            });
        };
        catch_unwind(AssertUnwindSafe(|| f(engine))).unwrap_or_else(|panic| {
            self.broken.store(true, Ordering::Release);
            Err(panicked(self.partition, &panic))
        })
    }

    fn insert_accounts<'a>(
        &self,
        engine: &Engine,
        batch: &mut Batch,
        accounts: impl IntoIterator<Item = (&'a str, &'a AccountState)>,
    ) -> Result<(), StoreError> {
        let mut value = Vec::with_capacity(512);
        for (id, state) in accounts {
            value = codec::encode_account(state, value).map_err(|e| StoreError::Encode {
                partition: self.partition,
                account: id.to_owned(),
                detail: e.to_string(),
            })?;
            batch.insert(&engine.accounts, id.as_bytes(), value.as_slice());
        }
        Ok(())
    }

    fn stored_checkpoint(&self, engine: &Engine) -> Result<Option<Checkpoint>, StoreError> {
        let Some(value) = engine
            .meta
            .get(CHECKPOINT_KEY)
            .map_err(|e| self.engine_error(e))?
        else {
            return Ok(None);
        };
        codec::decode_checkpoint(&value)
            .map(Some)
            .map_err(|e| self.unreadable("checkpoint", e))
    }

    fn engine_error(&self, error: impl Into<fjall::Error>) -> StoreError {
        StoreError::from_engine(self.partition, error.into())
    }

    fn unreadable(&self, what: &str, error: CodecError) -> StoreError {
        let partition = self.partition;
        let detail = format!("{what}: {error}");
        match error {
            CodecError::UnknownFormat { .. } => {
                StoreError::IncompatibleLayout { partition, detail }
            }
            _ => StoreError::Corrupt { partition, detail },
        }
    }
}

impl fmt::Debug for PartitionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PartitionStore")
            .field("partition", &self.partition)
            .field("root", &self.root)
            .field("broken", &self.broken.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Drop for PartitionStore {
    /// Closing stops fjall's background threads, which can panic on a damaged
    /// store. The lock file is released after, when the fields are dropped.
    fn drop(&mut self) {
        if let Some(engine) = self.engine.take() {
            let _ = catch_unwind(AssertUnwindSafe(|| drop(engine)));
        }
    }
}

/// Takes the store's lock file, or says who has it.
fn lock(root: &Path, partition: i32) -> Result<File, StoreError> {
    let path = root.join("lock");
    let file = File::create(&path).map_err(|source| StoreError::Io { partition, source })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(StoreError::Locked { partition, path }),
        Err(TryLockError::Error(source)) => Err(StoreError::Io { partition, source }),
    }
}

fn panicked(partition: i32, panic: &Box<dyn Any + Send>) -> StoreError {
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message");
    StoreError::Corrupt {
        partition,
        detail: format!("the storage engine panicked: {message}"),
    }
}

#[cfg(test)]
// Amounts in minor units read best grouped as units and cents: 150_00 is 150.00.
#[allow(clippy::inconsistent_digit_grouping)]
mod tests {
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use ledgerstream_domain::AccountType;
    use ledgerstream_domain::testing::{deposited, given, opened};
    use tempfile::TempDir;

    use super::*;

    const P: i32 = 3;

    fn account(balance_minor: i64) -> AccountState {
        given([
            opened(AccountType::Checking, 100_00),
            deposited(balance_minor - 100_00, balance_minor),
        ])
        .state()
        .clone()
    }

    fn at(events: i64, results: i64) -> Checkpoint {
        Checkpoint::new(events, results).expect("valid offsets")
    }

    fn open(dir: &TempDir) -> PartitionStore {
        PartitionStore::open(dir.path(), P).expect("store opens")
    }

    fn engine(store: &PartitionStore) -> &Engine {
        store.engine.as_ref().expect("open")
    }

    fn put_raw(store: &PartitionStore, meta: bool, key: &[u8], value: &[u8]) {
        let engine = engine(store);
        let partition = if meta { &engine.meta } else { &engine.accounts };
        partition.insert(key, value).expect("insert");
    }

    /// Every file of a store, with its size.
    fn files(root: &Path) -> Vec<(PathBuf, u64)> {
        let mut found = Vec::new();
        for entry in fs::read_dir(root).expect("listed") {
            let path = entry.expect("entry").path();
            let meta = fs::metadata(&path).expect("metadata");
            if meta.is_dir() {
                found.extend(files(&path));
            } else {
                found.push((path, meta.len()));
            }
        }
        found.sort();
        found
    }

    fn copy_tree(from: &Path, to: &Path) {
        fs::create_dir_all(to).expect("dir");
        for entry in fs::read_dir(from).expect("listed") {
            let entry = entry.expect("entry");
            let target = to.join(entry.file_name());
            if entry.file_type().expect("type").is_dir() {
                copy_tree(&entry.path(), &target);
            } else {
                fs::copy(entry.path(), target).expect("copied");
            }
        }
    }

    #[test]
    fn a_new_store_is_empty() {
        let dir = TempDir::new().expect("temp dir");
        let store = open(&dir);
        assert_eq!(store.partition(), P);
        assert_eq!(store.checkpoint().expect("readable"), None);
        assert_eq!(store.get_account("acc-1").expect("readable"), None);
        assert_eq!(store.account_count().expect("readable"), 0);
        assert!(PartitionStore::path(dir.path(), P).is_dir());
    }

    #[test]
    fn a_batch_round_trips() {
        let dir = TempDir::new().expect("temp dir");
        let store = open(&dir);
        let (a, b) = (account(150_00), account(900_00));

        store
            .write_batch([("acc-a", &a), ("acc-b", &b)], at(17, 4))
            .expect("written");

        assert_eq!(store.get_account("acc-a").expect("readable"), Some(a));
        assert_eq!(store.get_account("acc-b").expect("readable"), Some(b));
        assert_eq!(store.get_account("acc-c").expect("readable"), None);
        assert_eq!(store.checkpoint().expect("readable"), Some(at(17, 4)));
        assert_eq!(store.account_count().expect("readable"), 2);
        assert!(store.approximate_size_bytes() > 0);
    }

    #[test]
    fn the_last_state_of_an_account_in_a_batch_wins() {
        let dir = TempDir::new().expect("temp dir");
        let store = open(&dir);
        let (first, last) = (account(150_00), account(300_00));

        store
            .write_batch([("acc-a", &first), ("acc-a", &last)], at(2, 0))
            .expect("written");

        assert_eq!(store.get_account("acc-a").expect("readable"), Some(last));
        assert_eq!(store.account_count().expect("readable"), 1);
    }

    #[test]
    fn a_reopened_store_keeps_what_was_written() {
        let dir = TempDir::new().expect("temp dir");
        let (a, b) = (account(150_00), account(900_00));
        {
            let store = open(&dir);
            store
                .write_batch([("acc-a", &a)], at(1, 0))
                .expect("written");
            store
                .write_batch([("acc-a", &b)], at(2, 0))
                .expect("written");
        }
        let store = open(&dir);
        assert_eq!(store.get_account("acc-a").expect("readable"), Some(b));
        assert_eq!(store.checkpoint().expect("readable"), Some(at(2, 0)));
    }

    /// What a `kill -9` right after `write_batch` leaves: the files as they are on
    /// disk while the store is still open. fjall replays its journal on open.
    #[test]
    fn a_crash_right_after_a_batch_keeps_the_batch() {
        let dir = TempDir::new().expect("temp dir");
        let crashed = TempDir::new().expect("temp dir");
        let a = account(150_00);
        let store = open(&dir);
        store
            .write_batch([("acc-a", &a)], at(1, 0))
            .expect("written");

        copy_tree(
            &PartitionStore::path(dir.path(), P),
            &PartitionStore::path(crashed.path(), P),
        );

        let recovered = open(&crashed);
        assert_eq!(recovered.get_account("acc-a").expect("readable"), Some(a));
        assert_eq!(recovered.checkpoint().expect("readable"), Some(at(1, 0)));
    }

    #[test]
    fn a_refused_batch_writes_nothing() {
        let dir = TempDir::new().expect("temp dir");
        let store = open(&dir);
        let (a, b) = (account(150_00), account(900_00));
        store
            .write_batch([("acc-a", &a)], at(10, 5))
            .expect("written");

        // The accounts are staged before the checkpoint is refused.
        let refused = store.write_batch([("acc-a", &b), ("acc-b", &b)], at(9, 5));

        assert!(matches!(
            refused,
            Err(StoreError::CheckpointRefused { partition: P, .. })
        ));
        assert_eq!(
            store.get_account("acc-a").expect("readable"),
            Some(a.clone())
        );
        assert_eq!(store.get_account("acc-b").expect("readable"), None);
        assert_eq!(store.checkpoint().expect("readable"), Some(at(10, 5)));
        drop(store);

        let store = open(&dir);
        assert_eq!(store.get_account("acc-a").expect("readable"), Some(a));
        assert_eq!(store.get_account("acc-b").expect("readable"), None);
    }

    #[test]
    fn a_batch_dropped_before_commit_leaves_no_trace() {
        let dir = TempDir::new().expect("temp dir");
        let a = account(150_00);
        {
            let store = open(&dir);
            let engine = engine(&store);
            let mut batch = engine.keyspace.batch();
            store
                .insert_accounts(engine, &mut batch, [("acc-a", &a)])
                .expect("staged");
            drop(batch);
            assert_eq!(store.get_account("acc-a").expect("readable"), None);
        }
        let store = open(&dir);
        assert_eq!(store.get_account("acc-a").expect("readable"), None);
        assert_eq!(store.account_count().expect("readable"), 0);
    }

    #[test]
    fn clear_empties_the_store_for_a_restore() {
        let dir = TempDir::new().expect("temp dir");
        let store = open(&dir);
        let a = account(150_00);
        store
            .write_batch([("acc-a", &a)], at(10, 5))
            .expect("written");

        assert!(matches!(
            store.load_batch([("acc-b", &a)]),
            Err(StoreError::LoadOverCheckpoint { partition: P })
        ));

        store.clear().expect("cleared");
        assert_eq!(store.checkpoint().expect("readable"), None);
        assert_eq!(store.get_account("acc-a").expect("readable"), None);
        assert_eq!(store.account_count().expect("readable"), 0);

        // A restore: loads, then one closing batch with the checkpoint, which may
        // be behind the one cleared.
        store.load_batch([("acc-b", &a)]).expect("loaded");
        store.load_batch([("acc-c", &a)]).expect("loaded");
        assert_eq!(store.checkpoint().expect("readable"), None);
        store.write_batch([], at(3, 1)).expect("written");
        drop(store);

        let store = open(&dir);
        assert_eq!(store.account_count().expect("readable"), 2);
        assert_eq!(store.get_account("acc-c").expect("readable"), Some(a));
        assert_eq!(store.checkpoint().expect("readable"), Some(at(3, 1)));
    }

    #[test]
    fn an_unknown_value_format_is_an_incompatible_layout() {
        let dir = TempDir::new().expect("temp dir");
        let store = open(&dir);
        put_raw(&store, false, b"acc-a", &[codec::ACCOUNT_FORMAT + 1, 0, 0]);

        let error = store.get_account("acc-a").expect_err("refused");

        assert!(
            matches!(error, StoreError::IncompatibleLayout { partition: P, .. }),
            "{error}"
        );
        assert!(error.needs_rebuild());
    }

    #[test]
    fn an_unknown_checkpoint_format_fails_the_open() {
        let dir = TempDir::new().expect("temp dir");
        {
            let store = open(&dir);
            put_raw(&store, true, CHECKPOINT_KEY, &[9; 21]);
        }
        let error = PartitionStore::open(dir.path(), P).expect_err("refused");
        assert!(
            matches!(error, StoreError::IncompatibleLayout { .. }),
            "{error}"
        );
    }

    #[test]
    fn a_keyspace_of_another_fjall_format_is_an_incompatible_layout() {
        let dir = TempDir::new().expect("temp dir");
        drop(open(&dir));
        let marker = PartitionStore::path(dir.path(), P).join("keyspace/version");
        let mut bytes = fs::read(&marker).expect("fjall writes a version marker");
        bytes[3] = 9;
        fs::write(&marker, bytes).expect("written");

        let error = PartitionStore::open(dir.path(), P).expect_err("refused");

        assert!(
            matches!(error, StoreError::IncompatibleLayout { .. }),
            "{error}"
        );
        assert!(error.needs_rebuild());
    }

    #[test]
    fn a_damaged_value_is_corrupt() {
        let dir = TempDir::new().expect("temp dir");
        let store = open(&dir);
        let mut damaged = codec::encode_account(&account(150_00), Vec::new()).expect("encodable");
        damaged[10] ^= 0x01;
        put_raw(&store, false, b"acc-a", &damaged);
        put_raw(&store, false, b"acc-b", &[]);

        for id in ["acc-a", "acc-b"] {
            let error = store.get_account(id).expect_err("refused");
            assert!(matches!(error, StoreError::Corrupt { .. }), "{error}");
            assert!(error.needs_rebuild());
        }
    }

    /// Damage anywhere in the files is an error, goes unnoticed (it hit bytes no
    /// read needed) or rolls the store back to an earlier batch together with
    /// its checkpoint; never a panic, never accounts that disagree with the
    /// checkpoint.
    #[test]
    fn damage_anywhere_in_the_files_is_caught_or_harmless() {
        let dir = TempDir::new().expect("temp dir");
        let root = PartitionStore::path(dir.path(), P);
        let states: Vec<(String, AccountState)> = (0..2_500)
            .map(|n| (format!("acc-{n:04}"), account(100_00 + n)))
            .collect();
        {
            let store = open(&dir);
            for (n, chunk) in (1..).zip(states.chunks(500)) {
                let batch = chunk.iter().map(|(id, state)| (id.as_str(), state));
                store.write_batch(batch, at(n * 500, 0)).expect("written");
                if n == 4 {
                    // Most in tables, the last batch only in the journal.
                    engine(&store).keyspace.force_flush().expect("flushed");
                }
            }
        }
        let pristine = TempDir::new().expect("temp dir");
        copy_tree(&root, pristine.path());
        // fjall preallocates its journal: damage to the zeros after the last
        // batch is no damage at all, so aim only at bytes up to the last non-zero.
        let targets: Vec<(PathBuf, u64)> = files(pristine.path())
            .into_iter()
            .filter(|(path, _)| !path.ends_with("lock"))
            .map(|(path, _)| {
                let bytes = fs::read(&path).expect("read");
                let live = bytes.iter().rposition(|b| *b != 0).map_or(0, |at| at + 1);
                (path, live as u64)
            })
            .filter(|(_, live)| *live > 0)
            .collect();
        let total: u64 = targets.iter().map(|(_, len)| len).sum();

        #[derive(Debug, Default)]
        struct Outcomes {
            intact: usize,
            rolled_back: usize,
            inconsistent: usize,
            errors: usize,
            panics: usize,
        }
        let mut outcomes = Outcomes::default();
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..200 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            // A byte of the store, every live byte as likely as any other.
            let mut at_byte = seed % total;
            let (file, len) = targets
                .iter()
                .find(|(_, len)| {
                    let here = at_byte < *len;
                    if !here {
                        at_byte -= len;
                    }
                    here
                })
                .expect("within the total");
            let _ = fs::remove_dir_all(&root);
            copy_tree(pristine.path(), &root);
            let damaged = root.join(file.strip_prefix(pristine.path()).expect("inside"));
            let mut bytes = fs::read(&damaged).expect("read");
            let start = usize::try_from(at_byte).expect("fits");
            let end = (start + 64).min(usize::try_from(*len).expect("fits"));
            bytes[start..end].iter_mut().for_each(|b| *b ^= 0xa5);
            fs::write(&damaged, bytes).expect("written");

            // How many accounts the store holds, if it holds exactly those its
            // checkpoint says.
            let outcome =
                catch_unwind(AssertUnwindSafe(|| -> Result<Option<usize>, StoreError> {
                    let store = PartitionStore::open(dir.path(), P)?;
                    let covered = store
                        .checkpoint()?
                        .map_or(0, |c| usize::try_from(c.events_offset()).expect("fits"));
                    for (n, (id, state)) in states.iter().enumerate() {
                        let expected = (n < covered).then_some(state);
                        if store.get_account(id)?.as_ref() != expected {
                            return Ok(None);
                        }
                    }
                    Ok(Some(covered))
                }));
            match outcome {
                Ok(Ok(Some(2_500))) => outcomes.intact += 1,
                Ok(Ok(Some(_))) => outcomes.rolled_back += 1,
                Ok(Ok(None)) => outcomes.inconsistent += 1,
                Ok(Err(_)) => outcomes.errors += 1,
                Err(_) => outcomes.panics += 1,
            }
        }
        eprintln!(
            "{total} live bytes in {} files, 200 damaged copies: {outcomes:?}",
            targets.len()
        );
        assert_eq!(outcomes.panics, 0, "damage made the store panic");
        assert_eq!(
            outcomes.inconsistent, 0,
            "damage left accounts that disagree with the checkpoint"
        );
    }

    #[test]
    fn a_second_handle_on_the_same_partition_is_locked_out() {
        let dir = TempDir::new().expect("temp dir");
        let first = open(&dir);
        let error = PartitionStore::open(dir.path(), P).expect_err("locked");
        assert!(
            matches!(error, StoreError::Locked { partition: P, .. }),
            "{error}"
        );
        assert!(!error.needs_rebuild());
        assert!(matches!(
            PartitionStore::wipe(dir.path(), P),
            Err(StoreError::Locked { .. })
        ));
        drop(first);
        open(&dir);
    }

    #[test]
    fn wipe_deletes_the_store() {
        let dir = TempDir::new().expect("temp dir");
        {
            let store = open(&dir);
            store
                .write_batch([("acc-a", &account(150_00))], at(1, 0))
                .expect("written");
        }
        PartitionStore::wipe(dir.path(), P).expect("wiped");
        assert!(!PartitionStore::path(dir.path(), P).exists());
        PartitionStore::wipe(dir.path(), P).expect("nothing to wipe is fine");
        let store = open(&dir);
        assert_eq!(store.account_count().expect("readable"), 0);
        assert_eq!(store.checkpoint().expect("readable"), None);
    }
}
