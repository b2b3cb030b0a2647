//! Reading refused records back from the log, to dead-letter them as they were
//! read: a sink may refuse records of a batch after the consumer has moved past
//! them.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::{Offset, TopicPartitionList};

use crate::kafka::KafkaSettings;

/// Reads the records at `wanted` (partition, offset) of `topic` back from the
/// log, in the order asked: records a sink refused after the consumer had moved
/// on, to be dead-lettered as they were read. Rare, so a consumer of its own,
/// in no group.
pub fn read_back(
    kafka: &KafkaSettings,
    topic: &str,
    wanted: &[(i32, i64)],
    timeout: Duration,
) -> Result<Vec<OwnedMessage>, String> {
    let consumer: BaseConsumer = kafka
        .assigned("ledgerstream-dead-letter-reader")
        .create()
        .map_err(|e| e.to_string())?;
    let mut starts: BTreeMap<i32, i64> = BTreeMap::new();
    for &(partition, offset) in wanted {
        let start = starts.entry(partition).or_insert(offset);
        *start = (*start).min(offset);
    }
    let mut list = TopicPartitionList::new();
    for (&partition, &offset) in &starts {
        list.add_partition_offset(topic, partition, Offset::Offset(offset))
            .map_err(|e| e.to_string())?;
    }
    consumer.assign(&list).map_err(|e| e.to_string())?;
    let mut found: HashMap<(i32, i64), OwnedMessage> = HashMap::new();
    let deadline = Instant::now() + timeout;
    while found.len() < wanted.len() {
        if Instant::now() > deadline {
            return Err(format!(
                "read {} of the {} refused records of {topic} back within {timeout:?}",
                found.len(),
                wanted.len()
            ));
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                let at = (message.partition(), message.offset());
                if wanted.contains(&at) {
                    found.insert(at, message.detach());
                }
            }
            Some(Err(error)) => return Err(error.to_string()),
            None => {}
        }
    }
    wanted
        .iter()
        .map(|at| {
            found
                .get(at)
                .cloned()
                .ok_or_else(|| format!("record {}/{} not read back", at.0, at.1))
        })
        .collect()
}
