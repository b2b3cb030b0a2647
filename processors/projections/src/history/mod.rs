//! The history projection: `account-events` into a search index of money
//! movements, one document per movement, for statements and search
//! (`ledgerstream project history`).
//!
//! | index | one document per | holds |
//! |---|---|---|
//! | `transaction-history` (alias) → `transaction-history-v1` | money movement (event id) | movement (`CREDIT`, `DEBIT`, `TRANSFER_OUT`, `TRANSFER_IN`), amount, fee, signed change, balance after, counterparty, reference, channel, time, account, version, ids, source partition and offset |
//! | `ledgerstream-projection-checkpoints` | projection, index and partition | the last durable position |
//!
//! The mapping is the index template in `infra/search/`, put at start
//! ([`template`]). Documents are keyed by event id and versioned by the
//! account's version (`version_type=external`), so the runner's at-least-once
//! writes leave exactly one document per movement; docs/history.md lists the
//! queries. The same requests work on Elasticsearch 8 (docker-compose) and
//! OpenSearch 2.19 (the local stack); where the two differ is in [`engine`].
//!
//! Files: [`config`] (settings, index names), [`sink`] (the [`Sink`] impl),
//! [`documents`] (events as documents), [`template`] (template and indices),
//! [`retry`] (which failures are retried, per request and per document),
//! [`alias`] (the alias, concrete indices, index uuids, checkpoint ids, and the
//! alias swap of `replay history`), [`read`] (a page of movements, and the wait
//! for a version).
//! [`engine`] (which engine answers, and what differs between them);
//! [`audit`] (the index against the log, and its repair).
//!
//! [`Sink`]: crate::sink::Sink

pub mod alias;
pub mod audit;
pub mod config;
pub mod documents;
pub mod engine;
pub mod read;
pub mod retry;
pub mod sink;
pub mod template;

pub use config::{HistoryConfig, Indices};
pub use documents::{HistoryDocument, Movement};
pub use engine::Engine;
pub use retry::HistoryError;
pub use sink::{HistorySink, NAME, client};
