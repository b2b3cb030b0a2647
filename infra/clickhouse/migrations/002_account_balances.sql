-- account_balances: the current state of every account, one row per account
-- once merged.
--
-- ReplacingMergeTree(version) keyed by account_id: of all rows of an account the
-- one with the highest version wins, so rows written again by a retry or a
-- replay (an older or the same version) never replace a newer state, whatever
-- order they arrive in. Read with FINAL for exact answers. No partition key:
-- every row of an account must share one partition to collapse.
CREATE TABLE IF NOT EXISTS account_balances${suffix}
(
    account_id          String,
    owner_id            String,
    -- CHECKING, SAVINGS, BUSINESS, INVESTMENT.
    account_type        String,
    currency            String,
    -- OPEN or CLOSED.
    status              String,
    balance_minor       Int64,
    -- The version of the last event folded in.
    version             UInt64,
    opened_at           DateTime('UTC'),
    last_activity_at    DateTime('UTC'),
    last_activity_at_ms Int64,
    projected_at        DateTime('UTC')
)
ENGINE = ReplacingMergeTree(version)
ORDER BY account_id;
