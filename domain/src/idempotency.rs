//! The idempotency window: the last N command ids an account applied, with the
//! version each one left the account at, and the last N it rejected, with the
//! reason. A command id has one outcome, a rejection included.

use std::collections::{HashMap, VecDeque};

use super::CommandId;

/// What an earlier command with the same id came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It was applied and left the account at `version`.
    Applied { version: u64 },
    /// It was rejected: its reason code and message, to be given again.
    Rejected(Refusal),
}

/// A rejection as it was answered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Refusal {
    pub code: String,
    pub message: String,
}

/// A bounded, first-in-first-out memory of commands, in two windows of the same
/// size: applied (rebuilt from the events when the state is replayed) and rejected
/// (rebuilt from the rejections in `account-command-results`). Apart, so that each
/// is a function of one log, whatever order the two are read in.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecentCommands {
    applied: Window<u64>,
    rejected: Window<Refusal>,
}

impl RecentCommands {
    /// Remembers the last `capacity` applied and the last `capacity` rejected
    /// commands; 0 remembers none.
    pub fn new(capacity: usize) -> Self {
        Self {
            applied: Window::new(capacity),
            rejected: Window::new(capacity),
        }
    }

    pub fn capacity(&self) -> usize {
        self.applied.capacity
    }

    /// Applied commands remembered.
    pub fn len(&self) -> usize {
        self.applied.order.len()
    }

    /// Rejected commands remembered.
    pub fn rejected_len(&self) -> usize {
        self.rejected.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.applied.order.is_empty() && self.rejected.order.is_empty()
    }

    /// What `command` came to, if it is in a window.
    pub fn outcome(&self, command: CommandId) -> Option<Outcome> {
        if let Some(version) = self.applied.get(command) {
            return Some(Outcome::Applied { version: *version });
        }
        self.rejected
            .get(command)
            .map(|refusal| Outcome::Rejected(refusal.clone()))
    }

    /// Records that `command` brought the account to `version`. A command with
    /// several events is recorded once, at its last version.
    pub fn record(&mut self, command: CommandId, version: u64) {
        self.applied.insert(command, version);
    }

    /// Records that `command` was rejected, unless it is remembered already (the
    /// first outcome stays).
    pub fn record_rejection(&mut self, command: CommandId, refusal: Refusal) {
        if self.applied.get(command).is_none() && self.rejected.get(command).is_none() {
            self.rejected.insert(command, refusal);
        }
    }
}

/// Up to `capacity` command ids with a value each, the oldest dropped first.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Window<T> {
    capacity: usize,
    order: VecDeque<CommandId>,
    values: HashMap<CommandId, T>,
}

impl<T> Window<T> {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            order: VecDeque::new(),
            values: HashMap::new(),
        }
    }

    fn get(&self, command: CommandId) -> Option<&T> {
        self.values.get(&command)
    }

    /// Sets `command`'s value; a new id takes the place of the oldest when full.
    fn insert(&mut self, command: CommandId, value: T) {
        if self.capacity == 0 {
            return;
        }
        if let Some(slot) = self.values.get_mut(&command) {
            *slot = value;
            return;
        }
        if self.order.len() == self.capacity
            && let Some(oldest) = self.order.pop_front()
        {
            self.values.remove(&oldest);
        }
        self.order.push_back(command);
        self.values.insert(command, value);
    }
}
