//! What can go wrong with a partition's store, and what the caller does about it.

use std::io;
use std::path::PathBuf;

use super::CheckpointError;

/// A technical failure of the state store. Never a business rejection: the
/// commands of the batch were not at fault, and the batch must not be committed
/// to Kafka.
///
/// Two families, told apart by [`StoreError::needs_rebuild`]:
/// - the store cannot be trusted ([`Corrupt`](Self::Corrupt),
///   [`IncompatibleLayout`](Self::IncompatibleLayout)): close it,
///   [`PartitionStore::wipe`](super::PartitionStore::wipe) it and rebuild it from
///   `account-events`;
/// - the store is fine but the operation failed: the batch was not written (a
///   write is all or nothing); retry or stop the partition as each variant says.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading or writing the files failed (disk full, permissions, I/O error);
    /// a write that failed is not visible. Retry after a pause; if it keeps
    /// failing, stop the partition and alert: the disk needs a person.
    #[error("partition {partition}: store i/o failed: {source}")]
    Io {
        partition: i32,
        #[source]
        source: io::Error,
    },

    /// Another handle, in this process or another, has the partition's store open.
    /// Two owners of one partition is an assignment bug, or the previous owner is
    /// still shutting down: retry after it has released the partition.
    #[error("partition {partition}: store {} is already open elsewhere", path.display())]
    Locked { partition: i32, path: PathBuf },

    /// The store is damaged: its files, or a stored value, cannot be read (or the
    /// storage engine panicked reading them). Drop the store, wipe it and rebuild
    /// it from the event log.
    #[error("partition {partition}: store is corrupt: {detail}")]
    Corrupt { partition: i32, detail: String },

    /// The store was written by a build with another layout (fjall's disk format,
    /// or the format byte of a stored value). Not damage, but unreadable all the
    /// same: wipe and rebuild from the event log.
    #[error("partition {partition}: store has an incompatible layout: {detail}")]
    IncompatibleLayout { partition: i32, detail: String },

    /// The batch's checkpoint is behind the stored one. A bug in the caller's
    /// offset bookkeeping: nothing was written; stop the partition.
    #[error("partition {partition}: checkpoint refused: {source}")]
    CheckpointRefused {
        partition: i32,
        #[source]
        source: CheckpointError,
    },

    /// [`load_batch`](super::PartitionStore::load_batch) on a store that has a
    /// checkpoint. Loading is for a store being rebuilt: call
    /// [`clear`](super::PartitionStore::clear) first. A bug in the caller; nothing
    /// was written.
    #[error("partition {partition}: load into a store that has a checkpoint; clear it first")]
    LoadOverCheckpoint { partition: i32 },

    /// An account state could not be encoded: a domain type that postcard cannot
    /// write. A bug; nothing was written; stop the partition.
    #[error("partition {partition}: account {account} cannot be encoded: {detail}")]
    Encode {
        partition: i32,
        account: String,
        detail: String,
    },

    /// Any other failure inside fjall, among them `Poisoned`: an earlier sync
    /// failed, and fjall takes no more writes. Drop the store and open it again;
    /// if that fails too, wipe and rebuild.
    #[error("partition {partition}: store failed: {source}")]
    Engine {
        partition: i32,
        #[source]
        source: fjall::Error,
    },
}

impl StoreError {
    /// Whether the store can no longer be trusted and must be wiped and rebuilt
    /// from the event log.
    pub fn needs_rebuild(&self) -> bool {
        matches!(self, Self::Corrupt { .. } | Self::IncompatibleLayout { .. })
    }

    /// The partition whose store failed.
    pub fn partition(&self) -> i32 {
        match self {
            Self::Io { partition, .. }
            | Self::Locked { partition, .. }
            | Self::Corrupt { partition, .. }
            | Self::IncompatibleLayout { partition, .. }
            | Self::CheckpointRefused { partition, .. }
            | Self::LoadOverCheckpoint { partition }
            | Self::Encode { partition, .. }
            | Self::Engine { partition, .. } => *partition,
        }
    }

    /// Sorts a fjall failure into the variant that says what to do about it.
    pub(super) fn from_engine(partition: i32, error: fjall::Error) -> Self {
        use fjall::Error as F;
        use fjall::LsmError as L;
        let corrupt = |detail: String| Self::Corrupt { partition, detail };
        let incompatible = |detail: String| Self::IncompatibleLayout { partition, detail };
        match error {
            F::Io(source) | F::Storage(L::Io(source)) => Self::from_io(partition, source),
            F::InvalidVersion(version) => {
                incompatible(format!("fjall keyspace format {version:?}"))
            }
            F::Storage(L::InvalidVersion(version)) => {
                incompatible(format!("lsm-tree format {version:?}"))
            }
            F::Decode(e) | F::Storage(L::Decode(e)) => corrupt(e.to_string()),
            F::JournalRecovery(e) => corrupt(format!("journal: {e}")),
            F::Storage(
                e @ (L::Decompress(_) | L::InvalidChecksum(_) | L::Unrecoverable | L::ValueLog(_)),
            ) => corrupt(e.to_string()),
            source => Self::Engine { partition, source },
        }
    }

    fn from_io(partition: i32, source: io::Error) -> Self {
        // What reading a file that is not what it should be looks like.
        if matches!(
            source.kind(),
            io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof
        ) {
            return Self::Corrupt {
                partition,
                detail: format!("unreadable file: {source}"),
            };
        }
        Self::Io { partition, source }
    }
}
