//! The pipeline's topic names.

/// Commands, keyed by account id.
pub const COMMANDS: &str = "account-commands";
/// The event log, keyed by account id, co-partitioned with [`COMMANDS`], kept forever.
pub const EVENTS: &str = "account-events";
/// One result per command, keyed by account id.
pub const RESULTS: &str = "account-command-results";
/// Records that could not be processed, with headers saying where from and why.
pub const DEAD_LETTERS: &str = "account-dead-letters";
