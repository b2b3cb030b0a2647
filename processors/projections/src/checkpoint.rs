//! Checkpoints: per projection and partition, the last durable position.
//!
//! A checkpoint is written after each durable batch, before the consumer group's
//! offsets are committed, so it is never behind them: on assignment the runner
//! resumes from the checkpoint where there is one (the events up to it are in the
//! store, whatever happened to the commit), else from the committed offset.
//!
//! It is a value that refuses to go backwards. It cannot refuse to skip: offsets
//! of a Kafka partition are not contiguous (transaction markers and aborted
//! records take offsets a `read_committed` reader never sees).

use std::collections::BTreeMap;

/// The last durable position of one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    pub partition: i32,
    /// The offset to read next: every event before it is durable in the store.
    pub next_offset: i64,
    /// The event time (`occurred_at`, epoch ms) of the last event written; 0 when
    /// none was.
    pub last_event_at_ms: i64,
    /// When the checkpoint was written, epoch ms.
    pub updated_at_ms: i64,
}

/// A checkpoint that would move backwards.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("checkpoint of partition {partition} would go back from offset {current} to {proposed}")]
pub struct Backwards {
    pub partition: i32,
    pub current: i64,
    pub proposed: i64,
}

impl Checkpoint {
    /// The position of a partition nothing was written for.
    pub fn start(partition: i32) -> Self {
        Self {
            partition,
            next_offset: 0,
            last_event_at_ms: 0,
            updated_at_ms: 0,
        }
    }

    /// The checkpoint after a durable batch that ends before `next_offset`; the
    /// event time keeps its latest value.
    pub fn advance(
        &self,
        next_offset: i64,
        last_event_at_ms: Option<i64>,
        now_ms: i64,
    ) -> Result<Self, Backwards> {
        if next_offset < self.next_offset {
            return Err(Backwards {
                partition: self.partition,
                current: self.next_offset,
                proposed: next_offset,
            });
        }
        Ok(Self {
            partition: self.partition,
            next_offset,
            last_event_at_ms: last_event_at_ms.unwrap_or(0).max(self.last_event_at_ms),
            updated_at_ms: now_ms,
        })
    }
}

/// The checkpoints of the partitions a runner holds.
#[derive(Debug, Default, Clone)]
pub struct Checkpoints {
    by_partition: BTreeMap<i32, Checkpoint>,
}

impl Checkpoints {
    /// The checkpoint of `partition`, or its start.
    pub fn get(&self, partition: i32) -> Checkpoint {
        self.by_partition
            .get(&partition)
            .copied()
            .unwrap_or_else(|| Checkpoint::start(partition))
    }

    /// Whether a checkpoint was loaded or written for `partition`.
    pub fn has(&self, partition: i32) -> bool {
        self.by_partition.contains_key(&partition)
    }

    /// Keeps `checkpoint` (loaded from the store, or written to it).
    pub fn set(&mut self, checkpoint: Checkpoint) {
        self.by_partition.insert(checkpoint.partition, checkpoint);
    }

    /// Forgets the partitions this runner no longer holds.
    pub fn forget(&mut self, partitions: &[i32]) {
        for partition in partitions {
            self.by_partition.remove(partition);
        }
    }

    /// Every checkpoint held.
    pub fn iter(&self) -> impl Iterator<Item = &Checkpoint> {
        self.by_partition.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_forward_and_keeps_the_latest_event_time() {
        let start = Checkpoint::start(2);
        let first = start.advance(100, Some(5_000), 10).unwrap();
        assert_eq!(
            first,
            Checkpoint {
                partition: 2,
                next_offset: 100,
                last_event_at_ms: 5_000,
                updated_at_ms: 10
            }
        );
        // A batch of dead letters only: no event time, the last one stays.
        let second = first.advance(120, None, 20).unwrap();
        assert_eq!(
            (
                second.next_offset,
                second.last_event_at_ms,
                second.updated_at_ms
            ),
            (120, 5_000, 20)
        );
        // Staying put is allowed (a batch that committed nothing new).
        assert!(second.advance(120, Some(4_000), 30).is_ok());
    }

    #[test]
    fn going_backwards_is_refused() {
        let at = Checkpoint::start(1).advance(50, Some(1), 1).unwrap();
        assert_eq!(
            at.advance(49, Some(2), 2),
            Err(Backwards {
                partition: 1,
                current: 50,
                proposed: 49
            })
        );
    }

    #[test]
    fn partitions_are_forgotten_on_revoke() {
        let mut all = Checkpoints::default();
        all.set(Checkpoint::start(0).advance(10, None, 1).unwrap());
        all.set(Checkpoint::start(1).advance(20, None, 1).unwrap());
        all.forget(&[0]);
        assert!(!all.has(0));
        assert_eq!(all.get(0), Checkpoint::start(0));
        assert_eq!(all.get(1).next_offset, 20);
    }
}
