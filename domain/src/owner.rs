//! The owner view: which accounts an owner has open, folded from account events and
//! keyed by owner id. `OpenAccount` is decided against a snapshot of it; the module
//! doc explains where the view lives and how consistent the limit is.

use std::collections::BTreeSet;

use super::{AccountEvent, AccountId, EventBody, OwnerId};

/// One owner's open accounts, as far as the events seen so far tell.
///
/// Fold every account event into it (events of other owners are ignored):
/// `AccountOpened` takes a slot, `AccountClosed` gives it back. Applying an event
/// twice changes nothing, so a view fed at least once stays right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerState {
    owner_id: OwnerId,
    open_accounts: BTreeSet<AccountId>,
}

impl OwnerState {
    /// An owner with no accounts.
    pub fn new(owner_id: OwnerId) -> Self {
        Self {
            owner_id,
            open_accounts: BTreeSet::new(),
        }
    }

    pub fn owner_id(&self) -> &OwnerId {
        &self.owner_id
    }

    /// The owner's open accounts, in id order.
    pub fn open_accounts(&self) -> impl Iterator<Item = &AccountId> {
        self.open_accounts.iter()
    }

    pub fn open_account_count(&self) -> u32 {
        u32::try_from(self.open_accounts.len()).unwrap_or(u32::MAX)
    }

    /// What `OpenAccount` needs to know about this owner.
    pub fn snapshot(&self) -> OwnerSnapshot {
        OwnerSnapshot {
            open_accounts: self.open_account_count(),
        }
    }

    /// Folds one account event in.
    pub fn apply(&mut self, event: &AccountEvent) {
        match &event.body {
            EventBody::AccountOpened(opened) if opened.owner_id == self.owner_id => {
                self.open_accounts.insert(event.metadata.account_id.clone());
            }
            // `AccountClosed` does not name the owner; only this owner's accounts
            // are in the set, so removing is enough.
            EventBody::AccountClosed(_) => {
                self.open_accounts.remove(&event.metadata.account_id);
            }
            _ => {}
        }
    }
}

/// [`OwnerState::apply`] as a fold step.
pub fn evolve_owner(mut state: OwnerState, event: &AccountEvent) -> OwnerState {
    state.apply(event);
    state
}

/// What an `OpenAccount` decision knows about the new account's owner: looked up by
/// the caller in its owner view (for the command's `owner_id`) before deciding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OwnerSnapshot {
    /// How many accounts the owner has open, the new one not included.
    pub open_accounts: u32,
}
