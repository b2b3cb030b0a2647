//! Which consumer groups the cluster has.
//!
//! librdkafka lists groups with ListGroups and then DescribeGroups for each. Apache
//! Kafka answers both. tansu 0.6.0 (sqlite storage) answers ListGroups but fails
//! DescribeGroups for any group it has stored (its storage cannot read back its own
//! group record) and drops the connection, so the whole listing fails. When that
//! happens, the lister falls back to ListGroups alone, sent by hand to every broker:
//! names without states. The fallback speaks plaintext only; on a cluster where
//! both fail, the groups must be named (`--group`).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use tracing::{debug, warn};

use super::error::LagError;

/// A consumer group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    /// Stable, Empty, PreparingRebalance, ...; None when the cluster did not say.
    pub state: Option<String>,
}

/// Lists groups, remembering whether the cluster needs the fallback.
#[derive(Debug, Default)]
pub(crate) struct Lister {
    describe_fails: bool,
}

impl Lister {
    /// Every group with the consumer protocol (or none: groups that only commit
    /// offsets), sorted by name. Blocking.
    pub(crate) fn list(
        &mut self,
        client: &BaseConsumer,
        timeout: Duration,
    ) -> Result<Vec<Group>, LagError> {
        if !self.describe_fails {
            match client.fetch_group_list(None, timeout) {
                Ok(list) => {
                    let mut groups: Vec<Group> = list
                        .groups()
                        .iter()
                        .filter(|g| is_consumer_protocol(g.protocol_type()))
                        .map(|g| Group {
                            name: g.name().to_owned(),
                            state: Some(g.state().to_owned()).filter(|s| !s.is_empty()),
                        })
                        .collect();
                    groups.sort_by(|a, b| a.name.cmp(&b.name));
                    return Ok(groups);
                }
                Err(error) => {
                    warn!(%error, "listing groups with their states failed; listing names only from now on");
                    self.describe_fails = true;
                }
            }
        }
        let metadata = client
            .fetch_metadata(None, timeout)
            .map_err(|source| LagError::Broker {
                operation: "Metadata",
                source,
            })?;
        let mut names = Vec::new();
        let mut failures = Vec::new();
        for broker in metadata.brokers() {
            let address = format!("{}:{}", broker.host(), broker.port());
            match list_groups(&address, timeout) {
                Ok(found) => names.extend(found),
                Err(problem) => failures.push(format!("{address}: {problem}")),
            }
        }
        if names.is_empty() && !failures.is_empty() {
            return Err(LagError::ListingUnsupported {
                detail: format!(
                    "DescribeGroups failed, and ListGroups on its own too: {}",
                    failures.join("; ")
                ),
            });
        }
        if !failures.is_empty() {
            warn!(failures = %failures.join("; "), "some brokers did not list their groups");
        }
        let mut groups: Vec<Group> = names
            .into_iter()
            .filter(|(_, protocol)| is_consumer_protocol(protocol))
            .map(|(name, _)| Group { name, state: None })
            .collect();
        groups.sort_by(|a, b| a.name.cmp(&b.name));
        groups.dedup();
        debug!(groups = groups.len(), "groups listed with ListGroups alone");
        Ok(groups)
    }
}

fn is_consumer_protocol(protocol_type: &str) -> bool {
    protocol_type.is_empty() || protocol_type == "consumer"
}

const LIST_GROUPS: i16 = 16;
const CLIENT_ID: &[u8] = b"ledgerstream-lag";
const CORRELATION_ID: i32 = 1;

/// ListGroups v0 to one broker: `(group, protocol type)` of the groups it
/// coordinates. Blocking, plaintext.
fn list_groups(address: &str, timeout: Duration) -> Result<Vec<(String, String)>, String> {
    let socket = address
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve: {e}"))?
        .next()
        .ok_or_else(|| "resolves to no address".to_owned())?;
    let mut stream =
        TcpStream::connect_timeout(&socket, timeout).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(&list_groups_request())
        .map_err(|e| format!("send: {e}"))?;
    let mut size = [0u8; 4];
    stream
        .read_exact(&mut size)
        .map_err(|e| format!("read: {e}"))?;
    let size = i32::from_be_bytes(size);
    if !(0..=16 << 20).contains(&size) {
        return Err(format!("implausible response size {size}"));
    }
    let mut body = vec![0u8; size as usize];
    stream
        .read_exact(&mut body)
        .map_err(|e| format!("read: {e}"))?;
    parse_list_groups(&body)
}

/// Request header v1 (api key, version, correlation id, client id) and an empty
/// body, size-prefixed.
fn list_groups_request() -> Vec<u8> {
    let mut message = Vec::new();
    message.extend_from_slice(&LIST_GROUPS.to_be_bytes());
    message.extend_from_slice(&0i16.to_be_bytes());
    message.extend_from_slice(&CORRELATION_ID.to_be_bytes());
    message.extend_from_slice(&(CLIENT_ID.len() as i16).to_be_bytes());
    message.extend_from_slice(CLIENT_ID);
    let mut framed = (message.len() as i32).to_be_bytes().to_vec();
    framed.extend(message);
    framed
}

/// Response header v0 (correlation id), then error code and `[group, protocol]`.
fn parse_list_groups(body: &[u8]) -> Result<Vec<(String, String)>, String> {
    let mut reader = Reader(body);
    let correlation = reader.i32()?;
    if correlation != CORRELATION_ID {
        return Err(format!(
            "answer to request {correlation}, not {CORRELATION_ID}"
        ));
    }
    let error_code = reader.i16()?;
    if error_code != 0 {
        return Err(format!("error code {error_code}"));
    }
    let count = reader.i32()?;
    let mut groups = Vec::with_capacity(count.clamp(0, 1024) as usize);
    for _ in 0..count.max(0) {
        groups.push((reader.string()?, reader.string()?));
    }
    Ok(groups)
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        if self.0.len() < n {
            return Err("response cut short".to_owned());
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn i16(&mut self) -> Result<i16, String> {
        let bytes = self.take(2)?;
        Ok(i16::from_be_bytes([bytes[0], bytes[1]]))
    }

    fn i32(&mut self) -> Result<i32, String> {
        let bytes = self.take(4)?;
        Ok(i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn string(&mut self) -> Result<String, String> {
        let len = self.i16()?;
        let len = usize::try_from(len).map_err(|_| format!("string of length {len}"))?;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| "a group name is not UTF-8".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(correlation: i32, error_code: i16, groups: &[(&str, &str)]) -> Vec<u8> {
        let mut body = correlation.to_be_bytes().to_vec();
        body.extend(error_code.to_be_bytes());
        body.extend((groups.len() as i32).to_be_bytes());
        for (group, protocol) in groups {
            for text in [group, protocol] {
                body.extend((text.len() as i16).to_be_bytes());
                body.extend(text.as_bytes());
            }
        }
        body
    }

    #[test]
    fn the_request_is_a_framed_list_groups_v0() {
        let request = list_groups_request();
        let size = i32::from_be_bytes(request[..4].try_into().unwrap()) as usize;
        assert_eq!(size, request.len() - 4);
        assert_eq!(&request[4..6], &16i16.to_be_bytes(), "api key");
        assert_eq!(&request[6..8], &0i16.to_be_bytes(), "api version");
        assert!(request.ends_with(CLIENT_ID));
    }

    #[test]
    fn a_response_lists_groups_and_protocols() {
        let body = response(
            CORRELATION_ID,
            0,
            &[("processor", "consumer"), ("sink", "")],
        );
        let groups = parse_list_groups(&body).unwrap();
        assert_eq!(
            groups,
            [
                ("processor".into(), "consumer".into()),
                ("sink".into(), String::new())
            ]
        );
    }

    #[test]
    fn errors_and_short_responses_are_refused() {
        let refused = response(CORRELATION_ID, 41, &[]);
        assert_eq!(parse_list_groups(&refused).unwrap_err(), "error code 41");
        let other = response(7, 0, &[]);
        assert!(parse_list_groups(&other).unwrap_err().contains("request 7"));
        let mut cut = response(CORRELATION_ID, 0, &[("processor", "consumer")]);
        cut.truncate(cut.len() - 3);
        assert_eq!(parse_list_groups(&cut).unwrap_err(), "response cut short");
    }

    #[test]
    fn only_consumer_groups_count() {
        assert!(is_consumer_protocol("consumer"));
        assert!(is_consumer_protocol(""));
        assert!(!is_consumer_protocol("connect"));
    }
}
