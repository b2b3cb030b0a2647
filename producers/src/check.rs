//! What a command must look like for the processor to answer it at all.
//!
//! The processor sends a record it cannot hold in its domain types to the
//! dead-letter topic instead of answering it (the list is in
//! `processors/command/src/wire/mod.rs`): a sender waiting for its result would wait for
//! nothing. These checks refuse such a command before it is sent. Everything else,
//! zero amounts included, is the processor's to decide and comes back as a
//! rejection with its reason.

use ledgerstream_schemas::limits::MAX_ACCOUNT_ID_BYTES;
use ledgerstream_schemas::records::CommandRecord;

/// A command the processor would not answer; nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{record}.{field} {problem}")]
pub struct InvalidCommand {
    /// The record, e.g. `DepositMoney`.
    pub record: &'static str,
    /// The field at fault, e.g. `currency`.
    pub field: &'static str,
    /// What is wrong and what is expected.
    pub problem: String,
}

/// Checks `command` against the rules whose breach the processor dead-letters.
pub fn check(command: &CommandRecord) -> Result<(), InvalidCommand> {
    let head = |record: &'static str,
                command_id: &str,
                account_id: &str,
                expected_version: Option<i64>| {
        let f = Fields { record };
        f.uuid("command_id", command_id)?;
        f.non_empty("account_id", account_id)?;
        if account_id.len() > MAX_ACCOUNT_ID_BYTES {
            return Err(f.invalid(
                "account_id",
                format!(
                    "is {} bytes long; the limit is {MAX_ACCOUNT_ID_BYTES}",
                    account_id.len()
                ),
            ));
        }
        if let Some(version) = expected_version.filter(|v| *v < 0) {
            return Err(f.invalid(
                "expected_version",
                format!("is {version}; it is 0 or more, or absent"),
            ));
        }
        Ok(f)
    };
    match command {
        CommandRecord::OpenAccount(c) => {
            let f = head(
                "OpenAccount",
                &c.command_id,
                &c.account_id,
                c.expected_version,
            )?;
            f.non_empty("owner_id", &c.owner_id)?;
            f.currency("currency", &c.currency)
        }
        CommandRecord::DepositMoney(c) => head(
            "DepositMoney",
            &c.command_id,
            &c.account_id,
            c.expected_version,
        )?
        .currency("currency", &c.currency),
        CommandRecord::WithdrawMoney(c) => head(
            "WithdrawMoney",
            &c.command_id,
            &c.account_id,
            c.expected_version,
        )?
        .currency("currency", &c.currency),
        CommandRecord::DebitTransfer(c) => {
            let f = head(
                "DebitTransfer",
                &c.command_id,
                &c.account_id,
                c.expected_version,
            )?;
            f.uuid("transfer_id", &c.transfer_id)?;
            f.non_empty("to_account_id", &c.to_account_id)?;
            f.currency("currency", &c.currency)
        }
        CommandRecord::CreditTransfer(c) => {
            let f = head(
                "CreditTransfer",
                &c.command_id,
                &c.account_id,
                c.expected_version,
            )?;
            f.uuid("transfer_id", &c.transfer_id)?;
            f.non_empty("from_account_id", &c.from_account_id)?;
            f.currency("currency", &c.currency)
        }
        CommandRecord::RefundTransfer(c) => {
            let f = head(
                "RefundTransfer",
                &c.command_id,
                &c.account_id,
                c.expected_version,
            )?;
            f.uuid("transfer_id", &c.transfer_id)?;
            f.non_empty("to_account_id", &c.to_account_id)?;
            f.currency("currency", &c.currency)
        }
        CommandRecord::CloseAccount(c) => head(
            "CloseAccount",
            &c.command_id,
            &c.account_id,
            c.expected_version,
        )
        .map(|_| ()),
    }
}

#[derive(Clone, Copy)]
struct Fields {
    record: &'static str,
}

impl Fields {
    fn invalid(self, field: &'static str, problem: String) -> InvalidCommand {
        InvalidCommand {
            record: self.record,
            field,
            problem,
        }
    }

    fn uuid(self, field: &'static str, value: &str) -> Result<(), InvalidCommand> {
        // The canonical spelling only: hyphenated, lower case.
        let canonical = value.len() == 36 && !value.bytes().any(|b| b.is_ascii_uppercase());
        if canonical && uuid::Uuid::try_parse(value).is_ok() {
            return Ok(());
        }
        Err(self.invalid(
            field,
            format!(
                "is {value:?}; it is a UUID in lower-case hyphenated form, like 67e55044-10b1-426f-9247-bb680e5fe0c8"
            ),
        ))
    }

    fn non_empty(self, field: &'static str, value: &str) -> Result<(), InvalidCommand> {
        if value.is_empty() {
            return Err(self.invalid(field, "is empty; name an account or owner".to_owned()));
        }
        Ok(())
    }

    fn currency(self, field: &'static str, value: &str) -> Result<(), InvalidCommand> {
        if value.len() == 3 && value.bytes().all(|b| b.is_ascii_uppercase()) {
            return Ok(());
        }
        Err(self.invalid(
            field,
            format!("is {value:?}; it is an ISO 4217 code in capitals, like EUR"),
        ))
    }
}

#[cfg(test)]
#[allow(clippy::inconsistent_digit_grouping)] // amounts as units_cents
mod tests {
    use ledgerstream_schemas::records::{AccountType, Channel};

    use super::*;
    use crate::commands;

    #[test]
    fn built_commands_pass() {
        let all = [
            commands::open_account("a", "o", AccountType::Checking, 100_00, "EUR"),
            commands::deposit("a", 1, "EUR"),
            commands::withdraw("a", 1, "EUR", Channel::Atm),
            commands::transfer("a", "b", 1, "EUR"),
            commands::close_account("a"),
        ];
        for command in &all {
            assert_eq!(check(command), Ok(()), "{command:?}");
        }
    }

    #[test]
    fn zero_and_negative_amounts_are_the_processors_to_reject() {
        assert_eq!(check(&commands::deposit("a", 0, "EUR")), Ok(()));
        assert_eq!(check(&commands::deposit("a", -5, "EUR")), Ok(()));
    }

    #[test]
    fn what_the_processor_would_dead_letter_is_refused() {
        let field = |command: CommandRecord| check(&command).map_err(|e| e.field);
        assert_eq!(field(commands::deposit("", 1, "EUR")), Err("account_id"));
        assert_eq!(
            field(commands::deposit(&"a".repeat(129), 1, "EUR")),
            Err("account_id")
        );
        assert_eq!(field(commands::deposit(&"a".repeat(128), 1, "EUR")), Ok(()));
        assert_eq!(field(commands::deposit("a", 1, "eur")), Err("currency"));
        assert_eq!(field(commands::deposit("a", 1, "EURO")), Err("currency"));
        assert_eq!(
            field(commands::open_account(
                "a",
                "",
                AccountType::Savings,
                1,
                "EUR"
            )),
            Err("owner_id")
        );
        assert_eq!(
            field(commands::transfer("a", "", 1, "EUR")),
            Err("to_account_id")
        );

        let mut upper = commands::close_account("a");
        if let CommandRecord::CloseAccount(c) = &mut upper {
            c.command_id = c.command_id.to_uppercase();
        }
        assert_eq!(field(upper), Err("command_id"));

        let mut stale = commands::deposit("a", 1, "EUR");
        if let CommandRecord::DepositMoney(c) = &mut stale {
            c.expected_version = Some(-1);
        }
        let error = check(&stale).unwrap_err();
        assert_eq!(error.field, "expected_version");
        assert!(
            error
                .to_string()
                .starts_with("DepositMoney.expected_version is -1")
        );
    }
}
