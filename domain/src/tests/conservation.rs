//! Money is conserved: over any sequence of commands across several accounts, with
//! the processor's transfer messages delivered in any order, the balances plus the
//! fees collected plus the money in flight equal what was deposited minus what was
//! withdrawn, at every step. Along the way: no balance goes negative, versions are
//! contiguous, event ids are unique, a refund is never rejected, a repeated command
//! writes nothing, and a decision lost in a crash is decided the same way again.

use std::collections::{BTreeMap, HashMap, HashSet};

use proptest::prelude::*;
use uuid::Uuid;

use crate::policy::SAVINGS_WITHDRAWAL_FEE_MINOR;
use crate::{
    AccountCommand, AccountEvent, AccountId, AccountState, AccountStatus, AccountType,
    CloseAccount, CommandBody, CommandId, CommandMetadata, CreditTransfer, Currency, DebitTransfer,
    DecisionContext, DepositMoney, EventBody, EventId, OpenAccount, OwnerId, OwnerState,
    RefundTransfer, Rejection, Timestamp, TransferDebited, TransferId, WithdrawMoney, decide,
};

/// Accounts `acc-0` .. `acc-5`, all of one owner, so the sixth open meets the limit.
const ACCOUNTS: usize = 6;
/// `acc-6` is never opened: transfers to it are refunded.
const NEVER_OPENED: usize = ACCOUNTS;
const CURRENCIES: [&str; 2] = ["USD", "EUR"];
const OWNER: &str = "owner-1";
/// Large enough that every repeat in a run is still in the window.
const WINDOW: usize = 1_000;
/// Names the processor's derived command ids.
const PROCESSOR_NAMESPACE: Uuid = Uuid::from_u128(0x5ca1_ab1e_0000_4000_8000_0000_0000_0001);

fn account(index: usize) -> AccountId {
    AccountId::new(format!("acc-{index}"))
}

#[derive(Debug, Clone)]
enum Op {
    Open {
        account: usize,
        account_type: AccountType,
        currency: usize,
        amount: i64,
    },
    Deposit {
        account: usize,
        currency: usize,
        amount: i64,
    },
    Withdraw {
        account: usize,
        currency: usize,
        amount: i64,
    },
    Transfer {
        from: usize,
        to: usize,
        currency: usize,
        amount: i64,
    },
    /// Withdraw everything, then close.
    EmptyAndClose { account: usize },
    /// Deliver one of the processor's pending messages, chosen by `pick`.
    Deliver { pick: usize },
    /// Decide a pending message, then lose the outcome as a crash before the commit
    /// would; the message stays pending.
    Crash { pick: usize },
    /// Send an already applied command again.
    Repeat { pick: usize },
}

fn amount() -> impl Strategy<Value = i64> {
    prop_oneof![
        8 => 1..=20_000_00i64,
        2 => prop_oneof![
            Just(99_99i64),
            Just(100_00),
            Just(1_000_00),
            Just(1_000_01),
            Just(10_000_00),
            Just(10_000_01),
        ],
        1 => -10..=0i64,
        1 => (i64::MAX - 20)..=i64::MAX,
    ]
}

fn account_type() -> impl Strategy<Value = AccountType> {
    prop_oneof![
        Just(AccountType::Checking),
        Just(AccountType::Savings),
        Just(AccountType::Business),
        Just(AccountType::Investment),
    ]
}

/// Mostly the first currency, so that most commands match their account.
fn currency() -> impl Strategy<Value = usize> {
    prop_oneof![5 => Just(0usize), 1 => Just(1usize)]
}

fn op() -> impl Strategy<Value = Op> {
    let account = 0..ACCOUNTS;
    prop_oneof![
        2 => (account.clone(), account_type(), currency(), amount()).prop_map(
            |(account, account_type, currency, amount)| Op::Open {
                account,
                account_type,
                currency,
                amount,
            }
        ),
        2 => (account.clone(), currency(), amount())
            .prop_map(|(account, currency, amount)| Op::Deposit { account, currency, amount }),
        2 => (account.clone(), currency(), amount())
            .prop_map(|(account, currency, amount)| Op::Withdraw { account, currency, amount }),
        4 => (account.clone(), 0..=NEVER_OPENED, currency(), amount()).prop_map(
            |(from, to, currency, amount)| Op::Transfer { from, to, currency, amount }
        ),
        1 => account.prop_map(|account| Op::EmptyAndClose { account }),
        4 => any::<usize>().prop_map(|pick| Op::Deliver { pick }),
        1 => any::<usize>().prop_map(|pick| Op::Crash { pick }),
        1 => any::<usize>().prop_map(|pick| Op::Repeat { pick }),
    ]
}

/// What the events say about money, in `i128` so that sums of `i64` cannot overflow.
#[derive(Debug, Default)]
struct Ledger {
    deposited: i128,
    withdrawn: i128,
    fees: i128,
    in_flight: i128,
    /// Each account's balance, summed from its own events' amounts.
    balances: BTreeMap<AccountId, i128>,
}

impl Ledger {
    fn record(&mut self, event: &AccountEvent) {
        let balance = self
            .balances
            .entry(event.metadata.account_id.clone())
            .or_default();
        match &event.body {
            EventBody::AccountOpened(e) => {
                self.deposited += i128::from(e.initial_deposit_minor);
                *balance += i128::from(e.initial_deposit_minor);
            }
            EventBody::MoneyDeposited(e) => {
                self.deposited += i128::from(e.amount_minor);
                *balance += i128::from(e.amount_minor);
            }
            EventBody::MoneyWithdrawn(e) => {
                self.withdrawn += i128::from(e.amount_minor);
                self.fees += i128::from(e.fee_minor);
                *balance -= i128::from(e.amount_minor) + i128::from(e.fee_minor);
            }
            EventBody::TransferDebited(e) => {
                self.in_flight += i128::from(e.amount_minor);
                self.fees += i128::from(e.fee_minor);
                *balance -= i128::from(e.amount_minor) + i128::from(e.fee_minor);
            }
            EventBody::TransferCredited(e) => {
                self.in_flight -= i128::from(e.amount_minor);
                *balance += i128::from(e.amount_minor);
            }
            EventBody::TransferRefunded(e) => {
                self.in_flight -= i128::from(e.amount_minor);
                self.fees -= i128::from(e.fee_minor);
                *balance += i128::from(e.amount_minor) + i128::from(e.fee_minor);
            }
            EventBody::AccountClosed(_) => {}
        }
    }
}

/// The accounts, and a tiny processor: it decides commands, turns `TransferDebited`
/// into `CreditTransfer` and a rejected credit into `RefundTransfer`, and holds
/// those messages until the test delivers them.
#[derive(Debug)]
struct World {
    states: BTreeMap<AccountId, AccountState>,
    owner: OwnerState,
    pending: Vec<AccountCommand>,
    debits: HashMap<TransferId, (AccountId, TransferDebited)>,
    applied: Vec<AccountCommand>,
    crashed: HashMap<CommandId, (u64, Result<Vec<AccountEvent>, Rejection>)>,
    event_ids: HashSet<EventId>,
    ledger: Ledger,
    clock: u64,
}

impl World {
    fn new() -> Self {
        Self {
            states: BTreeMap::new(),
            owner: OwnerState::new(OwnerId::new(OWNER)),
            pending: Vec::new(),
            debits: HashMap::new(),
            applied: Vec::new(),
            crashed: HashMap::new(),
            event_ids: HashSet::new(),
            ledger: Ledger::default(),
            clock: 0,
        }
    }

    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    fn metadata(&mut self, account_id: AccountId, command_id: Option<Uuid>) -> CommandMetadata {
        let tick = self.tick();
        CommandMetadata {
            command_id: CommandId(command_id.unwrap_or(Uuid::from_u128(u128::from(tick)))),
            account_id,
            expected_version: None,
            issued_at: Timestamp::from_millis(i64::try_from(tick).unwrap_or(i64::MAX)),
            correlation_id: "property".to_owned(),
            causation_id: None,
        }
    }

    fn command(&mut self, account_id: AccountId, body: CommandBody) -> AccountCommand {
        AccountCommand {
            metadata: self.metadata(account_id, None),
            body,
        }
    }

    fn balance(&self, account_id: &AccountId) -> Option<(i64, Currency)> {
        let account = self.states.get(account_id)?.account()?;
        Some((account.balance_minor(), account.currency().clone()))
    }

    /// Decides `command` the way the processor would, and applies its events.
    fn send(&mut self, command: &AccountCommand) -> Result<Vec<AccountEvent>, Rejection> {
        let meta = &command.metadata;
        let state = self
            .states
            .entry(meta.account_id.clone())
            .or_insert_with(|| AccountState::new(WINDOW));
        // The decision time is fixed by the command, so a re-decision is identical.
        let ctx = DecisionContext {
            now: meta.issued_at,
        };
        let result = decide(state, command, ctx);
        if let Some((version, earlier)) = self.crashed.remove(&meta.command_id)
            && version == state.version()
        {
            assert_eq!(
                result, earlier,
                "a decision lost in a crash came out differently"
            );
        }
        let Ok(events) = &result else {
            return result;
        };
        for event in events {
            assert_eq!(
                event.metadata.version,
                state.version() + 1,
                "versions are contiguous"
            );
            assert!(
                self.event_ids.insert(event.metadata.event_id),
                "event ids are unique"
            );
            state.apply(event);
            self.owner.apply(event);
            self.ledger.record(event);
            if let EventBody::TransferDebited(debited) = &event.body {
                self.debits.insert(
                    debited.transfer_id,
                    (meta.account_id.clone(), debited.clone()),
                );
                let credit = CreditTransfer {
                    transfer_id: debited.transfer_id,
                    from_account_id: meta.account_id.clone(),
                    amount_minor: debited.amount_minor,
                    currency: debited.currency.clone(),
                    reference: debited.reference.clone(),
                };
                let metadata = CommandMetadata {
                    command_id: derived_command_id(debited.transfer_id, b"credit"),
                    account_id: debited.to_account_id.clone(),
                    expected_version: None,
                    issued_at: meta.issued_at,
                    correlation_id: meta.correlation_id.clone(),
                    causation_id: Some(event.metadata.event_id.to_string()),
                };
                self.pending.push(AccountCommand {
                    metadata,
                    body: CommandBody::CreditTransfer(credit),
                });
            }
        }
        if !events.is_empty() {
            self.applied.push(command.clone());
        }
        result
    }

    fn refund_for(&mut self, credit: &CreditTransfer, rejection: &Rejection) -> AccountCommand {
        let (source, debited) = self
            .debits
            .get(&credit.transfer_id)
            .cloned()
            .expect("every credit comes from a debit");
        let metadata = self.metadata(
            source,
            Some(derived_command_id(credit.transfer_id, b"refund").0),
        );
        AccountCommand {
            metadata,
            body: CommandBody::RefundTransfer(RefundTransfer {
                transfer_id: debited.transfer_id,
                to_account_id: debited.to_account_id,
                amount_minor: debited.amount_minor,
                currency: debited.currency,
                fee_minor: debited.fee_minor,
                reason_code: rejection.code().to_owned(),
                reason: rejection.to_string(),
            }),
        }
    }

    fn deliver(&mut self, pick: usize) {
        if self.pending.is_empty() {
            return;
        }
        let message = self.pending.remove(pick % self.pending.len());
        let result = self.send(&message);
        match (&message.body, result) {
            (CommandBody::CreditTransfer(credit), Err(rejection)) => {
                let refund = self.refund_for(credit, &rejection);
                self.pending.push(refund);
            }
            (CommandBody::CreditTransfer(_), Ok(events)) => {
                assert_eq!(
                    events.len(),
                    1,
                    "a credit is delivered once, so it is applied"
                );
            }
            (CommandBody::RefundTransfer(_), result) => {
                let events = result.expect("a refund is never rejected");
                assert_eq!(
                    events.len(),
                    1,
                    "a refund is delivered once, so it is applied"
                );
            }
            (_, _) => unreachable!("the processor sends only credits and refunds"),
        }
    }

    fn crash(&mut self, pick: usize) {
        if self.pending.is_empty() {
            return;
        }
        let message = &self.pending[pick % self.pending.len()];
        let state = self
            .states
            .get(&message.metadata.account_id)
            .cloned()
            .unwrap_or_else(|| AccountState::new(WINDOW));
        let ctx = DecisionContext {
            now: message.metadata.issued_at,
        };
        let outcome = decide(&state, message, ctx);
        self.crashed
            .insert(message.metadata.command_id, (state.version(), outcome));
    }

    fn run(&mut self, op: Op) {
        match op {
            Op::Open {
                account: index,
                account_type,
                currency,
                amount,
            } => {
                let body = CommandBody::OpenAccount(OpenAccount {
                    owner_id: OwnerId::new(OWNER),
                    account_type,
                    initial_deposit_minor: amount,
                    currency: Currency::new(CURRENCIES[currency]),
                    owner: self.owner.snapshot(),
                });
                let command = self.command(account(index), body);
                let _ = self.send(&command);
            }
            Op::Deposit {
                account: index,
                currency,
                amount,
            } => {
                let body = CommandBody::DepositMoney(DepositMoney {
                    amount_minor: amount,
                    currency: Currency::new(CURRENCIES[currency]),
                    reference: None,
                });
                let command = self.command(account(index), body);
                let _ = self.send(&command);
            }
            Op::Withdraw {
                account: index,
                currency,
                amount,
            } => self.withdraw(account(index), Currency::new(CURRENCIES[currency]), amount),
            Op::Transfer {
                from,
                to,
                currency,
                amount,
            } => {
                let transfer_id = TransferId(Uuid::from_u128(u128::from(self.tick()) << 64));
                let body = CommandBody::DebitTransfer(DebitTransfer {
                    transfer_id,
                    to_account_id: account(to),
                    amount_minor: amount,
                    currency: Currency::new(CURRENCIES[currency]),
                    reference: None,
                });
                let command = self.command(account(from), body);
                let _ = self.send(&command);
            }
            Op::EmptyAndClose { account: index } => {
                let id = account(index);
                if let Some((balance, currency)) = self.balance(&id) {
                    self.withdraw(id.clone(), currency.clone(), balance);
                    // A large savings withdrawal pays a fee on top.
                    self.withdraw(id.clone(), currency, balance - SAVINGS_WITHDRAWAL_FEE_MINOR);
                }
                let command =
                    self.command(id, CommandBody::CloseAccount(CloseAccount { reason: None }));
                let _ = self.send(&command);
            }
            Op::Deliver { pick } => self.deliver(pick),
            Op::Crash { pick } => self.crash(pick),
            Op::Repeat { pick } => {
                if self.applied.is_empty() {
                    return;
                }
                let command = self.applied[pick % self.applied.len()].clone();
                assert_eq!(
                    self.send(&command),
                    Ok(vec![]),
                    "a repeated command writes nothing"
                );
            }
        }
    }

    fn withdraw(&mut self, id: AccountId, currency: Currency, amount: i64) {
        let body = CommandBody::WithdrawMoney(WithdrawMoney {
            amount_minor: amount,
            currency,
            reference: None,
            channel: Default::default(),
        });
        let command = self.command(id, body);
        let _ = self.send(&command);
    }

    fn check(&self) {
        let mut balances = 0i128;
        let mut open_accounts = 0;
        for (id, state) in &self.states {
            let Some(account) = state.account() else {
                assert_eq!(state.version(), 0, "{id}: events before the opening");
                continue;
            };
            assert!(account.balance_minor() >= 0, "{id}: negative balance");
            assert_eq!(
                i128::from(account.balance_minor()),
                self.ledger.balances[id],
                "{id}: the balance is not the sum of its movements"
            );
            balances += i128::from(account.balance_minor());
            if account.status() == AccountStatus::Open {
                open_accounts += 1;
            }
        }
        let ledger = &self.ledger;
        assert_eq!(
            balances + ledger.fees + ledger.in_flight,
            ledger.deposited - ledger.withdrawn,
            "money was created or lost"
        );
        let undelivered: i128 = self
            .pending
            .iter()
            .map(|message| match &message.body {
                CommandBody::CreditTransfer(c) => i128::from(c.amount_minor),
                CommandBody::RefundTransfer(r) => i128::from(r.amount_minor),
                _ => 0,
            })
            .sum();
        assert_eq!(
            ledger.in_flight, undelivered,
            "in flight is what is still to deliver"
        );
        assert_eq!(
            self.owner.open_account_count(),
            open_accounts,
            "the owner view is off"
        );
        assert!(
            open_accounts <= 5,
            "the owner has more than 5 open accounts"
        );
    }
}

fn derived_command_id(transfer_id: TransferId, leg: &[u8]) -> CommandId {
    let mut name = transfer_id.0.as_bytes().to_vec();
    name.extend_from_slice(leg);
    CommandId(Uuid::new_v5(&PROCESSOR_NAMESPACE, &name))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        // Shrunk cases are printed; nothing is written into the source tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn money_is_conserved(ops in prop::collection::vec(op(), 1..120)) {
        let mut world = World::new();
        for op in ops {
            world.run(op);
            world.check();
        }
        // Whatever is still in flight ends credited or refunded.
        while !world.pending.is_empty() {
            world.deliver(0);
            world.check();
        }
        prop_assert_eq!(world.ledger.in_flight, 0);
    }
}
