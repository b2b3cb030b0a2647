//! The wire contract of the pipeline: Avro schemas (the `.avsc` files beside this
//! crate), the Confluent wire-format codec, and a Confluent-compatible Schema
//! Registry.
