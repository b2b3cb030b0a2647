//! Identifiers. Account and owner ids are free-form strings chosen by the sender;
//! command, event and transfer ids are UUIDs (the wire carries them as strings with
//! the `uuid` logical type).

use std::fmt;

use uuid::Uuid;

/// An account, the aggregate's identity and the Kafka key of every account topic.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct AccountId(String);

impl AccountId {
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The customer who owns accounts.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct OwnerId(String);

impl OwnerId {
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OwnerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A command's idempotency key: the same id sent twice is applied once.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct CommandId(pub Uuid);

impl fmt::Display for CommandId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Identifies both legs of one transfer.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct TransferId(pub Uuid);

impl fmt::Display for TransferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An event's id, derived from the command that produced it (see [`EventId::derive`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId(pub Uuid);

/// The UUID v5 namespace of event ids. Changing it changes every event id a command
/// produces, so a command re-processed across the change would be written twice:
/// never change it.
const EVENT_ID_NAMESPACE: Uuid = Uuid::from_u128(0x1359_1313_8391_47b7_a579_1fb1_7655_3d03);

impl EventId {
    /// The id of the `index`-th event (from 0) that `command` produced on `account`.
    ///
    /// Deterministic, so deciding the same command again after a crash yields events
    /// with the same ids and consumers can drop the copies. The account id is part
    /// of the name so that a command id reused on another account by mistake still
    /// gives distinct event ids.
    pub fn derive(account: &AccountId, command: CommandId, index: u32) -> Self {
        let account = account.as_str().as_bytes();
        let mut name = Vec::with_capacity(8 + account.len() + 16 + 4);
        // The length prefix keeps (account, command) pairs from running into each other.
        name.extend_from_slice(&(account.len() as u64).to_be_bytes());
        name.extend_from_slice(account);
        name.extend_from_slice(command.0.as_bytes());
        name.extend_from_slice(&index.to_be_bytes());
        Self(Uuid::new_v5(&EVENT_ID_NAMESPACE, &name))
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
