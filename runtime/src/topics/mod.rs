//! The pipeline's topics: what they must look like, creating them, and refusing to
//! run on topics that do not match.
//!
//! | topic | partitions | configs (checked as) | why |
//! |---|---|---|---|
//! | `account-commands` | `partitions` (6), exactly | `cleanup.policy=delete`; `retention.ms` ≥ 7 days or -1 | keyed by account: the count decides who owns an account |
//! | `account-events` | as many as commands | `cleanup.policy=delete`, `retention.ms=-1`, `retention.bytes=-1` | the log of record, kept forever; the processor pairs its partition p with commands' p |
//! | `account-command-results` | as many as commands | `cleanup.policy=delete`; `retention.ms` ≥ 7 days or -1 | a command's result goes to the same partition number, read back on restart |
//! | `account-dead-letters` | `dead_letter_partitions` (3), any | `cleanup.policy=delete`; `retention.ms` ≥ 30 days or -1 | waits for someone to look |
//!
//! Nothing else is needed: the processor rebuilds its state from `account-events`,
//! and the Schema Registry makes `_schemas` itself.
//!
//! ```text
//! TopicsConfig ──specs()──▶ [TopicSpec] ──┬─ create(): CreateTopics for the missing ones ─┐
//!                                         └─ check() ─────────────────────────────────────┤
//!   broker: Metadata (partitions, replicas) + DescribeConfigs ──▶ verify() ──▶ Report / Mismatch
//! ```
//!
//! Partition counts come from metadata, which every broker answers, so they are
//! always checked. A config the broker does not report (DescribeConfigs refused,
//! for want of the right to describe the topic) is shown as unknown and not
//! checked.

mod admin;
mod error;
mod partitioner;
mod spec;
mod verify;

pub use admin::{Admin, DEFAULT_TIMEOUT, check, create, delete, inspect};
pub use error::TopicsError;
pub use partitioner::{murmur2, partition_for};
pub use spec::{ConfigSpec, Partitioning, Rule, TopicNames, TopicSpec, TopicsConfig};
pub use verify::{ActualTopic, Mismatch, Report, TopicRow, TopicStatus, verify};
