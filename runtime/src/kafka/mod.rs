//! Kafka clients, their settings built in one place.
//!
//! ```text
//! KafkaSecurity: TLS and SASL, read once from LEDGERSTREAM_KAFKA_*, installed once
//!   │            per process, shared (Arc) by every KafkaSettings
//! KafkaSettings (brokers + that security)
//!   ├─ client()                  metadata and admin requests
//!   ├─ positions()               watermarks and committed offsets, read_committed
//!   ├─ group_consumer(group, ..) a member of a group: offsets committed by hand only
//!   ├─ assigned(group)           assign-only, read_committed, never commits
//!   │    └─ reader(group)        ... reporting each partition's end: a Reader
//!   ├─ idempotent_producer()     acks=all, once and in order per partition
//!   └─ transactional_producer()  records and offsets visible together, or not at all
//! ```
//!
//! Each constructor returns librdkafka's `ClientConfig`: a component adds what is
//! its own (batching, fetch sizes, a client id) and says why next to it, then
//! creates the client with its context. [`flush`] waits for a producer's
//! deliveries in millisecond steps; [`Reader`] reads partitions back to their end;
//! [`probe`] asks the broker at start, naming the security setting that fails.

mod flush;
pub mod probe;
mod reader;
pub mod security;
mod settings;

pub use flush::flush;
pub use reader::{Reader, ReaderContext};
pub use security::{KafkaSecurity, SecurityError};
pub use settings::{JAVA_PARTITIONER, KafkaSettings};
