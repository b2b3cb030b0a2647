//! `ledgerstream query history <account>`: an account's money movements from the
//! search index, newest first, a page at a time — a statement.
//!
//! ```text
//!  query history acc-1 --from 2025-11-01 --to 2025-11-30 --page-size 20
//!     ──▶ <alias>/_search  bool filter: account_id, occurred_at range
//!                          sort: version desc (one document per version at most)
//!     ──▶ a page, and the cursor of the next one (`--after <version>`)
//! ```
//!
//! Versions order an account's events exactly (timestamps may tie), so the sort
//! is `version` alone and the cursor of a page is the version of its last row:
//! `--after 42` is `search_after: [42]`, stable while documents arrive.
//!
//! `--min-version V` waits, with backoff, until the write with version V is
//! reflected in the index. Every version has a document but a close (an opening
//! always deposits at least 100.00; a close moves no money), so it is reflected
//! when either
//!
//! 1. a document of the account with a version ≥ V answers a search, or
//! 2. the projection's checkpoints (those of the index behind the alias) have
//!    reached the log's end as it was when the wait started — every event in
//!    the log then has been written, or found to move no money — and V is the
//!    version right after the account's last movement: the close, the only
//!    version that can lack a document.
//!
//! The second rule counts on V being in the log when the query starts, as it
//! is when V comes from `produce --wait`, which prints it once the event is
//! written. Asked for the next version before that write is processed, the
//! query may answer at once that it has no movement.
//!
//! Exit codes as `query account`: 0 shown; 6 the account has no movement at all
//! (no --min-version); 5 the version was not reflected within --timeout (the
//! message names the projection's lag); 1 could not ask.

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use indicatif::HumanCount;
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use ledgerstream_infra::{Endpoints, probe};
use ledgerstream_producers::amount::format_minor;
use ledgerstream_projections::history::read::{
    HistoryReader, MAX_RESULT_WINDOW, Page, Paging, Request, Waited, wait_for,
};
use ledgerstream_projections::history::{HistoryConfig, HistoryDocument, Movement};
use ledgerstream_runtime::kafka::probe::probe_broker;
use ledgerstream_runtime::topics::TopicNames;
use serde_json::{Value, json};

use super::format::utc;
use crate::exit::Exit;

/// How the page is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// A statement-like table, then the cursor of the next page.
    Human,
    /// One JSON object.
    Json,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The account's id.
    account: String,
    /// Movements at or after this time: RFC 3339 (`2025-11-01T08:00:00Z`,
    /// `...+01:00`) or a date (`2025-11-01`, midnight UTC).
    #[arg(long, value_name = "TIME")]
    from: Option<String>,
    /// Movements before this time (RFC 3339), or up to and including this date
    /// (`2025-11-30`: the whole day, UTC).
    #[arg(long, value_name = "TIME")]
    to: Option<String>,
    /// Movements per page.
    #[arg(long, value_name = "N", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..=1_000))]
    page_size: u32,
    /// The page to show, from 1 (`from`/`size` paging, up to 10,000 movements
    /// deep).
    #[arg(long, value_name = "N", conflicts_with = "after",
          value_parser = clap::value_parser!(u32).range(1..))]
    page: Option<u32>,
    /// The page after the one that printed this cursor (`search_after`: the
    /// version of its last movement); pages as deep as needed.
    #[arg(long, value_name = "CURSOR")]
    after: Option<u64>,
    /// Wait until the write with this version is reflected in the index (the
    /// `version=` that `ledgerstream produce --wait` printed). A version that
    /// moved no money has no document: see the module documentation.
    #[arg(long, value_name = "V")]
    min_version: Option<u64>,
    /// Seconds to wait for --min-version before giving up (decimals allowed).
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    timeout: f64,
    /// `human` or `json`.
    #[arg(long, value_enum, default_value = "human")]
    output: Output,
    #[command(flatten)]
    source: Source,
}

/// Where the history is: the search flags every history command shares.
#[derive(Debug, Clone, clap::Args)]
pub struct Source {
    /// The alias read (also the index template's name and the prefix of the
    /// concrete indices), as `ledgerstream project --history-index`.
    #[arg(long, value_name = "NAME", default_value = "transaction-history")]
    pub history_index: String,
    /// The index of the history projection's checkpoints.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "ledgerstream-projection-checkpoints"
    )]
    pub history_checkpoint_index: String,
    /// Appended to every topic name: the log whose end the projection is
    /// measured against.
    #[arg(long, value_name = "SUFFIX", default_value = "")]
    pub topic_suffix: String,
    /// Search server user (basic authentication); its password is read from
    /// LEDGERSTREAM_SEARCH_PASSWORD; an https:// URL's private CA from
    /// LEDGERSTREAM_SEARCH_CA_FILE.
    #[arg(long, value_name = "USER", env = "LEDGERSTREAM_SEARCH_USER")]
    pub search_user: Option<String>,
}

impl Source {
    /// The history settings, checked (the index suffix is the replay's to set).
    pub fn config(&self, request_timeout: Duration) -> anyhow::Result<HistoryConfig> {
        let mut config = HistoryConfig::new(Endpoints::from_env().search.address);
        config.index = self.history_index.clone();
        config.checkpoint_index = self.history_checkpoint_index.clone();
        config.user = self.search_user.clone();
        config.set_password(std::env::var("LEDGERSTREAM_SEARCH_PASSWORD").ok());
        config.set_ca_file(std::env::var("LEDGERSTREAM_SEARCH_CA_FILE").ok());
        config.request_timeout_millis = u64::try_from(request_timeout.as_millis())
            .unwrap_or(u64::MAX)
            .max(2_000);
        config.validate()?;
        Ok(config)
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    if !(args.timeout.is_finite() && args.timeout >= 0.0) {
        bail!("--timeout {} is not a number of seconds", args.timeout);
    }
    let from_ms = args
        .from
        .as_deref()
        .map(|text| parse_time(text, Bound::From))
        .transpose()
        .map_err(|e| anyhow!("--from {e}"))?;
    let to_ms = args
        .to
        .as_deref()
        .map(|text| parse_time(text, Bound::To))
        .transpose()
        .map_err(|e| anyhow!("--to {e}"))?;
    let paging = match (args.page, args.after) {
        (_, Some(after)) => Paging::After(after),
        (Some(page), None) => Paging::Number(page),
        (None, None) => Paging::Number(1),
    };
    if let Paging::Number(page) = paging {
        let deepest = u64::from(page) * u64::from(args.page_size);
        if deepest > MAX_RESULT_WINDOW {
            bail!(
                "--page {page} of {} reaches past movement {MAX_RESULT_WINDOW}, the deepest \
                 numbered paging goes; page with --after instead",
                args.page_size
            );
        }
    }
    let config = args.source.config(Duration::from_secs(5))?;
    probe::probe(&Endpoints::from_env().search).await?;
    let reader = HistoryReader::new(&config)?;
    let timeout = Duration::from_secs_f64(args.timeout);

    let mut note = None;
    if let Some(version) = args.min_version {
        let broker = Endpoints::from_env().broker;
        probe_broker(&broker).await?;
        let events = TopicNames::with_suffix(&args.source.topic_suffix).events;
        let log = (broker.address.as_str(), events.as_str());
        let waited = wait_for(&reader, &args.account, version, log, timeout).await?;
        match waited {
            Waited::Found => {}
            Waited::Covered => {
                note = Some(format!(
                    "version {version} of {} has no movement: every event the log held when \
                     the query started is in the history, and none of them moved money at that \
                     version (a close, or no such version)",
                    args.account
                ));
            }
            Waited::TimedOut { lag } => {
                eprintln!(
                    "timed out after {:.1} s: version {version} of account {} is not in {}; {lag}",
                    timeout.as_secs_f64(),
                    args.account,
                    reader.alias()
                );
                return Err(Exit::TIMEOUT.into());
            }
        }
    }

    let request = Request {
        account: args.account.clone(),
        from_ms,
        to_ms,
        size: args.page_size,
        paging,
    };
    let page = reader
        .page(&request)
        .await
        .with_context(|| format!("reading {}", reader.alias()))?;
    if page.movements.is_empty()
        && args.min_version.is_none()
        && reader.movements_of(&args.account).await? == 0
    {
        eprintln!(
            "account {} has no movements in {}",
            args.account,
            reader.alias()
        );
        return Err(Exit::NOT_FOUND.into());
    }
    if let Some(note) = &note {
        eprintln!("{note}");
    }
    match args.output {
        Output::Human => {
            print!("{}", human(&request, &page));
            if let Some(after) = page.next_after {
                eprintln!("next page: --after {after}");
            }
        }
        Output::Json => println!("{}", json(&request, &page, note.as_deref())),
    }
    Ok(())
}

/// Which end of a range a time is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    From,
    /// A bare date as `--to` includes its whole day.
    To,
}

/// `2025-11-01`, `2025-11-01T08:00:00Z`, `2025-11-01T08:00:00.250+01:00` as
/// epoch milliseconds. A bare date is midnight UTC; as [`Bound::To`], the next
/// midnight (its whole day included). A time needs its offset (`Z` or `±hh:mm`).
pub fn parse_time(text: &str, bound: Bound) -> Result<i64, String> {
    let fail = |error: jiff::Error| {
        format!(
            "{text:?} is not a date or a time ({error}); write 2025-11-01 or 2025-11-01T08:00:00Z"
        )
    };
    if text.contains(['T', 't', ' ']) {
        let at: Timestamp = text.parse().map_err(fail)?;
        return Ok(at.as_millisecond());
    }
    let date: Date = text.parse().map_err(fail)?;
    let day = match bound {
        Bound::From => date,
        Bound::To => date.tomorrow().map_err(fail)?,
    };
    let midnight = day.to_zoned_datetime(TimeZone::UTC).map_err(fail)?;
    Ok(midnight.timestamp().as_millisecond())
}

/// `CREDIT` and the others as statements print them.
fn movement_name(movement: Movement) -> &'static str {
    match movement {
        Movement::Credit => "credit",
        Movement::Debit => "debit",
        Movement::TransferOut => "transfer out",
        Movement::TransferIn => "transfer in",
    }
}

/// The amount with the sign of its direction (the fee is its own column).
fn signed_amount(document: &HistoryDocument) -> String {
    if document.net_minor < 0 {
        format_minor(-document.amount_minor)
    } else {
        format!("+{}", format_minor(document.amount_minor))
    }
}

/// The page for people: a statement, newest first.
pub fn human(request: &Request, page: &Page) -> String {
    let mut out = String::new();
    let range = match (request.from_ms, request.to_ms) {
        (None, None) => String::new(),
        (from, to) => format!(
            ", {} to {}",
            from.map_or_else(|| "the start".to_owned(), utc),
            to.map_or_else(|| "now".to_owned(), utc)
        ),
    };
    let at = match request.paging {
        Paging::Number(page) => format!("page {page}"),
        Paging::After(version) => format!("below version {version}"),
    };
    let currency = page
        .movements
        .first()
        .map_or(String::new(), |d| format!(", {}", d.currency));
    out.push_str(&format!(
        "account {}: {} movement{}{range}{currency}; {at}, {} shown\n",
        request.account,
        HumanCount(page.total),
        if page.total == 1 { "" } else { "s" },
        page.movements.len()
    ));
    if page.movements.is_empty() {
        return out;
    }
    out.push_str(&format!(
        "{:<24}  {:<12} {:>14} {:>8} {:>14}  {:<16} {:<20} {:>7}\n",
        "time", "type", "amount", "fee", "balance after", "counterparty", "reference", "version"
    ));
    for document in &page.movements {
        let fee = if document.fee_minor == 0 {
            String::new()
        } else {
            format_minor(document.fee_minor)
        };
        out.push_str(&format!(
            "{:<24}  {:<12} {:>14} {:>8} {:>14}  {:<16} {:<20} {:>7}\n",
            utc(document.occurred_at),
            movement_name(document.movement),
            signed_amount(document),
            fee,
            format_minor(document.balance_after_minor),
            document.counterparty_account_id.as_deref().unwrap_or(""),
            document.reference.as_deref().unwrap_or(""),
            document.version
        ));
    }
    out
}

/// The page as one JSON object: the documents as stored, with decimals and
/// UTC times beside them.
pub fn json(request: &Request, page: &Page, note: Option<&str>) -> Value {
    let movements: Vec<Value> = page
        .movements
        .iter()
        .map(|document| {
            let mut value = serde_json::to_value(document).unwrap_or(Value::Null);
            value["occurred_at_utc"] = json!(utc(document.occurred_at));
            value["amount"] = json!(format_minor(document.amount_minor));
            value["net"] = json!(format_minor(document.net_minor));
            value["balance_after"] = json!(format_minor(document.balance_after_minor));
            value
        })
        .collect();
    let mut value = json!({
        "account_id": request.account,
        "total": page.total,
        "page_size": request.size,
        "movements": movements,
        "next_after": page.next_after,
    });
    match request.paging {
        Paging::Number(number) => value["page"] = json!(number),
        Paging::After(version) => value["after"] = json!(version),
    }
    if let Some(note) = note {
        value["note"] = json!(note);
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(paging: Paging) -> Request {
        Request {
            account: "acc-1".to_owned(),
            from_ms: Some(1_000),
            to_ms: None,
            size: 20,
            paging,
        }
    }

    /// A movement of 50.00; a negative `net` beyond it is the fee.
    fn document(version: u64, movement: Movement, net: i64) -> HistoryDocument {
        let amount = 5_000;
        HistoryDocument {
            event_id: format!("e-{version}"),
            account_id: "acc-1".to_owned(),
            version,
            movement,
            event_type: "MoneyWithdrawn".to_owned(),
            occurred_at: 1_735_733_046_007,
            currency: "USD".to_owned(),
            amount_minor: amount,
            fee_minor: if net < 0 { -net - amount } else { 0 },
            net_minor: net,
            balance_after_minor: 94_975,
            counterparty_account_id: Some("acc-2".to_owned()),
            transfer_id: None,
            reference: Some("rent".to_owned()),
            channel: None,
            reason_code: None,
            reason: None,
            command_id: "c".to_owned(),
            correlation_id: "r".to_owned(),
            source_partition: 0,
            source_offset: 7,
        }
    }

    #[test]
    fn dates_and_rfc3339_times_become_epoch_milliseconds() {
        assert_eq!(parse_time("1970-01-01", Bound::From), Ok(0));
        assert_eq!(parse_time("1970-01-01", Bound::To), Ok(86_400_000));
        assert_eq!(
            parse_time("2025-01-01T12:04:06.007Z", Bound::From),
            Ok(1_735_733_046_007)
        );
        assert_eq!(
            parse_time("2025-01-01T13:04:06.007+01:00", Bound::To),
            Ok(1_735_733_046_007)
        );
        assert_eq!(
            parse_time("2025-01-01T11:34:06.5-00:30", Bound::From),
            Ok(1_735_733_046_500)
        );
        assert_eq!(
            parse_time("2025-01-01 12:04:06.007z", Bound::From),
            Ok(1_735_733_046_007)
        );
        assert_eq!(parse_time("2024-02-29", Bound::From), Ok(1_709_164_800_000));
        for bad in [
            "2025-02-29",
            "2025-13-01",
            "2025-1-x",
            "yesterday",
            "2025-01-01T12:00:00",
            "2025-01-01T25:00:00Z",
        ] {
            assert!(parse_time(bad, Bound::From).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_search_filters_on_the_account_and_time_and_sorts_by_version() {
        let body = request(Paging::Number(3)).body();
        assert_eq!(body["from"], 40);
        assert_eq!(body["size"], 20);
        assert_eq!(body["sort"], json!([{ "version": "desc" }]));
        let filter = &body["query"]["bool"]["filter"];
        assert_eq!(filter[0], json!({ "term": { "account_id": "acc-1" } }));
        assert_eq!(filter[1]["range"]["occurred_at"]["gte"], 1_000);
        assert!(filter[1]["range"]["occurred_at"].get("lt").is_none());

        let body = request(Paging::After(42)).body();
        assert_eq!(body["search_after"], json!([42]));
        assert!(body.get("from").is_none());
    }

    #[test]
    fn a_statement_shows_signed_amounts_fees_and_balances() {
        let page = Page {
            total: 2,
            movements: vec![
                document(5, Movement::TransferOut, -5_200),
                document(4, Movement::Credit, 5_000),
            ],
            next_after: Some(4),
        };
        let text = human(&request(Paging::Number(1)), &page);
        assert!(text.starts_with("account acc-1: 2 movements"), "{text}");
        assert!(text.contains("transfer out"), "{text}");
        assert!(text.contains("-50.00"), "{text}");
        assert!(text.contains("+50.00"), "{text}");
        assert!(text.contains("949.75"), "{text}");
        assert!(text.contains("2025-01-01T12:04:06.007Z"), "{text}");

        let value = json(&request(Paging::After(9)), &page, None);
        assert_eq!(value["next_after"], 4);
        assert_eq!(value["after"], 9);
        assert_eq!(value["movements"][0]["movement"], "TRANSFER_OUT");
        assert_eq!(value["movements"][0]["net"], "-52.00");
        assert_eq!(value["movements"][0]["fee_minor"], 200);
        assert_eq!(value["movements"][1]["fee_minor"], 0);
    }
}
