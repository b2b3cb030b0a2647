//! What every component's settings share: the error that names the setting that
//! cannot work, and the checks of a consumer-group member's Kafka settings.

/// A setting that cannot work: which component's, which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{component} setting {field}: {problem}")]
pub struct ConfigError {
    /// `processor`, `projection`, `clickhouse`, `lag` ...
    pub component: &'static str,
    /// The field as it is spelt in the config (and, with `-` for `_`, as a flag).
    pub field: &'static str,
    pub problem: String,
}

impl ConfigError {
    pub fn new(component: &'static str, field: &'static str, problem: impl Into<String>) -> Self {
        Self {
            component,
            field,
            problem: problem.into(),
        }
    }
}

/// Checks the settings of a consumer-group member of `component`: bootstrap
/// servers given, the group named, a Kafka timeout that does not expire spuriously.
pub fn check_group_member(
    component: &'static str,
    brokers: &str,
    group: &str,
    kafka_timeout_millis: u64,
) -> Result<(), ConfigError> {
    let problem = |field, problem: &str| Err(ConfigError::new(component, field, problem));
    if brokers.trim().is_empty() {
        return problem("brokers", "no bootstrap servers given");
    }
    if group.trim().is_empty() {
        return problem("group", "the consumer group needs a name");
    }
    if kafka_timeout_millis < 1_000 {
        return problem(
            "kafka_timeout_millis",
            "below 1000 ms Kafka steps time out spuriously",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_names_component_and_field() {
        let error = check_group_member("projection", "b:9092", " ", 10_000).unwrap_err();
        assert_eq!(
            error.to_string(),
            "projection setting group: the consumer group needs a name"
        );
        assert_eq!(
            check_group_member("processor", "b:9092", "g", 999)
                .unwrap_err()
                .field,
            "kafka_timeout_millis"
        );
        assert_eq!(check_group_member("lag", "b:9092", "g", 1_000), Ok(()));
    }
}
