//! Time as the wire has it: milliseconds since the Unix epoch, UTC.

/// A point in time, in milliseconds since the Unix epoch (UTC).
///
/// The domain never reads a clock: the caller passes "now" in
/// [`DecisionContext`](super::DecisionContext).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    pub fn as_millis(self) -> i64 {
        self.0
    }
}
