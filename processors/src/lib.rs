//! The command processor (commands in, events out, exactly once) and the
//! projections that turn `account-events` into read models.

pub mod lag;
pub mod processor;
pub mod projection;
pub mod store;
pub mod wire;
