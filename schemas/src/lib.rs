//! The wire contract of the pipeline: Avro schemas (the `.avsc` files under
//! `schemas/avro/`), the Confluent wire-format codec, and a Confluent-compatible
//! Schema Registry.

pub mod compat;
