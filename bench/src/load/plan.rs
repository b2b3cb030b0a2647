//! What to send next: a mix of opens, deposits, withdrawals and transfers over a
//! pool of accounts, a share of them made to fail on purpose.
//!
//! The plan keeps a pessimistic balance per account so that its valid commands
//! pass: a withdrawal or transfer takes its amount (and fee) off at once, a
//! deposit adds only once accepted, and a transfer's credit is never counted
//! (it is decided later, on the target's partition). A valid command that is
//! rejected, or an invalid one that is accepted, is therefore *unexpected*: a
//! broken rule or a lost update, counted apart from the intended rejections.

// Amounts in minor units read best grouped as units and cents: 1_000_00 is 1,000.00.
#![allow(clippy::inconsistent_digit_grouping)]

use ledgerstream_domain::policy::TRANSFER_FEE_MINOR;
use ledgerstream_producers::commands;
use ledgerstream_schemas::records::{AccountType, Channel, CommandRecord};

/// Relative weights of the four kinds of command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    pub open: u32,
    pub deposit: u32,
    pub withdraw: u32,
    pub transfer: u32,
}

impl Mix {
    pub const DEFAULT: &'static str = "open=5,deposit=40,withdraw=30,transfer=25";

    fn total(&self) -> u32 {
        self.open + self.deposit + self.withdraw + self.transfer
    }
}

/// `open=5,deposit=40,withdraw=30,transfer=25`: weights, any left out is 0.
pub fn parse_mix(text: &str) -> Result<Mix, String> {
    let mut mix = Mix {
        open: 0,
        deposit: 0,
        withdraw: 0,
        transfer: 0,
    };
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((kind, weight)) = part.split_once('=') else {
            return Err(format!("{part:?} is not kind=weight, e.g. deposit=40"));
        };
        let weight: u32 = weight
            .trim()
            .parse()
            .map_err(|_| format!("the weight of {kind} ({weight:?}) is not a whole number"))?;
        match kind.trim() {
            "open" => mix.open = weight,
            "deposit" => mix.deposit = weight,
            "withdraw" => mix.withdraw = weight,
            "transfer" => mix.transfer = weight,
            other => {
                return Err(format!(
                    "{other:?} is not a kind; use open, deposit, withdraw and transfer"
                ));
            }
        }
    }
    if mix.total() == 0 {
        return Err("every weight is 0; give at least one kind a weight".to_owned());
    }
    Ok(mix)
}

/// How an invalid command is made to fail, and the reason it should get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    /// A withdrawal far beyond any balance: `INSUFFICIENT_FUNDS`.
    Overdraft,
    /// A deposit of 0.00: `INVALID_AMOUNT`.
    ZeroAmount,
    /// A deposit to an account nobody opened: `ACCOUNT_NOT_FOUND`.
    UnknownAccount,
}

impl Invalid {
    const ALL: [Invalid; 3] = [
        Invalid::Overdraft,
        Invalid::ZeroAmount,
        Invalid::UnknownAccount,
    ];

    pub fn expected_reason(self) -> &'static str {
        match self {
            Invalid::Overdraft => "INSUFFICIENT_FUNDS",
            Invalid::ZeroAmount => "INVALID_AMOUNT",
            Invalid::UnknownAccount => "ACCOUNT_NOT_FOUND",
        }
    }
}

/// What a command does to the plan's balances once its result is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Nothing to apply.
    None,
    /// A new account joins the pool once accepted.
    Open { account: String, balance: i64 },
    /// Added to the account once accepted.
    Deposit { account: usize, amount: i64 },
    /// Already taken off; given back if rejected.
    Reserved { account: usize, amount: i64 },
}

/// One command to send, and what it is expected to do.
#[derive(Debug, Clone)]
pub struct Planned {
    pub record: CommandRecord,
    pub kind: Kind,
    pub invalid: Option<Invalid>,
    pub effect: Effect,
}

/// The kind of command, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Open,
    Deposit,
    Withdraw,
    Transfer,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Open => "open",
            Kind::Deposit => "deposit",
            Kind::Withdraw => "withdraw",
            Kind::Transfer => "transfer",
        }
    }
}

#[derive(Debug, Clone)]
struct Account {
    id: String,
    /// What the account surely holds, as far as the plan knows.
    balance: i64,
}

/// The accounts and the generator.
#[derive(Debug)]
pub struct Plan {
    prefix: String,
    currency: String,
    mix: Mix,
    invalid_percent: f64,
    accounts: Vec<Account>,
    opened: usize,
    ghosts: usize,
    rng: Rng,
}

impl Plan {
    pub fn new(prefix: &str, currency: &str, mix: Mix, invalid_percent: f64, seed: u64) -> Self {
        Self {
            prefix: prefix.to_owned(),
            currency: currency.to_owned(),
            mix,
            invalid_percent,
            accounts: Vec::new(),
            opened: 0,
            ghosts: 0,
            rng: Rng(seed),
        }
    }

    /// How many accounts the pool holds (opened and accepted).
    pub fn accounts(&self) -> usize {
        self.accounts.len()
    }

    /// A valid open of a new account.
    pub fn open(&mut self) -> Planned {
        let n = self.opened;
        self.opened += 1;
        let account = format!("{}-{n}", self.prefix);
        let owner = format!("{}-owner-{n}", self.prefix);
        let initial = self.amount(100_00, 500_00);
        Planned {
            record: commands::open_account(
                &account,
                &owner,
                AccountType::Checking,
                initial,
                &self.currency,
            ),
            kind: Kind::Open,
            invalid: None,
            effect: Effect::Open {
                account,
                balance: initial,
            },
        }
    }

    /// The next command of the mix; opens only while the pool is empty.
    pub fn next(&mut self) -> Planned {
        if self.accounts.is_empty() {
            return self.open();
        }
        if self.rng.below(10_000) < (self.invalid_percent * 100.0) as u64 {
            let kind = Invalid::ALL[self.rng.below(Invalid::ALL.len() as u64) as usize];
            return self.invalid(kind);
        }
        let mut pick = self.rng.below(u64::from(self.mix.total())) as u32;
        let weights = [
            (Kind::Open, self.mix.open),
            (Kind::Deposit, self.mix.deposit),
            (Kind::Withdraw, self.mix.withdraw),
            (Kind::Transfer, self.mix.transfer),
        ];
        let mut kind = Kind::Deposit;
        for (candidate, weight) in weights {
            if pick < weight {
                kind = candidate;
                break;
            }
            pick -= weight;
        }
        match kind {
            Kind::Open => self.open(),
            Kind::Deposit => self.deposit(),
            Kind::Withdraw => self.withdraw().unwrap_or_else(|| self.deposit()),
            Kind::Transfer => self.transfer().unwrap_or_else(|| self.deposit()),
        }
    }

    fn deposit(&mut self) -> Planned {
        let account = self.any_account();
        let amount = self.amount(10_00, 200_00);
        Planned {
            record: commands::deposit(&self.accounts[account].id, amount, &self.currency),
            kind: Kind::Deposit,
            invalid: None,
            effect: Effect::Deposit { account, amount },
        }
    }

    /// A withdrawal the account surely covers; none when it holds too little.
    fn withdraw(&mut self) -> Option<Planned> {
        let account = self.any_account();
        let amount = self.affordable(account, 0)?;
        self.accounts[account].balance -= amount;
        let channel = [Channel::Atm, Channel::Branch, Channel::Online, Channel::Api]
            [self.rng.below(4) as usize];
        Some(Planned {
            record: commands::withdraw(&self.accounts[account].id, amount, &self.currency, channel),
            kind: Kind::Withdraw,
            invalid: None,
            effect: Effect::Reserved { account, amount },
        })
    }

    /// A transfer the source surely covers, fee included, to another account.
    fn transfer(&mut self) -> Option<Planned> {
        if self.accounts.len() < 2 {
            return None;
        }
        let from = self.any_account();
        let mut to = self.any_account();
        if to == from {
            to = (from + 1) % self.accounts.len();
        }
        let amount = self.affordable(from, TRANSFER_FEE_MINOR)?;
        let taken = amount + TRANSFER_FEE_MINOR;
        self.accounts[from].balance -= taken;
        Some(Planned {
            record: commands::transfer(
                &self.accounts[from].id,
                &self.accounts[to].id,
                amount,
                &self.currency,
            ),
            kind: Kind::Transfer,
            invalid: None,
            effect: Effect::Reserved {
                account: from,
                amount: taken,
            },
        })
    }

    fn invalid(&mut self, how: Invalid) -> Planned {
        let (record, kind) = match how {
            Invalid::Overdraft => {
                let index = self.any_account();
                let account = &self.accounts[index].id;
                // Far beyond what any account of a load run holds.
                let amount = 1_000_000_000_00;
                (
                    commands::withdraw(account, amount, &self.currency, Channel::Online),
                    Kind::Withdraw,
                )
            }
            Invalid::ZeroAmount => {
                let index = self.any_account();
                let account = &self.accounts[index].id;
                (commands::deposit(account, 0, &self.currency), Kind::Deposit)
            }
            Invalid::UnknownAccount => {
                self.ghosts += 1;
                let ghost = format!("{}-nobody-{}", self.prefix, self.ghosts);
                (
                    commands::deposit(&ghost, 10_00, &self.currency),
                    Kind::Deposit,
                )
            }
        };
        Planned {
            record,
            kind,
            invalid: Some(how),
            effect: Effect::None,
        }
    }

    /// Applies a command's effect once its outcome is known (`accepted`), or
    /// undoes it when the command got no answer either way (`None`: timed out or
    /// failed; the plan stays on the safe side and keeps a reservation).
    pub fn settle(&mut self, effect: Effect, accepted: Option<bool>) {
        match (effect, accepted) {
            (Effect::Open { account, balance }, Some(true)) => {
                self.accounts.push(Account {
                    id: account,
                    balance,
                });
            }
            (Effect::Deposit { account, amount }, Some(true)) => {
                self.accounts[account].balance += amount;
            }
            (Effect::Reserved { account, amount }, Some(false)) => {
                self.accounts[account].balance += amount;
            }
            _ => {}
        }
    }

    fn any_account(&mut self) -> usize {
        self.rng.below(self.accounts.len() as u64) as usize
    }

    /// A random amount in `low..=high`, in whole units.
    fn amount(&mut self, low: i64, high: i64) -> i64 {
        let span = ((high - low) / 100).max(0) as u64 + 1;
        low + self.rng.below(span) as i64 * 100
    }

    /// An amount from 1.00 up to half of what the account surely holds after
    /// `fee` (at most 100.00); none below 1.00.
    fn affordable(&mut self, account: usize, fee: i64) -> Option<i64> {
        let spare = (self.accounts[account].balance - fee) / 2;
        if spare < 1_00 {
            return None;
        }
        Some(self.amount(1_00, spare.min(100_00)))
    }
}

/// SplitMix64: enough randomness to pick commands, and repeatable from a seed.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0; the bias of the modulo is negligible here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(invalid_percent: f64) -> Plan {
        let mix = parse_mix(Mix::DEFAULT).unwrap();
        let mut plan = Plan::new("t", "EUR", mix, invalid_percent, 7);
        for _ in 0..10 {
            let open = plan.open();
            plan.settle(open.effect, Some(true));
        }
        plan
    }

    #[test]
    fn a_mix_reads_from_weights() {
        assert_eq!(
            parse_mix("deposit=1, transfer=2"),
            Ok(Mix {
                open: 0,
                deposit: 1,
                withdraw: 0,
                transfer: 2
            })
        );
        assert!(parse_mix("deposit").unwrap_err().contains("kind=weight"));
        assert!(parse_mix("refund=1").unwrap_err().contains("not a kind"));
        assert!(parse_mix("deposit=x").unwrap_err().contains("whole number"));
        assert!(
            parse_mix("deposit=0")
                .unwrap_err()
                .contains("every weight is 0")
        );
    }

    #[test]
    fn valid_commands_never_spend_more_than_the_plan_knows_of() {
        let mut plan = plan(0.0);
        for _ in 0..10_000 {
            let planned = plan.next();
            assert!(planned.invalid.is_none());
            // Every valid command accepted: balances must stay covered.
            plan.settle(planned.effect, Some(true));
            assert!(plan.accounts.iter().all(|a| a.balance >= 0));
        }
    }

    #[test]
    fn the_invalid_share_is_about_as_asked() {
        let mut plan = plan(20.0);
        let invalid = (0..10_000)
            .map(|_| plan.next())
            .filter(|p| p.invalid.is_some())
            .count();
        assert!((1_700..2_300).contains(&invalid), "{invalid}");
    }

    #[test]
    fn a_rejected_withdrawal_gives_its_reservation_back() {
        let mut plan = plan(0.0);
        let before: i64 = plan.accounts.iter().map(|a| a.balance).sum();
        let planned = loop {
            let planned = plan.next();
            if planned.kind == Kind::Withdraw {
                break planned;
            }
            plan.settle(planned.effect, Some(false));
        };
        plan.settle(planned.effect, Some(false));
        let after: i64 = plan.accounts.iter().map(|a| a.balance).sum();
        assert_eq!(before, after);
    }

    #[test]
    fn the_same_seed_plans_the_same_commands() {
        let kinds = |seed| {
            let mut plan = Plan::new("t", "EUR", parse_mix(Mix::DEFAULT).unwrap(), 10.0, seed);
            (0..200)
                .map(|_| {
                    let planned = plan.next();
                    plan.settle(planned.effect, Some(true));
                    planned.kind
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(kinds(1), kinds(1));
    }
}
