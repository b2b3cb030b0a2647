//! `account-commands` records to and from [`AccountCommand`].

use ledgerstream_domain::{
    AccountCommand, AccountType, Channel, CloseAccount, CommandBody, CommandId, CommandMetadata,
    CreditTransfer, DebitTransfer, DepositMoney, OpenAccount, OwnerId, OwnerSnapshot,
    RefundTransfer, Timestamp, TransferId, WithdrawMoney,
};
use ledgerstream_schemas::records::{self as wire, CommandRecord};

use super::WireError;
use super::fields::{Fields, wire_version};

/// The domain command a record asks for, or why the record is a dead letter.
///
/// `owner` is asked, only for `OpenAccount` and only once the record is known to be
/// well formed, for the snapshot of the owner named by the record's `owner_id`: the
/// one thing a decision needs that is not on the wire. A caller whose owner view
/// cannot be read synchronously looks the snapshot up first (the owner id is in the
/// record) and passes `|_| snapshot`.
///
/// Only what the domain types cannot hold is refused; every rule is left to
/// `decide`, so that breaking one is answered with `CommandRejected` (see the
/// module doc for where the line runs).
pub fn command_from_record(
    record: CommandRecord,
    owner: impl FnOnce(&OwnerId) -> OwnerSnapshot,
) -> Result<AccountCommand, WireError> {
    let (metadata, body) = match record {
        CommandRecord::OpenAccount(c) => {
            let f = Fields::of("OpenAccount");
            let metadata = head!(c).read(f)?;
            let owner_id = f.owner("owner_id", c.owner_id)?;
            let currency = f.currency("currency", c.currency)?;
            let owner = owner(&owner_id);
            let body = CommandBody::OpenAccount(OpenAccount {
                owner_id,
                account_type: account_type_from_wire(c.account_type),
                initial_deposit_minor: c.initial_deposit_minor,
                currency,
                owner,
            });
            (metadata, body)
        }
        CommandRecord::DepositMoney(c) => {
            let f = Fields::of("DepositMoney");
            let metadata = head!(c).read(f)?;
            let body = CommandBody::DepositMoney(DepositMoney {
                amount_minor: c.amount_minor,
                currency: f.currency("currency", c.currency)?,
                reference: c.reference,
            });
            (metadata, body)
        }
        CommandRecord::WithdrawMoney(c) => {
            let f = Fields::of("WithdrawMoney");
            let metadata = head!(c).read(f)?;
            let body = CommandBody::WithdrawMoney(WithdrawMoney {
                amount_minor: c.amount_minor,
                currency: f.currency("currency", c.currency)?,
                reference: c.reference,
                channel: channel_from_wire(c.channel),
            });
            (metadata, body)
        }
        CommandRecord::DebitTransfer(c) => {
            let f = Fields::of("DebitTransfer");
            let metadata = head!(c).read(f)?;
            let body = CommandBody::DebitTransfer(DebitTransfer {
                transfer_id: TransferId(f.uuid("transfer_id", &c.transfer_id)?),
                to_account_id: f.account("to_account_id", c.to_account_id)?,
                amount_minor: c.amount_minor,
                currency: f.currency("currency", c.currency)?,
                reference: c.reference,
            });
            (metadata, body)
        }
        CommandRecord::CreditTransfer(c) => {
            let f = Fields::of("CreditTransfer");
            let metadata = head!(c).read(f)?;
            let body = CommandBody::CreditTransfer(CreditTransfer {
                transfer_id: TransferId(f.uuid("transfer_id", &c.transfer_id)?),
                from_account_id: f.account("from_account_id", c.from_account_id)?,
                amount_minor: c.amount_minor,
                currency: f.currency("currency", c.currency)?,
                reference: c.reference,
            });
            (metadata, body)
        }
        CommandRecord::RefundTransfer(c) => {
            let f = Fields::of("RefundTransfer");
            let metadata = head!(c).read(f)?;
            let body = CommandBody::RefundTransfer(RefundTransfer {
                transfer_id: TransferId(f.uuid("transfer_id", &c.transfer_id)?),
                to_account_id: f.account("to_account_id", c.to_account_id)?,
                amount_minor: c.amount_minor,
                currency: f.currency("currency", c.currency)?,
                fee_minor: c.fee_minor,
                reason_code: c.reason_code,
                reason: c.reason,
            });
            (metadata, body)
        }
        CommandRecord::CloseAccount(c) => {
            let f = Fields::of("CloseAccount");
            let metadata = head!(c).read(f)?;
            let body = CommandBody::CloseAccount(CloseAccount { reason: c.reason });
            (metadata, body)
        }
    };
    Ok(AccountCommand { metadata, body })
}

/// The record of a domain command, for sending one (the transfer follow-ups, or a
/// producer that builds commands with the domain types).
///
/// `OpenAccount`'s owner snapshot is not on the wire and is left behind: the
/// processor that decides the command looks it up again.
pub fn command_to_record(command: &AccountCommand) -> CommandRecord {
    let m = &command.metadata;
    match &command.body {
        CommandBody::OpenAccount(c) => with_head!(wire::OpenAccount, m, {
            owner_id: c.owner_id.as_str().to_owned(),
            account_type: account_type_to_wire(c.account_type),
            initial_deposit_minor: c.initial_deposit_minor,
            currency: c.currency.as_str().to_owned(),
        })
        .into(),
        CommandBody::DepositMoney(c) => with_head!(wire::DepositMoney, m, {
            amount_minor: c.amount_minor,
            currency: c.currency.as_str().to_owned(),
            reference: c.reference.clone(),
        })
        .into(),
        CommandBody::WithdrawMoney(c) => with_head!(wire::WithdrawMoney, m, {
            amount_minor: c.amount_minor,
            currency: c.currency.as_str().to_owned(),
            reference: c.reference.clone(),
            channel: channel_to_wire(c.channel),
        })
        .into(),
        CommandBody::DebitTransfer(c) => with_head!(wire::DebitTransfer, m, {
            transfer_id: c.transfer_id.to_string(),
            to_account_id: c.to_account_id.as_str().to_owned(),
            amount_minor: c.amount_minor,
            currency: c.currency.as_str().to_owned(),
            reference: c.reference.clone(),
        })
        .into(),
        CommandBody::CreditTransfer(c) => with_head!(wire::CreditTransfer, m, {
            transfer_id: c.transfer_id.to_string(),
            from_account_id: c.from_account_id.as_str().to_owned(),
            amount_minor: c.amount_minor,
            currency: c.currency.as_str().to_owned(),
            reference: c.reference.clone(),
        })
        .into(),
        CommandBody::RefundTransfer(c) => with_head!(wire::RefundTransfer, m, {
            transfer_id: c.transfer_id.to_string(),
            to_account_id: c.to_account_id.as_str().to_owned(),
            amount_minor: c.amount_minor,
            currency: c.currency.as_str().to_owned(),
            fee_minor: c.fee_minor,
            reason_code: c.reason_code.clone(),
            reason: c.reason.clone(),
        })
        .into(),
        CommandBody::CloseAccount(c) => with_head!(wire::CloseAccount, m, {
            reason: c.reason.clone(),
        })
        .into(),
    }
}

/// The six fields every command record starts with, as they came.
struct Head {
    command_id: String,
    account_id: String,
    expected_version: Option<i64>,
    issued_at: i64,
    correlation_id: String,
    causation_id: Option<String>,
}

impl Head {
    fn read(self, f: Fields) -> Result<CommandMetadata, WireError> {
        Ok(CommandMetadata {
            command_id: CommandId(f.uuid("command_id", &self.command_id)?),
            account_id: f.account("account_id", self.account_id)?,
            expected_version: f.expected_version("expected_version", self.expected_version)?,
            issued_at: Timestamp::from_millis(self.issued_at),
            // Free-form on the wire and in the domain: nothing to refuse.
            correlation_id: self.correlation_id,
            causation_id: self.causation_id,
        })
    }
}

/// Moves the six common fields out of a command record into a [`Head`]. Every
/// command record has them, under the same names, but no trait says so.
macro_rules! head {
    ($record:ident) => {
        Head {
            command_id: $record.command_id,
            account_id: $record.account_id,
            expected_version: $record.expected_version,
            issued_at: $record.issued_at,
            correlation_id: $record.correlation_id,
            causation_id: $record.causation_id,
        }
    };
}
use head;

/// A command record with the six common fields taken from `CommandMetadata`, and
/// the fields of its own as given.
macro_rules! with_head {
    ($record:path, $meta:expr, { $($field:ident: $value:expr),* $(,)? }) => {{
        let meta: &CommandMetadata = $meta;
        $record {
            command_id: meta.command_id.to_string(),
            account_id: meta.account_id.as_str().to_owned(),
            expected_version: meta.expected_version.map(wire_version),
            issued_at: meta.issued_at.as_millis(),
            correlation_id: meta.correlation_id.clone(),
            causation_id: meta.causation_id.clone(),
            $($field: $value,)*
        }
    }};
}
use with_head;

pub(super) fn account_type_from_wire(account_type: wire::AccountType) -> AccountType {
    match account_type {
        wire::AccountType::Checking => AccountType::Checking,
        wire::AccountType::Savings => AccountType::Savings,
        wire::AccountType::Business => AccountType::Business,
        wire::AccountType::Investment => AccountType::Investment,
    }
}

pub(super) fn account_type_to_wire(account_type: AccountType) -> wire::AccountType {
    match account_type {
        AccountType::Checking => wire::AccountType::Checking,
        AccountType::Savings => wire::AccountType::Savings,
        AccountType::Business => wire::AccountType::Business,
        AccountType::Investment => wire::AccountType::Investment,
    }
}

pub(super) fn channel_from_wire(channel: wire::Channel) -> Channel {
    match channel {
        wire::Channel::Unknown => Channel::Unknown,
        wire::Channel::Branch => Channel::Branch,
        wire::Channel::Atm => Channel::Atm,
        wire::Channel::Online => Channel::Online,
        wire::Channel::Api => Channel::Api,
    }
}

pub(super) fn channel_to_wire(channel: Channel) -> wire::Channel {
    match channel {
        Channel::Unknown => wire::Channel::Unknown,
        Channel::Branch => wire::Channel::Branch,
        Channel::Atm => wire::Channel::Atm,
        Channel::Online => wire::Channel::Online,
        Channel::Api => wire::Channel::Api,
    }
}
