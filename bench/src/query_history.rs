//! `ledgerstream-bench query-history`: how long one page of `query history`
//! takes — the search behind the alias, filtered on one account, sorted by
//! version, read in-process. Times the first page (`from` 0) and pages further
//! down with `search_after`, cycling through the account's history.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use elasticsearch::SearchParts;
use ledgerstream_infra::{Endpoints, probe};
use ledgerstream_projections::history::HistoryError;
use ledgerstream_projections::history::retry::read_answer;
use serde_json::json;

use ledgerstream_projections::history::read::{HistoryReader, Paging, Request};

use crate::measure::Latencies;
use ledgerstream::query::history::Source;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The account to read (default: the one with the most movements).
    #[arg(long, value_name = "ID")]
    account: Option<String>,
    /// Pages to time (after 20 not timed, to warm up).
    #[arg(long, value_name = "N", default_value_t = 2_000)]
    iterations: usize,
    /// Movements per page, as `query history --page-size`.
    #[arg(long, value_name = "N", default_value_t = 20)]
    page_size: u32,
    #[command(flatten)]
    source: Source,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    if args.iterations == 0 || args.page_size == 0 {
        bail!("--iterations and --page-size must be above 0");
    }
    let config = args.source.config(Duration::from_secs(10))?;
    probe::probe(&Endpoints::from_env().search).await?;
    let reader = HistoryReader::new(&config)?;
    let account = match args.account.clone() {
        Some(account) => account,
        None => busiest_account(&reader).await?,
    };
    let movements = reader.movements_of(&account).await?;
    if movements == 0 {
        bail!("account {account} has no movements in {}", reader.alias());
    }
    let all = count_all(&reader).await?;
    eprintln!(
        "query history {account} --page-size {}: {} timed pages ({} movements of the account, \
         {all} documents behind {})",
        args.page_size,
        args.iterations,
        movements,
        reader.alias()
    );

    let (mut first, mut deeper, mut both) = (
        Latencies::default(),
        Latencies::default(),
        Latencies::default(),
    );
    let mut after: Option<u64> = None;
    for i in 0..args.iterations + 20 {
        let paging = match after {
            Some(version) if i % 2 == 1 => Paging::After(version),
            _ => Paging::Number(1),
        };
        let request = Request {
            account: account.clone(),
            from_ms: None,
            to_ms: None,
            size: args.page_size,
            paging,
        };
        let started = Instant::now();
        let page = reader.page(&request).await?;
        let took = started.elapsed();
        if page.movements.is_empty() && matches!(paging, Paging::Number(_)) {
            bail!("account {account} lost its movements");
        }
        // The next deeper page; back to the top after the last one.
        if matches!(paging, Paging::After(_)) || after.is_none() {
            after = page.next_after;
        }
        if i >= 20 {
            match paging {
                Paging::Number(_) => first.record(took),
                Paging::After(_) => deeper.record(took),
            }
            both.record(took);
        }
    }
    println!("first page:          {}", first.summary("pages"));
    println!("search_after pages:  {}", deeper.summary("pages"));
    println!("all pages:           {}", both.summary("pages"));
    Ok(())
}

/// Documents behind the alias.
async fn count_all(reader: &HistoryReader) -> anyhow::Result<u64> {
    {
        let during = "counting documents";
        let response = reader
            .client()
            .count(elasticsearch::CountParts::Index(&[reader.alias()]))
            .send()
            .await
            .map_err(HistoryError::during(during))?;
        let answer = read_answer(during, response).await?;
        Ok(answer["count"].as_u64().unwrap_or(0))
    }
}

/// The account with the most movements: the deepest history.
async fn busiest_account(reader: &HistoryReader) -> anyhow::Result<String> {
    let during = "picking an account";
    let response = reader
        .client()
        .search(SearchParts::Index(&[reader.alias()]))
        .body(json!({
            "size": 0,
            "aggs": { "accounts": { "terms": { "field": "account_id", "size": 1 } } },
        }))
        .send()
        .await
        .map_err(HistoryError::during(during))?;
    let answer = read_answer(during, response).await?;
    answer["aggregations"]["accounts"]["buckets"][0]["key"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| {
            format!(
                "{} is empty; project some events first, or name one with --account",
                reader.alias()
            )
        })
}
