//! The event log as the truth read models are checked against: waiting until
//! the processor has written all of it, and folding it; and the metadata of
//! events a test writes by hand.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use ledgerstream_schemas::records::{EventMetadata, EventRecord};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::pipeline::Pipeline;

/// The metadata of an event a test writes by hand: `account_id` at `version`,
/// occurred a second per version after a fixed instant, with fresh random
/// event, command, correlation and causation ids.
pub fn metadata(account_id: &str, version: i64) -> EventMetadata {
    EventMetadata {
        event_id: uuid::Uuid::new_v4().to_string(),
        account_id: account_id.to_owned(),
        version,
        occurred_at: 1_763_700_000_000 + version * 1_000,
        command_id: uuid::Uuid::new_v4().to_string(),
        correlation_id: uuid::Uuid::new_v4().to_string(),
        causation_id: uuid::Uuid::new_v4().to_string(),
    }
}

/// Waits until the processor has committed every command of the commands topic
/// (follow-up credits and refunds included), and nothing new arrived for 3 s: the
/// log is then complete. Cheaper than reading the results back, which a busy
/// broker makes slow.
///
/// # Panics
///
/// When the processor has not caught up after 240 s.
pub async fn wait_for_the_processor(pipeline: &Pipeline) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &pipeline.broker.address)
        .set("group.id", format!("processor{}", pipeline.suffix))
        .create()
        .expect("consumer");
    let topic = pipeline.topics.commands.clone();
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut settled_since: Option<(Instant, i64)> = None;
    loop {
        // A broker just restarted can time out a request or two: asked again
        // until the deadline.
        let (committed, end) = match positions(&consumer, &topic, pipeline.partitions) {
            Ok(positions) => positions,
            Err(error) => {
                assert!(
                    Instant::now() < deadline,
                    "the processor's positions could not be read for 240 s: {error}"
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        if committed == end {
            match settled_since {
                Some((since, at)) if at == end && since.elapsed() >= Duration::from_secs(3) => {
                    return;
                }
                Some((_, at)) if at == end => {}
                _ => settled_since = Some((Instant::now(), end)),
            }
        } else {
            settled_since = None;
        }
        assert!(
            Instant::now() < deadline,
            "the processor committed {committed} of {end} commands after 240 s"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The processor group's committed offsets on `topic`, summed, and the sum of
/// its partitions' ends.
fn positions(
    consumer: &BaseConsumer,
    topic: &str,
    partitions: i32,
) -> Result<(i64, i64), rdkafka::error::KafkaError> {
    let mut list = TopicPartitionList::new();
    let mut end = 0;
    for partition in 0..partitions {
        list.add_partition(topic, partition);
        let (_, high) = consumer.fetch_watermarks(topic, partition, Duration::from_secs(30))?;
        end += high;
    }
    let committed = consumer
        .committed_offsets(list, Duration::from_secs(30))?
        .elements()
        .iter()
        .map(|e| match e.offset() {
            Offset::Offset(offset) => offset,
            _ => 0,
        })
        .sum();
    Ok((committed, end))
}

/// What the log says: per account, the last balance and version; every event id.
#[derive(Debug, Default)]
pub struct Fold {
    pub balances: BTreeMap<String, (i64, u64)>,
    pub event_ids: HashSet<String>,
    pub events: usize,
    /// Per event id: its account, version and balance after (none for a closing).
    pub by_event: HashMap<String, (String, u64, Option<i64>)>,
}

/// The balance after `event`, when it has one (every event but a closing).
pub fn balance_after(event: &EventRecord) -> Option<i64> {
    match event {
        EventRecord::AccountOpened(e) => Some(e.balance_after_minor),
        EventRecord::MoneyDeposited(e) => Some(e.balance_after_minor),
        EventRecord::MoneyWithdrawn(e) => Some(e.balance_after_minor),
        EventRecord::TransferDebited(e) => Some(e.balance_after_minor),
        EventRecord::TransferCredited(e) => Some(e.balance_after_minor),
        EventRecord::TransferRefunded(e) => Some(e.balance_after_minor),
        EventRecord::AccountClosed(_) => None,
    }
}

/// Folds every event of the pipeline's events topic.
pub async fn fold_the_log(pipeline: &Pipeline) -> Fold {
    let records = pipeline.read_all(&pipeline.topics.events);
    let mut fold = Fold::default();
    for (_, event) in pipeline.decode::<EventRecord>(&records).await {
        let meta = event.metadata();
        fold.events += 1;
        fold.event_ids.insert(meta.event_id.clone());
        let after = balance_after(&event);
        let entry = fold
            .balances
            .entry(meta.account_id.clone())
            .or_insert((0, 0));
        if let Some(after) = after {
            entry.0 = after;
        }
        entry.1 = meta.version as u64;
        fold.by_event.insert(
            meta.event_id.clone(),
            (meta.account_id.clone(), meta.version as u64, after),
        );
    }
    fold
}
