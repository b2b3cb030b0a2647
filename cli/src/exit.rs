//! Exit codes that say more than failure: a subcommand returns [`Exit`] as its
//! error, having printed what happened, and `main` exits with the code alone.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | done |
//! | 1 | could not run, or a command was not sent (the message says why) |
//! | 2 | bad flags (clap's usage error) |
//! | 3 | at least one command was rejected |
//! | 4 | at least one input was not a valid command (not sent) |
//! | 5 | at least one result did not come within the timeout (`query account`: the version asked for) |
//! | 6 | not found (`query account`: no such account) |
//! | 7 | a read model differs from the log (`audit`; after `--repair`, still) |

/// An exit code, after the subcommand reported everything itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit(pub u8);

impl Exit {
    pub const FAILURE: Exit = Exit(1);
    pub const REJECTED: Exit = Exit(3);
    pub const INVALID: Exit = Exit(4);
    pub const TIMEOUT: Exit = Exit(5);
    pub const NOT_FOUND: Exit = Exit(6);
    pub const DIVERGENT: Exit = Exit(7);

    pub fn code(self) -> std::process::ExitCode {
        std::process::ExitCode::from(self.0)
    }

    /// The process's exit code for a subcommand's outcome: 0, the code of an
    /// [`Exit`] (the subcommand reported what happened), or 1 after printing
    /// the error with its causes on one line.
    pub fn of(outcome: anyhow::Result<()>) -> std::process::ExitCode {
        match outcome {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(error) if error.is::<Exit>() => error
                .downcast_ref::<Exit>()
                .map_or(std::process::ExitCode::FAILURE, |exit| exit.code()),
            Err(error) => {
                // `{:#}` is the chain of causes on one line, without a backtrace.
                eprintln!("error: {error:#}");
                std::process::ExitCode::FAILURE
            }
        }
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit code {}", self.0)
    }
}

impl std::error::Error for Exit {}
