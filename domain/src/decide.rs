//! Decide: given the state and a command, the events that happen, or why not.
//! Pure: no clock, no I/O; what the decision needs from outside comes in the
//! command (the owner snapshot) or the context (the time).

use super::money::{add, require_positive, sub};
use super::policy::{
    MAX_OPEN_ACCOUNTS_PER_OWNER, MIN_INITIAL_DEPOSIT_MINOR, transfer_fee, withdrawal_fee,
};
use super::{
    Account, AccountClosed, AccountCommand, AccountEvent, AccountOpened, AccountState,
    AccountStatus, CloseAccount, CommandBody, CommandMetadata, CreditTransfer, Currency,
    DebitTransfer, DepositMoney, EventBody, EventId, EventMetadata, MoneyDeposited, MoneyWithdrawn,
    OpenAccount, RefundTransfer, Rejection, Timestamp, TransferCredited, TransferDebited,
    TransferLeg, TransferRefunded, WithdrawMoney,
};

/// What a decision takes from its surroundings besides the state and the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecisionContext {
    /// When the decision is made: every event's `occurred_at`.
    ///
    /// Take it from the command's record (its Kafka timestamp), not the wall clock:
    /// then deciding the command again after a crash gives byte-identical events,
    /// not merely events with the same ids.
    pub now: Timestamp,
}

/// The events `command` causes on the account in `state`, or the rule it breaks.
///
/// `Ok(vec![])` means there is nothing left to do: the command id is in the
/// idempotency window (its earlier outcome is [`AccountState::outcome_of`]), or the
/// transfer it names was already debited, credited or refunded here.
///
/// Checks run in this order, so the first broken rule is the one reported:
/// repeated command id, existence, `expected_version`, status, then the command's
/// own rules (see the table in the module doc).
pub fn decide(
    state: &AccountState,
    command: &AccountCommand,
    ctx: DecisionContext,
) -> Result<Vec<AccountEvent>, Rejection> {
    let meta = &command.metadata;
    if state.outcome_of(meta.command_id).is_some() {
        return Ok(Vec::new());
    }
    let bodies = match (state.account(), &command.body) {
        (None, CommandBody::OpenAccount(open)) => {
            // Version 0 is "not opened yet", so `Some(0)` passes and anything else fails.
            check_version(meta, state)?;
            open_account(open)?
        }
        (None, _) => return Err(Rejection::AccountNotFound(meta.account_id.clone())),
        (Some(account), body) => {
            check_version(meta, state)?;
            match body {
                CommandBody::OpenAccount(_) => {
                    return Err(Rejection::AccountAlreadyExists(account.id().clone()));
                }
                CommandBody::DepositMoney(deposit) => deposit_money(account, deposit)?,
                CommandBody::WithdrawMoney(withdraw) => withdraw_money(account, withdraw)?,
                CommandBody::DebitTransfer(debit) => debit_transfer(account, debit)?,
                CommandBody::CreditTransfer(credit) => credit_transfer(account, credit)?,
                CommandBody::RefundTransfer(refund) => refund_transfer(account, refund)?,
                CommandBody::CloseAccount(close) => close_account(account, close)?,
            }
        }
    };
    Ok(stamp(state, meta, ctx, bodies))
}

fn check_version(meta: &CommandMetadata, state: &AccountState) -> Result<(), Rejection> {
    match meta.expected_version {
        Some(expected) if expected != state.version() => Err(Rejection::VersionConflict {
            expected,
            actual: state.version(),
        }),
        _ => Ok(()),
    }
}

/// Every command but a refund needs an open account.
fn ensure_open(account: &Account) -> Result<(), Rejection> {
    match account.status() {
        AccountStatus::Open => Ok(()),
        AccountStatus::Closed => Err(Rejection::AccountClosed(account.id().clone())),
    }
}

fn ensure_currency(account: &Account, currency: &Currency) -> Result<(), Rejection> {
    if account.currency() == currency {
        Ok(())
    } else {
        Err(Rejection::CurrencyMismatch {
            expected: account.currency().clone(),
            actual: currency.clone(),
        })
    }
}

/// `amount + fee` if the balance covers it.
fn ensure_funds(account: &Account, amount_minor: i64, fee_minor: i64) -> Result<i64, Rejection> {
    let needed_minor = add(amount_minor, fee_minor)?;
    if account.balance_minor() < needed_minor {
        return Err(Rejection::InsufficientFunds {
            balance_minor: account.balance_minor(),
            needed_minor,
        });
    }
    Ok(needed_minor)
}

/// The balance after receiving `amount`, if it leaves room for every refund the
/// account may still receive (see [`Account::refundable_minor`]).
fn receive(account: &Account, amount_minor: i64) -> Result<i64, Rejection> {
    let balance = add(account.balance_minor(), amount_minor)?;
    if balance.checked_add(account.refundable_minor()).is_none() {
        return Err(Rejection::InvalidAmount {
            amount_minor,
            problem: "too large: the balance could not take back this account's pending refunds",
        });
    }
    Ok(balance)
}

fn open_account(open: &OpenAccount) -> Result<Vec<EventBody>, Rejection> {
    let deposit = require_positive(open.initial_deposit_minor)?;
    if deposit < MIN_INITIAL_DEPOSIT_MINOR {
        return Err(Rejection::InitialDepositTooLow {
            deposit_minor: deposit,
            minimum_minor: MIN_INITIAL_DEPOSIT_MINOR,
        });
    }
    if open.owner.open_accounts >= MAX_OPEN_ACCOUNTS_PER_OWNER {
        return Err(Rejection::OwnerAccountLimit {
            owner_id: open.owner_id.clone(),
            open: open.owner.open_accounts,
            limit: MAX_OPEN_ACCOUNTS_PER_OWNER,
        });
    }
    Ok(vec![EventBody::AccountOpened(AccountOpened {
        owner_id: open.owner_id.clone(),
        account_type: open.account_type,
        currency: open.currency.clone(),
        initial_deposit_minor: deposit,
        balance_after_minor: deposit,
    })])
}

fn deposit_money(account: &Account, deposit: &DepositMoney) -> Result<Vec<EventBody>, Rejection> {
    ensure_open(account)?;
    let amount = require_positive(deposit.amount_minor)?;
    ensure_currency(account, &deposit.currency)?;
    Ok(vec![EventBody::MoneyDeposited(MoneyDeposited {
        amount_minor: amount,
        currency: deposit.currency.clone(),
        balance_after_minor: receive(account, amount)?,
        reference: deposit.reference.clone(),
    })])
}

fn withdraw_money(
    account: &Account,
    withdraw: &WithdrawMoney,
) -> Result<Vec<EventBody>, Rejection> {
    ensure_open(account)?;
    let amount = require_positive(withdraw.amount_minor)?;
    ensure_currency(account, &withdraw.currency)?;
    let fee = withdrawal_fee(account.account_type(), amount);
    let total = ensure_funds(account, amount, fee)?;
    Ok(vec![EventBody::MoneyWithdrawn(MoneyWithdrawn {
        amount_minor: amount,
        currency: withdraw.currency.clone(),
        fee_minor: fee,
        balance_after_minor: sub(account.balance_minor(), total)?,
        reference: withdraw.reference.clone(),
        channel: withdraw.channel,
    })])
}

fn debit_transfer(account: &Account, debit: &DebitTransfer) -> Result<Vec<EventBody>, Rejection> {
    // A transfer id is applied once per account, whichever command carries it.
    if account.transfer(debit.transfer_id).is_some() {
        return Ok(Vec::new());
    }
    ensure_open(account)?;
    if &debit.to_account_id == account.id() {
        return Err(Rejection::SameAccountTransfer(account.id().clone()));
    }
    let amount = require_positive(debit.amount_minor)?;
    ensure_currency(account, &debit.currency)?;
    let fee = transfer_fee(amount);
    let total = ensure_funds(account, amount, fee)?;
    Ok(vec![EventBody::TransferDebited(TransferDebited {
        transfer_id: debit.transfer_id,
        to_account_id: debit.to_account_id.clone(),
        amount_minor: amount,
        currency: debit.currency.clone(),
        fee_minor: fee,
        balance_after_minor: sub(account.balance_minor(), total)?,
        reference: debit.reference.clone(),
    })])
}

fn credit_transfer(
    account: &Account,
    credit: &CreditTransfer,
) -> Result<Vec<EventBody>, Rejection> {
    if account.transfer(credit.transfer_id).is_some() {
        return Ok(Vec::new());
    }
    ensure_open(account)?;
    if &credit.from_account_id == account.id() {
        return Err(Rejection::SameAccountTransfer(account.id().clone()));
    }
    let amount = require_positive(credit.amount_minor)?;
    ensure_currency(account, &credit.currency)?;
    Ok(vec![EventBody::TransferCredited(TransferCredited {
        transfer_id: credit.transfer_id,
        from_account_id: credit.from_account_id.clone(),
        amount_minor: amount,
        currency: credit.currency.clone(),
        balance_after_minor: receive(account, amount)?,
        reference: credit.reference.clone(),
    })])
}

/// Refunds are money the system owes: applied even to a closed account, as long as
/// this account debited the transfer, and only once. The sum cannot overflow:
/// deposits and credits leave room for it ([`receive`]).
fn refund_transfer(
    account: &Account,
    refund: &RefundTransfer,
) -> Result<Vec<EventBody>, Rejection> {
    let Some(TransferLeg::Debited {
        to_account_id,
        amount_minor,
        fee_minor,
        refunded,
    }) = account.transfer(refund.transfer_id)
    else {
        return Err(Rejection::InvalidAmount {
            amount_minor: refund.amount_minor,
            problem: "no transfer with this id was debited from this account",
        });
    };
    if *refunded {
        return Ok(Vec::new());
    }
    ensure_currency(account, &refund.currency)?;
    if &refund.to_account_id != to_account_id
        || refund.amount_minor != *amount_minor
        || refund.fee_minor != *fee_minor
    {
        return Err(Rejection::InvalidAmount {
            amount_minor: refund.amount_minor,
            problem: "the refund does not match the debited transfer",
        });
    }
    let total = add(*amount_minor, *fee_minor)?;
    Ok(vec![EventBody::TransferRefunded(TransferRefunded {
        transfer_id: refund.transfer_id,
        to_account_id: to_account_id.clone(),
        amount_minor: *amount_minor,
        currency: refund.currency.clone(),
        fee_minor: *fee_minor,
        balance_after_minor: add(account.balance_minor(), total)?,
        reason_code: refund.reason_code.clone(),
        reason: refund.reason.clone(),
    })])
}

fn close_account(account: &Account, close: &CloseAccount) -> Result<Vec<EventBody>, Rejection> {
    ensure_open(account)?;
    if account.balance_minor() != 0 {
        return Err(Rejection::NonzeroBalance {
            balance_minor: account.balance_minor(),
        });
    }
    Ok(vec![EventBody::AccountClosed(AccountClosed {
        reason: close.reason.clone(),
    })])
}

/// Wraps decided bodies in their envelopes: versions follow the state's, ids are
/// derived from the command, the time is the context's.
fn stamp(
    state: &AccountState,
    meta: &CommandMetadata,
    ctx: DecisionContext,
    bodies: Vec<EventBody>,
) -> Vec<AccountEvent> {
    (0u32..)
        .zip(bodies)
        .map(|(index, body)| AccountEvent {
            metadata: EventMetadata {
                event_id: EventId::derive(&meta.account_id, meta.command_id, index),
                account_id: meta.account_id.clone(),
                version: state.version() + 1 + u64::from(index),
                occurred_at: ctx.now,
                command_id: meta.command_id,
                correlation_id: meta.correlation_id.clone(),
                causation_id: meta.command_id.to_string(),
            },
            body,
        })
        .collect()
}
