//! What a projection's store must offer the runner: take events into a batch,
//! write the batch durably and idempotently, and keep checkpoints.

use std::future::Future;

use ledgerstream_schemas::records::EventRecord;

use super::checkpoint::Checkpoint;
use super::retry::Classify;

/// One decoded event and where it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct SourcedEvent {
    pub partition: i32,
    pub offset: i64,
    pub event: EventRecord,
}

/// An event the sink can never write, whatever the retries: it goes to the
/// dead-letter topic, and the projection goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{class}: {message}")]
pub struct Rejected {
    /// A short, stable name of the failure (`bad-field` ...), for the dead
    /// letter's headers and the metric.
    pub class: &'static str,
    pub message: String,
}

/// What a durable write wrote: rows (or documents) per table (or index).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    pub rows: Vec<(&'static str, u64)>,
    /// Events the store refused for good while the rest was written (a document
    /// its mapping cannot take): the runner reads their records back from the
    /// log and sends them to the dead-letter topic.
    pub refused: Vec<Refused>,
}

/// An event of a batch that the store refused for good, and where it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub partition: i32,
    pub offset: i64,
    pub rejected: Rejected,
}

/// A projection's store.
///
/// The runner calls, per batch: [`Sink::add`] for each event, in partition order;
/// then [`Sink::write`] (again with the same batch after a retriable failure);
/// then [`Sink::save_checkpoints`]; then it commits the group's offsets. A batch
/// that is given up (revoke, stop, permanent failure) is simply dropped: its
/// events are read again by whoever holds the partition next, so a sink keeps
/// nothing of a batch before `write` succeeded.
pub trait Sink: Send + 'static {
    /// The events of one batch, as the sink keeps them until it writes them.
    type Batch: Default + Send;
    /// Failures of whole writes, each retriable or permanent ([`Classify`]).
    type Error: Classify + Send + Sync + 'static;

    /// The projection's name: its metrics' `projection` label, its checkpoints'
    /// key, the dead letters' component.
    fn name(&self) -> &'static str;

    /// Takes one event into `batch`. An error is about this event alone, and
    /// permanent: the event goes to the dead-letter topic.
    fn add(&mut self, batch: &mut Self::Batch, event: SourcedEvent) -> Result<(), Rejected>;

    /// Writes `batch` durably: once this returns `Ok`, every event added is
    /// visible and survives a crash of the store. Writing the same events again
    /// (a retry, or a replay after a crash) must change nothing.
    fn write(&mut self, batch: &Self::Batch) -> impl Future<Output = Result<Written, Self::Error>>;

    /// The checkpoints stored for `partitions` of `topic` (none for a partition
    /// never written).
    fn load_checkpoints(
        &mut self,
        topic: &str,
        partitions: &[i32],
    ) -> impl Future<Output = Result<Vec<Checkpoint>, Self::Error>>;

    /// Stores `checkpoints` of `topic` durably.
    fn save_checkpoints(
        &mut self,
        topic: &str,
        checkpoints: &[Checkpoint],
    ) -> impl Future<Output = Result<(), Self::Error>>;

    /// The runner no longer holds `partitions`: forget what is cached about them
    /// (another instance writes them from now on).
    fn revoked(&mut self, partitions: &[i32]) {
        let _ = partitions;
    }
}
