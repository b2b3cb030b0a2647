-- Daily statistics per account and per account type: counts and sums of
-- deposits, withdrawals, fees and transfers.
--
-- Views over account_events FINAL, computed when queried, never stored. Why not
-- a SummingMergeTree (or an AggregatingMergeTree) filled by a materialized view:
-- such a view adds every inserted block to the totals, and the projection writes
-- at least once — a retried batch, a restart from the checkpoint or a replay
-- inserts events again, and their amounts would be added twice, with no way to
-- take them out. Deduplicating first (one row per account and version) and
-- aggregating after is what FINAL does at read time, on 18.16 and current
-- ClickHouse alike, so these figures are exact whatever was written twice.
-- The cost is paid at query time: filter on day (or query account_events FINAL
-- with a WHERE on event_date, as the README shows) for long histories.
CREATE VIEW IF NOT EXISTS account_daily_stats${suffix} AS
SELECT
    event_date                                                            AS day,
    account_id,
    account_type,
    currency,
    count()                                                               AS events,
    countIf(event_type = 'MoneyDeposited')                                AS deposits,
    sumIf(amount_minor, event_type = 'MoneyDeposited')                    AS deposited_minor,
    countIf(event_type = 'MoneyWithdrawn')                                AS withdrawals,
    sumIf(amount_minor, event_type = 'MoneyWithdrawn')                    AS withdrawn_minor,
    countIf(event_type = 'TransferDebited')                               AS transfers_out,
    sumIf(amount_minor, event_type = 'TransferDebited')                   AS transferred_out_minor,
    countIf(event_type = 'TransferCredited')                              AS transfers_in,
    sumIf(amount_minor, event_type = 'TransferCredited')                  AS transferred_in_minor,
    countIf(event_type = 'TransferRefunded')                              AS refunds,
    sumIf(amount_minor, event_type = 'TransferRefunded')                  AS refunded_minor,
    sumIf(fee_minor, event_type IN ('MoneyWithdrawn', 'TransferDebited')) AS fees_minor,
    sumIf(fee_minor, event_type = 'TransferRefunded')                     AS fees_refunded_minor,
    sum(balance_delta_minor)                                              AS net_change_minor,
    argMax(balance_after_minor, version)                                  AS closing_balance_minor
FROM account_events${suffix} FINAL
GROUP BY day, account_id, account_type, currency;

CREATE VIEW IF NOT EXISTS account_type_daily_stats${suffix} AS
SELECT
    event_date                                                            AS day,
    account_type,
    currency,
    uniqExact(account_id)                                                 AS active_accounts,
    count()                                                               AS events,
    countIf(event_type = 'AccountOpened')                                 AS accounts_opened,
    countIf(event_type = 'AccountClosed')                                 AS accounts_closed,
    countIf(event_type = 'MoneyDeposited')                                AS deposits,
    sumIf(amount_minor, event_type = 'MoneyDeposited')                    AS deposited_minor,
    countIf(event_type = 'MoneyWithdrawn')                                AS withdrawals,
    sumIf(amount_minor, event_type = 'MoneyWithdrawn')                    AS withdrawn_minor,
    countIf(event_type = 'TransferDebited')                               AS transfers_out,
    sumIf(amount_minor, event_type = 'TransferDebited')                   AS transferred_out_minor,
    countIf(event_type = 'TransferCredited')                              AS transfers_in,
    sumIf(amount_minor, event_type = 'TransferCredited')                  AS transferred_in_minor,
    countIf(event_type = 'TransferRefunded')                              AS refunds,
    sumIf(amount_minor, event_type = 'TransferRefunded')                  AS refunded_minor,
    sumIf(fee_minor, event_type IN ('MoneyWithdrawn', 'TransferDebited')) AS fees_minor,
    sumIf(fee_minor, event_type = 'TransferRefunded')                     AS fees_refunded_minor,
    sum(balance_delta_minor)                                              AS net_change_minor
FROM account_events${suffix} FINAL
GROUP BY day, account_type, currency;
