//! Rust shapes of the Avro records in `schemas/avro/`, field for field.
//!
//! These are wire types: they change only when a schema does, and the domain
//! converts to and from them in one place. Each struct mirrors the *latest* version
//! of its record; older versions decode into it through Avro's resolution by field
//! name (a field the old writer lacks takes its `#[serde(default)]`: the upcast).
//! Ids are strings on the wire (`uuid` logical type), times are epoch milliseconds,
//! money is `i64` minor units.

mod commands;
mod common;
mod events;
mod results;
#[cfg(any(test, feature = "testing"))]
pub mod samples;
pub(crate) mod union;

pub use commands::{
    CloseAccount, CommandRecord, CreditTransfer, DebitTransfer, DepositMoney, OpenAccount,
    RefundTransfer, WithdrawMoney,
};
pub use common::{AccountType, Channel, EventMetadata};
pub use events::{
    AccountClosed, AccountOpened, EventRecord, MoneyDeposited, MoneyWithdrawn, TransferCredited,
    TransferDebited, TransferRefunded,
};
pub use results::{CommandAccepted, CommandRejected, ResultRecord};
pub use union::{Record, RecordUnion};
