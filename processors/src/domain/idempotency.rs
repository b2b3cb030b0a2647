//! The idempotency window: the last N command ids an account applied, with the
//! version each one left the account at.

use std::collections::{HashMap, VecDeque};

use super::CommandId;

/// A bounded, first-in-first-out memory of applied commands.
///
/// Only commands that produced events are remembered: they are the ones whose
/// repetition would write the log twice. A rejected command left nothing behind and
/// is simply decided again. The window is rebuilt from the events when the state is
/// replayed, so it survives restarts as long as the size stays the same.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecentCommands {
    capacity: usize,
    order: VecDeque<CommandId>,
    outcomes: HashMap<CommandId, u64>,
}

impl RecentCommands {
    /// Remembers the last `capacity` commands; 0 remembers none.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            order: VecDeque::new(),
            outcomes: HashMap::new(),
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The version `command` left the account at, if it is in the window.
    pub fn outcome(&self, command: CommandId) -> Option<u64> {
        self.outcomes.get(&command).copied()
    }

    /// Records that `command` brought the account to `version`. A command with
    /// several events is recorded once, at its last version.
    pub fn record(&mut self, command: CommandId, version: u64) {
        if self.capacity == 0 {
            return;
        }
        if let Some(outcome) = self.outcomes.get_mut(&command) {
            *outcome = version;
            return;
        }
        if self.order.len() == self.capacity
            && let Some(oldest) = self.order.pop_front()
        {
            self.outcomes.remove(&oldest);
        }
        self.order.push_back(command);
        self.outcomes.insert(command, version);
    }
}
