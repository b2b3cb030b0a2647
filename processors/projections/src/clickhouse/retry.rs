//! Every failure of the ClickHouse sink, and whether retrying it can help — in
//! this one place.
//!
//! Retriable: the server was unreachable, slow, busy or short of something it
//! gets back (memory, merges, replicas). Permanent: the request itself is wrong
//! for this server (a missing table or column, a type that does not match, bad
//! credentials, a migration edited after it was applied): the same request would
//! fail forever, so the projection stops and says so.

use crate::retry::{Classify, Retry};

/// A failed request to ClickHouse, or a schema it cannot work with.
#[derive(Debug, thiserror::Error)]
pub enum ClickHouseError {
    /// A request failed; [`ClickHouseError::retry`] reads the error to tell
    /// whether to try again.
    #[error("{during}: {source}")]
    Request {
        during: &'static str,
        #[source]
        source: clickhouse::error::Error,
    },
    /// A migration's text differs from the one applied: released migrations are
    /// never edited; add a new one.
    #[error(
        "migration {version} ({name}) was changed after it was applied to {table} \
         (checksum {applied:08x}, now {now:08x}); add a new migration instead"
    )]
    MigrationChanged {
        version: u32,
        name: &'static str,
        table: String,
        applied: u32,
        now: u32,
    },
}

impl ClickHouseError {
    /// Wraps a client error with what was being done.
    pub fn during(during: &'static str) -> impl FnOnce(clickhouse::error::Error) -> Self {
        move |source| ClickHouseError::Request { during, source }
    }
}

/// ClickHouse error codes worth retrying (`Code: N` in the server's answer).
const RETRIABLE_CODES: &[(u32, &str)] = &[
    (3, "network"),          // UNEXPECTED_END_OF_FILE: the connection dropped
    (32, "network"),         // ATTEMPT_TO_READ_AFTER_EOF
    (159, "timeout"),        // TIMEOUT_EXCEEDED
    (160, "timeout"),        // TOO_SLOW
    (202, "server-busy"),    // TOO_MANY_SIMULTANEOUS_QUERIES
    (203, "server-busy"),    // NO_FREE_CONNECTION
    (209, "timeout"),        // SOCKET_TIMEOUT
    (210, "network"),        // NETWORK_ERROR
    (236, "server-busy"),    // ABORTED
    (241, "memory"),         // MEMORY_LIMIT_EXCEEDED
    (242, "server-busy"),    // TABLE_IS_READ_ONLY
    (252, "too-many-parts"), // TOO_MANY_PARTS: merges are behind; slow down
    (285, "server-busy"),    // TOO_FEW_LIVE_REPLICAS
    (319, "server-busy"),    // UNKNOWN_STATUS_OF_INSERT
    (394, "server-busy"),    // QUERY_WAS_CANCELLED
    (425, "server-error"),   // SYSTEM_ERROR
    (439, "server-busy"),    // CANNOT_SCHEDULE_TASK
    (473, "server-busy"),    // DEADLOCK_AVOIDED
    (999, "server-busy"),    // KEEPER_EXCEPTION
    (1000, "network"),       // POCO_EXCEPTION
];

/// The server's error code in an answer (`Code: 60, e.displayText() = …` from
/// 18.16, `Code: 60. DB::Exception: …` from current releases).
fn error_code(answer: &str) -> Option<u32> {
    let rest = &answer[answer.find("Code: ")? + "Code: ".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// An HTTP status in an answer without a code (`502 Bad Gateway` from a proxy).
fn http_status(answer: &str) -> Option<u16> {
    let first = answer.split_whitespace().next()?;
    first
        .parse()
        .ok()
        .filter(|status| (100..600).contains(status))
}

fn classify(error: &clickhouse::error::Error) -> (Retry, &'static str) {
    use clickhouse::error::Error;
    match error {
        Error::Network(_) | Error::Other(_) => (Retry::Retriable, "network"),
        Error::TimedOut => (Retry::Retriable, "timeout"),
        Error::BadResponse(answer) => match (error_code(answer), http_status(answer)) {
            (Some(code), _) => match RETRIABLE_CODES.iter().find(|(c, _)| *c == code) {
                Some((_, class)) => (Retry::Retriable, class),
                None => (Retry::Permanent, refused_class(code)),
            },
            (None, Some(status)) if status >= 500 || status == 429 || status == 408 => {
                (Retry::Retriable, "server-error")
            }
            _ => (Retry::Permanent, "refused"),
        },
        // Rows that do not fit the table, or a client misused: no retry helps.
        _ => (Retry::Permanent, "client"),
    }
}

fn refused_class(code: u32) -> &'static str {
    match code {
        16 | 47 | 60 | 81 => "schema", // no such column, identifier, table, database
        53 | 70 | 27 | 6 | 33 => "type-mismatch", // the rows do not fit the columns
        62 => "syntax",
        164 | 192 | 193 | 194 | 497 | 516 => "auth", // read-only user, unknown user, wrong password, no grant
        _ => "refused",
    }
}

impl Classify for ClickHouseError {
    fn retry(&self) -> Retry {
        match self {
            ClickHouseError::Request { source, .. } => classify(source).0,
            ClickHouseError::MigrationChanged { .. } => Retry::Permanent,
        }
    }

    fn class(&self) -> &'static str {
        match self {
            ClickHouseError::Request { source, .. } => classify(source).1,
            ClickHouseError::MigrationChanged { .. } => "migration-changed",
        }
    }
}

#[cfg(test)]
mod tests {
    use clickhouse::error::Error;

    use super::*;

    fn request(source: Error) -> ClickHouseError {
        ClickHouseError::Request {
            during: "test",
            source,
        }
    }

    fn answer(text: &str) -> ClickHouseError {
        request(Error::BadResponse(text.to_owned()))
    }

    #[test]
    fn codes_are_read_from_old_and_new_servers() {
        assert_eq!(
            error_code("Code: 252, e.displayText() = DB::Exception: Too many parts (300)"),
            Some(252)
        );
        assert_eq!(
            error_code("Code: 60. DB::Exception: Table default.x does not exist. (UNKNOWN_TABLE)"),
            Some(60)
        );
        assert_eq!(error_code("502 Bad Gateway"), None);
    }

    #[test]
    fn busy_slow_or_unreachable_servers_are_retried() {
        for text in [
            "Code: 252, e.displayText() = DB::Exception: Too many parts (300). Merges are processing significantly slower than inserts",
            "Code: 241. DB::Exception: Memory limit (total) exceeded. (MEMORY_LIMIT_EXCEEDED)",
            "Code: 159. DB::Exception: Timeout exceeded. (TIMEOUT_EXCEEDED)",
            "Code: 202, e.displayText() = DB::Exception: Too many simultaneous queries",
            "503 Service Unavailable",
        ] {
            assert_eq!(answer(text).retry(), Retry::Retriable, "{text}");
        }
        assert_eq!(request(Error::TimedOut).retry(), Retry::Retriable);
        assert_eq!(
            answer("Code: 252. DB::Exception: Too many parts").class(),
            "too-many-parts"
        );
    }

    #[test]
    fn wrong_requests_are_permanent() {
        for (text, class) in [
            (
                "Code: 60, e.displayText() = DB::Exception: Table default.account_events_x doesn't exist.",
                "schema",
            ),
            (
                "Code: 16. DB::Exception: No such column projected_at in table. (NO_SUCH_COLUMN_IN_TABLE)",
                "schema",
            ),
            (
                "Code: 53. DB::Exception: Type mismatch. (TYPE_MISMATCH)",
                "type-mismatch",
            ),
            (
                "Code: 516. DB::Exception: default: Authentication failed. (AUTHENTICATION_FAILED)",
                "auth",
            ),
            ("Code: 62. DB::Exception: Syntax error", "syntax"),
            ("400 Bad Request", "refused"),
        ] {
            let error = answer(text);
            assert_eq!(
                (error.retry(), error.class()),
                (Retry::Permanent, class),
                "{text}"
            );
        }
        assert_eq!(request(Error::NotEnoughData).retry(), Retry::Permanent);
        let changed = ClickHouseError::MigrationChanged {
            version: 2,
            name: "account_balances",
            table: "ledgerstream_migrations".to_owned(),
            applied: 1,
            now: 2,
        };
        assert_eq!(changed.retry(), Retry::Permanent);
    }
}
