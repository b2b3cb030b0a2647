//! One filled-in record of every type, for tests, benchmarks and fuzzing. Every
//! optional field is set, so that a round trip exercises it.

use super::*;

const ACCOUNT: &str = "acc-000042";
const COMMAND_ID: &str = "8a8f3c1e-6a4b-4c1d-9c5e-2b7f1d0e9a11";
const CORRELATION: &str = "5b1e2f60-3d7a-4e8b-8c9d-0a1b2c3d4e5f";
const TRANSFER_ID: &str = "c0ffee00-1234-4abc-8def-0123456789ab";
const AT: i64 = 1_763_726_400_000;

fn metadata(version: i64) -> EventMetadata {
    EventMetadata {
        event_id: format!("e2b4c6d8-0000-4000-8000-{version:012}"),
        account_id: ACCOUNT.to_owned(),
        version,
        occurred_at: AT,
        command_id: COMMAND_ID.to_owned(),
        correlation_id: CORRELATION.to_owned(),
        causation_id: COMMAND_ID.to_owned(),
    }
}

/// A `MoneyWithdrawn`: the event the codec benchmark measures.
pub fn money_withdrawn() -> MoneyWithdrawn {
    MoneyWithdrawn {
        metadata: metadata(7),
        amount_minor: 125_000,
        currency: "USD".to_owned(),
        fee_minor: 500,
        balance_after_minor: 874_500,
        reference: Some("atm 7th avenue".to_owned()),
        channel: Channel::Atm,
    }
}

/// One of every event record.
pub fn events() -> Vec<EventRecord> {
    vec![
        AccountOpened {
            metadata: metadata(1),
            owner_id: "owner-7".to_owned(),
            account_type: AccountType::Savings,
            currency: "USD".to_owned(),
            initial_deposit_minor: 100_000,
            balance_after_minor: 100_000,
        }
        .into(),
        MoneyDeposited {
            metadata: metadata(2),
            amount_minor: 2_500,
            currency: "USD".to_owned(),
            balance_after_minor: 102_500,
            reference: Some("salary".to_owned()),
        }
        .into(),
        money_withdrawn().into(),
        TransferDebited {
            metadata: metadata(4),
            transfer_id: TRANSFER_ID.to_owned(),
            to_account_id: "acc-000043".to_owned(),
            amount_minor: 50_000,
            currency: "USD".to_owned(),
            fee_minor: 200,
            balance_after_minor: 52_300,
            reference: Some("rent".to_owned()),
        }
        .into(),
        TransferCredited {
            metadata: metadata(5),
            transfer_id: TRANSFER_ID.to_owned(),
            from_account_id: "acc-000041".to_owned(),
            amount_minor: 50_000,
            currency: "USD".to_owned(),
            balance_after_minor: 102_300,
            reference: None,
        }
        .into(),
        TransferRefunded {
            metadata: metadata(6),
            transfer_id: TRANSFER_ID.to_owned(),
            to_account_id: "acc-000043".to_owned(),
            amount_minor: 50_000,
            currency: "USD".to_owned(),
            fee_minor: 200,
            balance_after_minor: 152_500,
            reason_code: "ACCOUNT_CLOSED".to_owned(),
            reason: "account acc-000043 is closed".to_owned(),
        }
        .into(),
        AccountClosed {
            metadata: metadata(8),
            reason: Some("customer request".to_owned()),
        }
        .into(),
    ]
}

/// One of every command record.
pub fn commands() -> Vec<CommandRecord> {
    let head = |n: u8| (format!("{}{n:02}", &COMMAND_ID[..34]), ACCOUNT.to_owned());
    let (command_id, account_id) = head(1);
    let open = OpenAccount {
        command_id,
        account_id,
        expected_version: Some(0),
        issued_at: AT,
        correlation_id: CORRELATION.to_owned(),
        causation_id: None,
        owner_id: "owner-7".to_owned(),
        account_type: AccountType::Business,
        initial_deposit_minor: 10_000,
        currency: "EUR".to_owned(),
    };
    let (command_id, account_id) = head(2);
    let deposit = DepositMoney {
        command_id,
        account_id,
        expected_version: None,
        issued_at: AT,
        correlation_id: CORRELATION.to_owned(),
        causation_id: Some(COMMAND_ID.to_owned()),
        amount_minor: 1,
        currency: "EUR".to_owned(),
        reference: None,
    };
    let (command_id, account_id) = head(3);
    let withdraw = WithdrawMoney {
        command_id,
        account_id,
        expected_version: Some(3),
        issued_at: AT,
        correlation_id: CORRELATION.to_owned(),
        causation_id: None,
        amount_minor: i64::MAX,
        currency: "EUR".to_owned(),
        reference: Some("cash".to_owned()),
        channel: Channel::Branch,
    };
    let (command_id, account_id) = head(4);
    let debit = DebitTransfer {
        command_id,
        account_id,
        expected_version: None,
        issued_at: AT,
        correlation_id: CORRELATION.to_owned(),
        causation_id: None,
        transfer_id: TRANSFER_ID.to_owned(),
        to_account_id: "acc-000043".to_owned(),
        amount_minor: 1_000_001,
        currency: "EUR".to_owned(),
        reference: Some("invoice 17".to_owned()),
    };
    let (command_id, account_id) = head(5);
    let credit = CreditTransfer {
        command_id,
        account_id,
        expected_version: None,
        issued_at: AT,
        correlation_id: CORRELATION.to_owned(),
        causation_id: Some(COMMAND_ID.to_owned()),
        transfer_id: TRANSFER_ID.to_owned(),
        from_account_id: "acc-000041".to_owned(),
        amount_minor: 1_000_001,
        currency: "EUR".to_owned(),
        reference: None,
    };
    let (command_id, account_id) = head(6);
    let refund = RefundTransfer {
        command_id,
        account_id,
        expected_version: None,
        issued_at: AT,
        correlation_id: CORRELATION.to_owned(),
        causation_id: Some(COMMAND_ID.to_owned()),
        transfer_id: TRANSFER_ID.to_owned(),
        to_account_id: "acc-000043".to_owned(),
        amount_minor: 1_000_001,
        currency: "EUR".to_owned(),
        fee_minor: 1_000,
        reason_code: "ACCOUNT_NOT_FOUND".to_owned(),
        reason: "no account acc-000043".to_owned(),
    };
    let (command_id, account_id) = head(7);
    let close = CloseAccount {
        command_id,
        account_id,
        expected_version: Some(9),
        issued_at: AT,
        correlation_id: CORRELATION.to_owned(),
        causation_id: None,
        reason: None,
    };
    vec![
        open.into(),
        deposit.into(),
        withdraw.into(),
        debit.into(),
        credit.into(),
        refund.into(),
        close.into(),
    ]
}

/// One of every result record.
pub fn results() -> Vec<ResultRecord> {
    vec![
        CommandAccepted {
            command_id: COMMAND_ID.to_owned(),
            account_id: ACCOUNT.to_owned(),
            correlation_id: CORRELATION.to_owned(),
            decided_at: AT,
            version: 7,
            event_count: 1,
            events_partition: 3,
            first_event_offset: 12_345,
        }
        .into(),
        CommandRejected {
            command_id: COMMAND_ID.to_owned(),
            account_id: ACCOUNT.to_owned(),
            correlation_id: CORRELATION.to_owned(),
            decided_at: AT,
            reason_code: "INSUFFICIENT_FUNDS".to_owned(),
            message: "balance 10.00 does not cover 12.00 plus a fee of 2.00".to_owned(),
            current_version: Some(7),
        }
        .into(),
    ]
}
