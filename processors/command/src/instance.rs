//! The instance: which transactional id this processor writes with.
//!
//! The id is the configured prefix and a random name kept in the state folder
//! (`<state_dir>/instance`), made at the first start. An instance started again on
//! the same folder — after a crash, a `kill -9`, a restart of the loop — takes the
//! same transactional id, and its first `init_transactions` fences the previous
//! producer and aborts the transaction it left open, at once, instead of leaving
//! `read_committed` readers waiting for the transaction timeout. Two live processes
//! on one folder would fence each other forever, so the folder is locked
//! (`<state_dir>/instance.lock`) for the life of the process.

use std::fs::{self, File, TryLockError};
use std::io;
use std::path::{Path, PathBuf};

/// Why the instance could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    #[error("state folder {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Another process holds the folder.
    #[error(
        "state folder {0} is in use by another ledgerstream process; give each processor \
         a --state-dir of its own"
    )]
    InUse(PathBuf),
    #[error("{path} does not hold an instance name (letters, digits, '-'): {found:?}")]
    Invalid { path: PathBuf, found: String },
}

/// The instance's name, with the folder lock held as long as it lives.
#[derive(Debug)]
pub struct Instance {
    name: String,
    _lock: File,
}

impl Instance {
    /// Locks `state_dir` and reads the instance name from it, making one when it is
    /// the folder's first start.
    pub fn open(state_dir: &Path) -> Result<Self, InstanceError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| InstanceError::Io { path, source }
        };
        fs::create_dir_all(state_dir).map_err(io(state_dir))?;
        let lock_path = state_dir.join("instance.lock");
        let lock = File::create(&lock_path).map_err(io(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(InstanceError::InUse(state_dir.to_owned()));
            }
            Err(TryLockError::Error(source)) => return Err(io(&lock_path)(source)),
        }
        let path = state_dir.join("instance");
        let name = match fs::read_to_string(&path) {
            Ok(text) => text.trim().to_owned(),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                let name = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
                // Written aside and renamed: a crash never leaves half a name.
                let partial = state_dir.join("instance.partial");
                fs::write(&partial, format!("{name}\n")).map_err(io(&partial))?;
                fs::rename(&partial, &path).map_err(io(&path))?;
                name
            }
            Err(source) => return Err(io(&path)(source)),
        };
        let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !valid {
            return Err(InstanceError::Invalid { path, found: name });
        }
        Ok(Self { name, _lock: lock })
    }

    /// The transactional id for `prefix`.
    pub fn transactional_id(&self, prefix: &str) -> String {
        format!("{prefix}-{}", self.name)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_same_folder_gives_the_same_id_and_is_locked_while_open() {
        let dir = tempfile::tempdir().unwrap();
        let first = Instance::open(dir.path()).unwrap();
        let id = first.transactional_id("p");
        assert!(id.starts_with("p-") && id.len() == 14, "{id}");
        assert!(matches!(
            Instance::open(dir.path()),
            Err(InstanceError::InUse(_))
        ));
        drop(first);
        let again = Instance::open(dir.path()).unwrap();
        assert_eq!(again.transactional_id("p"), id);
        let other = tempfile::tempdir().unwrap();
        assert_ne!(
            Instance::open(other.path()).unwrap().transactional_id("p"),
            id
        );
    }

    #[test]
    fn a_damaged_name_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("instance"), "a b/c").unwrap();
        assert!(matches!(
            Instance::open(dir.path()),
            Err(InstanceError::Invalid { .. })
        ));
    }
}
