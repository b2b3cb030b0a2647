//! What every component's settings share: the error that names the setting that
//! cannot work, the checks of a consumer-group member's Kafka settings, and the
//! Schema Registry's settings read from the deployment's environment.

use std::path::PathBuf;

use ledgerstream_schemas::client::{self, RegistryConfig};
use secrecy::SecretString;

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

/// The Schema Registry's settings from `LEDGERSTREAM_REGISTRY_{URL,USERNAME,PASSWORD,
/// PASSWORD_FILE,CA_FILE,CACHE}` (empty values count as unset).
pub fn registry_from_env() -> Result<RegistryConfig, client::ConfigError> {
    registry_from_lookup(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
}

/// Like [`registry_from_env`], with variables looked up by `lookup`.
pub fn registry_from_lookup(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<RegistryConfig, client::ConfigError> {
    let endpoints = ledgerstream_infra::Endpoints::from_lookup(&lookup);
    let mut config = RegistryConfig::new(endpoints.registry.address);
    config.username = lookup("LEDGERSTREAM_REGISTRY_USERNAME");
    config.password = match (
        lookup("LEDGERSTREAM_REGISTRY_PASSWORD"),
        lookup("LEDGERSTREAM_REGISTRY_PASSWORD_FILE"),
    ) {
        (Some(_), Some(_)) => {
            return Err(client::ConfigError {
                field: "LEDGERSTREAM_REGISTRY_PASSWORD_FILE",
                problem: "set either LEDGERSTREAM_REGISTRY_PASSWORD or this, not both".into(),
            });
        }
        (Some(password), None) => Some(SecretString::from(password)),
        (None, Some(path)) => Some(password_from_file(&path)?),
        (None, None) => None,
    };
    config.ca_file = lookup("LEDGERSTREAM_REGISTRY_CA_FILE").map(PathBuf::from);
    if let Some(cache) = lookup("LEDGERSTREAM_REGISTRY_CACHE") {
        config.cache_capacity = cache.trim().parse().map_err(|_| client::ConfigError {
            field: "LEDGERSTREAM_REGISTRY_CACHE",
            problem: format!("'{cache}' is not a number of schemas"),
        })?;
    }
    config.validate()?;
    Ok(config)
}

/// A password file's content, without the line break an editor leaves at its end.
fn password_from_file(path: &str) -> Result<SecretString, client::ConfigError> {
    let problem = |problem: String| client::ConfigError {
        field: "LEDGERSTREAM_REGISTRY_PASSWORD_FILE",
        problem,
    };
    let text = std::fs::read_to_string(path)
        .map_err(|error| problem(format!("cannot read {path}: {error}")))?;
    let password = text.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        return Err(problem(format!("{path} is empty")));
    }
    Ok(SecretString::from(password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn the_registry_defaults_to_the_local_one_and_hides_its_password() {
        let config = registry_from_lookup(lookup(&[
            ("LEDGERSTREAM_REGISTRY_USERNAME", "key"),
            ("LEDGERSTREAM_REGISTRY_PASSWORD", "hunter2-secret"),
        ]))
        .expect("config");
        assert_eq!(config.url, "http://127.0.0.1:8081");
        assert!(!format!("{config:?}").contains("hunter2-secret"));
    }

    #[test]
    fn the_registry_password_and_ca_come_from_files() {
        let file = std::env::temp_dir().join(format!("registry-password-{}", std::process::id()));
        std::fs::write(&file, "from-a-file\n").unwrap();
        let path = file.display().to_string();
        let config = registry_from_lookup(|name| match name {
            "LEDGERSTREAM_REGISTRY_URL" => Some("https://registry.internal:8081".to_owned()),
            "LEDGERSTREAM_REGISTRY_USERNAME" => Some("key".to_owned()),
            "LEDGERSTREAM_REGISTRY_PASSWORD_FILE" => Some(path.clone()),
            "LEDGERSTREAM_REGISTRY_CA_FILE" => Some("/etc/ssl/ca.pem".to_owned()),
            _ => None,
        })
        .expect("config");
        std::fs::remove_file(&file).unwrap();
        use secrecy::ExposeSecret;
        assert_eq!(
            config.password.as_ref().map(|p| p.expose_secret()),
            Some("from-a-file")
        );
        assert_eq!(config.ca_file, Some(PathBuf::from("/etc/ssl/ca.pem")));
        let error = registry_from_lookup(lookup(&[
            ("LEDGERSTREAM_REGISTRY_USERNAME", "key"),
            ("LEDGERSTREAM_REGISTRY_PASSWORD", "p"),
            ("LEDGERSTREAM_REGISTRY_PASSWORD_FILE", "/x"),
        ]))
        .unwrap_err();
        assert_eq!(error.field, "LEDGERSTREAM_REGISTRY_PASSWORD_FILE");
    }

    #[test]
    fn registry_settings_that_cannot_work_name_their_field() {
        let error =
            registry_from_lookup(lookup(&[("LEDGERSTREAM_REGISTRY_URL", "ftp://x")])).unwrap_err();
        assert_eq!(error.field, "url");
        let error =
            registry_from_lookup(lookup(&[("LEDGERSTREAM_REGISTRY_PASSWORD", "p")])).unwrap_err();
        assert_eq!(error.field, "username");
        let error =
            registry_from_lookup(lookup(&[("LEDGERSTREAM_REGISTRY_CACHE", "lots")])).unwrap_err();
        assert!(
            error.to_string().contains("LEDGERSTREAM_REGISTRY_CACHE"),
            "{error}"
        );
    }

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
