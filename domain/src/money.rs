//! Money: `i64` amounts in the currency's minor unit (cents for USD) next to an
//! ISO 4217 currency code, as on the wire. Never a float.
//!
//! Every sum goes through [`add`] or [`sub`]: an overflow is the sender's problem
//! (an absurd amount), reported as [`Rejection::InvalidAmount`], never a panic.

use std::fmt;

use super::Rejection;

/// An ISO 4217 currency code, e.g. `USD`.
///
/// Not validated: no rule reads more than equality, and the reason codes have no
/// code for an unknown currency.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Currency(String);

impl Currency {
    pub fn new(code: impl Into<String>) -> Self {
        Self(code.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `amount_minor` if it is positive, else [`Rejection::InvalidAmount`].
pub fn require_positive(amount_minor: i64) -> Result<i64, Rejection> {
    if amount_minor > 0 {
        Ok(amount_minor)
    } else {
        Err(Rejection::InvalidAmount {
            amount_minor,
            problem: "must be greater than zero",
        })
    }
}

/// `a + b`, or [`Rejection::InvalidAmount`] (reporting `b`) when it overflows.
pub fn add(a: i64, b: i64) -> Result<i64, Rejection> {
    a.checked_add(b).ok_or(Rejection::InvalidAmount {
        amount_minor: b,
        problem: "too large: the result would overflow",
    })
}

/// `a - b`, or [`Rejection::InvalidAmount`] (reporting `b`) when it overflows.
pub fn sub(a: i64, b: i64) -> Result<i64, Rejection> {
    a.checked_sub(b).ok_or(Rejection::InvalidAmount {
        amount_minor: b,
        problem: "too large: the result would overflow",
    })
}
