//! A Confluent-compatible Schema Registry that keeps its schemas in Kafka.
//!
//! # Layout
//!
//! ```text
//!  HTTP client ──▶ api (routes, metrics) ──▶ handlers ──▶ reply (content types,
//!                                             │      │       Confluent's error codes)
//!                                             │reads │ writes (one at a time)
//!                   ┌─────────────────────────┘      ▼
//!                 store (in-memory state) ◀── rules (decide: which records?)
//!                   ▲ apply                        │
//!                   │                              ▼
//!                 service ───── produce, await the delivery report ──▶ `_schemas`
//!                   ▲                                                   (compacted,
//!                   └──────────── on start: replay from the beginning ──  1 partition)
//! ```
//!
//! The topic is the only state. On start, [`server::run`] creates it when it is missing
//! (compacted, one partition) and refuses one that would lose or reorder records; it
//! reads it from the beginning to its high watermark, rebuilds the [`store::Store`], and
//! only then serves. A write decides its records from the current state ([`rules`]),
//! produces each (idempotent producer, `acks=all`), waits for the broker to confirm it,
//! and applies it to the state: memory never runs ahead of the log. One writer at a time.
//! Restarting the registry, or the broker, therefore keeps every id, version and level.
//!
//! Run one registry per topic: there is no leader election, so two registries writing
//! the same topic would each hand out the same next id.
//!
//! # Records of the `_schemas` topic
//!
//! Keys and values are JSON, as Confluent's registry writes them, so the two can be
//! compared record by record. A key is always written with the same field order, which
//! is what lets compaction replace an older record with a newer one.
//!
//! | key | value |
//! |---|---|
//! | `{"keytype":"SCHEMA","subject":S,"version":V,"magic":1}` | `{"subject":S,"version":V,"id":N,"schema":TEXT,"deleted":false}` |
//! | the same key, for a soft delete | the same value with `"deleted":true` |
//! | `{"keytype":"CONFIG","subject":S,"magic":0}` | `{"compatibilityLevel":"FULL"}` |
//! | `{"keytype":"CONFIG","subject":null,"magic":0}` | the global level, same shape |
//!
//! A value of `null` (a tombstone) removes its key: a hard-deleted version, or a
//! compatibility level that was deleted. `"schemaType"` is absent for Avro, the only type
//! served. Key types written by Confluent that this registry does not use (`NOOP`,
//! `MODE`, `DELETE_SUBJECT`, ...) are skipped when read.
//!
//! # Ids and versions
//!
//! Ids are global: the same schema registered under several subjects has one id; a new
//! schema gets the highest id seen so far plus one. Two texts are the same schema when
//! their parsed forms are equal (see [`schema`]). Versions count per subject from 1, and
//! keep counting after a soft delete; a subject that was hard-deleted starts again at 1.

pub mod api;
pub mod auth;
pub mod config;
pub mod error;
mod handlers;
pub mod log;
pub mod metrics;
pub mod record;
mod reply;
pub mod rules;
pub mod schema;
pub mod server;
pub mod service;
pub mod store;

#[doc(hidden)]
pub use handlers::parse_untrusted;
