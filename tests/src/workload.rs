//! Commands for end-to-end tests: accounts opened, then the processor's own
//! mix of deposits, withdrawals and transfers (some invalid on purpose), from a
//! fixed seed so that a failure can be run again.

use ledgerstream_producers::commands;
use ledgerstream_schemas::records::{AccountType, Channel, CommandRecord};

/// The id of account `i`: `acc-007`.
pub fn account(i: usize) -> String {
    format!("acc-{i:03}")
}

/// `OpenAccount` for accounts `0..accounts`: types in turn, four accounts per
/// owner, 3,000.00 USD each.
pub fn opens(accounts: usize) -> Vec<CommandRecord> {
    (0..accounts)
        .map(|i| {
            let kind = [
                AccountType::Checking,
                AccountType::Savings,
                AccountType::Business,
            ][i % 3];
            commands::open_account(
                &account(i),
                &format!("owner-{}", i / 4),
                kind,
                300_000, // 3,000.00
                "USD",
            )
        })
        .collect()
}

/// `count` commands over accounts `0..accounts`: 40 % deposits, 30 %
/// withdrawals, 30 % transfers (some to the two accounts that never open, or
/// beyond a balance: rejected).
pub fn mix(count: usize, accounts: usize) -> Vec<CommandRecord> {
    let mut seed: u64 = 0xC11C_4005;
    let mut next = move |n: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize % n
    };
    (0..count)
        .map(|_| {
            let from = account(next(accounts));
            let amount = (next(800) as i64 + 1) * 100;
            match next(10) {
                0..=3 => commands::deposit(&from, amount, "USD"),
                4..=6 => commands::withdraw(&from, amount, "USD", Channel::Online),
                _ => commands::transfer(&from, &account(next(accounts + 2)), amount, "USD"),
            }
        })
        .collect()
}
