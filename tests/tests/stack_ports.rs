//! The local stack (`infra/local/stack.sh`) never takes a service it did not start
//! for its own: a healthy answer on a service's port is not enough, the process
//! that listens must be one a ledgerstream stack started. What a fresh Debian
//! machine does when `apt-get install prometheus` or `clickhouse-server` starts
//! the system's own service on the same port is played here by a listener of the
//! test's own that answers the health check of the search server.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};

use ledgerstream_tests::broker::OwnBroker;
use ledgerstream_tests::pipeline::free_port;
use ledgerstream_tests::{TempDir, output_text};

fn stack(home: &Path, args: &[&str], vars: &[(&str, String)]) -> Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/local/stack.sh");
    Command::new(&script)
        .args(args)
        .env("LEDGERSTREAM_HOME", home)
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", script.display()))
}

/// A listener that answers every request as a healthy search server would.
fn impostor() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let body = r#"{"cluster_name":"not-ours","status":"green"}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

#[test]
fn a_healthy_service_the_stack_did_not_start_is_refused_with_what_to_do() {
    let home = TempDir::new("stack_ports");
    let port = impostor();
    let vars = [
        ("LEDGERSTREAM_SEARCH_PORT", port.to_string()),
        (
            "LEDGERSTREAM_SEARCH_TRANSPORT_PORT",
            free_port().to_string(),
        ),
    ];
    let output = stack(home.path(), &["up", "search"], &vars);
    let said = output_text(&output);
    assert!(!output.status.success(), "{said}");
    assert!(!said.contains("already running"), "{said}");
    for needle in [
        format!("port {port}, which search needs, is held by a process this stack did not start"),
        format!("pid {}", std::process::id()),
        "then run: infra/local/stack.sh up search".to_owned(),
    ] {
        assert!(said.contains(&needle), "should say {needle:?}: {said}");
    }
    // Nothing was started in its place.
    assert!(!home.path().join("run/search.pid").exists(), "{said}");
}

#[test]
fn a_stack_knows_its_own_broker_and_one_another_stack_started() {
    let broker = OwnBroker::start();
    let port = broker
        .endpoint()
        .address
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    let vars = [("LEDGERSTREAM_BROKER_PORT", port.clone())];

    let own = stack(broker.home(), &["up", "broker"], &vars);
    let said = output_text(&own);
    assert!(own.status.success(), "{said}");
    assert!(
        said.contains(&format!("broker: already running on port {port} (pid ")),
        "{said}"
    );

    let elsewhere = TempDir::new("stack_ports_other");
    let other = stack(elsewhere.path(), &["up", "broker"], &vars);
    let said = output_text(&other);
    assert!(other.status.success(), "{said}");
    assert!(
        said.contains(&format!(
            "started by the ledgerstream stack in {}",
            broker.home().display()
        )),
        "{said}"
    );
    // Used as it is: the other stack started nothing.
    assert!(!elsewhere.path().join("run/broker.pid").exists(), "{said}");
}
