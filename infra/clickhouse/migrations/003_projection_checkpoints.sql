-- projection_checkpoints: per projection, topic and partition, the last durable
-- position: every event before next_offset is written. Written after each batch,
-- before the consumer group's offsets are committed; read at assignment to
-- resume from.
--
-- ReplacingMergeTree(next_offset): the furthest checkpoint wins, so a checkpoint
-- written again after a restart (the same or a lower offset) never moves the
-- position back. Read with FINAL.
--
-- `projection` is quoted: current ClickHouse (checked on 26.9) reads a bare
-- PROJECTION in a column list as the start of a projection's definition and
-- refuses the table. Quoting changes nothing else: an earlier text of this file,
-- without the quotes, made the same table (schema.rs accepts its checksum).
CREATE TABLE IF NOT EXISTS projection_checkpoints${suffix}
(
    `projection`     String,
    topic            String,
    kafka_partition  Int32,
    next_offset      UInt64,
    -- occurred_at of the last event written (0 when none was).
    last_event_at    DateTime('UTC'),
    last_event_at_ms Int64,
    updated_at       DateTime('UTC'),
    updated_at_ms    Int64
)
ENGINE = ReplacingMergeTree(next_offset)
ORDER BY (projection, topic, kafka_partition);
