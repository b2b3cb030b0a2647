//! Records that cannot be processed go to the dead-letter topic, unchanged, with
//! headers that say where they came from and why. Processing goes on.

use rdkafka::message::{Header, OwnedHeaders};

/// Header names on every dead letter.
pub mod headers {
    pub const SOURCE_TOPIC: &str = "ledgerstream.dlq.source.topic";
    pub const SOURCE_PARTITION: &str = "ledgerstream.dlq.source.partition";
    pub const SOURCE_OFFSET: &str = "ledgerstream.dlq.source.offset";
    pub const ERROR_CLASS: &str = "ledgerstream.dlq.error.class";
    pub const ERROR_MESSAGE: &str = "ledgerstream.dlq.error.message";
    pub const TIMESTAMP: &str = "ledgerstream.dlq.timestamp";
    pub const COMPONENT: &str = "ledgerstream.dlq.component";
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
    /// When it was dead-lettered, epoch milliseconds.
    pub at_millis: i64,
}

impl DeadLetter<'_> {
    /// The headers that carry it.
    pub fn headers(&self) -> OwnedHeaders {
        let partition = self.partition.to_string();
        let offset = self.offset.to_string();
        let at = self.at_millis.to_string();
        OwnedHeaders::new_with_capacity(7)
            .insert(header(headers::SOURCE_TOPIC, self.topic))
            .insert(header(headers::SOURCE_PARTITION, &partition))
            .insert(header(headers::SOURCE_OFFSET, &offset))
            .insert(header(headers::ERROR_CLASS, self.class))
            .insert(header(headers::ERROR_MESSAGE, &self.message))
            .insert(header(headers::TIMESTAMP, &at))
            .insert(header(headers::COMPONENT, self.component))
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
            at_millis: 1_700_000_000_000,
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
        expect(headers::SOURCE_TOPIC, "account-commands");
        expect(headers::SOURCE_PARTITION, "3");
        expect(headers::SOURCE_OFFSET, "42");
        expect(headers::ERROR_CLASS, "bad-magic");
        expect(headers::ERROR_MESSAGE, "first byte is 0x7b");
        expect(headers::TIMESTAMP, "1700000000000");
        expect(headers::COMPONENT, "processor");
    }
}
