//! Records that cannot be processed go to the dead-letter topic, unchanged (key,
//! value and timestamp of the original), with headers that say where they came
//! from and why. Processing goes on.
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
        OwnedHeaders::new_with_capacity(6)
            .insert(header(headers::TOPIC, self.topic))
            .insert(header(headers::PARTITION, &partition))
            .insert(header(headers::OFFSET, &offset))
            .insert(header(headers::COMPONENT, self.component))
            .insert(header(headers::ERROR_CLASS, self.class))
            .insert(header(headers::ERROR_MESSAGE, &self.message))
    }
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
}
