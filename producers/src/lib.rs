//! Typed clients that publish commands to `account-commands` and await their
//! results on `account-command-results`.
