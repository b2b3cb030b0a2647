//! Events as history documents: one per money movement of an account.
//!
//! | event | movement | net (signed change of the balance) | counterparty |
//! |---|---|---|---|
//! | `AccountOpened` | `CREDIT` | + initial deposit (at least 100.00) | — |
//! | `MoneyDeposited` | `CREDIT` | + amount | — |
//! | `MoneyWithdrawn` | `DEBIT` | − (amount + fee) | — |
//! | `TransferDebited` | `TRANSFER_OUT` | − (amount + fee) | the receiving account |
//! | `TransferCredited` | `TRANSFER_IN` | + amount | the sending account |
//! | `TransferRefunded` | `CREDIT` | + (amount + fee): the failed transfer comes back, fee included | the account that could not take it |
//! | `AccountClosed` | no document: no money moved | | |
//!
//! Rejected commands never reach the log, so they have no document either.
//! Every document carries the balance after it, so an account's history reads
//! as a statement: each `balance_after_minor` is the previous one plus `net_minor`.

use ledgerstream_schemas::records::{Channel, EventMetadata, EventRecord};
use serde::{Deserialize, Serialize};

use crate::sink::{Rejected, SourcedEvent};

/// The longest document id Elasticsearch takes (bytes); a longer event id would
/// fail the whole bulk request, not just its document.
const MAX_ID_BYTES: usize = 512;

/// The kind of a money movement, as statements show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Movement {
    /// Money in: a deposit, the opening deposit, a refunded transfer.
    Credit,
    /// Money out: a withdrawal (its fee included).
    Debit,
    /// A transfer to another account (its fee included).
    TransferOut,
    /// A transfer from another account.
    TransferIn,
}

/// One document of the history index. Its id is the event id; its external
/// version the account's version after the event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryDocument {
    pub event_id: String,
    pub account_id: String,
    pub version: u64,
    pub movement: Movement,
    pub event_type: String,
    /// Epoch milliseconds, UTC.
    pub occurred_at: i64,
    pub currency: String,
    /// The amount moved, in minor units, always positive.
    pub amount_minor: i64,
    /// The fee charged (withdrawals, transfers out) or given back (refunds).
    pub fee_minor: i64,
    /// The signed change of the balance: negative for debits and transfers out.
    pub net_minor: i64,
    pub balance_after_minor: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counterparty_account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Where a withdrawal was made (withdrawals only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Why a transfer was refunded (refunds only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub command_id: String,
    pub correlation_id: String,
    /// Where the event was read: with the checkpoints, what tells a document
    /// written before a crash from one written after.
    pub source_partition: i32,
    pub source_offset: i64,
}

fn bad_field(message: String) -> Rejected {
    Rejected {
        class: "bad-field",
        message,
    }
}

fn channel(value: Channel) -> &'static str {
    match value {
        Channel::Unknown => "UNKNOWN",
        Channel::Branch => "BRANCH",
        Channel::Atm => "ATM",
        Channel::Online => "ONLINE",
        Channel::Api => "API",
    }
}

/// An empty reference is no reference.
fn reference(value: Option<String>) -> Option<String> {
    value.filter(|r| !r.is_empty())
}

impl HistoryDocument {
    /// The document of `sourced`, `None` when no money moved; an event that
    /// cannot be a document (no account or event id, a version below 1, an event
    /// id too long for a document id) is rejected.
    pub fn from_event(sourced: SourcedEvent) -> Result<Option<Self>, Rejected> {
        let SourcedEvent {
            partition,
            offset,
            event,
        } = sourced;
        let version = checked_version(&event)?;
        let Some((moved, metadata)) = Moved::of(event) else {
            return Ok(None);
        };
        Ok(Some(Self {
            event_id: metadata.event_id,
            account_id: metadata.account_id,
            version,
            movement: moved.movement,
            event_type: moved.event_type.to_owned(),
            occurred_at: metadata.occurred_at,
            currency: moved.currency,
            amount_minor: moved.amount,
            fee_minor: moved.fee,
            net_minor: moved.net,
            balance_after_minor: moved.balance_after,
            counterparty_account_id: moved.counterparty,
            transfer_id: moved.transfer_id,
            reference: moved.reference,
            channel: moved.channel,
            reason_code: moved.reason_code,
            reason: moved.reason,
            command_id: metadata.command_id,
            correlation_id: metadata.correlation_id,
            source_partition: partition,
            source_offset: offset,
        }))
    }
}

/// The event's version, once its ids are fit for a document.
fn checked_version(event: &EventRecord) -> Result<u64, Rejected> {
    let meta = event.metadata();
    if meta.account_id.is_empty() {
        return Err(bad_field("account_id is empty".to_owned()));
    }
    if meta.event_id.is_empty() || meta.event_id.len() > MAX_ID_BYTES {
        return Err(bad_field(format!(
            "event_id has {} bytes; a document id takes 1 to {MAX_ID_BYTES}",
            meta.event_id.len()
        )));
    }
    u64::try_from(meta.version)
        .ok()
        .filter(|v| *v >= 1)
        .ok_or_else(|| bad_field(format!("version {} is below 1", meta.version)))
}

/// What an event moved, and with which details.
struct Moved {
    movement: Movement,
    event_type: &'static str,
    currency: String,
    amount: i64,
    fee: i64,
    net: i64,
    balance_after: i64,
    counterparty: Option<String>,
    transfer_id: Option<String>,
    reference: Option<String>,
    channel: Option<String>,
    reason_code: Option<String>,
    reason: Option<String>,
}

impl Moved {
    fn new(
        movement: Movement,
        event_type: &'static str,
        currency: String,
        [amount, fee, net, balance_after]: [i64; 4],
    ) -> Self {
        Self {
            movement,
            event_type,
            currency,
            amount,
            fee,
            net,
            balance_after,
            counterparty: None,
            transfer_id: None,
            reference: None,
            channel: None,
            reason_code: None,
            reason: None,
        }
    }

    /// What `event` moved, with its metadata; `None` when no money moved.
    fn of(event: EventRecord) -> Option<(Self, EventMetadata)> {
        Some(match event {
            EventRecord::AccountOpened(e) => (
                Moved::new(
                    Movement::Credit,
                    "AccountOpened",
                    e.currency,
                    [
                        e.initial_deposit_minor,
                        0,
                        e.initial_deposit_minor,
                        e.balance_after_minor,
                    ],
                ),
                e.metadata,
            ),
            EventRecord::AccountClosed(_) => return None,
            EventRecord::MoneyDeposited(e) => (
                Moved {
                    reference: reference(e.reference),
                    ..Moved::new(
                        Movement::Credit,
                        "MoneyDeposited",
                        e.currency,
                        [e.amount_minor, 0, e.amount_minor, e.balance_after_minor],
                    )
                },
                e.metadata,
            ),
            EventRecord::MoneyWithdrawn(e) => (
                Moved {
                    reference: reference(e.reference),
                    channel: Some(channel(e.channel).to_owned()),
                    ..Moved::new(
                        Movement::Debit,
                        "MoneyWithdrawn",
                        e.currency,
                        [
                            e.amount_minor,
                            e.fee_minor,
                            -(e.amount_minor.saturating_add(e.fee_minor)),
                            e.balance_after_minor,
                        ],
                    )
                },
                e.metadata,
            ),
            EventRecord::TransferDebited(e) => (
                Moved {
                    counterparty: Some(e.to_account_id),
                    transfer_id: Some(e.transfer_id),
                    reference: reference(e.reference),
                    ..Moved::new(
                        Movement::TransferOut,
                        "TransferDebited",
                        e.currency,
                        [
                            e.amount_minor,
                            e.fee_minor,
                            -(e.amount_minor.saturating_add(e.fee_minor)),
                            e.balance_after_minor,
                        ],
                    )
                },
                e.metadata,
            ),
            EventRecord::TransferCredited(e) => (
                Moved {
                    counterparty: Some(e.from_account_id),
                    transfer_id: Some(e.transfer_id),
                    reference: reference(e.reference),
                    ..Moved::new(
                        Movement::TransferIn,
                        "TransferCredited",
                        e.currency,
                        [e.amount_minor, 0, e.amount_minor, e.balance_after_minor],
                    )
                },
                e.metadata,
            ),
            EventRecord::TransferRefunded(e) => (
                Moved {
                    counterparty: Some(e.to_account_id),
                    transfer_id: Some(e.transfer_id),
                    reason_code: Some(e.reason_code).filter(|c| !c.is_empty()),
                    reason: Some(e.reason).filter(|r| !r.is_empty()),
                    ..Moved::new(
                        Movement::Credit,
                        "TransferRefunded",
                        e.currency,
                        [
                            e.amount_minor,
                            e.fee_minor,
                            e.amount_minor.saturating_add(e.fee_minor),
                            e.balance_after_minor,
                        ],
                    )
                },
                e.metadata,
            ),
        })
    }
}

// Amounts in minor units read best grouped as units and cents: 100_00 is 100.00.
#[allow(clippy::inconsistent_digit_grouping, clippy::unwrap_used)]
#[cfg(test)]
mod tests {
    use ledgerstream_schemas::records::{
        AccountClosed, AccountOpened, AccountType, EventMetadata, MoneyDeposited, MoneyWithdrawn,
        TransferCredited, TransferDebited, TransferRefunded,
    };

    use super::*;

    fn meta(version: i64) -> EventMetadata {
        EventMetadata {
            event_id: format!("e{version}"),
            account_id: "acc-1".to_owned(),
            version,
            occurred_at: 1_700_000_000_123,
            command_id: "c".to_owned(),
            correlation_id: "r".to_owned(),
            causation_id: "s".to_owned(),
        }
    }

    fn document(event: impl Into<EventRecord>) -> Result<Option<HistoryDocument>, Rejected> {
        HistoryDocument::from_event(SourcedEvent {
            partition: 2,
            offset: 40,
            event: event.into(),
        })
    }

    fn opened(initial: i64) -> AccountOpened {
        AccountOpened {
            metadata: meta(1),
            owner_id: "owner-1".to_owned(),
            account_type: AccountType::Savings,
            currency: "EUR".to_owned(),
            initial_deposit_minor: initial,
            balance_after_minor: initial,
        }
    }

    #[test]
    fn the_opening_deposit_is_a_credit() {
        let doc = document(opened(100_00)).unwrap().unwrap();
        assert_eq!(
            (doc.movement, doc.event_type.as_str(), doc.amount_minor),
            (Movement::Credit, "AccountOpened", 100_00)
        );
        assert_eq!((doc.net_minor, doc.balance_after_minor), (100_00, 100_00));
        assert_eq!(
            (doc.event_id.as_str(), doc.version, doc.currency.as_str()),
            ("e1", 1, "EUR")
        );
    }

    #[test]
    fn a_deposit_is_a_credit_with_its_reference() {
        let doc = document(MoneyDeposited {
            metadata: meta(2),
            amount_minor: 5_00,
            currency: "EUR".to_owned(),
            balance_after_minor: 105_00,
            reference: Some("salary".to_owned()),
        })
        .unwrap()
        .unwrap();
        assert_eq!(
            (doc.movement, doc.amount_minor, doc.fee_minor, doc.net_minor),
            (Movement::Credit, 5_00, 0, 5_00)
        );
        assert_eq!(
            (doc.reference.as_deref(), doc.balance_after_minor),
            (Some("salary"), 105_00)
        );
        assert_eq!((doc.source_partition, doc.source_offset), (2, 40));
        assert_eq!(doc.channel, None);
    }

    #[test]
    fn a_withdrawal_is_a_debit_of_amount_and_fee_with_its_channel() {
        let doc = document(MoneyWithdrawn {
            metadata: meta(3),
            amount_minor: 1_500_00,
            currency: "EUR".to_owned(),
            fee_minor: 5_00,
            balance_after_minor: 495_00,
            reference: Some(String::new()),
            channel: Channel::Atm,
        })
        .unwrap()
        .unwrap();
        assert_eq!(
            (doc.movement, doc.amount_minor, doc.fee_minor, doc.net_minor),
            (Movement::Debit, 1_500_00, 5_00, -1_505_00)
        );
        assert_eq!(doc.channel.as_deref(), Some("ATM"));
        assert_eq!(doc.reference, None, "an empty reference is none");
    }

    #[test]
    fn transfers_name_the_other_account_on_both_sides() {
        let out = document(TransferDebited {
            metadata: meta(4),
            transfer_id: "t-1".to_owned(),
            to_account_id: "acc-2".to_owned(),
            amount_minor: 20_00,
            currency: "EUR".to_owned(),
            fee_minor: 2_00,
            balance_after_minor: 473_00,
            reference: Some("rent".to_owned()),
        })
        .unwrap()
        .unwrap();
        assert_eq!(
            (
                out.movement,
                out.net_minor,
                out.counterparty_account_id.as_deref()
            ),
            (Movement::TransferOut, -22_00, Some("acc-2"))
        );
        assert_eq!(out.transfer_id.as_deref(), Some("t-1"));
        let incoming = document(TransferCredited {
            metadata: meta(2),
            transfer_id: "t-1".to_owned(),
            from_account_id: "acc-0".to_owned(),
            amount_minor: 20_00,
            currency: "EUR".to_owned(),
            balance_after_minor: 40_00,
            reference: None,
        })
        .unwrap()
        .unwrap();
        assert_eq!(
            (
                incoming.movement,
                incoming.net_minor,
                incoming.counterparty_account_id.as_deref()
            ),
            (Movement::TransferIn, 20_00, Some("acc-0"))
        );
    }

    #[test]
    fn a_refund_credits_amount_and_fee_back_with_the_reason() {
        let doc = document(TransferRefunded {
            metadata: meta(5),
            transfer_id: "t-1".to_owned(),
            to_account_id: "acc-9".to_owned(),
            amount_minor: 20_00,
            currency: "EUR".to_owned(),
            fee_minor: 2_00,
            balance_after_minor: 495_00,
            reason_code: "ACCOUNT_NOT_FOUND".to_owned(),
            reason: "no such account".to_owned(),
        })
        .unwrap()
        .unwrap();
        assert_eq!(
            (doc.movement, doc.event_type.as_str(), doc.net_minor),
            (Movement::Credit, "TransferRefunded", 22_00)
        );
        assert_eq!(
            (
                doc.reason_code.as_deref(),
                doc.counterparty_account_id.as_deref()
            ),
            (Some("ACCOUNT_NOT_FOUND"), Some("acc-9"))
        );
    }

    #[test]
    fn closing_an_account_moves_no_money() {
        let closed = AccountClosed {
            metadata: meta(6),
            reason: Some("moved abroad".to_owned()),
        };
        assert_eq!(document(closed).unwrap(), None);
    }

    #[test]
    fn what_cannot_be_a_document_is_rejected() {
        let mut bad = meta(0);
        let version = document(AccountClosed {
            metadata: bad.clone(),
            reason: None,
        })
        .unwrap_err();
        assert_eq!(version.class, "bad-field");
        bad.version = 2;
        bad.event_id = "x".repeat(513);
        let long_id = document(MoneyDeposited {
            metadata: bad.clone(),
            amount_minor: 1,
            currency: "EUR".to_owned(),
            balance_after_minor: 1,
            reference: None,
        })
        .unwrap_err();
        assert!(long_id.message.contains("513 bytes"), "{long_id}");
        bad.event_id = "e".to_owned();
        bad.account_id = String::new();
        assert!(
            document(AccountClosed {
                metadata: bad,
                reason: None
            })
            .is_err()
        );
    }

    #[test]
    fn documents_serialize_without_absent_fields_and_with_upper_case_movements() {
        let doc = document(opened(100_00)).unwrap().unwrap();
        let json = serde_json::to_value(&doc).unwrap();
        assert_eq!(json["movement"], "CREDIT");
        assert_eq!(json["occurred_at"], 1_700_000_000_123_i64);
        for absent in ["reference", "channel", "counterparty_account_id", "reason"] {
            assert!(json.get(absent).is_none(), "{absent} in {json}");
        }
        let back: HistoryDocument = serde_json::from_value(json).unwrap();
        assert_eq!(back, doc);
    }
}
