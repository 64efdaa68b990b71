-- A set's hours with every model merged (model_id is ''), written by the metrics writer beside
-- the per-model rows: the whole set's line on the set page (the page's default view, and its
-- "last 24 h" beside each requirement) reads one row per hour and writer instead of one per
-- model, which for a set of ten models was nine tenths of what a week's chart cost.
CREATE TABLE request_rollups_set_hourly (
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
    eval_cost_usd         REAL NOT NULL DEFAULT 0,
    evals                 TEXT    NOT NULL DEFAULT '{}',
    PRIMARY KEY (set_id, minute, model_id, writer)
);
-- The registry orders sets by their traffic of the last day (and draws it): from this index
-- alone, not the wide rows.
CREATE INDEX request_rollups_set_hourly_minute ON request_rollups_set_hourly (minute, set_id, count);
-- Hours written before this table existed are merged into it once, by the first server that
-- starts after this migration, before it writes anything (SQL cannot merge the sketches); an
-- hour that has rows here already is left alone. The row says that is still to do.
CREATE TABLE rollup_backfills (
    name        TEXT PRIMARY KEY
);
INSERT INTO rollup_backfills (name) VALUES ('set_hourly');
