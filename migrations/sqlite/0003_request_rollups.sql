-- Per-minute rollups of request records per (set, model). set_id 0 = requests to a catalog
-- model directly. Each server process (writer) owns its rows, so replicas never overwrite one
-- another; readers merge the rows of all writers. Sums and sketches cover successful
-- requests; count and errors cover all. Sketches: DDSketch (1% relative error) as JSON.
CREATE TABLE request_rollups (
    set_id                INTEGER NOT NULL,
    model_id              TEXT    NOT NULL,
    minute                INTEGER NOT NULL,
    writer                TEXT    NOT NULL,
    count                 INTEGER NOT NULL,
    errors                INTEGER NOT NULL,
    latency_ms_sum        REAL    NOT NULL,
    ttft_ms_sum           REAL    NOT NULL,
    ttft_count            INTEGER NOT NULL,
    tokens_per_s_sum      REAL    NOT NULL,
    tokens_per_s_count    INTEGER NOT NULL,
    prompt_tokens         INTEGER NOT NULL,
    completion_tokens     INTEGER NOT NULL,
    cost_usd              REAL    NOT NULL,
    latency_sketch        TEXT    NOT NULL,
    ttft_sketch           TEXT    NOT NULL,
    PRIMARY KEY (set_id, model_id, minute, writer)
);
CREATE INDEX request_rollups_set_minute ON request_rollups (set_id, minute);
