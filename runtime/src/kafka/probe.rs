//! Does the broker answer a client built from these settings? Asked at start by
//! every command, so that a login or TLS setting that cannot work stops it with an
//! error naming the setting, instead of clients that retry in silence.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use ledgerstream_infra::Endpoint;
use ledgerstream_infra::probe::{PROBE_TIMEOUT, ProbeError};
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, DeliveryResult, Producer, ProducerContext};
use tracing::debug;

use super::KafkaSettings;
use super::security::vars;

/// Why the broker could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The broker refused the SASL login: a wrong user, password or mechanism.
    /// Starting again does not help; the settings must change.
    #[error(
        "the Kafka broker at {address} refused the SASL login ({detail}); check {user} and \
         {password} (or {password_file}) and {mechanism}",
        user = vars::USERNAME,
        password = vars::PASSWORD,
        password_file = vars::PASSWORD_FILE,
        mechanism = vars::MECHANISM
    )]
    Authentication { address: String, detail: String },
    /// The TLS handshake failed: an unknown CA, a refused client certificate, or
    /// TLS against a listener that does not speak it.
    #[error(
        "TLS with the Kafka broker at {address} failed ({detail}); check {ca} (the CA the \
         broker's certificate chains to), {cert} and {key}, and that {protocol} is the \
         protocol of that listener",
        ca = vars::CA_FILE,
        cert = vars::CERT_FILE,
        key = vars::KEY_FILE,
        protocol = vars::PROTOCOL
    )]
    Tls { address: String, detail: String },
    /// The listener speaks another protocol than the client (e.g. PLAINTEXT to a
    /// SASL_SSL listener).
    #[error(
        "the Kafka broker at {address} closed the connection ({detail}); is {protocol} \
         ({current}) the protocol of that listener?",
        protocol = vars::PROTOCOL
    )]
    Protocol {
        address: String,
        current: &'static str,
        detail: String,
    },
    /// Nobody answered: start the broker.
    #[error(transparent)]
    Unreachable(#[from] ProbeError),
}

/// What made a connection fail, as librdkafka reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Login,
    Tls,
    Protocol,
}

impl Refusal {
    /// The kind of refusal `code` and `reason` tell of; `None` for a failure that
    /// says nothing of the settings (a broker that is down, a timeout).
    fn of(code: Option<RDKafkaErrorCode>, reason: &str) -> Option<Self> {
        if code == Some(RDKafkaErrorCode::Authentication)
            || reason.contains("SASL authentication error")
        {
            return Some(Refusal::Login);
        }
        // A listener of another protocol closes the connection at the client's
        // first request (ApiVersion); librdkafka says so in a log line only.
        if reason.contains("security.protocol")
            || (reason.contains("Disconnected") && reason.contains("APIVERSION_QUERY"))
        {
            return Some(Refusal::Protocol);
        }
        // A refused client certificate surfaces after the handshake (TLS 1.3),
        // as a transport failure whose text names SSL.
        if code == Some(RDKafkaErrorCode::SSL) || reason.contains("SSL") {
            return Some(Refusal::Tls);
        }
        None
    }
}

/// Records the first error librdkafka reports that says why the connection
/// fails, and the last error of any kind.
#[derive(Debug, Default)]
struct Recorder {
    refusal: Mutex<Option<(Refusal, String)>>,
    last: Mutex<Option<String>>,
}

impl Recorder {
    fn refused(&self, kind: Refusal, detail: &str) {
        if let Ok(mut refusal) = self.refusal.lock() {
            refusal.get_or_insert((kind, detail.to_owned()));
        }
    }
}

impl ClientContext for Recorder {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        if let Some(kind) = Refusal::of(None, message) {
            self.refused(kind, message);
        }
        debug!(?level, facility, message, "librdkafka");
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if let Ok(mut last) = self.last.lock() {
            *last = Some(reason.to_owned());
        }
        if let Some(kind) = Refusal::of(error.rdkafka_error_code(), reason) {
            self.refused(kind, reason);
        }
    }
}

/// A producer only for its error events: librdkafka hands them, with their text,
/// to a producer's context when it is polled (a consumer's poll keeps the text).
impl ProducerContext for Recorder {
    type DeliveryOpaque = ();

    fn delivery(&self, _: &DeliveryResult<'_>, _: Self::DeliveryOpaque) {}
}

/// Asks the broker at `endpoint` for its metadata through a client of `settings`'
/// kind (its security settings included); on success, says what answered.
pub async fn probe(settings: &KafkaSettings, endpoint: &Endpoint) -> Result<String, AccessError> {
    let (settings, owned) = (settings.clone(), endpoint.clone());
    tokio::task::spawn_blocking(move || probe_blocking(&settings, &owned))
        .await
        .map_err(|e| ProbeError::new(endpoint, e))?
}

/// [`probe`] the broker at `endpoint`, reached as the process's installed
/// security settings say.
pub async fn probe_broker(endpoint: &Endpoint) -> Result<String, AccessError> {
    probe(&KafkaSettings::new(&endpoint.address), endpoint).await
}

fn probe_blocking(settings: &KafkaSettings, endpoint: &Endpoint) -> Result<String, AccessError> {
    let mut config = settings.client();
    config.set("socket.timeout.ms", "5000");
    let client: BaseProducer<Recorder> = config
        .create_with_context(Recorder::default())
        .map_err(|e| ProbeError::new(endpoint, e))?;
    let address = endpoint.address.clone();
    let deadline = Instant::now() + PROBE_TIMEOUT;
    loop {
        let answer = client.client().fetch_metadata(None, Duration::from_secs(1));
        // Hands the error events that came meanwhile to the Recorder.
        client.poll(Duration::ZERO);
        if let Ok(mut refusal) = client.context().refusal.lock()
            && let Some((kind, detail)) = refusal.take()
        {
            return Err(match kind {
                Refusal::Login => AccessError::Authentication { address, detail },
                Refusal::Tls => AccessError::Tls { address, detail },
                Refusal::Protocol => AccessError::Protocol {
                    address,
                    current: settings.security.protocol.as_str(),
                    detail,
                },
            });
        }
        match answer {
            Ok(metadata) if metadata.brokers().is_empty() => {
                return Err(ProbeError::new(endpoint, "metadata lists no brokers").into());
            }
            Ok(metadata) => {
                return Ok(format!(
                    "{} broker(s), {} topic(s)",
                    metadata.brokers().len(),
                    metadata.topics().len()
                ));
            }
            Err(error) if Instant::now() >= deadline => {
                let last = client.context().last.lock().ok().and_then(|l| l.clone());
                let reason = match last {
                    Some(last) => format!("{error} (last: {last})"),
                    None => error.to_string(),
                };
                return Err(ProbeError::new(endpoint, reason).into());
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn librdkafka_errors_are_told_apart_by_what_to_fix() {
        let of = |code, reason| Refusal::of(Some(code), reason);
        assert_eq!(
            of(
                RDKafkaErrorCode::Authentication,
                "SASL authentication error"
            ),
            Some(Refusal::Login)
        );
        assert_eq!(
            of(RDKafkaErrorCode::SSL, "SSL handshake failed"),
            Some(Refusal::Tls)
        );
        assert_eq!(
            of(
                RDKafkaErrorCode::BrokerTransportFailure,
                "SSL transport error: tlsv13 alert certificate required"
            ),
            Some(Refusal::Tls)
        );
        assert_eq!(
            of(
                RDKafkaErrorCode::BrokerTransportFailure,
                "Disconnected while requesting ApiVersion: might be caused by incorrect \
                 security.protocol configuration"
            ),
            Some(Refusal::Protocol)
        );
        assert_eq!(
            Refusal::of(
                None,
                "Disconnected: connection closed by peer: receive 0 after POLLIN (after 1ms \
                 in state APIVERSION_QUERY)"
            ),
            Some(Refusal::Protocol)
        );
        assert_eq!(
            of(
                RDKafkaErrorCode::BrokerTransportFailure,
                "Connection refused"
            ),
            None
        );
    }
}
