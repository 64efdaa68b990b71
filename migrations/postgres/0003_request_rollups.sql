-- Per-minute rollups of request records per (set, model). set_id 0 = requests to a catalog
-- model directly. Each server process (writer) owns its rows, so replicas never overwrite one
-- another; readers merge the rows of all writers. Sums and sketches cover successful
-- requests; count and errors cover all. Sketches: DDSketch (1% relative error) as JSON.
CREATE TABLE request_rollups (
    set_id                BIGINT  NOT NULL,
    model_id              TEXT    NOT NULL,
    minute                BIGINT  NOT NULL,
    writer                TEXT    NOT NULL,
    count                 BIGINT  NOT NULL,
    errors                BIGINT  NOT NULL,
    latency_ms_sum        DOUBLE PRECISION   NOT NULL,
    ttft_ms_sum           DOUBLE PRECISION   NOT NULL,
    ttft_count            BIGINT  NOT NULL,
    tokens_per_s_sum      DOUBLE PRECISION   NOT NULL,
    tokens_per_s_count    BIGINT  NOT NULL,
    prompt_tokens         BIGINT  NOT NULL,
    completion_tokens     BIGINT  NOT NULL,
    cost_usd              DOUBLE PRECISION   NOT NULL,
    latency_sketch        TEXT    NOT NULL,
    ttft_sketch           TEXT    NOT NULL,
    PRIMARY KEY (set_id, model_id, minute, writer)
);
CREATE INDEX request_rollups_set_minute ON request_rollups (set_id, minute);
