//! Commands as people give them: flags of one subcommand, or one JSON object per
//! line; both become the same [`Request`], then a command record.
//!
//! A JSON line names its command in `"command"` and uses the flags' names for
//! everything else:
//!
//! ```text
//! {"command":"open","account":"acc-1","owner":"alice","type":"CHECKING","initial":"100.00","currency":"EUR"}
//! {"command":"deposit","account":"acc-1","amount":"12.50"}
//! {"command":"withdraw","account":"acc-1","amount":"5","channel":"ATM"}
//! {"command":"transfer","from":"acc-1","to":"acc-2","amount":"1.00","reference":"rent"}
//! {"command":"close","account":"acc-2","reason":"moved"}
//! ```
//!
//! Amounts are decimal strings (or whole numbers); `currency` defaults to EUR,
//! `type` to CHECKING, `channel` to UNKNOWN. Every command takes an optional
//! `command_id` (a UUID: sending a line again with the same id is answered with the
//! first outcome instead of being applied twice) and `expected_version`. Blank
//! lines and lines starting with `#` are skipped.

use ledgerstream_producers::amount;
use ledgerstream_producers::check::check;
use ledgerstream_producers::commands;
use ledgerstream_schemas::records::{AccountType, Channel, CommandRecord};
use serde::{Deserialize, Deserializer};

/// The currency of a command that names none.
pub const DEFAULT_CURRENCY: &str = "EUR";

/// One command, from flags or a JSON line.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "command", rename_all = "lowercase", deny_unknown_fields)]
pub enum Request {
    Open {
        account: String,
        owner: String,
        #[serde(
            rename = "type",
            default = "checking",
            deserialize_with = "account_type"
        )]
        account_type: AccountType,
        #[serde(deserialize_with = "amount")]
        initial: i64,
        #[serde(default = "default_currency")]
        currency: String,
        #[serde(default)]
        command_id: Option<String>,
        #[serde(default)]
        expected_version: Option<i64>,
    },
    Deposit {
        account: String,
        #[serde(deserialize_with = "amount")]
        amount: i64,
        #[serde(default = "default_currency")]
        currency: String,
        #[serde(default)]
        reference: Option<String>,
        #[serde(default)]
        command_id: Option<String>,
        #[serde(default)]
        expected_version: Option<i64>,
    },
    Withdraw {
        account: String,
        #[serde(deserialize_with = "amount")]
        amount: i64,
        #[serde(default = "default_currency")]
        currency: String,
        #[serde(default, deserialize_with = "channel")]
        channel: Channel,
        #[serde(default)]
        reference: Option<String>,
        #[serde(default)]
        command_id: Option<String>,
        #[serde(default)]
        expected_version: Option<i64>,
    },
    Transfer {
        from: String,
        to: String,
        #[serde(deserialize_with = "amount")]
        amount: i64,
        #[serde(default = "default_currency")]
        currency: String,
        #[serde(default)]
        reference: Option<String>,
        #[serde(default)]
        command_id: Option<String>,
        #[serde(default)]
        expected_version: Option<i64>,
    },
    Close {
        account: String,
        #[serde(default)]
        reason: Option<String>,
        #[serde(default)]
        command_id: Option<String>,
        #[serde(default)]
        expected_version: Option<i64>,
    },
}

impl Request {
    /// The command record, checked as the processor will read it.
    pub fn into_record(self) -> Result<CommandRecord, String> {
        let (mut record, command_id, expected_version) = match self {
            Request::Open {
                account,
                owner,
                account_type,
                initial,
                currency,
                command_id,
                expected_version,
            } => (
                commands::open_account(&account, &owner, account_type, initial, &currency),
                command_id,
                expected_version,
            ),
            Request::Deposit {
                account,
                amount,
                currency,
                reference,
                command_id,
                expected_version,
            } => {
                let mut record = commands::deposit(&account, amount, &currency);
                if let CommandRecord::DepositMoney(c) = &mut record {
                    c.reference = reference;
                }
                (record, command_id, expected_version)
            }
            Request::Withdraw {
                account,
                amount,
                currency,
                channel,
                reference,
                command_id,
                expected_version,
            } => {
                let mut record = commands::withdraw(&account, amount, &currency, channel);
                if let CommandRecord::WithdrawMoney(c) = &mut record {
                    c.reference = reference;
                }
                (record, command_id, expected_version)
            }
            Request::Transfer {
                from,
                to,
                amount,
                currency,
                reference,
                command_id,
                expected_version,
            } => {
                let mut record = commands::transfer(&from, &to, amount, &currency);
                if let CommandRecord::DebitTransfer(c) = &mut record {
                    c.reference = reference;
                }
                (record, command_id, expected_version)
            }
            Request::Close {
                account,
                reason,
                command_id,
                expected_version,
            } => {
                let mut record = commands::close_account(&account);
                if let CommandRecord::CloseAccount(c) = &mut record {
                    c.reason = reason;
                }
                (record, command_id, expected_version)
            }
        };
        set_head(&mut record, command_id, expected_version);
        check(&record).map_err(|e| e.to_string())?;
        Ok(record)
    }
}

/// Puts a given command id and expected version on a built record.
fn set_head(record: &mut CommandRecord, command_id: Option<String>, expected: Option<i64>) {
    let (id, version) = match record {
        CommandRecord::OpenAccount(c) => (&mut c.command_id, &mut c.expected_version),
        CommandRecord::DepositMoney(c) => (&mut c.command_id, &mut c.expected_version),
        CommandRecord::WithdrawMoney(c) => (&mut c.command_id, &mut c.expected_version),
        CommandRecord::DebitTransfer(c) => (&mut c.command_id, &mut c.expected_version),
        CommandRecord::CreditTransfer(c) => (&mut c.command_id, &mut c.expected_version),
        CommandRecord::RefundTransfer(c) => (&mut c.command_id, &mut c.expected_version),
        CommandRecord::CloseAccount(c) => (&mut c.command_id, &mut c.expected_version),
    };
    if let Some(command_id) = command_id {
        *id = command_id;
    }
    *version = expected;
}

/// What a line of JSON lines input holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    /// Blank, or a `#` comment.
    Skip,
    Command(Box<CommandRecord>),
}

/// Reads one JSON line into a checked command record. The error says what is
/// wrong and where in the line; the caller adds the line number.
pub fn parse_line(text: &str) -> Result<Line, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(Line::Skip);
    }
    let request: Request = serde_json::from_str(trimmed).map_err(|e| json_problem(&e))?;
    let record = request.into_record()?;
    Ok(Line::Command(Box::new(record)))
}

/// serde_json's message with its position as a column only: a line is one line.
fn json_problem(error: &serde_json::Error) -> String {
    let mut message = error.to_string();
    if let Some(at) = message.rfind(" at line ") {
        message.truncate(at);
    }
    let hint = if message.contains("missing field `command`") {
        r#"; name it first, e.g. {"command":"deposit","account":"acc-1","amount":"12.50"}"#
    } else {
        ""
    };
    // Errors about the object as a whole (a missing field) have no column.
    match error.column() {
        0 => format!("{message}{hint}"),
        column => format!("{message} (column {column}){hint}"),
    }
}

fn default_currency() -> String {
    DEFAULT_CURRENCY.to_owned()
}

fn checking() -> AccountType {
    AccountType::Checking
}

/// `CHECKING`, `SAVINGS`, `BUSINESS` or `INVESTMENT`, in any case.
pub fn parse_account_type(text: &str) -> Result<AccountType, String> {
    match text.to_ascii_uppercase().as_str() {
        "CHECKING" => Ok(AccountType::Checking),
        "SAVINGS" => Ok(AccountType::Savings),
        "BUSINESS" => Ok(AccountType::Business),
        "INVESTMENT" => Ok(AccountType::Investment),
        _ => Err(format!(
            "{text:?} is not an account type; use CHECKING, SAVINGS, BUSINESS or INVESTMENT"
        )),
    }
}

/// `BRANCH`, `ATM`, `ONLINE`, `API` or `UNKNOWN`, in any case.
pub fn parse_channel(text: &str) -> Result<Channel, String> {
    match text.to_ascii_uppercase().as_str() {
        "UNKNOWN" => Ok(Channel::Unknown),
        "BRANCH" => Ok(Channel::Branch),
        "ATM" => Ok(Channel::Atm),
        "ONLINE" => Ok(Channel::Online),
        "API" => Ok(Channel::Api),
        _ => Err(format!(
            "{text:?} is not a channel; use BRANCH, ATM, ONLINE, API or UNKNOWN"
        )),
    }
}

/// A decimal amount for a flag: `12.50` is 1250 minor units.
pub fn parse_amount(text: &str) -> Result<i64, String> {
    amount::parse_minor(text).map_err(|e| e.to_string())
}

fn account_type<'de, D: Deserializer<'de>>(deserializer: D) -> Result<AccountType, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_account_type(&text).map_err(serde::de::Error::custom)
}

fn channel<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Channel, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_channel(&text).map_err(serde::de::Error::custom)
}

/// A string (`"12.50"`) or a whole number (`12`). A JSON number with a fraction is
/// refused: it is a binary float by the time it is read, and money is not.
fn amount<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    struct Amount;

    impl serde::de::Visitor<'_> for Amount {
        type Value = i64;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an amount as a string, like \"12.50\"")
        }

        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<i64, E> {
            amount::parse_minor(text).map_err(E::custom)
        }

        fn visit_i64<E: serde::de::Error>(self, whole: i64) -> Result<i64, E> {
            amount::parse_minor(&whole.to_string()).map_err(E::custom)
        }

        fn visit_u64<E: serde::de::Error>(self, whole: u64) -> Result<i64, E> {
            amount::parse_minor(&whole.to_string()).map_err(E::custom)
        }

        fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<i64, E> {
            Err(E::custom(
                "write an amount with decimals as a string, like \"12.50\": a JSON number \
                 with a fraction is a binary float",
            ))
        }
    }

    deserializer.deserialize_any(Amount)
}

#[cfg(test)]
#[allow(clippy::inconsistent_digit_grouping)] // amounts as units_cents
mod tests {
    use super::*;

    fn command(text: &str) -> CommandRecord {
        match parse_line(text) {
            Ok(Line::Command(record)) => *record,
            other => panic!("{text}: {other:?}"),
        }
    }

    fn problem(text: &str) -> String {
        match parse_line(text) {
            Err(problem) => problem,
            other => panic!("{text} parsed: {other:?}"),
        }
    }

    #[test]
    fn every_command_reads_from_a_line() {
        let CommandRecord::OpenAccount(open) = command(
            r#"{"command":"open","account":"acc-1","owner":"alice","type":"savings","initial":"100.00"}"#,
        ) else {
            panic!("not an open")
        };
        assert_eq!(open.account_id, "acc-1");
        assert_eq!(open.owner_id, "alice");
        assert_eq!(open.account_type, AccountType::Savings);
        assert_eq!(open.initial_deposit_minor, 100_00);
        assert_eq!(open.currency, "EUR");

        let CommandRecord::DepositMoney(deposit) = command(
            r#"{"command":"deposit","account":"acc-1","amount":"12.5","currency":"USD","reference":"r"}"#,
        ) else {
            panic!("not a deposit")
        };
        assert_eq!(
            (deposit.amount_minor, deposit.currency.as_str()),
            (1250, "USD")
        );
        assert_eq!(deposit.reference.as_deref(), Some("r"));

        let CommandRecord::WithdrawMoney(withdraw) =
            command(r#"{"command":"withdraw","account":"acc-1","amount":7,"channel":"ATM"}"#)
        else {
            panic!("not a withdrawal")
        };
        assert_eq!(withdraw.amount_minor, 700);
        assert_eq!(withdraw.channel, Channel::Atm);

        let CommandRecord::DebitTransfer(transfer) =
            command(r#"{"command":"transfer","from":"a","to":"b","amount":"0.01"}"#)
        else {
            panic!("not a transfer")
        };
        assert_eq!(
            (
                transfer.account_id.as_str(),
                transfer.to_account_id.as_str()
            ),
            ("a", "b")
        );
        assert_eq!(transfer.amount_minor, 1);

        let CommandRecord::CloseAccount(close) =
            command(r#"{"command":"close","account":"b","reason":"moved"}"#)
        else {
            panic!("not a close")
        };
        assert_eq!(close.reason.as_deref(), Some("moved"));
    }

    #[test]
    fn a_given_command_id_and_version_are_kept() {
        let id = "67e55044-10b1-426f-9247-bb680e5fe0c8";
        let record = command(&format!(
            r#"{{"command":"deposit","account":"a","amount":"1","command_id":"{id}","expected_version":3}}"#
        ));
        let CommandRecord::DepositMoney(deposit) = record else {
            panic!("not a deposit")
        };
        assert_eq!(deposit.command_id, id);
        assert_eq!(deposit.expected_version, Some(3));
    }

    #[test]
    fn blank_lines_and_comments_are_skipped() {
        assert_eq!(parse_line(""), Ok(Line::Skip));
        assert_eq!(parse_line("   \t"), Ok(Line::Skip));
        assert_eq!(parse_line("# opening balances"), Ok(Line::Skip));
    }

    #[test]
    fn a_bad_line_says_what_is_wrong() {
        let cases = [
            (
                r#"{"command":"deposit","account":"a"}"#,
                "missing field `amount`",
            ),
            (
                r#"{"command":"deposit","account":"a","amout":"1"}"#,
                "unknown field `amout`",
            ),
            (
                r#"{"command":"refund","account":"a"}"#,
                "unknown variant `refund`",
            ),
            (r#"{"account":"a","amount":"1"}"#, r#"{"command":"deposit""#),
            (
                r#"{"command":"deposit","account":"a","amount":"12,50"}"#,
                "'.'",
            ),
            (
                r#"{"command":"deposit","account":"a","amount":12.5}"#,
                "binary float",
            ),
            (
                r#"{"command":"deposit","account":"a","amount":"1.234"}"#,
                "more than 2 decimals",
            ),
            (
                r#"{"command":"open","account":"a","owner":"o","type":"GOLD","initial":"100"}"#,
                "not an account type",
            ),
            (
                r#"{"command":"deposit","account":"a","amount":"1","currency":"eur"}"#,
                "DepositMoney.currency",
            ),
            (
                r#"{"command":"deposit","account":"","amount":"1"}"#,
                "DepositMoney.account_id",
            ),
            (
                r#"{"command":"close","account":"a","command_id":"nope"}"#,
                "CloseAccount.command_id",
            ),
            (r#"{"command":"deposit","#, "EOF"),
            ("not json", "(column 2)"),
        ];
        for (line, expected) in cases {
            let problem = problem(line);
            assert!(problem.contains(expected), "{line}: {problem}");
            assert!(!problem.contains("line 1"), "{line}: {problem}");
        }
    }

    #[test]
    fn flag_values_read_in_any_case() {
        assert_eq!(parse_account_type("business"), Ok(AccountType::Business));
        assert_eq!(parse_channel("Online"), Ok(Channel::Online));
        assert!(parse_channel("mail").unwrap_err().contains("BRANCH"));
        assert_eq!(parse_amount("100"), Ok(100_00));
        assert!(parse_amount("1e2").is_err());
    }
}
