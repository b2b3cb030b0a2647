//! How every Kafka client of a process reaches the brokers: in the clear, over TLS,
//! with a SASL login, or with a client certificate (mTLS). Read once from the
//! environment, checked at start, installed for the whole process and shared by
//! every client that [`KafkaSettings`](super::KafkaSettings) builds.
//!
//! ```text
//!  LEDGERSTREAM_KAFKA_SECURITY_PROTOCOL    PLAINTEXT (default), SSL, SASL_PLAINTEXT, SASL_SSL
//!  LEDGERSTREAM_KAFKA_SASL_MECHANISM       SCRAM-SHA-512 (default), SCRAM-SHA-256, PLAIN
//!  LEDGERSTREAM_KAFKA_SASL_USERNAME        the SASL user
//!  LEDGERSTREAM_KAFKA_SASL_PASSWORD        its password, or
//!  LEDGERSTREAM_KAFKA_SASL_PASSWORD_FILE   a file holding it (one trailing newline ignored)
//!  LEDGERSTREAM_KAFKA_SSL_CA_FILE          PEM CA certificate(s) the brokers' certificates chain to
//!  LEDGERSTREAM_KAFKA_SSL_CERT_FILE        PEM client certificate, for mTLS ...
//!  LEDGERSTREAM_KAFKA_SSL_KEY_FILE         ... and its unencrypted PEM private key
//! ```
//!
//! The password is held as a [`SecretString`]: `Debug` prints `[REDACTED]`, and it
//! is exposed only to librdkafka when a client is built. librdkafka's
//! `ClientConfig` prints every property, `sasl.password` included, in its `Debug`:
//! never log or format one.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rdkafka::ClientConfig;
use secrecy::{ExposeSecret, SecretString};

/// `security.protocol`: how a client talks to the brokers' listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// No TLS, no login: a trusted network only.
    #[default]
    Plaintext,
    /// TLS; with a client certificate, the certificate is the identity (mTLS).
    Ssl,
    /// A SASL login without TLS: the traffic, and with PLAIN the password, travel
    /// in the clear.
    SaslPlaintext,
    /// A SASL login over TLS.
    SaslSsl,
}

impl Protocol {
    /// Its name in `security.protocol`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Protocol::Plaintext => "PLAINTEXT",
            Protocol::Ssl => "SSL",
            Protocol::SaslPlaintext => "SASL_PLAINTEXT",
            Protocol::SaslSsl => "SASL_SSL",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        [
            Protocol::Plaintext,
            Protocol::Ssl,
            Protocol::SaslPlaintext,
            Protocol::SaslSsl,
        ]
        .into_iter()
        .find(|p| p.as_str().eq_ignore_ascii_case(value.trim()))
    }

    /// Whether the connection is TLS.
    pub const fn tls(self) -> bool {
        matches!(self, Protocol::Ssl | Protocol::SaslSsl)
    }

    /// Whether the client logs in with SASL.
    pub const fn sasl(self) -> bool {
        matches!(self, Protocol::SaslPlaintext | Protocol::SaslSsl)
    }
}

/// `sasl.mechanism`: how a SASL client proves its password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mechanism {
    /// Salted challenge-response: the password never crosses the wire.
    #[default]
    ScramSha512,
    ScramSha256,
    /// The password itself is sent: only over TLS.
    Plain,
}

impl Mechanism {
    /// Its name in `sasl.mechanism`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Mechanism::ScramSha512 => "SCRAM-SHA-512",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::Plain => "PLAIN",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        [
            Mechanism::ScramSha512,
            Mechanism::ScramSha256,
            Mechanism::Plain,
        ]
        .into_iter()
        .find(|m| m.as_str().eq_ignore_ascii_case(value.trim()))
    }
}

/// A SASL login. `Debug` hides the password.
#[derive(Debug, Clone)]
pub struct Sasl {
    pub mechanism: Mechanism,
    pub username: String,
    pub password: SecretString,
}

/// Files of a TLS connection, in PEM. Without a CA file, the system's trust store
/// is used.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tls {
    /// CA certificate(s) the brokers' certificates chain to.
    pub ca_file: Option<PathBuf>,
    /// Client certificate and its unencrypted private key, for mTLS.
    pub client: Option<(PathBuf, PathBuf)>,
}

/// How every Kafka client of this process reaches the brokers. Built once
/// ([`from_env`](Self::from_env)), checked, then [`install`](Self::install)ed.
#[derive(Debug, Clone, Default)]
pub struct KafkaSecurity {
    pub protocol: Protocol,
    /// Given exactly when the protocol is `SASL_*`.
    pub sasl: Option<Sasl>,
    /// Given exactly when the protocol is `SSL` or `SASL_SSL`.
    pub tls: Option<Tls>,
}

/// A Kafka security setting that cannot work: the variable that holds it, and why.
/// Its text never holds a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("kafka security setting {variable}: {problem}")]
pub struct SecurityError {
    /// The environment variable, e.g. `LEDGERSTREAM_KAFKA_SASL_PASSWORD_FILE`.
    pub variable: &'static str,
    pub problem: String,
}

/// The environment variables, by setting.
pub mod vars {
    pub const PROTOCOL: &str = "LEDGERSTREAM_KAFKA_SECURITY_PROTOCOL";
    pub const MECHANISM: &str = "LEDGERSTREAM_KAFKA_SASL_MECHANISM";
    pub const USERNAME: &str = "LEDGERSTREAM_KAFKA_SASL_USERNAME";
    pub const PASSWORD: &str = "LEDGERSTREAM_KAFKA_SASL_PASSWORD";
    pub const PASSWORD_FILE: &str = "LEDGERSTREAM_KAFKA_SASL_PASSWORD_FILE";
    pub const CA_FILE: &str = "LEDGERSTREAM_KAFKA_SSL_CA_FILE";
    pub const CERT_FILE: &str = "LEDGERSTREAM_KAFKA_SSL_CERT_FILE";
    pub const KEY_FILE: &str = "LEDGERSTREAM_KAFKA_SSL_KEY_FILE";
    /// Every one of them, for a caller that passes them on to a child process.
    pub const ALL: [&str; 8] = [
        PROTOCOL,
        MECHANISM,
        USERNAME,
        PASSWORD,
        PASSWORD_FILE,
        CA_FILE,
        CERT_FILE,
        KEY_FILE,
    ];
}

static INSTALLED: OnceLock<Arc<KafkaSecurity>> = OnceLock::new();

impl KafkaSecurity {
    /// Reads and checks the `LEDGERSTREAM_KAFKA_*` variables (empty values count as
    /// unset); reads the password file and checks that every named file is readable.
    pub fn from_env() -> Result<Self, SecurityError> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
    }

    /// Like [`from_env`](Self::from_env), with variables looked up by `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SecurityError> {
        let problem = |variable, problem: String| Err(SecurityError { variable, problem });
        let protocol = match lookup(vars::PROTOCOL) {
            None => Protocol::default(),
            Some(value) => match Protocol::parse(&value) {
                Some(protocol) => protocol,
                None => {
                    return problem(
                        vars::PROTOCOL,
                        format!("'{value}' is not one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"),
                    );
                }
            },
        };

        let sasl_vars = [
            vars::MECHANISM,
            vars::USERNAME,
            vars::PASSWORD,
            vars::PASSWORD_FILE,
        ];
        let sasl = if protocol.sasl() {
            Some(sasl_from(&lookup)?)
        } else if let Some(variable) = sasl_vars.into_iter().find(|v| lookup(v).is_some()) {
            return problem(
                variable,
                format!(
                    "set, but {} is {}: a SASL login needs SASL_SSL or SASL_PLAINTEXT",
                    vars::PROTOCOL,
                    protocol.as_str()
                ),
            );
        } else {
            None
        };

        let tls_vars = [vars::CA_FILE, vars::CERT_FILE, vars::KEY_FILE];
        let tls = if protocol.tls() {
            Some(tls_from(&lookup)?)
        } else if let Some(variable) = tls_vars.into_iter().find(|v| lookup(v).is_some()) {
            return problem(
                variable,
                format!(
                    "set, but {} is {}: TLS files need SSL or SASL_SSL",
                    vars::PROTOCOL,
                    protocol.as_str()
                ),
            );
        } else {
            None
        };
        Ok(Self {
            protocol,
            sasl,
            tls,
        })
    }

    /// Makes these the settings of every Kafka client this process builds from
    /// now on. Once per process: a second call is refused and changes nothing.
    pub fn install(self) -> Result<Arc<Self>, SecurityError> {
        let shared = Arc::new(self);
        INSTALLED
            .set(Arc::clone(&shared))
            .map_err(|_| SecurityError {
                variable: vars::PROTOCOL,
                problem: "the Kafka security settings were installed already".to_owned(),
            })?;
        Ok(shared)
    }

    /// The installed settings; PLAINTEXT when none were installed.
    pub fn current() -> Arc<Self> {
        Arc::clone(INSTALLED.get_or_init(|| Arc::new(Self::default())))
    }

    /// Adds these settings to a client's `config`.
    pub fn apply(&self, config: &mut ClientConfig) {
        config.set("security.protocol", self.protocol.as_str());
        if let Some(sasl) = &self.sasl {
            config
                .set("sasl.mechanism", sasl.mechanism.as_str())
                .set("sasl.username", &sasl.username)
                .set("sasl.password", sasl.password.expose_secret());
        }
        if let Some(tls) = &self.tls {
            if let Some(ca) = &tls.ca_file {
                config.set("ssl.ca.location", path_str(ca));
            }
            if let Some((cert, key)) = &tls.client {
                config
                    .set("ssl.certificate.location", path_str(cert))
                    .set("ssl.key.location", path_str(key));
            }
        }
    }

    /// A line for the start-up log: protocol, mechanism and user, never the password.
    pub fn describe(&self) -> String {
        let mut text = self.protocol.as_str().to_owned();
        if let Some(sasl) = &self.sasl {
            text.push_str(&format!(
                " {} user {}",
                sasl.mechanism.as_str(),
                sasl.username
            ));
        }
        if let Some(Tls {
            client: Some((cert, _)),
            ..
        }) = &self.tls
        {
            text.push_str(&format!(" client certificate {}", cert.display()));
        }
        text
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn path_str(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

fn sasl_from(lookup: &impl Fn(&str) -> Option<String>) -> Result<Sasl, SecurityError> {
    let problem = |variable, problem: &str| {
        Err(SecurityError {
            variable,
            problem: problem.to_owned(),
        })
    };
    let mechanism = match lookup(vars::MECHANISM) {
        None => Mechanism::default(),
        Some(value) => match Mechanism::parse(&value) {
            Some(mechanism) => mechanism,
            None => {
                return Err(SecurityError {
                    variable: vars::MECHANISM,
                    problem: format!("'{value}' is not one of SCRAM-SHA-512, SCRAM-SHA-256, PLAIN"),
                });
            }
        },
    };
    let Some(username) = lookup(vars::USERNAME) else {
        return problem(vars::USERNAME, "a SASL login needs a user name");
    };
    let password = match (lookup(vars::PASSWORD), lookup(vars::PASSWORD_FILE)) {
        (Some(_), Some(_)) => {
            return problem(
                vars::PASSWORD_FILE,
                "set together with LEDGERSTREAM_KAFKA_SASL_PASSWORD; set one of them",
            );
        }
        (None, None) => {
            return problem(
                vars::PASSWORD,
                "a SASL login needs a password (or LEDGERSTREAM_KAFKA_SASL_PASSWORD_FILE)",
            );
        }
        (Some(password), None) => password,
        (None, Some(file)) => {
            let text = std::fs::read_to_string(&file).map_err(|e| SecurityError {
                variable: vars::PASSWORD_FILE,
                problem: format!("cannot read {file}: {e}"),
            })?;
            let password = text
                .strip_suffix('\n')
                .map(|t| t.strip_suffix('\r').unwrap_or(t))
                .unwrap_or(&text);
            if password.is_empty() {
                return problem(vars::PASSWORD_FILE, "the file is empty");
            }
            password.to_owned()
        }
    };
    Ok(Sasl {
        mechanism,
        username: username.trim().to_owned(),
        password: SecretString::from(password),
    })
}

fn tls_from(lookup: &impl Fn(&str) -> Option<String>) -> Result<Tls, SecurityError> {
    let readable = |variable: &'static str| -> Result<Option<PathBuf>, SecurityError> {
        let Some(path) = lookup(variable) else {
            return Ok(None);
        };
        let path = PathBuf::from(path.trim());
        std::fs::File::open(&path).map_err(|e| SecurityError {
            variable,
            problem: format!("cannot read {}: {e}", path.display()),
        })?;
        Ok(Some(path))
    };
    let ca_file = readable(vars::CA_FILE)?;
    let client = match (readable(vars::CERT_FILE)?, readable(vars::KEY_FILE)?) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        (Some(_), None) => {
            return Err(SecurityError {
                variable: vars::KEY_FILE,
                problem: "a client certificate needs its private key".to_owned(),
            });
        }
        (None, Some(_)) => {
            return Err(SecurityError {
                variable: vars::CERT_FILE,
                problem: "a private key needs its client certificate".to_owned(),
            });
        }
    };
    Ok(Tls { ca_file, client })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(vars: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<String> {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
        }
    }

    fn error(vars: Vec<(&'static str, String)>) -> SecurityError {
        KafkaSecurity::from_lookup(lookup(vars)).unwrap_err()
    }

    fn s(value: &str) -> String {
        value.to_owned()
    }

    #[test]
    fn nothing_set_is_plaintext_and_adds_only_the_protocol() {
        let security = KafkaSecurity::from_lookup(lookup(vec![])).unwrap();
        let mut config = ClientConfig::new();
        security.apply(&mut config);
        assert_eq!(config.get("security.protocol"), Some("PLAINTEXT"));
        assert_eq!(config.get("sasl.mechanism"), None);
        assert_eq!(config.get("ssl.ca.location"), None);
    }

    #[test]
    fn sasl_ssl_sets_every_librdkafka_property_and_debug_hides_the_password() {
        let dir = std::env::temp_dir().join(format!("ls-security-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (ca, cert, key, pass) = (
            dir.join("ca.pem"),
            dir.join("client.pem"),
            dir.join("client.key"),
            dir.join("password"),
        );
        for file in [&ca, &cert, &key] {
            std::fs::write(file, "pem").unwrap();
        }
        std::fs::write(&pass, "s3cret-from-file\n").unwrap();
        let security = KafkaSecurity::from_lookup(lookup(vec![
            (vars::PROTOCOL, s("sasl_ssl")),
            (vars::MECHANISM, s("SCRAM-SHA-256")),
            (vars::USERNAME, s("pipeline")),
            (vars::PASSWORD_FILE, pass.display().to_string()),
            (vars::CA_FILE, ca.display().to_string()),
            (vars::CERT_FILE, cert.display().to_string()),
            (vars::KEY_FILE, key.display().to_string()),
        ]))
        .unwrap();
        let mut config = ClientConfig::new();
        security.apply(&mut config);
        assert_eq!(config.get("security.protocol"), Some("SASL_SSL"));
        assert_eq!(config.get("sasl.mechanism"), Some("SCRAM-SHA-256"));
        assert_eq!(config.get("sasl.username"), Some("pipeline"));
        assert_eq!(config.get("sasl.password"), Some("s3cret-from-file"));
        assert_eq!(config.get("ssl.ca.location"), Some(&*ca.to_string_lossy()));
        assert_eq!(
            config.get("ssl.certificate.location"),
            Some(&*cert.to_string_lossy())
        );
        assert_eq!(
            config.get("ssl.key.location"),
            Some(&*key.to_string_lossy())
        );
        for text in [format!("{security:?}"), security.describe()] {
            assert!(!text.contains("s3cret-from-file"), "{text}");
        }
        assert!(security.describe().contains("SCRAM-SHA-256 user pipeline"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_password_comes_from_the_environment_and_scram_sha_512_is_the_default() {
        let security = KafkaSecurity::from_lookup(lookup(vec![
            (vars::PROTOCOL, s("SASL_PLAINTEXT")),
            (vars::USERNAME, s("u")),
            (vars::PASSWORD, s("p4ss")),
        ]))
        .unwrap();
        let sasl = security.sasl.as_ref().unwrap();
        assert_eq!(sasl.mechanism, Mechanism::ScramSha512);
        assert_eq!(sasl.password.expose_secret(), "p4ss");
        assert!(security.tls.is_none());
    }

    #[test]
    fn settings_that_cannot_work_name_their_variable() {
        let sasl = |extra: Vec<(&'static str, String)>| {
            let mut vars = vec![(vars::PROTOCOL, s("SASL_SSL"))];
            vars.extend(extra);
            vars
        };
        let cases: Vec<(Vec<(&'static str, String)>, &str)> = vec![
            (vec![(vars::PROTOCOL, s("TLS"))], vars::PROTOCOL),
            (
                sasl(vec![
                    (vars::MECHANISM, s("GSSAPI")),
                    (vars::USERNAME, s("u")),
                ]),
                vars::MECHANISM,
            ),
            (sasl(vec![(vars::PASSWORD, s("p"))]), vars::USERNAME),
            (sasl(vec![(vars::USERNAME, s("u"))]), vars::PASSWORD),
            (
                sasl(vec![
                    (vars::USERNAME, s("u")),
                    (vars::PASSWORD, s("p")),
                    (
                        vars::PASSWORD_FILE,
                        s(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")),
                    ),
                ]),
                vars::PASSWORD_FILE,
            ),
            (
                sasl(vec![
                    (vars::USERNAME, s("u")),
                    (vars::PASSWORD_FILE, s("/nonexistent/ledgerstream/password")),
                ]),
                vars::PASSWORD_FILE,
            ),
            (
                sasl(vec![
                    (vars::USERNAME, s("u")),
                    (vars::PASSWORD, s("p")),
                    (vars::CA_FILE, s("/nonexistent/ca.pem")),
                ]),
                vars::CA_FILE,
            ),
            (
                vec![
                    (vars::PROTOCOL, s("SSL")),
                    (
                        vars::CERT_FILE,
                        s(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")),
                    ),
                ],
                vars::KEY_FILE,
            ),
            (vec![(vars::USERNAME, s("u"))], vars::USERNAME),
            (
                vec![
                    (vars::PROTOCOL, s("SASL_PLAINTEXT")),
                    (vars::USERNAME, s("u")),
                    (vars::PASSWORD, s("p4ss")),
                    (vars::CA_FILE, s("/x")),
                ],
                vars::CA_FILE,
            ),
        ];
        for (vars, variable) in cases {
            let error = error(vars.clone());
            assert_eq!(error.variable, variable, "{vars:?}: {error}");
            assert!(error.to_string().contains(variable), "{error}");
            assert!(!error.to_string().contains("p4ss"), "{error}");
        }
    }
}
