//! [`CommandClient`]: send a command, await the processor's answer to it.
//!
//! ```text
//!  submit(command) ─ check ─ waiter registered ─▶ account-commands (queued in order)
//!        │                                                 │
//!  Submitted::result ◀── oneshot ◀── results reader ◀── account-command-results
//!                        (by command id)  (every partition, from where the client started)
//! ```
//!
//! Each client reads the whole results topic itself: one consumer, assigned every
//! partition at the offsets that were the end when the client connected, outside
//! any consumer group: the consumer carries a group id because librdkafka assigns
//! only with one, but it never joins the group nor commits, so any number of
//! clients run side by side and none resumes another's position. A command's result is
//! written after the command, so it is always after those offsets. Results are
//! matched to waiting commands by command id; results of other clients, and of
//! commands no longer awaited, are skipped. The reader therefore costs one decode
//! per result of the whole pipeline, whoever sent the command.

mod command_client;
mod config;
mod error;
mod outcome;
mod results;

pub use command_client::{CommandClient, Submitted};
pub use config::CommandClientConfig;
pub use error::ClientError;
pub use outcome::{CommandResult, EventOffsets, Outcome};
