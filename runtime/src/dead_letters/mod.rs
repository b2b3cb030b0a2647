//! Dead letters: records that cannot be processed go to the dead-letter topic,
//! unchanged, with headers that say where they came from and why. Processing
//! goes on; nothing is silently dropped.
//!
//! ```text
//!  a record that does not decode, breaks the wire contract, or a sink refuses
//!    ─▶ DeadLetter { component, topic, partition, offset, class, message }   letter.rs
//!    ─▶ letter(key, value): the original, cut to fit when too large, + headers
//!    ─▶ the processor's transaction, or DeadLetters (projections)            producer.rs
//!    ─▶ account-dead-letters
//!  a record a sink refused after the consumer moved on ─▶ read_back ─▶ ...  read_back.rs
//! ```

mod letter;
mod producer;
mod read_back;

pub use letter::{
    DeadLetter, Letter, MAX_LETTER_BYTES, MESSAGE_MAX_BYTES, TRUNCATED_KEY_BYTES,
    TRUNCATED_VALUE_BYTES, headers,
};
pub use producer::DeadLetters;
pub use read_back::read_back;
