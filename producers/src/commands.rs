//! Builders for every command a customer sends, each with a fresh command id (the
//! idempotency key), `issued_at` now, and a correlation id of its own. Change the
//! returned record's fields for anything else (e.g. `expected_version`).

use ledgerstream_runtime::clock::now_millis;
use ledgerstream_schemas::records::{
    AccountType, Channel, CloseAccount, CommandRecord, DebitTransfer, DepositMoney, OpenAccount,
    WithdrawMoney,
};

fn id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Opens `account_id` for `owner_id` with an initial deposit (minor units).
pub fn open_account(
    account_id: &str,
    owner_id: &str,
    account_type: AccountType,
    initial_deposit_minor: i64,
    currency: &str,
) -> CommandRecord {
    OpenAccount {
        command_id: id(),
        account_id: account_id.to_owned(),
        expected_version: None,
        issued_at: now_millis(),
        correlation_id: id(),
        causation_id: None,
        owner_id: owner_id.to_owned(),
        account_type,
        initial_deposit_minor,
        currency: currency.to_owned(),
    }
    .into()
}

/// Deposits `amount_minor` into `account_id`.
pub fn deposit(account_id: &str, amount_minor: i64, currency: &str) -> CommandRecord {
    DepositMoney {
        command_id: id(),
        account_id: account_id.to_owned(),
        expected_version: None,
        issued_at: now_millis(),
        correlation_id: id(),
        causation_id: None,
        amount_minor,
        currency: currency.to_owned(),
        reference: None,
    }
    .into()
}

/// Withdraws `amount_minor` from `account_id` (a fee may apply).
pub fn withdraw(
    account_id: &str,
    amount_minor: i64,
    currency: &str,
    channel: Channel,
) -> CommandRecord {
    WithdrawMoney {
        command_id: id(),
        account_id: account_id.to_owned(),
        expected_version: None,
        issued_at: now_millis(),
        correlation_id: id(),
        causation_id: None,
        amount_minor,
        currency: currency.to_owned(),
        reference: None,
        channel,
    }
    .into()
}

/// Transfers `amount_minor` from `from` to `to` (the fee is the sender's).
pub fn transfer(from: &str, to: &str, amount_minor: i64, currency: &str) -> CommandRecord {
    DebitTransfer {
        command_id: id(),
        account_id: from.to_owned(),
        expected_version: None,
        issued_at: now_millis(),
        correlation_id: id(),
        causation_id: None,
        transfer_id: id(),
        to_account_id: to.to_owned(),
        amount_minor,
        currency: currency.to_owned(),
        reference: None,
    }
    .into()
}

/// Closes `account_id` (it must be at a zero balance).
pub fn close_account(account_id: &str) -> CommandRecord {
    CloseAccount {
        command_id: id(),
        account_id: account_id.to_owned(),
        expected_version: None,
        issued_at: now_millis(),
        correlation_id: id(),
        causation_id: None,
        reason: None,
    }
    .into()
}
