//! The checkpoint: how far into its two input partitions a partition's store has
//! got, stored in the same commit as the accounts it describes.

use std::fmt;
use std::ops::Range;

/// One partition's durable position: every record before `events_offset` in
/// `account-events[p]` is folded into the store, and every record before
/// `results_offset` in `account-command-results[p]` has been read.
///
/// A value type that only moves forward and without gaps: [`Checkpoint::advance`]
/// takes the span of offsets a batch covered and refuses one that does not start
/// exactly where the checkpoint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Checkpoint {
    events_offset: i64,
    results_offset: i64,
}

/// Which of the two partitions a checkpoint offset is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Log {
    /// `account-events`.
    Events,
    /// `account-command-results`.
    Results,
}

impl fmt::Display for Log {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Events => "events",
            Self::Results => "results",
        })
    }
}

/// A checkpoint that would go backwards, skip records or make no sense.
///
/// Always a bug in the caller's offset bookkeeping, never bad input: stop the
/// partition rather than write the checkpoint, since a wrong checkpoint folds
/// records twice or never.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// Kafka offsets start at 0.
    #[error("{log} offset {offset} is negative")]
    Negative { log: Log, offset: i64 },
    /// The batch starts after the checkpoint: the records in between would never
    /// be folded.
    #[error("{log} span starts at {from} but the checkpoint is at {at}: records would be skipped")]
    Gap { log: Log, at: i64, from: i64 },
    /// The batch starts before the checkpoint: those records are folded already
    /// and would be folded twice.
    #[error(
        "{log} span starts at {from} but the checkpoint is at {at}: records would be folded twice"
    )]
    Overlap { log: Log, at: i64, from: i64 },
    /// The batch's span ends before it starts.
    #[error("{log} span {from}..{to} ends before it starts")]
    Backwards { log: Log, from: i64, to: i64 },
    /// The checkpoint written is behind the one already stored.
    #[error("{log} offset {offset} is behind the stored checkpoint at {stored}")]
    Behind { log: Log, stored: i64, offset: i64 },
}

impl Checkpoint {
    /// Nothing read yet: both partitions from their first offset.
    pub const START: Self = Self {
        events_offset: 0,
        results_offset: 0,
    };

    /// A checkpoint at these offsets (the next offset to fold or read in each
    /// partition), e.g. one read back from elsewhere.
    pub fn new(events_offset: i64, results_offset: i64) -> Result<Self, CheckpointError> {
        non_negative(Log::Events, events_offset)?;
        non_negative(Log::Results, results_offset)?;
        Ok(Self {
            events_offset,
            results_offset,
        })
    }

    /// The next offset of the events partition not yet folded into the store.
    pub fn events_offset(&self) -> i64 {
        self.events_offset
    }

    /// The next offset of the results partition not yet read.
    pub fn results_offset(&self) -> i64 {
        self.results_offset
    }

    /// The checkpoint after a batch that covered `events` and `results`.
    ///
    /// A span runs from where the consumer stood before the batch to one past the
    /// last record it returned; an empty span (`at..at`) means nothing was read
    /// there. Spans are positions, not record counts: Kafka offsets have holes
    /// (transaction markers, compaction), so a batch of 3 records may span 5.
    /// Each span must start exactly at this checkpoint.
    pub fn advance(
        &self,
        events: Range<i64>,
        results: Range<i64>,
    ) -> Result<Self, CheckpointError> {
        Ok(Self {
            events_offset: step(Log::Events, self.events_offset, events)?,
            results_offset: step(Log::Results, self.results_offset, results)?,
        })
    }

    /// Refuses `self` as the successor of `stored` when either offset is behind it.
    /// Equal offsets pass: a batch may move one partition and not the other.
    pub fn ensure_not_behind(&self, stored: &Checkpoint) -> Result<(), CheckpointError> {
        for (log, stored, offset) in [
            (Log::Events, stored.events_offset, self.events_offset),
            (Log::Results, stored.results_offset, self.results_offset),
        ] {
            if offset < stored {
                return Err(CheckpointError::Behind {
                    log,
                    stored,
                    offset,
                });
            }
        }
        Ok(())
    }
}

fn non_negative(log: Log, offset: i64) -> Result<i64, CheckpointError> {
    if offset < 0 {
        return Err(CheckpointError::Negative { log, offset });
    }
    Ok(offset)
}

fn step(log: Log, at: i64, span: Range<i64>) -> Result<i64, CheckpointError> {
    let Range {
        start: from,
        end: to,
    } = span;
    if from > at {
        return Err(CheckpointError::Gap { log, at, from });
    }
    if from < at {
        return Err(CheckpointError::Overlap { log, at, from });
    }
    if to < from {
        return Err(CheckpointError::Backwards { log, from, to });
    }
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(events: i64, results: i64) -> Checkpoint {
        Checkpoint::new(events, results).expect("valid offsets")
    }

    #[test]
    fn advances_by_contiguous_spans() {
        let checkpoint = Checkpoint::START
            .advance(0..500, 0..12)
            .expect("contiguous");
        assert_eq!(checkpoint, at(500, 12));

        let checkpoint = checkpoint.advance(500..1_003, 12..12).expect("contiguous");
        assert_eq!(checkpoint.events_offset(), 1_003);
        assert_eq!(checkpoint.results_offset(), 12);
    }

    #[test]
    fn an_empty_span_leaves_the_offset_where_it_is() {
        assert_eq!(at(7, 9).advance(7..7, 9..9), Ok(at(7, 9)));
    }

    #[test]
    fn refuses_a_span_that_skips_records() {
        assert_eq!(
            at(100, 0).advance(101..200, 0..0),
            Err(CheckpointError::Gap {
                log: Log::Events,
                at: 100,
                from: 101
            })
        );
        assert_eq!(
            at(100, 5).advance(100..100, 6..8),
            Err(CheckpointError::Gap {
                log: Log::Results,
                at: 5,
                from: 6
            })
        );
    }

    #[test]
    fn refuses_a_span_that_would_fold_records_twice() {
        assert_eq!(
            at(100, 0).advance(90..200, 0..0),
            Err(CheckpointError::Overlap {
                log: Log::Events,
                at: 100,
                from: 90
            })
        );
    }

    #[test]
    fn refuses_to_go_backwards() {
        let backwards = Range {
            start: 100,
            end: 99,
        };
        assert_eq!(
            at(100, 0).advance(backwards, 0..0),
            Err(CheckpointError::Backwards {
                log: Log::Events,
                from: 100,
                to: 99
            })
        );
    }

    #[test]
    fn a_refused_advance_leaves_the_checkpoint_as_it_was() {
        let checkpoint = at(100, 4);
        assert!(checkpoint.advance(100..150, 3..10).is_err());
        assert_eq!(checkpoint, at(100, 4));
    }

    #[test]
    fn offsets_are_never_negative() {
        assert_eq!(
            Checkpoint::new(-1, 0),
            Err(CheckpointError::Negative {
                log: Log::Events,
                offset: -1
            })
        );
        assert_eq!(
            Checkpoint::new(0, -5),
            Err(CheckpointError::Negative {
                log: Log::Results,
                offset: -5
            })
        );
    }

    #[test]
    fn a_successor_may_not_be_behind_the_stored_checkpoint() {
        let stored = at(100, 10);
        assert_eq!(at(100, 10).ensure_not_behind(&stored), Ok(()));
        assert_eq!(at(150, 10).ensure_not_behind(&stored), Ok(()));
        assert_eq!(
            at(99, 20).ensure_not_behind(&stored),
            Err(CheckpointError::Behind {
                log: Log::Events,
                stored: 100,
                offset: 99
            })
        );
        assert_eq!(
            at(200, 9).ensure_not_behind(&stored),
            Err(CheckpointError::Behind {
                log: Log::Results,
                stored: 10,
                offset: 9
            })
        );
    }
}
