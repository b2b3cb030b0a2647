//! Given/when/then for the Account aggregate, and fixtures that build its commands
//! and events. Compiled for this crate's tests and, with the `testing` feature, for
//! other crates' tests.
//!
//! ```text
//! given([opened(AccountType::Checking, 500_00)])
//!     .when(withdraw(100_00))
//!     .then_events([withdrawn(100_00, 0, 400_00)]);
//! ```
//!
//! `given` takes event bodies and wraps them as the account's history (versions
//! from 1). `when` decides the command twice and insists on the same answer, so
//! every test also checks that deciding is deterministic. `then_events` compares
//! the bodies and checks each envelope: contiguous versions, the command's id,
//! correlation and time, and the derived event id.

use uuid::Uuid;

use super::{
    AccountClosed, AccountCommand, AccountEvent, AccountId, AccountOpened, AccountState,
    AccountType, Channel, CloseAccount, CommandBody, CommandId, CommandMetadata, CreditTransfer,
    Currency, DEFAULT_IDEMPOTENCY_WINDOW, DebitTransfer, DecisionContext, DepositMoney, EventBody,
    EventId, EventMetadata, MoneyDeposited, MoneyWithdrawn, OpenAccount, OwnerId, OwnerSnapshot,
    RefundTransfer, Rejection, Timestamp, TransferCredited, TransferDebited, TransferId,
    TransferRefunded, WithdrawMoney, decide,
};

/// The account every fixture is about, unless told otherwise.
pub const ACCOUNT: &str = "acc-1";
/// The other side of transfers.
pub const OTHER_ACCOUNT: &str = "acc-2";
/// The owner of [`ACCOUNT`].
pub const OWNER: &str = "owner-1";
/// The currency of every fixture, unless told otherwise.
pub const CURRENCY: &str = "USD";
/// The correlation id of every fixture command.
pub const CORRELATION: &str = "correlation-1";
/// The `now` of every decision the harness makes: 2024-01-01T00:00:00Z.
pub const NOW: Timestamp = Timestamp(1_704_067_200_000);

pub fn account_id(id: &str) -> AccountId {
    AccountId::new(id)
}

pub fn usd() -> Currency {
    Currency::new(CURRENCY)
}

/// A transfer id that reads well in tests: `transfer(1)`, `transfer(2)`.
pub fn transfer(n: u128) -> TransferId {
    TransferId(Uuid::from_u128(
        0x7e57_0000_0000_0000_0000_0000_0000_0000 + n,
    ))
}

// ---------------------------------------------------------------- commands

/// A command for [`ACCOUNT`] with a fresh command id and no expected version.
pub fn command(body: CommandBody) -> AccountCommand {
    AccountCommand {
        metadata: CommandMetadata {
            command_id: CommandId(Uuid::new_v4()),
            account_id: account_id(ACCOUNT),
            expected_version: None,
            issued_at: NOW,
            correlation_id: CORRELATION.to_owned(),
            causation_id: None,
        },
        body,
    }
}

/// `OpenAccount` in USD for [`OWNER`], who has no other account.
pub fn open(account_type: AccountType, initial_deposit_minor: i64) -> AccountCommand {
    command(CommandBody::OpenAccount(OpenAccount {
        owner_id: OwnerId::new(OWNER),
        account_type,
        initial_deposit_minor,
        currency: usd(),
        owner: OwnerSnapshot::default(),
    }))
}

pub fn deposit(amount_minor: i64) -> AccountCommand {
    command(CommandBody::DepositMoney(DepositMoney {
        amount_minor,
        currency: usd(),
        reference: None,
    }))
}

/// `WithdrawMoney` through an unknown channel.
pub fn withdraw(amount_minor: i64) -> AccountCommand {
    command(CommandBody::WithdrawMoney(WithdrawMoney {
        amount_minor,
        currency: usd(),
        reference: None,
        channel: Channel::Unknown,
    }))
}

pub fn debit_transfer(id: TransferId, to: &str, amount_minor: i64) -> AccountCommand {
    command(CommandBody::DebitTransfer(DebitTransfer {
        transfer_id: id,
        to_account_id: account_id(to),
        amount_minor,
        currency: usd(),
        reference: None,
    }))
}

pub fn credit_transfer(id: TransferId, from: &str, amount_minor: i64) -> AccountCommand {
    command(CommandBody::CreditTransfer(CreditTransfer {
        transfer_id: id,
        from_account_id: account_id(from),
        amount_minor,
        currency: usd(),
        reference: None,
    }))
}

/// `RefundTransfer` because the target was not found.
pub fn refund_transfer(
    id: TransferId,
    to: &str,
    amount_minor: i64,
    fee_minor: i64,
) -> AccountCommand {
    command(CommandBody::RefundTransfer(RefundTransfer {
        transfer_id: id,
        to_account_id: account_id(to),
        amount_minor,
        currency: usd(),
        fee_minor,
        reason_code: "ACCOUNT_NOT_FOUND".to_owned(),
        reason: format!("account {to} has not been opened"),
    }))
}

pub fn close() -> AccountCommand {
    command(CommandBody::CloseAccount(CloseAccount { reason: None }))
}

/// Tweaks for fixture commands.
impl AccountCommand {
    /// The same command, for another account.
    pub fn for_account(mut self, id: &str) -> Self {
        self.metadata.account_id = account_id(id);
        self
    }

    /// The same command, with `expected_version` set.
    pub fn expecting(mut self, version: u64) -> Self {
        self.metadata.expected_version = Some(version);
        self
    }

    /// The same command, with this command id.
    pub fn with_command_id(mut self, id: CommandId) -> Self {
        self.metadata.command_id = id;
        self
    }

    /// The same command in another currency (commands without one are unchanged).
    pub fn in_currency(mut self, code: &str) -> Self {
        let currency = Currency::new(code);
        match &mut self.body {
            CommandBody::OpenAccount(c) => c.currency = currency,
            CommandBody::DepositMoney(c) => c.currency = currency,
            CommandBody::WithdrawMoney(c) => c.currency = currency,
            CommandBody::DebitTransfer(c) => c.currency = currency,
            CommandBody::CreditTransfer(c) => c.currency = currency,
            CommandBody::RefundTransfer(c) => c.currency = currency,
            CommandBody::CloseAccount(_) => {}
        }
        self
    }

    /// The same `OpenAccount`, for an owner who already has `open_accounts` open.
    pub fn owner_has(mut self, open_accounts: u32) -> Self {
        if let CommandBody::OpenAccount(open) = &mut self.body {
            open.owner = OwnerSnapshot { open_accounts };
        }
        self
    }

    /// The same `WithdrawMoney`, through `channel`.
    pub fn via(mut self, channel: Channel) -> Self {
        if let CommandBody::WithdrawMoney(withdraw) = &mut self.body {
            withdraw.channel = channel;
        }
        self
    }
}

// ------------------------------------------------------------------ events

/// `AccountOpened` in USD for [`OWNER`].
pub fn opened(account_type: AccountType, initial_deposit_minor: i64) -> EventBody {
    EventBody::AccountOpened(AccountOpened {
        owner_id: OwnerId::new(OWNER),
        account_type,
        currency: usd(),
        initial_deposit_minor,
        balance_after_minor: initial_deposit_minor,
    })
}

pub fn deposited(amount_minor: i64, balance_after_minor: i64) -> EventBody {
    EventBody::MoneyDeposited(MoneyDeposited {
        amount_minor,
        currency: usd(),
        balance_after_minor,
        reference: None,
    })
}

/// `MoneyWithdrawn` through an unknown channel.
pub fn withdrawn(amount_minor: i64, fee_minor: i64, balance_after_minor: i64) -> EventBody {
    withdrawn_via(
        Channel::Unknown,
        amount_minor,
        fee_minor,
        balance_after_minor,
    )
}

pub fn withdrawn_via(
    channel: Channel,
    amount_minor: i64,
    fee_minor: i64,
    balance_after_minor: i64,
) -> EventBody {
    EventBody::MoneyWithdrawn(MoneyWithdrawn {
        amount_minor,
        currency: usd(),
        fee_minor,
        balance_after_minor,
        reference: None,
        channel,
    })
}

pub fn debited(
    id: TransferId,
    to: &str,
    amount_minor: i64,
    fee_minor: i64,
    balance_after_minor: i64,
) -> EventBody {
    EventBody::TransferDebited(TransferDebited {
        transfer_id: id,
        to_account_id: account_id(to),
        amount_minor,
        currency: usd(),
        fee_minor,
        balance_after_minor,
        reference: None,
    })
}

pub fn credited(
    id: TransferId,
    from: &str,
    amount_minor: i64,
    balance_after_minor: i64,
) -> EventBody {
    EventBody::TransferCredited(TransferCredited {
        transfer_id: id,
        from_account_id: account_id(from),
        amount_minor,
        currency: usd(),
        balance_after_minor,
        reference: None,
    })
}

/// `TransferRefunded` as [`refund_transfer`] asks for it.
pub fn refunded(
    id: TransferId,
    to: &str,
    amount_minor: i64,
    fee_minor: i64,
    balance_after_minor: i64,
) -> EventBody {
    EventBody::TransferRefunded(TransferRefunded {
        transfer_id: id,
        to_account_id: account_id(to),
        amount_minor,
        currency: usd(),
        fee_minor,
        balance_after_minor,
        reason_code: "ACCOUNT_NOT_FOUND".to_owned(),
        reason: format!("account {to} has not been opened"),
    })
}

pub fn closed() -> EventBody {
    EventBody::AccountClosed(AccountClosed { reason: None })
}

// -------------------------------------------------------------- rejections

/// One rejection of each variant; the `match` fails to compile when a variant is
/// added, so that every test over this list is told.
pub fn every_rejection() -> Vec<Rejection> {
    let all = vec![
        Rejection::AccountNotFound(account_id(ACCOUNT)),
        Rejection::AccountAlreadyExists(account_id(ACCOUNT)),
        Rejection::AccountClosed(account_id(ACCOUNT)),
        Rejection::OwnerAccountLimit {
            owner_id: OwnerId::new(OWNER),
            open: 5,
            limit: 5,
        },
        Rejection::InitialDepositTooLow {
            deposit_minor: 1,
            minimum_minor: 100_00,
        },
        Rejection::InvalidAmount {
            amount_minor: 0,
            problem: "must be greater than zero",
        },
        Rejection::CurrencyMismatch {
            expected: Currency::new("USD"),
            actual: Currency::new("EUR"),
        },
        Rejection::InsufficientFunds {
            balance_minor: 1,
            needed_minor: 2,
        },
        Rejection::SameAccountTransfer(account_id(ACCOUNT)),
        Rejection::NonzeroBalance { balance_minor: 1 },
        Rejection::VersionConflict {
            expected: 1,
            actual: 2,
        },
    ];
    for rejection in &all {
        match rejection {
            Rejection::AccountNotFound(_)
            | Rejection::AccountAlreadyExists(_)
            | Rejection::AccountClosed(_)
            | Rejection::OwnerAccountLimit { .. }
            | Rejection::InitialDepositTooLow { .. }
            | Rejection::InvalidAmount { .. }
            | Rejection::CurrencyMismatch { .. }
            | Rejection::InsufficientFunds { .. }
            | Rejection::SameAccountTransfer(_)
            | Rejection::NonzeroBalance { .. }
            | Rejection::VersionConflict { .. } => {}
        }
    }
    all
}

// ----------------------------------------------------------------- harness

/// [`ACCOUNT`] with `history` as its events, versions 1, 2, ...
pub fn given(history: impl IntoIterator<Item = EventBody>) -> Given {
    given_with_window(DEFAULT_IDEMPOTENCY_WINDOW, history)
}

/// [`given`], remembering only the last `window` command ids.
pub fn given_with_window(window: usize, history: impl IntoIterator<Item = EventBody>) -> Given {
    let account = account_id(ACCOUNT);
    let mut state = AccountState::new(window);
    for (n, body) in (1u64..).zip(history) {
        // The history's commands get ids of their own, never a fixture's random one.
        let command_id = CommandId(Uuid::from_u128(
            0x9e7e_0000_0000_0000_0000_0000_0000_0000 + u128::from(n),
        ));
        state.apply(&AccountEvent {
            metadata: EventMetadata {
                event_id: EventId::derive(&account, command_id, 0),
                account_id: account.clone(),
                version: n,
                occurred_at: NOW,
                command_id,
                correlation_id: "history".to_owned(),
                causation_id: command_id.to_string(),
            },
            body,
        });
    }
    Given { state, now: NOW }
}

/// An account and the time, before the command under test.
#[derive(Debug, Clone)]
pub struct Given {
    state: AccountState,
    now: Timestamp,
}

impl Given {
    /// Decides later commands at `now` instead of [`NOW`].
    pub fn at(mut self, now: Timestamp) -> Self {
        self.now = now;
        self
    }

    /// Decides `command` and applies its events, as part of the history.
    ///
    /// # Panics
    /// If the command is rejected.
    pub fn and(self, command: AccountCommand) -> Self {
        self.when(command).then_accepted()
    }

    pub fn state(&self) -> &AccountState {
        &self.state
    }

    /// Decides `command` against the account.
    ///
    /// # Panics
    /// If deciding it twice gives two different answers.
    pub fn when(self, command: AccountCommand) -> When {
        let ctx = DecisionContext { now: self.now };
        let result = decide(&self.state, &command, ctx);
        let again = decide(&self.state, &command, ctx);
        assert_eq!(
            result, again,
            "deciding the same command twice gave different answers"
        );
        When {
            given: self,
            command,
            result,
        }
    }
}

/// The answer to the command under test.
#[derive(Debug, Clone)]
pub struct When {
    given: Given,
    command: AccountCommand,
    result: Result<Vec<AccountEvent>, Rejection>,
}

impl When {
    pub fn result(&self) -> &Result<Vec<AccountEvent>, Rejection> {
        &self.result
    }

    /// The decided events.
    ///
    /// # Panics
    /// If the command was rejected.
    pub fn events(&self) -> &[AccountEvent] {
        match &self.result {
            Ok(events) => events,
            Err(rejection) => panic!(
                "expected events, got rejection {}: {rejection}",
                rejection.code()
            ),
        }
    }

    /// Asserts that the command produced exactly `expected` (compared by body) with
    /// well-formed envelopes, and returns the account after them.
    pub fn then_events(self, expected: impl IntoIterator<Item = EventBody>) -> Given {
        let expected: Vec<EventBody> = expected.into_iter().collect();
        let bodies: Vec<&EventBody> = self.events().iter().map(|e| &e.body).collect();
        assert_eq!(bodies, expected.iter().collect::<Vec<_>>(), "event bodies");
        self.check_envelopes();
        self.then_accepted()
    }

    /// Asserts that the command was accepted with nothing to do.
    pub fn then_no_events(self) -> Given {
        assert_eq!(self.events(), &[], "expected no events");
        self.given
    }

    /// Asserts that the command was rejected with reason code `code`, and returns
    /// the account remembering the rejection, as the processor records it.
    pub fn then_error(self, code: &str) -> Given {
        match &self.result {
            Err(rejection) => {
                assert_eq!(rejection.code(), code, "rejection: {rejection}");
                assert!(
                    !rejection.to_string().is_empty(),
                    "a rejection needs a message"
                );
                let mut given = self.given;
                given
                    .state
                    .reject(self.command.metadata.command_id, rejection);
                given
            }
            Ok(events) => panic!("expected rejection {code}, got events {events:#?}"),
        }
    }

    /// Asserts that the command was rejected with exactly `expected`.
    pub fn then_rejection(self, expected: Rejection) {
        assert_eq!(self.result, Err(expected));
    }

    /// The account after the command's events.
    ///
    /// # Panics
    /// If the command was rejected.
    pub fn then_accepted(self) -> Given {
        let events = self.events().to_vec();
        let mut given = self.given;
        for event in &events {
            given.state.apply(event);
        }
        given
    }

    fn check_envelopes(&self) {
        let meta = &self.command.metadata;
        let before = self.given.state.version();
        for ((index, version), event) in (0u32..).zip(before + 1..).zip(self.events()) {
            let expected = EventMetadata {
                event_id: EventId::derive(&meta.account_id, meta.command_id, index),
                account_id: meta.account_id.clone(),
                version,
                occurred_at: self.given.now,
                command_id: meta.command_id,
                correlation_id: meta.correlation_id.clone(),
                causation_id: meta.command_id.to_string(),
            };
            assert_eq!(event.metadata, expected, "envelope of event {index}");
        }
    }
}
