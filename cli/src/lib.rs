//! The commands of the `ledgerstream` binary, one module per subcommand: each
//! parses its flags, reads the environment and calls into the library crates
//! (`ledgerstream-processor`, `-projections`, `-lag`, `-registry`, ...).
//! `ledgerstream-bench` reuses their flag groups and progress output.

pub mod exit;
pub mod lag;
pub mod logging;
pub mod process;
pub mod produce;
pub mod project;
pub mod query;
pub mod registry;
pub mod replay;
pub mod schemas;
pub mod services;
pub mod signals;
pub mod topics;
