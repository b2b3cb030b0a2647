//! `ledgerstream schemas check`, run as users run it: on the repo's schemas it
//! passes; on a copy with a deliberately incompatible change it fails, naming the
//! subject, the versions and the fix. `schemas register --topic-suffix` registers
//! the subjects of a suffixed pipeline in the local registry.

// Test code: a failed unwrap is a failed test, and amounts read as units_cents.
#![allow(clippy::unwrap_used, clippy::inconsistent_digit_grouping)]

use std::path::Path;
use std::process::Command;

use ledgerstream_infra::Service;
use ledgerstream_schemas::catalog;
use ledgerstream_tests::{TempDir, ledgerstream_bin, require, unique_name};

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn repo_schemas() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/avro")
}

fn check(dir: &Path) -> std::process::Output {
    Command::new(ledgerstream_bin())
        .args(["schemas", "check", "--dir"])
        .arg(dir)
        .output()
        .expect("run ledgerstream schemas check")
}

#[test]
fn the_repo_schemas_pass_the_gate() {
    let output = check(&repo_schemas());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("BACKWARD_TRANSITIVE"), "{stdout}");
}

#[test]
fn a_new_version_with_a_field_without_default_is_refused() {
    let tree = TempDir::new("schemas_gate");
    copy_tree(&repo_schemas(), tree.path());
    let folder = tree.path().join("events/MoneyWithdrawn");
    let v2 = std::fs::read_to_string(folder.join("v2.avsc")).unwrap();
    let mut v3: serde_json::Value = serde_json::from_str(&v2).unwrap();
    // A required field: the new schema cannot read v1 or v2 events, which lack it.
    v3["fields"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"name": "atm_id", "type": "string"}));
    std::fs::write(folder.join("v3.avsc"), v3.to_string()).unwrap();

    let output = check(tree.path());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "the gate let an incompatible v3 through: {stderr}"
    );
    let subject = "account-events-ledgerstream.account.events.MoneyWithdrawn v3";
    assert!(
        stderr.contains(&format!("{subject}: cannot read data written with v1")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{subject}: cannot read data written with v2")),
        "{stderr}"
    );
    assert!(
        stderr.contains("adding fields with defaults"),
        "the fix is named: {stderr}"
    );
}

#[test]
fn editing_a_published_version_is_refused() {
    let tree = TempDir::new("schemas_gate");
    copy_tree(&repo_schemas(), tree.path());
    // Changing v1 in place (amount_minor from long to string) breaks v2's reading of it.
    let v1_path = tree.path().join("events/MoneyWithdrawn/v1.avsc");
    let v1 = std::fs::read_to_string(&v1_path).unwrap();
    let mut edited: serde_json::Value = serde_json::from_str(&v1).unwrap();
    for field in edited["fields"].as_array_mut().unwrap() {
        if field["name"] == "amount_minor" {
            field["type"] = serde_json::json!("string");
        }
    }
    std::fs::write(&v1_path, edited.to_string()).unwrap();
    let output = check(tree.path());
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("MoneyWithdrawn v2"));
}

#[tokio::test(flavor = "multi_thread")]
async fn register_with_a_topic_suffix_registers_that_pipelines_subjects() {
    let registry = require(Service::Registry).await;
    let suffix = format!("-{}", unique_name("s"));
    let output = Command::new(ledgerstream_bin())
        .args(["schemas", "register"])
        .arg(format!("--topic-suffix={suffix}"))
        .env("LEDGERSTREAM_REGISTRY_URL", &registry.address)
        .output()
        .expect("run ledgerstream schemas register");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemas register --topic-suffix failed:\n{printed}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let registered: Vec<String> = reqwest::get(format!("{}/subjects", registry.address))
        .await
        .expect("GET /subjects")
        .json()
        .await
        .expect("a list of subjects");
    let subjects = catalog::subjects().unwrap();
    for subject in &subjects {
        let topic = format!("{}{suffix}", subject.kind.topic());
        let name = catalog::subject_name(&topic, &subject.full_name);
        assert!(printed.contains(&name), "{name} not printed:\n{printed}");
        assert!(registered.contains(&name), "{name} not in the registry");
    }
}
