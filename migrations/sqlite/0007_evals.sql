-- Evals (server/src/evals/). A request drawn for evals says so; what the judge charged for
-- its evals is kept apart from the gateway's cost.
ALTER TABLE request_records ADD COLUMN eval_sampled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE request_records ADD COLUMN eval_cost_usd REAL NOT NULL DEFAULT 0;
-- The records of sampled requests by request id, for the judge's cost (a tenth of the rows).
CREATE INDEX request_records_sampled ON request_records (request_id) WHERE eval_sampled = TRUE;

-- Rollups carry the judge's cost and the scores by metric, a JSON object
-- {"answer_relevancy": {"n": 3, "sum": 2.4, "failed": 1}}, bucketed at the request's time.
ALTER TABLE request_rollups ADD COLUMN eval_cost_usd REAL NOT NULL DEFAULT 0;
ALTER TABLE request_rollups ADD COLUMN evals TEXT NOT NULL DEFAULT '{}';
ALTER TABLE request_rollups_hourly ADD COLUMN eval_cost_usd REAL NOT NULL DEFAULT 0;
ALTER TABLE request_rollups_hourly ADD COLUMN evals TEXT NOT NULL DEFAULT '{}';

-- The durable queue: one row per sampled request until every metric of it is scored or has
-- failed for good. A worker claims a row by writing a lease (until when, and a token of its
-- own); a lease that runs out (a crashed or stopped worker) makes the row claimable again;
-- finishing a row checks the token, so a job is finished once. `input` and `output` are what
-- the client sent and received, deleted with the row.
CREATE TABLE eval_jobs (
    id            INTEGER PRIMARY KEY,
    request_id    TEXT    NOT NULL,
    set_id        INTEGER NOT NULL,
    account_id    INTEGER NOT NULL,
    model_id      TEXT    NOT NULL,
    request_at    INTEGER NOT NULL,
    settings      TEXT    NOT NULL,
    metrics       TEXT    NOT NULL,
    input         TEXT    NOT NULL,
    output        TEXT    NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    run_after     INTEGER NOT NULL,
    lease_until   INTEGER,
    lease_token   TEXT,
    last_error    TEXT,
    created_at    INTEGER NOT NULL
);
CREATE INDEX eval_jobs_run_after ON eval_jobs (run_after);

-- One row per (request, metric): its score, or the error that ended it, and what the judge
-- charged. `input` / `output` are kept only while the operator's retention allows.
CREATE TABLE eval_results (
    id                INTEGER PRIMARY KEY,
    request_id        TEXT    NOT NULL,
    set_id            INTEGER NOT NULL,
    account_id        INTEGER NOT NULL,
    model_id          TEXT    NOT NULL,
    metric            TEXT    NOT NULL,
    score             REAL,
    reason            TEXT    NOT NULL,
    error             TEXT,
    judge_model       TEXT    NOT NULL,
    judge_calls       INTEGER NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost_usd          REAL    NOT NULL,
    request_at        INTEGER NOT NULL,
    scored_at         INTEGER NOT NULL,
    input             TEXT,
    output            TEXT,
    UNIQUE (request_id, metric)
);
CREATE INDEX eval_results_set_scored ON eval_results (set_id, scored_at);

-- G-Eval's evaluation steps, generated once per criteria text (by its SHA-256) and kept.
CREATE TABLE g_eval_steps (
    criteria_hash TEXT PRIMARY KEY,
    steps         TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
