-- Foundation schema (SQLite). Timestamps are unix milliseconds.

CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
);

-- Keyed by SHA-256 of the session id: the cookie value itself is never stored.
CREATE TABLE sessions (
    id_hash    TEXT    PRIMARY KEY,
    data       TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- The secret is stored only as SHA-256 (keys are 256-bit random, so no salt or slow hash is needed).
CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    prefix       TEXT    NOT NULL,
    secret_hash  TEXT    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX api_keys_account_id ON api_keys (account_id);

CREATE TABLE catalog_models (
    id                    TEXT    PRIMARY KEY,
    provider              TEXT    NOT NULL,
    upstream_name         TEXT    NOT NULL,
    input_price_per_mtok  REAL    NOT NULL,
    output_price_per_mtok REAL    NOT NULL,
    context_window        INTEGER NOT NULL,
    supports_tools        INTEGER NOT NULL,
    supports_vision       INTEGER NOT NULL,
    supports_json         INTEGER NOT NULL,
    simulated             INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);

-- categories, tags: JSON arrays of strings; spec: JSON ModelSetSpec (app::model_set).
CREATE TABLE model_sets (
    id          INTEGER PRIMARY KEY,
    owner_id    INTEGER NOT NULL REFERENCES accounts (id),
    slug        TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL,
    categories  TEXT    NOT NULL,
    tags        TEXT    NOT NULL,
    spec        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (owner_id, slug)
);

CREATE TABLE request_records (
    id                  INTEGER PRIMARY KEY,
    request_id          TEXT    NOT NULL,
    at                  INTEGER NOT NULL,
    account_id          INTEGER NOT NULL,
    api_key_id          INTEGER,
    model_set_id        INTEGER,
    model_id            TEXT    NOT NULL,
    status              INTEGER NOT NULL,
    error_class         TEXT,
    latency_ms          REAL    NOT NULL,
    ttft_ms             REAL,
    output_tokens_per_s REAL,
    prompt_tokens       INTEGER NOT NULL,
    completion_tokens   INTEGER NOT NULL,
    cost_usd            REAL    NOT NULL
);
CREATE INDEX request_records_set_at ON request_records (model_set_id, at);
CREATE INDEX request_records_model_at ON request_records (model_id, at);
