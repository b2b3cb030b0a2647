//! Evolve: fold one event into the state. Events are facts, so nothing here can
//! fail or refuse; all checking happened when the event was decided.

use super::{Account, AccountEvent, AccountState, AccountStatus, EventBody, TransferLeg};

/// The state after `event`.
pub fn evolve(mut state: AccountState, event: &AccountEvent) -> AccountState {
    state.apply(event);
    state
}

impl AccountState {
    /// Folds `event` in: the version becomes the event's, its command is remembered,
    /// and the balance becomes the event's `balance_after_minor`.
    pub fn apply(&mut self, event: &AccountEvent) {
        let meta = &event.metadata;
        self.version = meta.version;
        self.recent.record(meta.command_id, meta.version);

        if let EventBody::AccountOpened(opened) = &event.body {
            self.account = Some(Account {
                id: meta.account_id.clone(),
                owner_id: opened.owner_id.clone(),
                account_type: opened.account_type,
                currency: opened.currency.clone(),
                balance_minor: opened.balance_after_minor,
                status: AccountStatus::Open,
                transfers: Default::default(),
                refundable_minor: 0,
            });
            return;
        }
        // Every other event is about an opened account; a log that says otherwise
        // has nothing to fold into.
        let Some(account) = self.account.as_mut() else {
            return;
        };
        if let Some(balance) = event.body.balance_after_minor() {
            account.balance_minor = balance;
        }
        match &event.body {
            EventBody::TransferDebited(debited) => {
                // Saturating only so that folding cannot panic: decisions keep the
                // sum within range.
                account.refundable_minor = account
                    .refundable_minor
                    .saturating_add(debited.amount_minor.saturating_add(debited.fee_minor));
                account.transfers.insert(
                    debited.transfer_id,
                    TransferLeg::Debited {
                        to_account_id: debited.to_account_id.clone(),
                        amount_minor: debited.amount_minor,
                        fee_minor: debited.fee_minor,
                        refunded: false,
                    },
                );
            }
            EventBody::TransferCredited(credited) => {
                account.transfers.insert(
                    credited.transfer_id,
                    TransferLeg::Credited {
                        from_account_id: credited.from_account_id.clone(),
                        amount_minor: credited.amount_minor,
                    },
                );
            }
            EventBody::TransferRefunded(refunded) => {
                account.refundable_minor = account
                    .refundable_minor
                    .saturating_sub(refunded.amount_minor.saturating_add(refunded.fee_minor));
                if let Some(TransferLeg::Debited { refunded: done, .. }) =
                    account.transfers.get_mut(&refunded.transfer_id)
                {
                    *done = true;
                }
            }
            EventBody::AccountClosed(_) => account.status = AccountStatus::Closed,
            EventBody::AccountOpened(_)
            | EventBody::MoneyDeposited(_)
            | EventBody::MoneyWithdrawn(_) => {}
        }
    }
}
