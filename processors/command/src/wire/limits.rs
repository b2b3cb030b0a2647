//! The text-field limits of the contract, applied to a command: a field over its
//! limit is answered, not decided: `FIELD_TOO_LONG` (docs/rules.md).
//! The limits keep every event and result far below Kafka's message size, so that
//! a record the processor writes is never refused for its size.

use ledgerstream_domain::{AccountCommand, CommandBody};
pub use ledgerstream_schemas::limits::{MAX_ACCOUNT_ID_BYTES, MAX_ID_BYTES, MAX_TEXT_BYTES};

/// The first field of `command` over its limit, described for the sender.
pub fn too_long(command: &AccountCommand) -> Option<String> {
    let meta = &command.metadata;
    let mut fields: Vec<(&str, &str, usize)> = vec![
        ("correlation_id", meta.correlation_id.as_str(), MAX_ID_BYTES),
        (
            "causation_id",
            meta.causation_id.as_deref().unwrap_or(""),
            MAX_ID_BYTES,
        ),
    ];
    match &command.body {
        CommandBody::OpenAccount(open) => {
            fields.push(("owner_id", open.owner_id.as_str(), MAX_ID_BYTES));
        }
        CommandBody::DepositMoney(c) => fields.push(reference(&c.reference)),
        CommandBody::WithdrawMoney(c) => fields.push(reference(&c.reference)),
        CommandBody::DebitTransfer(c) => {
            fields.push(reference(&c.reference));
            fields.push((
                "to_account_id",
                c.to_account_id.as_str(),
                MAX_ACCOUNT_ID_BYTES,
            ));
        }
        CommandBody::CreditTransfer(c) => fields.push(reference(&c.reference)),
        CommandBody::RefundTransfer(c) => {
            fields.push(("reason", c.reason.as_str(), MAX_TEXT_BYTES))
        }
        CommandBody::CloseAccount(c) => {
            fields.push(("reason", c.reason.as_deref().unwrap_or(""), MAX_TEXT_BYTES));
        }
    }
    fields
        .into_iter()
        .find(|(_, value, max)| value.len() > *max)
        .map(|(field, value, max)| {
            format!(
                "{}.{field} is {} bytes long; the limit is {max}",
                command.body.name(),
                value.len()
            )
        })
}

fn reference(reference: &Option<String>) -> (&'static str, &str, usize) {
    (
        "reference",
        reference.as_deref().unwrap_or(""),
        MAX_TEXT_BYTES,
    )
}

#[cfg(test)]
mod tests {
    use ledgerstream_domain::testing::*;
    use ledgerstream_domain::{CommandBody, DepositMoney};

    use super::*;

    #[test]
    fn a_field_over_its_limit_is_named_with_its_limit() {
        let mut command = deposit(1_00);
        assert_eq!(too_long(&command), None);
        if let CommandBody::DepositMoney(DepositMoney { reference, .. }) = &mut command.body {
            *reference = Some("x".repeat(MAX_TEXT_BYTES));
        }
        assert_eq!(too_long(&command), None, "the limit itself is allowed");
        if let CommandBody::DepositMoney(DepositMoney { reference, .. }) = &mut command.body {
            *reference = Some("é".repeat(MAX_TEXT_BYTES));
        }
        assert_eq!(
            too_long(&command).as_deref(),
            Some("DepositMoney.reference is 2048 bytes long; the limit is 1024"),
            "bytes of UTF-8, not characters"
        );
        command.metadata.correlation_id = "c".repeat(129);
        assert!(too_long(&command).unwrap().contains("correlation_id"));
    }
}
