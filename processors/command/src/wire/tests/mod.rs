//! The wire conversions: round trips, where the dead-letter line runs, the transfer
//! follow-ups, the results, and wire commands decided end to end.

// Amounts in minor units read best grouped as units and cents: 1_000_00 is 1,000.00.
#![allow(clippy::inconsistent_digit_grouping)]

mod commands;
mod end_to_end;
mod events;
mod follow_up;
mod reason_codes;
mod results;

use ledgerstream_domain::testing::{ACCOUNT, CORRELATION, CURRENCY, NOW, OTHER_ACCOUNT, OWNER};
use ledgerstream_domain::{AccountCommand, OwnerSnapshot, TransferId};
use ledgerstream_schemas::records::{self as wire, CommandRecord};
use uuid::Uuid;

use crate::wire::{WireError, command_from_record};

/// A canonical UUID that reads well in tests: `uuid(1)` ends in `...0001`.
fn uuid(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

/// The transfer every wire record here is about.
fn transfer_uuid() -> String {
    uuid(7_000)
}

/// [`transfer_uuid`] as the domain has it.
fn the_transfer() -> TransferId {
    TransferId(Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_0000_7000))
}

/// `record` as a domain command, for an owner with no other account.
fn from_record(record: CommandRecord) -> Result<AccountCommand, WireError> {
    command_from_record(record, |_| OwnerSnapshot::default())
}

// The records below are for [`ACCOUNT`] in [`CURRENCY`], command id `uuid(n)`.

fn open_record(n: u32, deposit_minor: i64) -> wire::OpenAccount {
    wire::OpenAccount {
        command_id: uuid(n),
        account_id: ACCOUNT.to_owned(),
        expected_version: Some(0),
        issued_at: NOW.as_millis(),
        correlation_id: CORRELATION.to_owned(),
        causation_id: None,
        owner_id: OWNER.to_owned(),
        account_type: wire::AccountType::Checking,
        initial_deposit_minor: deposit_minor,
        currency: CURRENCY.to_owned(),
    }
}

fn deposit_record(n: u32, amount_minor: i64) -> wire::DepositMoney {
    wire::DepositMoney {
        command_id: uuid(n),
        account_id: ACCOUNT.to_owned(),
        expected_version: None,
        issued_at: NOW.as_millis(),
        correlation_id: CORRELATION.to_owned(),
        causation_id: None,
        amount_minor,
        currency: CURRENCY.to_owned(),
        reference: None,
    }
}

fn withdraw_record(n: u32, amount_minor: i64) -> wire::WithdrawMoney {
    wire::WithdrawMoney {
        command_id: uuid(n),
        account_id: ACCOUNT.to_owned(),
        expected_version: None,
        issued_at: NOW.as_millis(),
        correlation_id: CORRELATION.to_owned(),
        causation_id: None,
        amount_minor,
        currency: CURRENCY.to_owned(),
        reference: None,
        channel: wire::Channel::Unknown,
    }
}

fn debit_record(n: u32, amount_minor: i64) -> wire::DebitTransfer {
    wire::DebitTransfer {
        command_id: uuid(n),
        account_id: ACCOUNT.to_owned(),
        expected_version: None,
        issued_at: NOW.as_millis(),
        correlation_id: CORRELATION.to_owned(),
        causation_id: None,
        transfer_id: transfer_uuid(),
        to_account_id: OTHER_ACCOUNT.to_owned(),
        amount_minor,
        currency: CURRENCY.to_owned(),
        reference: None,
    }
}

fn credit_record(n: u32, amount_minor: i64) -> wire::CreditTransfer {
    wire::CreditTransfer {
        command_id: uuid(n),
        account_id: ACCOUNT.to_owned(),
        expected_version: None,
        issued_at: NOW.as_millis(),
        correlation_id: CORRELATION.to_owned(),
        causation_id: None,
        transfer_id: transfer_uuid(),
        from_account_id: OTHER_ACCOUNT.to_owned(),
        amount_minor,
        currency: CURRENCY.to_owned(),
        reference: None,
    }
}

/// A refund of a transfer to [`OTHER_ACCOUNT`] that was not found.
fn refund_record(n: u32, amount_minor: i64, fee_minor: i64) -> wire::RefundTransfer {
    wire::RefundTransfer {
        command_id: uuid(n),
        account_id: ACCOUNT.to_owned(),
        expected_version: None,
        issued_at: NOW.as_millis(),
        correlation_id: CORRELATION.to_owned(),
        causation_id: None,
        transfer_id: transfer_uuid(),
        to_account_id: OTHER_ACCOUNT.to_owned(),
        amount_minor,
        currency: CURRENCY.to_owned(),
        fee_minor,
        reason_code: "ACCOUNT_NOT_FOUND".to_owned(),
        reason: format!("account {OTHER_ACCOUNT} has not been opened"),
    }
}

fn close_record(n: u32) -> wire::CloseAccount {
    wire::CloseAccount {
        command_id: uuid(n),
        account_id: ACCOUNT.to_owned(),
        expected_version: None,
        issued_at: NOW.as_millis(),
        correlation_id: CORRELATION.to_owned(),
        causation_id: None,
        reason: None,
    }
}
