//! The exactly-once audit: what the log of a pipeline must say after any run,
//! checked by a reader that shares nothing with the processor's code path — its
//! own `read_committed` consumer, the writer schemas fetched from the registry's
//! REST API and decoded by `apache-avro` (not ledgerstream's codec), and the
//! business rules it needs (the fee policy) taken from the README.
//!
//! The invariants, after every command was decided:
//! - every command in `account-commands` (sent by a client or by the processor as
//!   a transfer's follow-up) has exactly one result, and every result a command;
//! - every event names a command; an accepted command has exactly `event_count`
//!   events, a rejected one none; no event id appears twice;
//! - per account, versions run 1..n in log order, and each balance-after is the
//!   previous one plus the event's movement (the statement chain);
//! - every `TransferDebited` ends credited or refunded, exactly once;
//! - the sum of all balances equals initial deposits + deposits − withdrawals −
//!   fees, each fee by the documented policy.

use std::collections::{BTreeMap, HashMap, HashSet};

use apache_avro::Schema;
use apache_avro::types::Value;

use crate::pipeline::{Pipeline, Read};

/// One decoded record: its schema's name and its fields.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub name: String,
    pub fields: BTreeMap<String, Value>,
    pub partition: i32,
    pub offset: i64,
}

impl Decoded {
    fn get(&self, field: &str) -> &Value {
        let mut value = self
            .fields
            .get(field)
            .unwrap_or_else(|| panic!("{} has no field {field}", self.name));
        while let Value::Union(_, inner) = value {
            value = inner;
        }
        value
    }

    /// A string, uuid or enum field as text.
    pub fn text(&self, field: &str) -> String {
        match self.get(field) {
            Value::String(s) | Value::Enum(_, s) => s.clone(),
            Value::Uuid(u) => u.to_string(),
            other => panic!("{}.{field} is not text: {other:?}", self.name),
        }
    }

    /// A long field (money in minor units, versions, offsets, times).
    pub fn long(&self, field: &str) -> i64 {
        match self.get(field) {
            Value::Long(n) | Value::TimestampMillis(n) => *n,
            Value::Int(n) => i64::from(*n),
            other => panic!("{}.{field} is not a long: {other:?}", self.name),
        }
    }

    /// A field of the nested `metadata` record (events).
    pub fn meta(&self) -> Decoded {
        let Value::Record(fields) = self.get("metadata") else {
            panic!("{} has no metadata record", self.name)
        };
        Decoded {
            name: format!("{}.metadata", self.name),
            fields: fields.iter().cloned().collect(),
            partition: self.partition,
            offset: self.offset,
        }
    }
}

/// Decodes Confluent-framed Avro with writer schemas fetched from the registry.
#[derive(Debug, Default)]
pub struct AvroReader {
    url: String,
    schemas: HashMap<u32, Schema>,
}

impl AvroReader {
    /// A reader of the registry at `url`.
    pub fn new(url: &str) -> Self {
        Self {
            url: url.trim_end_matches('/').to_owned(),
            schemas: HashMap::new(),
        }
    }

    /// Decodes every record; panics on one that is not Confluent-framed Avro.
    pub async fn decode_all(&mut self, records: &[Read]) -> Vec<Decoded> {
        let mut out = Vec::with_capacity(records.len());
        for record in records {
            out.push(self.decode(record).await);
        }
        out
    }

    async fn decode(&mut self, record: &Read) -> Decoded {
        let bytes = &record.payload;
        assert!(
            bytes.len() > 5 && bytes[0] == 0,
            "record {}/{} is not in the Confluent wire format",
            record.partition,
            record.offset
        );
        let id = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
        if !self.schemas.contains_key(&id) {
            let schema = self.fetch(id).await;
            self.schemas.insert(id, schema);
        }
        let schema = &self.schemas[&id];
        let value = apache_avro::reader::datum::GenericDatumReader::builder(schema)
            .build()
            .and_then(|reader| reader.read_value(&mut &bytes[5..]))
            .unwrap_or_else(|e| {
                panic!(
                    "record {}/{} does not decode with schema {id}: {e}",
                    record.partition, record.offset
                )
            });
        let Value::Record(fields) = value else {
            panic!(
                "record {}/{} is not an Avro record",
                record.partition, record.offset
            )
        };
        let name = match schema {
            Schema::Record(record) => record.name.name().to_owned(),
            other => panic!("schema {id} is not a record: {other:?}"),
        };
        Decoded {
            name,
            fields: fields.into_iter().collect(),
            partition: record.partition,
            offset: record.offset,
        }
    }

    async fn fetch(&self, id: u32) -> Schema {
        let url = format!("{}/schemas/ids/{id}", self.url);
        let body: serde_json::Value = reqwest::get(&url)
            .await
            .and_then(reqwest::Response::error_for_status)
            .unwrap_or_else(|e| panic!("GET {url}: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let text = body["schema"]
            .as_str()
            .unwrap_or_else(|| panic!("GET {url}: no schema in {body}"));
        Schema::parse_str(text).unwrap_or_else(|e| panic!("schema {id}: {e}"))
    }
}

/// The fee of a withdrawal (docs/rules.md, "Fees"): 5.00 from a savings account above
/// 1,000.00, otherwise none.
fn withdrawal_fee(account_type: &str, amount: i64) -> i64 {
    if account_type == "SAVINGS" && amount > 100_000 {
        500
    } else {
        0
    }
}

/// The fee of a transfer, paid by the source: 2.00 up to 10,000.00, 10.00 above.
fn transfer_fee(amount: i64) -> i64 {
    if amount <= 1_000_000 { 200 } else { 1_000 }
}

/// What the audit counted, for the test's report.
#[derive(Debug, Default)]
pub struct Summary {
    pub commands: usize,
    pub follow_ups: usize,
    pub accepted: usize,
    pub rejected: usize,
    pub events: usize,
    pub accounts: usize,
    pub transfers_credited: usize,
    pub transfers_refunded: usize,
    pub total_balance: i64,
}

/// Reads the pipeline's commands, events and results (read_committed) and checks
/// every invariant; panics naming the first few violations.
pub async fn exactly_once(pipeline: &Pipeline) -> Summary {
    let mut reader = AvroReader::new(&pipeline.registry.config().url);
    let commands = reader
        .decode_all(&pipeline.read_all(&pipeline.topics.commands))
        .await;
    let events = reader
        .decode_all(&pipeline.read_all(&pipeline.topics.events))
        .await;
    let results = reader
        .decode_all(&pipeline.read_all(&pipeline.topics.results))
        .await;
    let mut audit = Audit::default();
    let summary = audit.check(&commands, &events, &results);
    assert!(
        audit.violations.is_empty(),
        "{} violation(s) of exactly-once; the first:\n{}",
        audit.violations.len(),
        audit
            .violations
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    summary
}

#[derive(Debug, Default)]
struct Audit {
    violations: Vec<String>,
}

impl Audit {
    fn fail(&mut self, violation: String) {
        self.violations.push(violation);
    }

    fn check(&mut self, commands: &[Decoded], events: &[Decoded], results: &[Decoded]) -> Summary {
        let mut summary = Summary::default();
        let by_id = self.commands_by_id(commands, &mut summary);
        let outcome = self.one_result_each(&by_id, results, &mut summary);
        self.events_match_results(&by_id, &outcome, events, &mut summary);
        self.statement_chains(events, &mut summary);
        self.transfers_settle(events, &mut summary);
        self.money_is_conserved(&by_id, &outcome, events, &summary);
        summary
    }

    fn commands_by_id<'a>(
        &mut self,
        commands: &'a [Decoded],
        summary: &mut Summary,
    ) -> HashMap<String, &'a Decoded> {
        let mut by_id = HashMap::new();
        for command in commands {
            let id = command.text("command_id");
            if by_id.insert(id.clone(), command).is_some() {
                self.fail(format!("command {id} is in account-commands twice"));
            }
            match command.name.as_str() {
                "CreditTransfer" | "RefundTransfer" => summary.follow_ups += 1,
                _ => summary.commands += 1,
            }
        }
        by_id
    }

    /// Per command id: `Some(event_count)` accepted, `None` rejected.
    fn one_result_each(
        &mut self,
        commands: &HashMap<String, &Decoded>,
        results: &[Decoded],
        summary: &mut Summary,
    ) -> HashMap<String, Option<i64>> {
        let mut outcome = HashMap::new();
        for result in results {
            let id = result.text("command_id");
            if !commands.contains_key(&id) {
                self.fail(format!(
                    "result for {id}, a command not in account-commands"
                ));
            }
            let this = match result.name.as_str() {
                "CommandAccepted" => {
                    summary.accepted += 1;
                    Some(result.long("event_count"))
                }
                _ => {
                    summary.rejected += 1;
                    None
                }
            };
            if outcome.insert(id.clone(), this).is_some() {
                self.fail(format!("command {id} has more than one result"));
            }
        }
        for (id, command) in commands {
            if !outcome.contains_key(id) {
                self.fail(format!("{} {id} has no result", command.name));
            }
        }
        outcome
    }

    fn events_match_results(
        &mut self,
        commands: &HashMap<String, &Decoded>,
        outcome: &HashMap<String, Option<i64>>,
        events: &[Decoded],
        summary: &mut Summary,
    ) {
        let mut event_ids = HashSet::new();
        let mut per_command: HashMap<String, i64> = HashMap::new();
        for event in events {
            let meta = event.meta();
            let id = meta.text("event_id");
            if !event_ids.insert(id.clone()) {
                self.fail(format!("event {id} appears twice"));
            }
            let command = meta.text("command_id");
            if !commands.contains_key(&command) {
                self.fail(format!(
                    "{} {id} names command {command}, not in the log",
                    event.name
                ));
            }
            *per_command.entry(command).or_default() += 1;
        }
        summary.events = events.len();
        for (id, result) in outcome {
            let written = per_command.get(id).copied().unwrap_or(0);
            match result {
                Some(count) if *count != written => self.fail(format!(
                    "accepted command {id} announced {count} event(s), the log has {written}"
                )),
                None if written > 0 => {
                    self.fail(format!("rejected command {id} has {written} event(s)"));
                }
                _ => {}
            }
        }
    }

    fn statement_chains(&mut self, events: &[Decoded], summary: &mut Summary) {
        let mut accounts: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        for event in events {
            let meta = event.meta();
            let account = meta.text("account_id");
            let version = meta.long("version");
            let (last_version, balance) = accounts.entry(account.clone()).or_insert((0, 0));
            if version != *last_version + 1 {
                self.fail(format!(
                    "{account}: version {version} follows {last_version} (at {}/{})",
                    event.partition, event.offset
                ));
            }
            *last_version = version;
            let movement = match event.name.as_str() {
                "AccountOpened" => event.long("initial_deposit_minor"),
                "MoneyDeposited" | "TransferCredited" => event.long("amount_minor"),
                "MoneyWithdrawn" | "TransferDebited" => {
                    -(event.long("amount_minor") + event.long("fee_minor"))
                }
                "TransferRefunded" => event.long("amount_minor") + event.long("fee_minor"),
                _ => 0,
            };
            *balance += movement;
            if event.name != "AccountClosed" && event.long("balance_after_minor") != *balance {
                self.fail(format!(
                    "{account} version {version}: balance after {} is not {} (the previous plus the movement)",
                    event.long("balance_after_minor"),
                    balance
                ));
            }
        }
        summary.accounts = accounts.len();
        summary.total_balance = accounts.values().map(|(_, balance)| balance).sum();
    }

    fn transfers_settle(&mut self, events: &[Decoded], summary: &mut Summary) {
        let mut legs: HashMap<String, [usize; 3]> = HashMap::new();
        for event in events {
            let leg = match event.name.as_str() {
                "TransferDebited" => 0,
                "TransferCredited" => 1,
                "TransferRefunded" => 2,
                _ => continue,
            };
            legs.entry(event.text("transfer_id")).or_default()[leg] += 1;
        }
        for (transfer, [debits, credits, refunds]) in legs {
            match (debits, credits, refunds) {
                (1, 1, 0) => summary.transfers_credited += 1,
                (1, 0, 1) => summary.transfers_refunded += 1,
                _ => self.fail(format!(
                    "transfer {transfer}: {debits} debit(s), {credits} credit(s), {refunds} refund(s)"
                )),
            }
        }
    }

    fn money_is_conserved(
        &mut self,
        commands: &HashMap<String, &Decoded>,
        outcome: &HashMap<String, Option<i64>>,
        events: &[Decoded],
        summary: &Summary,
    ) {
        let types: HashMap<String, String> = events
            .iter()
            .filter(|e| e.name == "AccountOpened")
            .map(|e| (e.meta().text("account_id"), e.text("account_type")))
            .collect();
        let credited: HashSet<String> = events
            .iter()
            .filter(|e| e.name == "TransferCredited")
            .map(|e| e.text("transfer_id"))
            .collect();
        let mut expected = 0;
        for (id, command) in commands {
            if !matches!(outcome.get(id), Some(Some(_))) {
                continue;
            }
            let account_type = types
                .get(&command.text("account_id"))
                .map_or("", String::as_str);
            expected += match command.name.as_str() {
                "OpenAccount" => command.long("initial_deposit_minor"),
                "DepositMoney" => command.long("amount_minor"),
                "WithdrawMoney" => {
                    let amount = command.long("amount_minor");
                    -(amount + withdrawal_fee(account_type, amount))
                }
                // The amount moves between accounts; the fee leaves, unless refunded.
                "DebitTransfer" if credited.contains(&command.text("transfer_id")) => {
                    -transfer_fee(command.long("amount_minor"))
                }
                _ => 0,
            };
        }
        if summary.total_balance != expected {
            self.fail(format!(
                "the balances sum to {} minor units; initial deposits + deposits − withdrawals − fees is {expected}",
                summary.total_balance
            ));
        }
    }
}
