-- account_events: every event of account-events, one row per (account_id, version).
--
-- Applied by `ledgerstream project clickhouse` at start; `${suffix}` is the table
-- suffix (`_v1` for --table-suffix v1, empty by default). A migration is never
-- edited once released: a change is a new numbered file.
--
-- Correct under replay: the projection writes at least once. A retried batch, a
-- restart from the last checkpoint or a full replay writes the same event again,
-- with the same sorting key (account_id, version) and the same values, and
-- ReplacingMergeTree keeps one row per key. It does so when parts merge, in the
-- background, at no set time: reads that must be exact use FINAL, which
-- collapses at read time. Rows collapse only within a partition; the partition is
-- derived from occurred_at, which every copy of an event shares.
--
-- Works on ClickHouse 18.16 and current releases: DateTime('UTC') in seconds
-- (18.16 has no DateTime64) with the exact epoch milliseconds next to it; plain
-- String for type-like columns (LowCardinality needs a setting on 18.16).
-- Money is Int64 minor units next to an ISO 4217 currency, never a float.
CREATE TABLE IF NOT EXISTS account_events${suffix}
(
    account_id              String,
    -- The account's version after the event: 1 for AccountOpened.
    version                 UInt64,
    event_id                String,
    -- The record name: AccountOpened, MoneyDeposited, MoneyWithdrawn,
    -- TransferDebited, TransferCredited, TransferRefunded, AccountClosed.
    event_type              String,
    occurred_at             DateTime('UTC'),
    occurred_at_ms          Int64,
    event_date              Date DEFAULT toDate(occurred_at),
    -- The account's owner, type and currency, on every event (from its
    -- AccountOpened): statistics per type need no join.
    owner_id                String,
    account_type            String,
    currency                String,
    -- The event's amount (the initial deposit of AccountOpened; 0 when none),
    -- positive; what it does to the balance is said by event_type.
    amount_minor            Int64,
    fee_minor               Int64,
    -- What the event did to the balance, signed: -(amount + fee) for a
    -- withdrawal or a transfer out, +(amount + fee) for a refund.
    balance_delta_minor     Int64,
    balance_after_minor     Int64,
    -- The other account of a transfer; empty otherwise.
    counterparty_account_id String,
    transfer_id             String,
    reference               String,
    -- Where a withdrawal was made (UNKNOWN, BRANCH, ATM, ONLINE, API); empty for
    -- other events.
    channel                 String,
    -- Why a transfer was refunded (the credit's rejection code and text).
    reason_code             String,
    reason                  String,
    command_id              String,
    correlation_id          String,
    causation_id            String,
    -- Where the event was read, for audits.
    source_partition        Int32,
    source_offset           Int64,
    projected_at            DateTime('UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (account_id, version);
