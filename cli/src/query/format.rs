//! What `query account` prints: aligned `key  value` lines and a table of
//! events for people, or one JSON object.
//!
//! Amounts are decimals with their currency (`1234.50 USD`), read from the
//! integer minor units the tables keep; times are UTC, ISO 8601.

use jiff::Timestamp;
use ledgerstream_producers::amount::format_minor;
use serde_json::{Value, json};

use ledgerstream_projections::clickhouse::read::{AccountRow, EventRow};

/// Epoch milliseconds as `2025-01-01T12:04:05.123Z` (`… ms` beyond the years
/// 9999 BC to 9999).
pub fn utc(epoch_ms: i64) -> String {
    Timestamp::from_millisecond(epoch_ms)
        .map_or_else(|_| format!("{epoch_ms} ms"), |at| format!("{at:.3}"))
}

/// `1234.50 USD`.
pub fn money(minor: i64, currency: &str) -> String {
    if currency.is_empty() {
        format_minor(minor)
    } else {
        format!("{} {currency}", format_minor(minor))
    }
}

/// The account and its events for people.
pub fn human(account: &AccountRow, events: &[EventRow]) -> String {
    let mut out = String::new();
    let rows = [
        ("account", account.account_id.clone()),
        ("owner", account.owner_id.clone()),
        ("type", account.account_type.clone()),
        ("status", account.status.clone()),
        ("balance", money(account.balance_minor, &account.currency)),
        ("version", account.version.to_string()),
        ("opened", utc(i64::from(account.opened_at) * 1_000)),
        ("last activity", utc(account.last_activity_at_ms)),
    ];
    for (key, value) in rows {
        out.push_str(&format!("{key:<14}{value}\n"));
    }
    if events.is_empty() {
        return out;
    }
    out.push_str(&format!(
        "\nlast {} event{}\n{:>8}  {:<17} {:>16}  {:>16}  {:<24}  {}\n",
        events.len(),
        if events.len() == 1 { "" } else { "s" },
        "version",
        "event",
        "change",
        "balance after",
        "occurred at",
        "counterparty"
    ));
    for event in events {
        let change = if event.balance_delta_minor > 0 {
            format!("+{}", format_minor(event.balance_delta_minor))
        } else {
            format_minor(event.balance_delta_minor)
        };
        let row = format!(
            "{:>8}  {:<17} {:>16}  {:>16}  {:<24}  {}",
            event.version,
            event.event_type,
            change,
            format_minor(event.balance_after_minor),
            utc(event.occurred_at_ms),
            event.counterparty_account_id
        );
        out.push_str(row.trim_end());
        out.push('\n');
    }
    out
}

/// The account and its events as one JSON object: the minor units as they are
/// stored, and the decimal next to them.
pub fn json(account: &AccountRow, events: &[EventRow]) -> Value {
    let events: Vec<Value> = events
        .iter()
        .map(|e| {
            json!({
                "version": e.version,
                "event_type": e.event_type,
                "event_id": e.event_id,
                "occurred_at": utc(e.occurred_at_ms),
                "amount_minor": e.amount_minor,
                "fee_minor": e.fee_minor,
                "balance_delta_minor": e.balance_delta_minor,
                "balance_after_minor": e.balance_after_minor,
                "currency": e.currency,
                "counterparty_account_id": e.counterparty_account_id,
            })
        })
        .collect();
    json!({
        "account_id": account.account_id,
        "owner_id": account.owner_id,
        "account_type": account.account_type,
        "status": account.status,
        "currency": account.currency,
        "balance_minor": account.balance_minor,
        "balance": format_minor(account.balance_minor),
        "version": account.version,
        "opened_at": utc(i64::from(account.opened_at) * 1_000),
        "last_activity_at": utc(account.last_activity_at_ms),
        "events": events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> AccountRow {
        AccountRow {
            account_id: "acc-1".to_owned(),
            owner_id: "owner-1".to_owned(),
            account_type: "CHECKING".to_owned(),
            currency: "USD".to_owned(),
            status: "OPEN".to_owned(),
            balance_minor: 123_450,
            version: 3,
            opened_at: 1_735_733_045,
            last_activity_at: 1_735_733_046,
            last_activity_at_ms: 1_735_733_046_007,
            projected_at: 1_735_733_047,
        }
    }

    fn deposit() -> EventRow {
        EventRow {
            version: 3,
            event_type: "MoneyDeposited".to_owned(),
            occurred_at_ms: 1_735_733_046_007,
            currency: "USD".to_owned(),
            amount_minor: 5_000,
            fee_minor: 0,
            balance_delta_minor: 5_000,
            balance_after_minor: 123_450,
            counterparty_account_id: String::new(),
            event_id: "e-3".to_owned(),
        }
    }

    #[test]
    fn times_are_utc_with_milliseconds() {
        assert_eq!(utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc(1_735_733_046_007), "2025-01-01T12:04:06.007Z");
        assert_eq!(utc(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn the_balance_is_a_decimal_with_its_currency() {
        let text = human(&account(), &[deposit()]);
        assert!(text.contains("balance       1234.50 USD\n"), "{text}");
        assert!(text.contains("version       3\n"), "{text}");
        assert!(text.contains("last 1 event\n"), "{text}");
        assert!(text.contains("MoneyDeposited"), "{text}");
        assert!(text.contains("+50.00"), "{text}");
        assert!(text.lines().all(|l| l == l.trim_end()), "{text:?}");
        assert_eq!(money(-5, "EUR"), "-0.05 EUR");
    }

    #[test]
    fn json_keeps_minor_units_and_adds_the_decimal() {
        let value = json(&account(), &[deposit()]);
        assert_eq!(value["balance_minor"], 123_450);
        assert_eq!(value["balance"], "1234.50");
        assert_eq!(value["currency"], "USD");
        assert_eq!(value["events"][0]["event_type"], "MoneyDeposited");
        assert_eq!(value["last_activity_at"], "2025-01-01T12:04:06.007Z");
    }
}
