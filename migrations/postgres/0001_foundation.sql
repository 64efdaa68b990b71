-- Foundation schema (PostgreSQL). Timestamps are unix milliseconds.

CREATE TABLE accounts (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL
);

-- Keyed by SHA-256 of the session id: the cookie value itself is never stored.
CREATE TABLE sessions (
    id_hash    TEXT    PRIMARY KEY,
    data       TEXT    NOT NULL,
    expires_at BIGINT  NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- The secret is stored only as SHA-256 (keys are 256-bit random, so no salt or slow hash is needed).
CREATE TABLE api_keys (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id   BIGINT  NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    prefix       TEXT    NOT NULL,
    secret_hash  TEXT    NOT NULL UNIQUE,
    created_at   BIGINT  NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX api_keys_account_id ON api_keys (account_id);

CREATE TABLE catalog_models (
    id                    TEXT    PRIMARY KEY,
    provider              TEXT    NOT NULL,
    upstream_name         TEXT    NOT NULL,
    input_price_per_mtok  DOUBLE PRECISION    NOT NULL,
    output_price_per_mtok DOUBLE PRECISION    NOT NULL,
    context_window        BIGINT  NOT NULL,
    supports_tools        BOOLEAN NOT NULL,
    supports_vision       BOOLEAN NOT NULL,
    supports_json         BOOLEAN NOT NULL,
    simulated             BOOLEAN NOT NULL,
    updated_at            BIGINT  NOT NULL
);

-- categories, tags: JSON arrays of strings; spec: JSON ModelSetSpec (app::model_set).
CREATE TABLE model_sets (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id    BIGINT  NOT NULL REFERENCES accounts (id),
    slug        TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL,
    categories  TEXT    NOT NULL,
    tags        TEXT    NOT NULL,
    spec        TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL,
    UNIQUE (owner_id, slug)
);

CREATE TABLE request_records (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id          TEXT    NOT NULL,
    at                  BIGINT  NOT NULL,
    account_id          BIGINT  NOT NULL,
    api_key_id          BIGINT,
    model_set_id        BIGINT,
    model_id            TEXT    NOT NULL,
    status              BIGINT  NOT NULL,
    error_class         TEXT,
    latency_ms          DOUBLE PRECISION    NOT NULL,
    ttft_ms             DOUBLE PRECISION,
    output_tokens_per_s DOUBLE PRECISION,
    prompt_tokens       BIGINT  NOT NULL,
    completion_tokens   BIGINT  NOT NULL,
    cost_usd            DOUBLE PRECISION    NOT NULL
);
CREATE INDEX request_records_set_at ON request_records (model_set_id, at);
CREATE INDEX request_records_model_at ON request_records (model_id, at);
