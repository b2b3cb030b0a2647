//! The numbers of the business: limits and fee schedules. The rules that use them
//! live in `decide.rs`; the table in the module doc lists them all.

use super::AccountType;

/// The smallest initial deposit an account can be opened with: 100.00.
pub const MIN_INITIAL_DEPOSIT_MINOR: i64 = 100_00;

/// How many open accounts one owner may have at once.
pub const MAX_OPEN_ACCOUNTS_PER_OWNER: u32 = 5;

/// Withdrawals above this amount (1,000.00) from a savings account pay
/// [`SAVINGS_WITHDRAWAL_FEE_MINOR`].
pub const SAVINGS_FEE_THRESHOLD_MINOR: i64 = 1_000_00;

/// The fee on a large savings withdrawal: 5.00.
pub const SAVINGS_WITHDRAWAL_FEE_MINOR: i64 = 5_00;

/// Transfers above this amount (10,000.00) pay [`LARGE_TRANSFER_FEE_MINOR`].
pub const LARGE_TRANSFER_THRESHOLD_MINOR: i64 = 10_000_00;

/// The fee on a transfer up to the threshold: 2.00.
pub const TRANSFER_FEE_MINOR: i64 = 2_00;

/// The fee on a transfer above the threshold: 10.00.
pub const LARGE_TRANSFER_FEE_MINOR: i64 = 10_00;

/// The fee charged on top of a withdrawal of `amount_minor`.
pub fn withdrawal_fee(account_type: AccountType, amount_minor: i64) -> i64 {
    match account_type {
        AccountType::Savings if amount_minor > SAVINGS_FEE_THRESHOLD_MINOR => {
            SAVINGS_WITHDRAWAL_FEE_MINOR
        }
        _ => 0,
    }
}

/// The fee charged on top of a transfer of `amount_minor`, to the source account.
pub fn transfer_fee(amount_minor: i64) -> i64 {
    if amount_minor > LARGE_TRANSFER_THRESHOLD_MINOR {
        LARGE_TRANSFER_FEE_MINOR
    } else {
        TRANSFER_FEE_MINOR
    }
}
