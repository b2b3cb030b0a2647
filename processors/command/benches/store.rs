//! The command processor's state store: the candidate engines on the processor's
//! access pattern, the value codecs, and the store as built. Figures and the
//! choice they led to: `processors/command/STORE.md`.
//!
//! `cargo bench -p ledgerstream-processor --bench store`
//!
//! - `commit_500/*`: one batch on a store of 100k accounts: 500 point gets (250
//!   hits, 250 misses), then one atomic commit of 500 puts of 300-byte values and
//!   the checkpoint, `fdatasync`ed before it returns. The store grows by 250
//!   accounts per batch, and is put back to a copy of its 100k-account self
//!   every 200 batches (untimed).
//! - `bulk_load_100k/*`: a restore: 100k puts in 20 batches of 5k into an empty
//!   store, each batch synced (`sync_each`) or only the last (`sync_last`).
//! - `reopen_100k/*`: opening a store of 100k accounts and reading one, after a
//!   clean close (`clean`), or from a copy of the file taken while it was open,
//!   as a `kill -9` would leave it (`crashed`). For redb, also with the full
//!   integrity check a redb-based store would run on open (`redb_checked`):
//!   redb verifies its page checksums only when it repairs a file.
//! - `codec/*`: one `AccountState` to bytes and back, postcard and serde_json.
//! - `partition_store/*`: `PartitionStore` itself: one batch of 500 real account
//!   states (`get_account` × 500, `write_batch`) as in `commit_500`, and `open` of
//!   a cleanly closed store of 100k accounts, with its first read.

// Amounts in minor units read best grouped as units and cents: 10_00 is 10.00.
#![allow(clippy::inconsistent_digit_grouping)]

use std::fs;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{BenchmarkGroup, Criterion, SamplingMode, criterion_group, criterion_main};
use ledgerstream_domain::{
    AccountEvent, AccountId, AccountOpened, AccountState, AccountType, CommandId, Currency,
    EventBody, EventId, EventMetadata, MoneyDeposited, OwnerId, Timestamp, TransferDebited,
    TransferId,
};
use ledgerstream_processor::store::{Checkpoint, PartitionStore};
use tempfile::TempDir;
use uuid::Uuid;

/// Accounts in a store before a measurement.
const ACCOUNTS: usize = 100_000;
/// Commands in one batch of the processor, so states written per commit.
const BATCH: usize = 500;
/// Puts per commit during a restore.
const LOAD_BATCH: usize = 5_000;
/// Bytes per account value in the engine measurements.
const VALUE_LEN: usize = 300;
/// Each engine's block/page cache, the same for both.
const CACHE_BYTES: usize = 64 * 1024 * 1024;

// ----------------------------------------------------------------- engines

/// What the measurements need from an engine: the processor's three operations.
trait Engine: Sized {
    fn open(dir: &Path) -> Self;
    /// Point gets, in one read snapshot where the engine has one; how many hit.
    fn get_many(&self, keys: &[Vec<u8>]) -> usize;
    /// One atomic commit of `puts` and the checkpoint; `sync` waits for the disk.
    fn commit(&self, puts: &[(Vec<u8>, Vec<u8>)], checkpoint: &[u8], sync: bool);
    /// Makes every earlier unsynced commit durable.
    fn sync(&self);
    /// Waits for background work to finish, so that the files can be copied.
    fn settle(&self) {}
}

#[derive(Debug)]
struct Redb(redb::Database);

const REDB_ACCOUNTS: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("accounts");
const REDB_META: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("meta");

impl Redb {
    fn file(dir: &Path) -> std::path::PathBuf {
        dir.join("store.redb")
    }
}

impl Engine for Redb {
    fn open(dir: &Path) -> Self {
        let db = redb::Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(Self::file(dir))
            .expect("redb opens");
        Self(db)
    }

    fn get_many(&self, keys: &[Vec<u8>]) -> usize {
        use redb::ReadableDatabase;
        let txn = self.0.begin_read().expect("read txn");
        let table = txn.open_table(REDB_ACCOUNTS).expect("table");
        keys.iter()
            .filter(|key| table.get(key.as_slice()).expect("get").is_some())
            .count()
    }

    fn commit(&self, puts: &[(Vec<u8>, Vec<u8>)], checkpoint: &[u8], sync: bool) {
        let mut txn = self.0.begin_write().expect("write txn");
        let durability = if sync {
            redb::Durability::Immediate
        } else {
            redb::Durability::None
        };
        txn.set_durability(durability).expect("durability");
        {
            let mut table = txn.open_table(REDB_ACCOUNTS).expect("table");
            for (key, value) in puts {
                table
                    .insert(key.as_slice(), value.as_slice())
                    .expect("insert");
            }
            let mut meta = txn.open_table(REDB_META).expect("table");
            meta.insert(b"checkpoint".as_slice(), checkpoint)
                .expect("insert");
        }
        txn.commit().expect("commit");
    }

    fn sync(&self) {
        self.commit(&[], b"", true);
    }
}

struct Fjall {
    keyspace: fjall::Keyspace,
    accounts: fjall::PartitionHandle,
    meta: fjall::PartitionHandle,
}

impl Engine for Fjall {
    fn open(dir: &Path) -> Self {
        // As `PartitionStore` sets it up.
        let keyspace = fjall::Config::new(dir.join("store.fjall"))
            .cache_size(CACHE_BYTES as u64)
            .flush_workers(1)
            .compaction_workers(1)
            .open()
            .expect("fjall opens");
        let options = fjall::PartitionCreateOptions::default;
        let accounts = keyspace
            .open_partition("accounts", options())
            .expect("partition");
        let meta = keyspace
            .open_partition("meta", options())
            .expect("partition");
        Self {
            keyspace,
            accounts,
            meta,
        }
    }

    fn get_many(&self, keys: &[Vec<u8>]) -> usize {
        keys.iter()
            .filter(|key| self.accounts.get(key).expect("get").is_some())
            .count()
    }

    fn commit(&self, puts: &[(Vec<u8>, Vec<u8>)], checkpoint: &[u8], sync: bool) {
        let mode = sync.then_some(fjall::PersistMode::SyncData);
        let mut batch = self.keyspace.batch().durability(mode);
        for (key, value) in puts {
            batch.insert(&self.accounts, key.as_slice(), value.as_slice());
        }
        batch.insert(&self.meta, "checkpoint", checkpoint);
        batch.commit().expect("commit");
    }

    fn sync(&self) {
        self.keyspace
            .persist(fjall::PersistMode::SyncData)
            .expect("persist");
    }

    fn settle(&self) {
        while self.keyspace.active_compactions() > 0 {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

// -------------------------------------------------------------------- data

/// Deterministic pseudo-random numbers (xorshift64), so runs compare.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Incompressible bytes, like an encoded state full of UUIDs: fjall compresses
    /// blocks with lz4, and zeros would flatter it.
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

fn key(n: usize) -> Vec<u8> {
    format!("acct-{n:010}").into_bytes()
}

fn checkpoint_bytes(n: usize) -> Vec<u8> {
    let mut bytes = vec![1];
    bytes.extend_from_slice(&(n as i64).to_be_bytes());
    bytes.extend_from_slice(&0_i64.to_be_bytes());
    bytes
}

/// The 100k puts of a restore, made once.
fn load_set(rng: &mut Rng) -> Vec<(Vec<u8>, Vec<u8>)> {
    (0..ACCOUNTS)
        .map(|n| (key(n), rng.bytes(VALUE_LEN)))
        .collect()
}

fn load<E: Engine>(engine: &E, puts: &[(Vec<u8>, Vec<u8>)], sync_each: bool) {
    for (n, chunk) in puts.chunks(LOAD_BATCH).enumerate() {
        engine.commit(chunk, &checkpoint_bytes(n), sync_each);
    }
    engine.sync();
}

fn dir_size(path: &Path) -> u64 {
    let Ok(meta) = fs::metadata(path) else {
        return 0;
    };
    if meta.is_file() {
        return meta.len();
    }
    fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| dir_size(&entry.path()))
                .sum()
        })
        .unwrap_or(0)
}

/// Copies a store's files. A file that vanishes while listed (an engine's
/// background work replaced it) is left out, as it would be from a crash image.
fn copy_tree(from: &Path, to: &Path) {
    let Ok(meta) = fs::metadata(from) else {
        return;
    };
    if meta.is_file() {
        if let Err(e) = fs::copy(from, to) {
            assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "copying {from:?}");
        }
        return;
    }
    fs::create_dir_all(to).expect("dir");
    for entry in fs::read_dir(from).expect("listed") {
        let entry = entry.expect("entry");
        copy_tree(&entry.path(), &to.join(entry.file_name()));
    }
}

fn heavy(group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>, seconds: u64) {
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(seconds));
}

// ------------------------------------------------------------ measurements

fn commit_500(c: &mut Criterion) {
    let mut group = c.benchmark_group("commit_500");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8));
    commit_500_on::<Redb>(&mut group, "redb");
    commit_500_on::<Fjall>(&mut group, "fjall");
    group.finish();
}

fn commit_500_on<E: Engine>(
    group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // Every engine measures on a store of 100k to 150k accounts: a faster engine
    // runs more iterations, and must not pay for the bigger store that makes.
    let pristine = TempDir::new().expect("temp dir");
    load(&E::open(pristine.path()), &load_set(&mut rng), false);
    let work = TempDir::new().expect("temp dir");
    let fresh = || {
        let copy = work.path().join("store");
        let _ = fs::remove_dir_all(&copy);
        copy_tree(pristine.path(), &copy);
        E::open(&copy)
    };
    let mut engine = fresh();
    let mut accounts = ACCOUNTS;
    let mut commits = 0;
    let mut resets = 0;
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                if accounts >= ACCOUNTS + 50_000 {
                    drop(std::mem::replace(&mut engine, fresh()));
                    accounts = ACCOUNTS;
                    resets += 1;
                }
                // Half of the batch's accounts exist, half are new.
                let mut keys: Vec<Vec<u8>> =
                    (0..BATCH / 2).map(|_| key(rng.below(accounts))).collect();
                keys.extend((accounts..accounts + BATCH / 2).map(key));
                let puts: Vec<(Vec<u8>, Vec<u8>)> = keys
                    .iter()
                    .map(|k| (k.clone(), rng.bytes(VALUE_LEN)))
                    .collect();
                accounts += BATCH / 2;
                commits += 1;
                let checkpoint = checkpoint_bytes(commits);

                let start = Instant::now();
                let hits = engine.get_many(black_box(&keys));
                engine.commit(&puts, &checkpoint, true);
                elapsed += start.elapsed();
                assert!(hits >= BATCH / 2);
            }
            elapsed
        })
    });
    println!(
        "commit_500/{name}: {commits} batches, store reset to 100k accounts {resets} times, \
         {:.1} MiB on disk at the end",
        dir_size(work.path()) as f64 / 1048576.0
    );
}

fn bulk_load_100k(c: &mut Criterion) {
    let mut group = c.benchmark_group("bulk_load_100k");
    heavy(&mut group, 20);
    let puts = load_set(&mut Rng(0x2545_f491_4f6c_dd1d));
    for sync_each in [true, false] {
        let mode = if sync_each { "sync_each" } else { "sync_last" };
        bulk_load_on::<Redb>(&mut group, &format!("redb/{mode}"), &puts, sync_each);
        bulk_load_on::<Fjall>(&mut group, &format!("fjall/{mode}"), &puts, sync_each);
    }
    group.finish();
}

fn bulk_load_on<E: Engine>(
    group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    puts: &[(Vec<u8>, Vec<u8>)],
    sync_each: bool,
) {
    let mut size = 0;
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                let dir = TempDir::new().expect("temp dir");
                let engine = E::open(dir.path());
                let start = Instant::now();
                load(&engine, puts, sync_each);
                elapsed += start.elapsed();
                drop(engine);
                size = dir_size(dir.path());
            }
            elapsed
        })
    });
    println!(
        "bulk_load_100k/{name}: {:.1} MiB on disk",
        size as f64 / 1048576.0
    );
}

fn reopen_100k(c: &mut Criterion) {
    let mut group = c.benchmark_group("reopen_100k");
    heavy(&mut group, 10);
    let puts = load_set(&mut Rng(0x1234_5678_9abc_def1));

    let one = [key(7)];
    reopen_on::<Redb>(&mut group, "redb", &puts, &Redb::file, &|dir| {
        assert_eq!(Redb::open(dir).get_many(&one), 1);
    });
    reopen_on::<Redb>(&mut group, "redb_checked", &puts, &Redb::file, &|dir| {
        let mut db = Redb::open(dir).0;
        db.check_integrity().expect("intact");
        assert_eq!(Redb(db).get_many(&one), 1);
    });
    let fjall_files = |dir: &Path| dir.join("store.fjall");
    reopen_on::<Fjall>(&mut group, "fjall", &puts, &fjall_files, &|dir| {
        assert_eq!(Fjall::open(dir).get_many(&one), 1);
    });
    group.finish();
}

/// Measures `open_and_read` on a clean store, and on the crash image of one.
fn reopen_on<E: Engine>(
    group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    puts: &[(Vec<u8>, Vec<u8>)],
    files: &dyn Fn(&Path) -> std::path::PathBuf,
    open_and_read: &dyn Fn(&Path),
) {
    let clean = TempDir::new().expect("temp dir");
    let crashed = TempDir::new().expect("temp dir");
    {
        let engine = E::open(clean.path());
        load(&engine, puts, false);
        engine.settle();
        // A crash right after a durable commit: the files as they are now.
        copy_tree(&files(clean.path()), &files(crashed.path()));
    }
    for (state, source) in [("clean", &clean), ("crashed", &crashed)] {
        group.bench_function(format!("{name}/{state}"), |b| {
            b.iter_custom(|iters| {
                let mut elapsed = Duration::ZERO;
                for _ in 0..iters {
                    // Opening repairs a crash image in place: open a fresh copy.
                    let copy = TempDir::new().expect("temp dir");
                    copy_tree(&files(source.path()), &files(copy.path()));
                    let start = Instant::now();
                    open_and_read(copy.path());
                    elapsed += start.elapsed();
                }
                elapsed
            })
        });
    }
}

fn codec(c: &mut Criterion) {
    let state = sample_state(8, 4);
    let postcard = postcard::to_stdvec(&state).expect("postcard");
    let json = serde_json::to_vec(&state).expect("json");
    println!(
        "codec: one account with 8 commands in its window and 4 transfers: \
         postcard {} bytes, serde_json {} bytes",
        postcard.len(),
        json.len()
    );
    let mut group = c.benchmark_group("codec");
    group.bench_function("postcard/encode+decode", |b| {
        b.iter(|| {
            let bytes = postcard::to_stdvec(black_box(&state)).expect("encodes");
            postcard::from_bytes::<AccountState>(&bytes).expect("decodes")
        })
    });
    group.bench_function("serde_json/encode+decode", |b| {
        b.iter(|| {
            let bytes = serde_json::to_vec(black_box(&state)).expect("encodes");
            serde_json::from_slice::<AccountState>(&bytes).expect("decodes")
        })
    });
    group.finish();
}

fn partition_store(c: &mut Criterion) {
    let state = sample_state(8, 4);
    let id = |n: usize| format!("acct-{n:010}");
    let pristine = TempDir::new().expect("temp dir");
    {
        let store = PartitionStore::open(pristine.path(), 0).expect("store opens");
        let ids: Vec<String> = (0..ACCOUNTS).map(id).collect();
        for chunk in ids.chunks(LOAD_BATCH) {
            store
                .load_batch(chunk.iter().map(|id| (id.as_str(), &state)))
                .expect("loaded");
        }
        store.write_batch([], Checkpoint::START).expect("written");
    }
    let work = TempDir::new().expect("temp dir");
    let fresh = || {
        let _ = fs::remove_dir_all(PartitionStore::path(work.path(), 0));
        copy_tree(
            &PartitionStore::path(pristine.path(), 0),
            &PartitionStore::path(work.path(), 0),
        );
        PartitionStore::open(work.path(), 0).expect("store opens")
    };

    let mut group = c.benchmark_group("partition_store");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8));
    let mut rng = Rng(0x0bad_cafe_dead_beef);
    let mut store = Some(fresh());
    let mut accounts = ACCOUNTS;
    let mut checkpoint = Checkpoint::START;
    group.bench_function("batch_500", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                if accounts >= ACCOUNTS + 50_000 {
                    drop(store.take());
                    store = Some(fresh());
                    accounts = ACCOUNTS;
                    checkpoint = Checkpoint::START;
                }
                let Some(store) = &store else {
                    unreachable!("reopened above")
                };
                let mut batch: Vec<String> =
                    (0..BATCH / 2).map(|_| id(rng.below(accounts))).collect();
                batch.extend((accounts..accounts + BATCH / 2).map(id));
                accounts += BATCH / 2;
                let next = checkpoint.events_offset();
                checkpoint = checkpoint
                    .advance(next..next + BATCH as i64, 0..0)
                    .expect("contiguous");

                let start = Instant::now();
                let found = batch
                    .iter()
                    .filter_map(|id| store.get_account(id).expect("readable"))
                    .count();
                store
                    .write_batch(batch.iter().map(|id| (id.as_str(), &state)), checkpoint)
                    .expect("written");
                elapsed += start.elapsed();
                assert!(found >= BATCH / 2);
            }
            elapsed
        })
    });
    drop(store);

    heavy(&mut group, 10);
    group.bench_function("open_100k", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                let copy = TempDir::new().expect("temp dir");
                copy_tree(
                    &PartitionStore::path(pristine.path(), 0),
                    &PartitionStore::path(copy.path(), 0),
                );
                let start = Instant::now();
                let store = PartitionStore::open(copy.path(), 0).expect("store opens");
                assert!(store.get_account(&id(7)).expect("readable").is_some());
                elapsed += start.elapsed();
            }
            elapsed
        })
    });
    group.finish();
}

/// An account opened, with a deposit, `transfers` transfers sent and a window
/// of `window` commands: about what a busy account carries.
fn sample_state(window: usize, transfers: usize) -> AccountState {
    let account = AccountId::new("acct-0000000042");
    let usd = Currency::new("USD");
    let mut events = Vec::new();
    let mut balance = 1_000_000_00;
    let mut push = |n: usize, body: EventBody| {
        let command_id = CommandId(Uuid::from_u128(0xc0de_0000 + n as u128));
        events.push(AccountEvent {
            metadata: EventMetadata {
                event_id: EventId::derive(&account, command_id, 0),
                account_id: account.clone(),
                version: n as u64 + 1,
                occurred_at: Timestamp::from_millis(1_704_067_200_000),
                command_id,
                correlation_id: format!("corr-{n}"),
                causation_id: command_id.to_string(),
            },
            body,
        });
    };
    push(
        0,
        EventBody::AccountOpened(AccountOpened {
            owner_id: OwnerId::new("owner-0000042"),
            account_type: AccountType::Checking,
            currency: usd.clone(),
            initial_deposit_minor: balance,
            balance_after_minor: balance,
        }),
    );
    for n in 1..=transfers {
        balance -= 10_00 + 2_00;
        push(
            n,
            EventBody::TransferDebited(TransferDebited {
                transfer_id: TransferId(Uuid::from_u128(0x7e57_0000 + n as u128)),
                to_account_id: AccountId::new(format!("acct-{:010}", n * 7)),
                amount_minor: 10_00,
                currency: usd.clone(),
                fee_minor: 2_00,
                balance_after_minor: balance,
                reference: None,
            }),
        );
    }
    for n in transfers + 1..=transfers + 4 {
        balance += 5_00;
        push(
            n,
            EventBody::MoneyDeposited(MoneyDeposited {
                amount_minor: 5_00,
                currency: usd.clone(),
                balance_after_minor: balance,
                reference: None,
            }),
        );
    }
    AccountState::replay(window, &events)
}

criterion_group!(
    benches,
    commit_500,
    bulk_load_100k,
    reopen_100k,
    codec,
    partition_store
);
criterion_main!(benches);
