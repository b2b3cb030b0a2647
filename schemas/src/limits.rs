//! How long a command's text fields may be, in bytes of UTF-8: part of the
//! contract (schemas/README.md, "Producing and consuming"). The processor answers
//! a field over its limit with `FIELD_TOO_LONG`, or, for an `account_id`, which a
//! result would have to name, sends the command to the dead-letter topic; the
//! producers refuse such a command before sending it.

/// `account_id`, and a transfer's `to_account_id` / `from_account_id`.
pub const MAX_ACCOUNT_ID_BYTES: usize = 128;
/// `owner_id`, `correlation_id`, `causation_id`.
pub const MAX_ID_BYTES: usize = 128;
/// `reference`, `reason`.
pub const MAX_TEXT_BYTES: usize = 1024;
