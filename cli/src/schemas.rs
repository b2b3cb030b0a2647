//! `ledgerstream schemas`: the evolution gate, and registering the contract.

use std::path::PathBuf;

use anyhow::{Context, bail};
use ledgerstream_runtime::settings::registry_from_env;
use ledgerstream_schemas::catalog::{self, Subject};
use ledgerstream_schemas::client::RegistryClient;
use ledgerstream_schemas::gate;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Fail when a schema is not BACKWARD_TRANSITIVE-compatible with every earlier
    /// version of its subject: those in the repo and, with --registry, those
    /// registered.
    Check {
        /// Check the `.avsc` tree in this folder instead of the schemas built into
        /// this binary (e.g. `schemas/avro` of a working copy).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Also check against every version registered in the Schema Registry at
        /// LEDGERSTREAM_REGISTRY_URL (basic auth from LEDGERSTREAM_REGISTRY_USERNAME
        /// and LEDGERSTREAM_REGISTRY_PASSWORD or _PASSWORD_FILE; an https:// URL's CA
        /// from LEDGERSTREAM_REGISTRY_CA_FILE).
        #[arg(long)]
        registry: bool,
    },
    /// Register the latest version of every subject in the Schema Registry at
    /// LEDGERSTREAM_REGISTRY_URL; prints each subject's id.
    Register {
        /// Appended to every topic name, so to every subject's (`account-events<SUFFIX>-
        /// <record>`): the subjects of a pipeline run with the same `--topic-suffix`.
        #[arg(long, value_name = "SUFFIX", default_value = "")]
        topic_suffix: String,
    },
    /// List the subjects and versions built into this binary.
    List,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Check {
            dir: Some(dir),
            registry,
        } => {
            let files = catalog::read_dir(&dir)
                .with_context(|| format!("reading the schemas under {}", dir.display()))?;
            let entries = files.entries();
            let subjects = catalog::subjects_of(&entries)?;
            check(&subjects, registry).await
        }
        Command::Check {
            dir: None,
            registry,
        } => check(&catalog::subjects()?, registry).await,
        Command::Register { topic_suffix } => register(&topic_suffix).await,
        Command::List => {
            for subject in catalog::subjects()? {
                println!("{}  v1..v{}", subject.name(), subject.versions.len());
            }
            Ok(())
        }
    }
}

async fn check(subjects: &[Subject<'_>], registry: bool) -> anyhow::Result<()> {
    let versions: usize = subjects.iter().map(|s| s.versions.len()).sum();
    let mut problems = gate::check_catalog(subjects);
    let mut against = "the repo".to_owned();
    if registry {
        let client = client()?;
        let found = gate::check_registry(subjects, &client)
            .await
            .context("checking against the Schema Registry")?;
        problems.extend(found);
        against = format!("the repo and the registry at {}", client.config().url);
    }
    if problems.is_empty() {
        println!(
            "{} subjects, {versions} schema versions: each is {} with every earlier version in {against}",
            subjects.len(),
            gate::LEVEL
        );
        return Ok(());
    }
    for problem in &problems {
        eprintln!("incompatible: {problem}");
    }
    bail!(
        "{} schema change(s) break {} compatibility; evolve a record by adding fields with \
         defaults (or removing fields that had one), never by changing a published version \
         (see schemas/README.md)",
        problems.len(),
        gate::LEVEL
    )
}

async fn register(topic_suffix: &str) -> anyhow::Result<()> {
    let client = client()?;
    for subject in catalog::subjects()? {
        let topic = format!("{}{topic_suffix}", subject.kind.topic());
        let name = catalog::subject_name(&topic, &subject.full_name);
        let id = client
            .register(&name, subject.latest())
            .await
            .with_context(|| format!("registering {name}"))?;
        println!("{name}  v{}  id {id}", subject.versions.len());
    }
    Ok(())
}

fn client() -> anyhow::Result<RegistryClient> {
    Ok(RegistryClient::new(registry_from_env()?)?)
}
