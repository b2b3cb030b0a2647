//! The wall clock, read in one place: when a command was issued, a row projected,
//! a checkpoint saved, a sample of lag taken. Deciding never reads it: the
//! processor decides a command at its record's timestamp.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in milliseconds since the epoch; 0 on a clock set before 1970.
pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
