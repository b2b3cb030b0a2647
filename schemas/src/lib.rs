//! The wire contract of the pipeline: what every producer and consumer of its
//! topics agrees on. No I/O but the registry client, no environment reading.
//!
//! # Layout
//!
//! ```text
//!  schemas/avro/*.avsc ──build.rs──▶ catalog (every version, embedded)
//!                                       │
//!  records::* (Rust shapes) ◀── codec ──┤── Schema Registry (ids; `client` talks to it)
//!          ▲                            │
//!          └── domain conversions       └── compat (BACKWARD_TRANSITIVE gate)
//! ```
//!
//! Producers encode records in the Confluent wire format (magic byte 0, 4-byte
//! schema id, Avro body) with the ids the registry gave their schemas; consumers
//! look writer schemas up by id (cached) and decode into the latest Rust shape.

pub mod catalog;
pub mod client;
pub mod codec;
pub mod compat;
pub mod gate;
pub mod limits;
pub mod records;
pub mod topics;
