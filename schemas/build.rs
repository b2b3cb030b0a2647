//! Embeds every `.avsc` under `avro/` so that the binary carries its contract:
//! writes `$OUT_DIR/catalog.rs`, a list of (kind, record folder, version, JSON).

use std::fmt::Write as _;
use std::path::Path;
use std::{env, fs};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("avro");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut entries = Vec::new();
    for kind in sorted_dirs(&root) {
        println!("cargo:rerun-if-changed={}", kind.display());
        for record in sorted_dirs(&kind) {
            println!("cargo:rerun-if-changed={}", record.display());
            for file in fs::read_dir(&record)
                .expect("read a record folder")
                .flatten()
            {
                let path = file.path();
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default();
                let Some(version) = name
                    .strip_prefix('v')
                    .and_then(|rest| rest.strip_suffix(".avsc"))
                    .and_then(|n| n.parse::<u32>().ok())
                else {
                    panic!("{}: schema files are named v<N>.avsc", path.display());
                };
                println!("cargo:rerun-if-changed={}", path.display());
                entries.push((dir_name(&kind), dir_name(&record), version, path));
            }
        }
    }
    entries.sort();
    let mut out = String::from("&[\n");
    for (kind, record, version, path) in entries {
        writeln!(
            out,
            "    CatalogEntry {{ kind: {kind:?}, record: {record:?}, version: {version}, json: include_str!({:?}) }},",
            path.display().to_string()
        )
        .expect("write to a string");
    }
    out.push(']');
    let dest = Path::new(&env::var("OUT_DIR").expect("OUT_DIR is set by cargo")).join("catalog.rs");
    fs::write(dest, out).expect("write catalog.rs");
}

fn sorted_dirs(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut dirs: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn dir_name(path: &Path) -> String {
    path.file_name()
        .and_then(|n| n.to_str())
        .expect("utf-8 folder name")
        .to_owned()
}
