//! The commands the processor sends as the transfer's process manager: the credit
//! leg after a debit, the refund after a rejected credit.

use ledgerstream_domain::policy::transfer_fee;
use ledgerstream_domain::{
    AccountCommand, AccountEvent, CommandBody, CommandId, CommandMetadata, CreditTransfer,
    EventBody, RefundTransfer, Rejection, Timestamp, TransferId,
};
use ledgerstream_schemas::records::CommandRecord;
use uuid::Uuid;

use super::command_to_record;

/// A command the processor sends on its own for a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FollowUp {
    /// `CreditTransfer` to the target, after `TransferDebited`.
    Credit,
    /// `RefundTransfer` to the source, after the credit was rejected.
    Refund,
}

impl FollowUp {
    /// The name hashed into the command id. Never change it (see [`follow_up_id`]).
    pub fn name(self) -> &'static str {
        match self {
            Self::Credit => "credit",
            Self::Refund => "refund",
        }
    }
}

/// The UUID v5 namespace of follow-up command ids. Changing it changes the id of
/// every follow-up, so one re-sent across the change would no longer be recognised
/// as a repeat: never change it.
const FOLLOW_UP_NAMESPACE: Uuid = Uuid::from_u128(0xabe6_949a_4667_4c14_b10d_6e2b_9f9b_f581);

/// The command id of a transfer's follow-up: a UUID v5 of the transfer id (its 16
/// bytes) and the step's [`name`](FollowUp::name).
///
/// Deterministic, so that a follow-up sent again after a crash carries the same id
/// and the receiving account drops it as a repeat (its idempotency window, and
/// its once-per-transfer rule behind that). Distinct per step, so that a credit and
/// a refund of one transfer never pass for each other.
pub fn follow_up_id(transfer: TransferId, step: FollowUp) -> CommandId {
    let mut name = Vec::with_capacity(16 + 6);
    name.extend_from_slice(transfer.0.as_bytes());
    name.extend_from_slice(step.name().as_bytes());
    CommandId(Uuid::new_v5(&FOLLOW_UP_NAMESPACE, &name))
}

/// The `CreditTransfer` that `debited` calls for, to the transfer's target; `None`
/// for any event but `TransferDebited`.
///
/// The command copies the debit's transfer id, amount, currency and reference; its
/// correlation id is carried over, its causation id is the event's id and it was
/// issued when the event occurred, so building it again gives the same record.
pub fn credit_for(debited: &AccountEvent) -> Option<CommandRecord> {
    let EventBody::TransferDebited(debit) = &debited.body else {
        return None;
    };
    let event = &debited.metadata;
    let credit = AccountCommand {
        metadata: CommandMetadata {
            command_id: follow_up_id(debit.transfer_id, FollowUp::Credit),
            account_id: debit.to_account_id.clone(),
            expected_version: None,
            issued_at: event.occurred_at,
            correlation_id: event.correlation_id.clone(),
            causation_id: Some(event.event_id.to_string()),
        },
        body: CommandBody::CreditTransfer(CreditTransfer {
            transfer_id: debit.transfer_id,
            from_account_id: event.account_id.clone(),
            amount_minor: debit.amount_minor,
            currency: debit.currency.clone(),
            reference: debit.reference.clone(),
        }),
    };
    Some(command_to_record(&credit))
}

/// The `RefundTransfer` that a rejected `credit` calls for, back to the transfer's
/// source; `None` when `credit` is not a `CreditTransfer`.
///
/// It carries the rejection's code and message as the reason. Its correlation id is
/// the credit's, its causation id the credit's command id, and it is issued at
/// `decided_at`, the time the credit was rejected (the decision's `now`, not a clock
/// read), so building it again gives the same record.
///
/// The source refunds only what matches its debit: target, amount, currency and
/// fee. The first three are on the credit; the fee is not (`CreditTransfer` has no
/// `fee_minor`), so it is worked out again with the transfer fee schedule, which
/// depends on the amount alone. That holds while the schedule stays what it was
/// when the debit was decided; see the module doc.
pub fn refund_for(
    credit: &AccountCommand,
    rejection: &Rejection,
    decided_at: Timestamp,
) -> Option<CommandRecord> {
    let CommandBody::CreditTransfer(leg) = &credit.body else {
        return None;
    };
    let cause = &credit.metadata;
    let refund = AccountCommand {
        metadata: CommandMetadata {
            command_id: follow_up_id(leg.transfer_id, FollowUp::Refund),
            account_id: leg.from_account_id.clone(),
            expected_version: None,
            issued_at: decided_at,
            correlation_id: cause.correlation_id.clone(),
            causation_id: Some(cause.command_id.to_string()),
        },
        body: CommandBody::RefundTransfer(RefundTransfer {
            transfer_id: leg.transfer_id,
            to_account_id: cause.account_id.clone(),
            amount_minor: leg.amount_minor,
            currency: leg.currency.clone(),
            fee_minor: transfer_fee(leg.amount_minor),
            reason_code: rejection.code().to_owned(),
            reason: rejection.to_string(),
        }),
    };
    Some(command_to_record(&refund))
}
