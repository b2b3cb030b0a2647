//! A dead letter's record: the original (key, value and timestamp), or its first
//! bytes when it is too large to be written whole, with headers that say where it
//! came from and why.
//!
//! The headers are Kafka Connect's dead-letter headers (`__connect.errors.*`), so
//! that tools written for Connect's dead-letter queues read ours as they are. The
//! exception class is one of ledgerstream's stable failure names (`bad-magic`,
//! `key-mismatch`, ...) rather than a Java class name.

use rdkafka::message::{Header, OwnedHeaders};

/// Header names on every dead letter, one fact each.
pub mod headers {
    /// Topic the record was read from.
    pub const TOPIC: &str = "__connect.errors.topic";
    /// Its partition, in decimal.
    pub const PARTITION: &str = "__connect.errors.partition";
    /// Its offset, in decimal.
    pub const OFFSET: &str = "__connect.errors.offset";
    /// The component that gave up on it: `processor`, `projection-clickhouse`, ...
    pub const COMPONENT: &str = "__connect.errors.connector.name";
    /// A short stable name of the failure.
    pub const ERROR_CLASS: &str = "__connect.errors.exception.class.name";
    /// What went wrong, for a person.
    pub const ERROR_MESSAGE: &str = "__connect.errors.exception.message";
    /// `true` when the original was too large to be written whole: the letter
    /// holds the first bytes of its key and value.
    pub const TRUNCATED: &str = "ledgerstream.dlq.truncated";
    /// The original key's length in bytes (on a truncated letter).
    pub const ORIGINAL_KEY_BYTES: &str = "ledgerstream.dlq.original.key.bytes";
    /// The original value's length in bytes (on a truncated letter).
    pub const ORIGINAL_VALUE_BYTES: &str = "ledgerstream.dlq.original.value.bytes";
}

/// The producers of dead letters keep librdkafka's `message.max.bytes` at this.
pub const MESSAGE_MAX_BYTES: usize = 1_000_000;
/// The most a dead letter's key, value and headers may take together: below
/// [`MESSAGE_MAX_BYTES`], with room for the record's own framing. A larger original
/// is written truncated, so that a dead letter can always be written.
pub const MAX_LETTER_BYTES: usize = 900_000;
/// A truncated letter keeps this much of the original value ...
pub const TRUNCATED_VALUE_BYTES: usize = 64 * 1024;
/// ... and of the original key.
pub const TRUNCATED_KEY_BYTES: usize = 1024;
/// The error message header is cut to this length.
const MAX_MESSAGE_BYTES: usize = 4096;

/// A dead letter's record, ready to send.
#[derive(Debug)]
pub struct Letter<'a> {
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: OwnedHeaders,
}

/// Where a dead letter came from and why it could not be processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter<'a> {
    pub component: &'a str,
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    /// A short stable name of the failure (`bad-magic`, `bad-body`, `bad-field` ...).
    pub class: &'a str,
    pub message: String,
}

impl DeadLetter<'_> {
    /// The headers that carry it.
    pub fn headers(&self) -> OwnedHeaders {
        let partition = self.partition.to_string();
        let offset = self.offset.to_string();
        OwnedHeaders::new_with_capacity(9)
            .insert(header(headers::TOPIC, self.topic))
            .insert(header(headers::PARTITION, &partition))
            .insert(header(headers::OFFSET, &offset))
            .insert(header(headers::COMPONENT, self.component))
            .insert(header(headers::ERROR_CLASS, self.class))
            .insert(header(
                headers::ERROR_MESSAGE,
                prefix(&self.message, MAX_MESSAGE_BYTES),
            ))
    }

    /// The record to write for an original with `key` and `value`: all of it when
    /// it fits in [`MAX_LETTER_BYTES`], otherwise the first bytes of each, with
    /// headers saying so and how large the original was.
    pub fn letter<'a>(&self, key: Option<&'a [u8]>, value: Option<&'a [u8]>) -> Letter<'a> {
        let headers = self.headers();
        let (key_len, value_len) = (key.map_or(0, <[u8]>::len), value.map_or(0, <[u8]>::len));
        let header_bytes: usize = self.topic.len()
            + self.component.len()
            + self.class.len()
            + self.message.len().min(MAX_MESSAGE_BYTES)
            + 256;
        if key_len + value_len + header_bytes <= MAX_LETTER_BYTES {
            return Letter {
                key,
                value,
                headers,
            };
        }
        let headers = headers
            .insert(header(headers::TRUNCATED, "true"))
            .insert(header(headers::ORIGINAL_KEY_BYTES, &key_len.to_string()))
            .insert(header(
                headers::ORIGINAL_VALUE_BYTES,
                &value_len.to_string(),
            ));
        Letter {
            key: key.map(|k| &k[..k.len().min(TRUNCATED_KEY_BYTES)]),
            value: value.map(|v| &v[..v.len().min(TRUNCATED_VALUE_BYTES)]),
            headers,
        }
    }
}

/// The longest prefix of `text` within `max` bytes, cut at a character boundary.
fn prefix(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn header<'a>(key: &'a str, value: &'a str) -> Header<'a, &'a str> {
    Header {
        key,
        value: Some(value),
    }
}

#[cfg(test)]
mod tests {
    use rdkafka::message::Headers;

    use super::*;

    #[test]
    fn every_header_is_present_with_its_value() {
        let letter = DeadLetter {
            component: "processor",
            topic: "account-commands",
            partition: 3,
            offset: 42,
            class: "bad-magic",
            message: "first byte is 0x7b".to_owned(),
        };
        let headers = letter.headers();
        let found: Vec<(String, String)> = headers
            .iter()
            .map(|h| {
                (
                    h.key.to_owned(),
                    String::from_utf8_lossy(h.value.unwrap()).into_owned(),
                )
            })
            .collect();
        let expect = |key: &str, value: &str| {
            assert!(
                found.contains(&(key.to_owned(), value.to_owned())),
                "{key}={value} in {found:?}"
            );
        };
        expect("__connect.errors.topic", "account-commands");
        expect("__connect.errors.partition", "3");
        expect("__connect.errors.offset", "42");
        expect("__connect.errors.connector.name", "processor");
        expect("__connect.errors.exception.class.name", "bad-magic");
        expect("__connect.errors.exception.message", "first byte is 0x7b");
        assert_eq!(found.len(), 6, "{found:?}");
    }

    fn letter() -> DeadLetter<'static> {
        DeadLetter {
            component: "processor",
            topic: "account-commands",
            partition: 0,
            offset: 7,
            class: "bad-body",
            message: "é".repeat(5_000),
        }
    }

    fn header_of(headers: &OwnedHeaders, key: &str) -> Option<String> {
        headers
            .iter()
            .find(|h| h.key == key)
            .map(|h| String::from_utf8_lossy(h.value.unwrap()).into_owned())
    }

    #[test]
    fn a_letter_that_fits_is_the_original() {
        let value = vec![7u8; 10_000];
        let letter = letter().letter(Some(b"acc-1"), Some(&value));
        assert_eq!(letter.key, Some(&b"acc-1"[..]));
        assert_eq!(letter.value.map(<[u8]>::len), Some(10_000));
        assert_eq!(header_of(&letter.headers, headers::TRUNCATED), None);
        let message = header_of(&letter.headers, headers::ERROR_MESSAGE).unwrap();
        assert!(message.len() <= 4096, "the message is cut to 4 KiB");
        assert!(message.chars().all(|c| c == 'é'), "at a character boundary");
    }

    #[test]
    fn an_original_too_large_is_cut_and_says_so() {
        let value = vec![1u8; 1_000_005];
        let key = vec![2u8; 5_000];
        let letter = letter().letter(Some(&key), Some(&value));
        assert_eq!(letter.value.map(<[u8]>::len), Some(TRUNCATED_VALUE_BYTES));
        assert_eq!(letter.key.map(<[u8]>::len), Some(TRUNCATED_KEY_BYTES));
        assert_eq!(
            header_of(&letter.headers, headers::TRUNCATED).as_deref(),
            Some("true")
        );
        assert_eq!(
            header_of(&letter.headers, headers::ORIGINAL_VALUE_BYTES).as_deref(),
            Some("1000005")
        );
        assert_eq!(
            header_of(&letter.headers, headers::ORIGINAL_KEY_BYTES).as_deref(),
            Some("5000")
        );
        assert_eq!(
            header_of(&letter.headers, headers::OFFSET).as_deref(),
            Some("7")
        );
    }
}
