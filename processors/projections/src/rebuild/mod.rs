//! What every read model's rebuild shares: where the event log ends and how far
//! a rebuild has come ([`positions`]), and a sink slowed to a rate
//! ([`throttle`]) so a rebuild leaves room for the live pipeline.

pub mod positions;
pub mod throttle;
