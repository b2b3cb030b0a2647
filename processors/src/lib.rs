//! The command processor (commands in, events out, exactly once) and the
//! projections that turn `account-events` into read models.

pub mod domain;
