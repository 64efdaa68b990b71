-- Failed requests by class per rollup row: a JSON object {"timeout": 3, "upstream_5xx": 1}.
ALTER TABLE request_rollups ADD COLUMN error_classes TEXT NOT NULL DEFAULT '{}';

-- The same rollups per hour, kept by each writer beside its per-minute rows: ranges of days
-- read 60 times fewer rows (and decode 60 times fewer sketches) than from the minutes. The
-- column is named "minute" as in request_rollups, holding the start of the hour, so that one
-- SQL text reads and writes both tables.
CREATE TABLE request_rollups_hourly (
    set_id                INTEGER NOT NULL,
    model_id              TEXT    NOT NULL,
    minute                INTEGER NOT NULL,
    writer                TEXT    NOT NULL,
    count                 INTEGER NOT NULL,
    errors                INTEGER NOT NULL,
    latency_ms_sum        REAL NOT NULL,
    ttft_ms_sum           REAL NOT NULL,
    ttft_count            INTEGER NOT NULL,
    tokens_per_s_sum      REAL NOT NULL,
    tokens_per_s_count    INTEGER NOT NULL,
    prompt_tokens         INTEGER NOT NULL,
    completion_tokens     INTEGER NOT NULL,
    cost_usd              REAL NOT NULL,
    latency_sketch        TEXT    NOT NULL,
    ttft_sketch           TEXT    NOT NULL,
    error_classes         TEXT    NOT NULL DEFAULT '{}',
    PRIMARY KEY (set_id, model_id, minute, writer)
);
-- A set's hours; with the count, so that summing a set's requests never reads the wide rows.
CREATE INDEX request_rollups_hourly_set_minute ON request_rollups_hourly (set_id, minute, count);
-- The models page reads every set's hours of the last day; the registry sums each set's
-- requests of the last day, from this index alone (the rows themselves are wide: sketches).
CREATE INDEX request_rollups_hourly_minute ON request_rollups_hourly (minute, set_id, count);
-- Registry search orders by recency of creation.
CREATE INDEX model_sets_created_at ON model_sets (created_at);
