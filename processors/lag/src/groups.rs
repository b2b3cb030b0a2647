//! Which consumer groups the cluster has, and their states: librdkafka's group
//! listing (ListGroups, then DescribeGroups for each group).

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};

use super::error::LagError;

/// A consumer group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    /// Stable, Empty, PreparingRebalance, Dead, ...; None when the cluster did not say.
    pub state: Option<String>,
}

/// Every group with the consumer protocol (or none: groups that only commit
/// offsets), sorted by name. Blocking.
pub(crate) fn list(client: &BaseConsumer, timeout: Duration) -> Result<Vec<Group>, LagError> {
    let mut groups = fetch(client, None, timeout)?;
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(groups)
}

/// The group named `name`, whatever its protocol, with its state. Blocking.
pub(crate) fn describe(
    client: &BaseConsumer,
    name: &str,
    timeout: Duration,
) -> Result<Group, LagError> {
    let state = fetch(client, Some(name), timeout)?
        .into_iter()
        .find(|group| group.name == name)
        .and_then(|group| group.state);
    Ok(Group {
        name: name.to_owned(),
        state,
    })
}

fn fetch(
    client: &BaseConsumer,
    name: Option<&str>,
    timeout: Duration,
) -> Result<Vec<Group>, LagError> {
    let list = client
        .fetch_group_list(name, timeout)
        .map_err(|source| LagError::Broker {
            operation: if name.is_some() {
                "DescribeGroups"
            } else {
                "ListGroups"
            },
            source,
        })?;
    Ok(list
        .groups()
        .iter()
        .filter(|g| name.is_some() || is_consumer_protocol(g.protocol_type()))
        .map(|g| Group {
            name: g.name().to_owned(),
            state: Some(g.state().to_owned()).filter(|s| !s.is_empty()),
        })
        .collect())
}

fn is_consumer_protocol(protocol_type: &str) -> bool {
    protocol_type.is_empty() || protocol_type == "consumer"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_consumer_groups_count() {
        assert!(is_consumer_protocol("consumer"));
        assert!(is_consumer_protocol(""));
        assert!(!is_consumer_protocol("connect"));
    }
}
