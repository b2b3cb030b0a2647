//! [`AccountEvent`] to and from `account-events` records.

use ledgerstream_domain::{
    AccountClosed, AccountEvent, AccountOpened, CommandId, EventBody, EventId, EventMetadata,
    MoneyDeposited, MoneyWithdrawn, Timestamp, TransferCredited, TransferDebited, TransferId,
    TransferRefunded,
};
use ledgerstream_schemas::records::{self as wire, EventRecord};

use super::WireError;
use super::commands::{
    account_type_from_wire, account_type_to_wire, channel_from_wire, channel_to_wire,
};
use super::fields::{Fields, wire_version};

/// The record a decided event is published as.
pub fn event_to_record(event: &AccountEvent) -> EventRecord {
    let metadata = wire_metadata(&event.metadata);
    match &event.body {
        EventBody::AccountOpened(e) => wire::AccountOpened {
            metadata,
            owner_id: e.owner_id.as_str().to_owned(),
            account_type: account_type_to_wire(e.account_type),
            currency: e.currency.as_str().to_owned(),
            initial_deposit_minor: e.initial_deposit_minor,
            balance_after_minor: e.balance_after_minor,
        }
        .into(),
        EventBody::MoneyDeposited(e) => wire::MoneyDeposited {
            metadata,
            amount_minor: e.amount_minor,
            currency: e.currency.as_str().to_owned(),
            balance_after_minor: e.balance_after_minor,
            reference: e.reference.clone(),
        }
        .into(),
        EventBody::MoneyWithdrawn(e) => wire::MoneyWithdrawn {
            metadata,
            amount_minor: e.amount_minor,
            currency: e.currency.as_str().to_owned(),
            fee_minor: e.fee_minor,
            balance_after_minor: e.balance_after_minor,
            reference: e.reference.clone(),
            channel: channel_to_wire(e.channel),
        }
        .into(),
        EventBody::TransferDebited(e) => wire::TransferDebited {
            metadata,
            transfer_id: e.transfer_id.to_string(),
            to_account_id: e.to_account_id.as_str().to_owned(),
            amount_minor: e.amount_minor,
            currency: e.currency.as_str().to_owned(),
            fee_minor: e.fee_minor,
            balance_after_minor: e.balance_after_minor,
            reference: e.reference.clone(),
        }
        .into(),
        EventBody::TransferCredited(e) => wire::TransferCredited {
            metadata,
            transfer_id: e.transfer_id.to_string(),
            from_account_id: e.from_account_id.as_str().to_owned(),
            amount_minor: e.amount_minor,
            currency: e.currency.as_str().to_owned(),
            balance_after_minor: e.balance_after_minor,
            reference: e.reference.clone(),
        }
        .into(),
        EventBody::TransferRefunded(e) => wire::TransferRefunded {
            metadata,
            transfer_id: e.transfer_id.to_string(),
            to_account_id: e.to_account_id.as_str().to_owned(),
            amount_minor: e.amount_minor,
            currency: e.currency.as_str().to_owned(),
            fee_minor: e.fee_minor,
            balance_after_minor: e.balance_after_minor,
            reason_code: e.reason_code.clone(),
            reason: e.reason.clone(),
        }
        .into(),
        EventBody::AccountClosed(e) => wire::AccountClosed {
            metadata,
            reason: e.reason.clone(),
        }
        .into(),
    }
}

/// An event read back from `account-events` (catch-up, restore).
///
/// Events are facts: their amounts and balances are taken as they are, since the
/// rules were checked when they were decided. Only what the domain types cannot hold
/// is refused, the same as for commands; the processor only ever writes events that
/// pass, so an error here means another writer, or a corrupted log.
pub fn event_from_record(record: EventRecord) -> Result<AccountEvent, WireError> {
    let (metadata, body) = match record {
        EventRecord::AccountOpened(e) => {
            let f = Fields::of("AccountOpened");
            let metadata = read_metadata(f, e.metadata)?;
            let body = EventBody::AccountOpened(AccountOpened {
                owner_id: f.owner("owner_id", e.owner_id)?,
                account_type: account_type_from_wire(e.account_type),
                currency: f.currency("currency", e.currency)?,
                initial_deposit_minor: e.initial_deposit_minor,
                balance_after_minor: e.balance_after_minor,
            });
            (metadata, body)
        }
        EventRecord::MoneyDeposited(e) => {
            let f = Fields::of("MoneyDeposited");
            let metadata = read_metadata(f, e.metadata)?;
            let body = EventBody::MoneyDeposited(MoneyDeposited {
                amount_minor: e.amount_minor,
                currency: f.currency("currency", e.currency)?,
                balance_after_minor: e.balance_after_minor,
                reference: e.reference,
            });
            (metadata, body)
        }
        EventRecord::MoneyWithdrawn(e) => {
            let f = Fields::of("MoneyWithdrawn");
            let metadata = read_metadata(f, e.metadata)?;
            let body = EventBody::MoneyWithdrawn(MoneyWithdrawn {
                amount_minor: e.amount_minor,
                currency: f.currency("currency", e.currency)?,
                fee_minor: e.fee_minor,
                balance_after_minor: e.balance_after_minor,
                reference: e.reference,
                channel: channel_from_wire(e.channel),
            });
            (metadata, body)
        }
        EventRecord::TransferDebited(e) => {
            let f = Fields::of("TransferDebited");
            let metadata = read_metadata(f, e.metadata)?;
            let body = EventBody::TransferDebited(TransferDebited {
                transfer_id: TransferId(f.uuid("transfer_id", &e.transfer_id)?),
                to_account_id: f.account("to_account_id", e.to_account_id)?,
                amount_minor: e.amount_minor,
                currency: f.currency("currency", e.currency)?,
                fee_minor: e.fee_minor,
                balance_after_minor: e.balance_after_minor,
                reference: e.reference,
            });
            (metadata, body)
        }
        EventRecord::TransferCredited(e) => {
            let f = Fields::of("TransferCredited");
            let metadata = read_metadata(f, e.metadata)?;
            let body = EventBody::TransferCredited(TransferCredited {
                transfer_id: TransferId(f.uuid("transfer_id", &e.transfer_id)?),
                from_account_id: f.account("from_account_id", e.from_account_id)?,
                amount_minor: e.amount_minor,
                currency: f.currency("currency", e.currency)?,
                balance_after_minor: e.balance_after_minor,
                reference: e.reference,
            });
            (metadata, body)
        }
        EventRecord::TransferRefunded(e) => {
            let f = Fields::of("TransferRefunded");
            let metadata = read_metadata(f, e.metadata)?;
            let body = EventBody::TransferRefunded(TransferRefunded {
                transfer_id: TransferId(f.uuid("transfer_id", &e.transfer_id)?),
                to_account_id: f.account("to_account_id", e.to_account_id)?,
                amount_minor: e.amount_minor,
                currency: f.currency("currency", e.currency)?,
                fee_minor: e.fee_minor,
                balance_after_minor: e.balance_after_minor,
                reason_code: e.reason_code,
                reason: e.reason,
            });
            (metadata, body)
        }
        EventRecord::AccountClosed(e) => {
            let f = Fields::of("AccountClosed");
            let metadata = read_metadata(f, e.metadata)?;
            let body = EventBody::AccountClosed(AccountClosed { reason: e.reason });
            (metadata, body)
        }
    };
    Ok(AccountEvent { metadata, body })
}

fn wire_metadata(meta: &EventMetadata) -> wire::EventMetadata {
    wire::EventMetadata {
        event_id: meta.event_id.to_string(),
        account_id: meta.account_id.as_str().to_owned(),
        version: wire_version(meta.version),
        occurred_at: meta.occurred_at.as_millis(),
        command_id: meta.command_id.to_string(),
        correlation_id: meta.correlation_id.clone(),
        causation_id: meta.causation_id.clone(),
    }
}

fn read_metadata(f: Fields, meta: wire::EventMetadata) -> Result<EventMetadata, WireError> {
    Ok(EventMetadata {
        event_id: EventId(f.uuid("metadata.event_id", &meta.event_id)?),
        account_id: f.account("metadata.account_id", meta.account_id)?,
        version: f.event_version("metadata.version", meta.version)?,
        occurred_at: Timestamp::from_millis(meta.occurred_at),
        command_id: CommandId(f.uuid("metadata.command_id", &meta.command_id)?),
        correlation_id: meta.correlation_id,
        causation_id: meta.causation_id,
    })
}
