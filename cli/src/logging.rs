//! Logs: to standard error, filtered by `LEDGERSTREAM_LOG` (default
//! `info,rdkafka=warn`), in colour only when standard error is a terminal, so a
//! log written to a file holds no escape codes.

use std::io::IsTerminal;

/// Sets up the process's log output; call once, first thing in `main`.
pub fn init() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LEDGERSTREAM_LOG")
                .unwrap_or_else(|_| "info,rdkafka=warn".into()),
        )
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}
