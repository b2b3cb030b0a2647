//! Every rule of the Account aggregate as a given/when/then test, error paths
//! included, plus the property test that money is conserved.

mod close;
mod conservation;
mod deposit;
mod envelope;
mod ids;
mod open;
mod owner;
mod rejection;
mod transfer;
mod withdraw;
