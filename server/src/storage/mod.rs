//! Everything the server persists goes through [`Storage`]: one trait, two backends.
//!
//! SQLite ([`sqlite`]) is the embedded default: a single file, nothing to install.
//! PostgreSQL ([`postgres`]) is for operators running several gateway replicas against one
//! database. Both run the same test suite (`server/tests/storage.rs`), and each has its own
//! migrations under `migrations/<backend>/`. The URL scheme picks the backend.
//!
//! Timestamps are unix milliseconds (`i64`) in both databases: portable, sortable, and
//! the same type the UI receives.

mod portable;
pub mod postgres;
pub mod sessions;
pub mod sqlite;

use std::sync::Arc;

use app::catalog::CatalogModel;
use app::model_set::{ModelSet, ModelSetRevision, ModelSetSpec};
pub use app::monitoring::Grain;

pub type StorageResult<T> = Result<T, StorageError>;

/// Where rollup rows live: per (set, model) by the minute or by the hour, or per set with its
/// models merged (model id `""`) by the hour. The three tables have the same columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RollupTable {
    Minute,
    Hour,
    SetHour,
}

impl RollupTable {
    /// The width of a row's bucket.
    pub fn grain(self) -> Grain {
        match self {
            RollupTable::Minute => Grain::Minute,
            RollupTable::Hour | RollupTable::SetHour => Grain::Hour,
        }
    }
}

impl From<Grain> for RollupTable {
    /// The per-model table of that grain.
    fn from(grain: Grain) -> RollupTable {
        match grain {
            Grain::Minute => RollupTable::Minute,
            Grain::Hour => RollupTable::Hour,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The row asked for does not exist (or is not the caller's).
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken, e.g. a username that is taken.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Stored data that no longer decodes, e.g. a Model Set spec written by a newer version.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    #[error("database: {0}")]
    Database(sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StorageError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StorageError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => StorageError::Conflict(db.message().to_string()),
            _ => StorageError::Database(e),
        }
    }
}

/// An account row, with the password hash that only the accounts module reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub created_at: i64,
}

/// An API key row. `secret_hash` is SHA-256 of the secret; the secret itself is never stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: i64,
    pub account_id: i64,
    pub name: String,
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl ApiKey {
    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }
}

/// The owner of a key, as the gateway needs it on each request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOwner {
    pub key: ApiKey,
    pub username: String,
}

/// The editable content of a Model Set: what each revision records.
#[derive(Debug, Clone, PartialEq)]
pub struct SetContent {
    pub description: String,
    pub categories: Vec<String>,
    pub tags: Vec<String>,
    pub spec: ModelSetSpec,
}

/// A Model Set as written; the storage assigns id, revision and timestamps.
#[derive(Debug, Clone, PartialEq)]
pub struct NewModelSet {
    pub owner_id: i64,
    pub slug: String,
    pub name: String,
    pub content: SetContent,
    /// `@owner/slug` of the set this one was cloned from.
    pub cloned_from: Option<String>,
}

/// Registry search. `query` matches name, slug, owner, description, category or tag
/// (substring, case-insensitive; empty matches all); the others must match exactly when given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SetFilter {
    pub query: String,
    pub category: Option<String>,
    pub tag: Option<String>,
    pub owner: Option<String>,
}

/// A stretch of a list ordered by id, highest first: the ids below `after`, at most `limit`
/// (the default: all of them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SetPage {
    pub after: Option<i64>,
    pub limit: Option<usize>,
}

/// One set as the registry's search sees it: what a [`SetFilter`] is matched against
/// ([`SetMatcher::matches`]), as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchEntry {
    pub id: i64,
    /// The owner's username.
    pub owner: String,
    /// `model_sets.search_text`: the address, name, description, categories and tags, lower-cased.
    pub text: String,
    /// The categories and tags as stored (JSON arrays of normalised labels).
    pub categories: String,
    pub tags: String,
}

impl SetFilter {
    /// The filter made ready to test many entries ([`SetMatcher::matches`]): the query is
    /// lower-cased and the labels quoted once, not once per set.
    pub fn matcher(&self) -> SetMatcher<'_> {
        SetMatcher {
            query: self.query.trim().to_lowercase(),
            category: self.category.as_deref().map(json_element),
            tag: self.tag.as_deref().map(json_element),
            owner: self.owner.as_deref(),
        }
    }
}

/// A [`SetFilter`] ready to match [`SearchEntry`]s in memory.
#[derive(Debug, Clone)]
pub struct SetMatcher<'a> {
    query: String,
    /// Labels as they appear inside the stored JSON arrays (quoted).
    category: Option<String>,
    tag: Option<String>,
    owner: Option<&'a str>,
}

impl SetMatcher<'_> {
    /// Whether `entry` matches, exactly as the SQL condition the storage builds for the filter
    /// ([`FilterSql`]) decides on the same columns: the free text a substring of the search
    /// text, a category or tag an element of its stored array, the owner by username.
    /// `storage::{sqlite,postgres}::model_sets` makes each of its searches both ways.
    pub fn matches(&self, entry: &SearchEntry) -> bool {
        let element = |label: &Option<String>, stored: &str| label.as_ref().is_none_or(|l| stored.contains(l.as_str()));
        (self.query.is_empty() || entry.text.contains(&self.query))
            && element(&self.category, &entry.categories)
            && element(&self.tag, &entry.tags)
            && self.owner.is_none_or(|owner| entry.owner == owner)
    }
}

/// A set's traffic since some time, from the per-set hourly rollups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetActivity {
    pub set_id: i64,
    pub requests: i64,
    /// Start of the latest hour with traffic.
    pub last_active: i64,
}

/// Request records per insert statement. Every chunk, the last one padded, uses the same
/// statement text, so each connection prepares it once; a statement this size is a fraction
/// of a millisecond of SQLite's work, all the write lock is ever held for at a time.
pub const RECORDS_PER_INSERT: usize = 64;

/// One gateway request, as the metrics writer records it.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    pub request_id: String,
    pub at: i64,
    pub account_id: i64,
    pub api_key_id: Option<i64>,
    pub model_set_id: Option<i64>,
    pub model_id: String,
    pub status: u16,
    pub error_class: Option<String>,
    pub latency_ms: f64,
    pub ttft_ms: Option<f64>,
    pub output_tokens_per_s: Option<f64>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_usd: f64,
    /// Drawn for evals (at the set's sampling probability); said on the request's answered
    /// record only, so a fallback's failed attempt does not count twice.
    pub eval_sampled: bool,
    /// What the judge charged for this request's evals, added once they are scored (always 0
    /// as the gateway writes the record).
    pub eval_cost_usd: f64,
}

/// One writer's rollup of one minute (or hour, in the hourly table) of one (set, model): see
/// `migrations/*/0003_*.sql` and `0005_*.sql`. `set_id` 0 stands for requests to a catalog
/// model directly.
#[derive(Debug, Clone, PartialEq)]
pub struct RollupRow {
    pub set_id: i64,
    pub model_id: String,
    /// Unix milliseconds at the start of the minute (of the hour, for hourly rows).
    pub minute: i64,
    pub writer: String,
    pub count: i64,
    pub errors: i64,
    pub latency_ms_sum: f64,
    pub ttft_ms_sum: f64,
    pub ttft_count: i64,
    pub tokens_per_s_sum: f64,
    pub tokens_per_s_count: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_usd: f64,
    /// Serialized sketches (JSON), merged by `metrics::rollup`.
    pub latency_sketch: String,
    pub ttft_sketch: String,
    /// Failed requests by class, a JSON object.
    pub error_classes: String,
    /// What the judge charged for the evals of these requests.
    pub eval_cost_usd: f64,
    /// Eval scores by metric, a JSON object (`metrics::rollup::EvalSums`).
    pub evals: String,
}

/// A sampled request to evaluate, as queued: see `migrations/*/0007_evals.sql`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvalJob {
    pub request_id: String,
    pub set_id: i64,
    pub account_id: i64,
    pub model_id: String,
    pub request_at: i64,
    /// The set's `EvalSettings` when the request was sampled, as JSON.
    pub settings: String,
    /// The metrics still to score.
    pub metrics: Vec<String>,
    /// What the client sent, as text for the judge.
    pub input: String,
    /// The answer the client received.
    pub output: String,
}

/// A queued eval claimed by a worker.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalJob {
    pub id: i64,
    pub job: NewEvalJob,
    /// Claims so far, this one included.
    pub attempts: i64,
}

/// One (request, metric)'s eval: its score, or the error that ended it, and its judge's cost.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalResultRow {
    pub request_id: String,
    pub set_id: i64,
    pub account_id: i64,
    pub model_id: String,
    pub metric: String,
    pub score: Option<f64>,
    pub reason: String,
    pub error: Option<String>,
    pub judge_model: String,
    pub judge_calls: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_usd: f64,
    pub request_at: i64,
    pub scored_at: i64,
    /// Kept only while the operator's retention allows (`evals.keep_texts_hours`).
    pub input: Option<String>,
    pub output: Option<String>,
}

/// What happens to a claimed job once a worker is through with it.
#[derive(Debug, Clone, PartialEq)]
pub enum JobNext {
    /// Every metric has its result: the job (and its texts) go.
    Done,
    /// Some metrics failed in a way worth another try: the job waits until `run_after`.
    Retry {
        metrics: Vec<String>,
        run_after: i64,
        error: String,
    },
}

/// The queue as the operator sees it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvalQueueStats {
    /// Jobs waiting (not leased, or with a lease that ran out).
    pub waiting: i64,
    /// Jobs a worker holds now.
    pub running: i64,
    /// Jobs that failed at least once and wait for another try.
    pub retrying: i64,
    /// When the oldest queued job's request was answered.
    pub oldest_request_at: Option<i64>,
    /// Eval results that ended in an error since the `since` asked for.
    pub failed_since: i64,
}

/// The one persistence interface. Object-safe so the backend is chosen at run time.
#[async_trait::async_trait]
pub trait Storage: Send + Sync + std::fmt::Debug + 'static {
    /// Applies this backend's pending migrations.
    async fn migrate(&self) -> StorageResult<()>;
    /// Another handle on the same database with one connection of its own, opened by the
    /// calling thread. Each metrics writer takes one from a thread at a lowered priority:
    /// SQLite runs each connection's work on a thread the connection starts, which inherits
    /// that priority.
    async fn connect_again(&self) -> StorageResult<SharedStorage>;
    /// Whether the database's work runs on this process's threads (SQLite: each connection on
    /// a thread it starts) rather than in a server elsewhere (PostgreSQL). Only then does the
    /// CPU priority of the thread that opens a connection matter.
    fn works_in_process(&self) -> bool;

    // Accounts
    /// Fails with `Conflict` when the username is taken; writes nothing then.
    async fn create_account(&self, username: &str, password_hash: &str, now: i64) -> StorageResult<Account>;
    async fn account_by_username(&self, username: &str) -> StorageResult<Option<Account>>;
    async fn account_by_id(&self, id: i64) -> StorageResult<Option<Account>>;
    async fn count_accounts(&self) -> StorageResult<i64>;
    /// Replaces the account's password hash; `NotFound` when there is no such account.
    async fn set_password_hash(&self, account_id: i64, password_hash: &str) -> StorageResult<()>;

    // Sessions, keyed by a hash of the session id so a database leak yields no live cookie.
    /// Inserts only if `id_hash` is new; returns false on a collision.
    async fn session_insert(&self, id_hash: &str, data: &str, expires_at: i64) -> StorageResult<bool>;
    async fn session_upsert(&self, id_hash: &str, data: &str, expires_at: i64) -> StorageResult<()>;
    /// The data and expiry of an unexpired session.
    async fn session_load(&self, id_hash: &str, now: i64) -> StorageResult<Option<(String, i64)>>;
    async fn session_delete(&self, id_hash: &str) -> StorageResult<()>;
    /// Deletes expired sessions; returns how many.
    async fn sessions_delete_expired(&self, now: i64) -> StorageResult<u64>;

    // API keys
    async fn create_api_key(
        &self,
        account_id: i64,
        name: &str,
        prefix: &str,
        secret_hash: &str,
        now: i64,
    ) -> StorageResult<ApiKey>;
    /// Newest first, revoked ones included.
    async fn list_api_keys(&self, account_id: i64) -> StorageResult<Vec<ApiKey>>;
    /// The key with this secret hash and its owner, revoked or not.
    async fn api_key_by_hash(&self, secret_hash: &str) -> StorageResult<Option<KeyOwner>>;
    /// Revokes the account's key; `NotFound` if it is not theirs. Revoking twice keeps the first time.
    async fn revoke_api_key(&self, account_id: i64, key_id: i64, now: i64) -> StorageResult<()>;
    async fn touch_api_key(&self, key_id: i64, now: i64) -> StorageResult<()>;
    /// Ids of keys revoked at or after `since` (ms): how running servers learn of revocations
    /// made elsewhere (the command line, another replica).
    async fn api_keys_revoked_since(&self, since: i64) -> StorageResult<Vec<i64>>;

    // Catalog
    async fn upsert_catalog_model(&self, model: &CatalogModel, now: i64) -> StorageResult<()>;
    async fn list_catalog_models(&self) -> StorageResult<Vec<CatalogModel>>;

    // Model Sets
    /// Creates the set at revision 1. Fails with `Conflict` when the owner already has the slug.
    async fn create_model_set(&self, set: &NewModelSet, now: i64) -> StorageResult<ModelSet>;
    async fn model_set_by_slug(&self, owner: &str, slug: &str) -> StorageResult<Option<ModelSet>>;
    /// Replaces the editable content as a new revision; `NotFound` if the set is gone.
    async fn update_model_set(&self, set_id: i64, content: &SetContent, now: i64) -> StorageResult<ModelSet>;
    /// Deletes the set and its revisions; `NotFound` if it is gone. Request records stay.
    async fn delete_model_set(&self, set_id: i64) -> StorageResult<()>;
    /// Newest first.
    async fn model_set_revisions(&self, set_id: i64) -> StorageResult<Vec<ModelSetRevision>>;
    /// The sets the filter matches, by id, highest (newest) first: those below `page.after`,
    /// at most `page.limit` of them.
    async fn search_model_sets(&self, filter: &SetFilter, page: SetPage) -> StorageResult<Vec<ModelSet>>;

    // Request metrics
    /// Stores the records as statements of [`RECORDS_PER_INSERT`] rows, each committed on its
    /// own: up to that many records are stored all or none; of more, a failure may leave the
    /// first chunks stored. No transaction spans statements: on SQLite it would hold the
    /// database's write lock while a caller at idle priority waits for CPU between them.
    async fn insert_request_records(&self, records: &[RequestRecord]) -> StorageResult<()>;
    async fn count_request_records(&self) -> StorageResult<i64>;
    /// The most recent `limit` records, oldest first.
    async fn list_request_records(&self, limit: i64) -> StorageResult<Vec<RequestRecord>>;

    // Rollups, per minute or per hour, per model or per set (see [`RollupTable`]).
    /// Writes each row, replacing the writer's earlier row for the same key. Each row is
    /// committed on its own (see `insert_request_records`); writing them again after a
    /// partial failure is harmless.
    async fn upsert_rollups(&self, table: RollupTable, rows: &[RollupRow]) -> StorageResult<()>;
    async fn rollup_row(
        &self,
        table: RollupTable,
        set_id: i64,
        model_id: &str,
        minute: i64,
        writer: &str,
    ) -> StorageResult<Option<RollupRow>>;
    /// Every writer's rows for the set in `[from, to)`, oldest first.
    async fn rollups(&self, table: RollupTable, set_id: i64, from: i64, to: i64) -> StorageResult<Vec<RollupRow>>;
    /// Every set's rows (and direct catalog calls', set 0) in `[from, to)`: the models page.
    async fn all_rollups(&self, table: RollupTable, from: i64, to: i64) -> StorageResult<Vec<RollupRow>>;
    /// The per-set hourly rows of hours written before that table existed, once: when the
    /// backfill is still pending, every (set, hour) of the per-model hourly rows that has no
    /// per-set row yet is read and handed to `merge`, and what it returns is stored; then
    /// the backfill is marked done. In one transaction, so two servers starting at once on
    /// one database do it once. Returns the rows written (0 when it was done already).
    async fn backfill_set_hours(
        &self,
        merge: &(dyn Fn(Vec<RollupRow>) -> RollupRow + Send + Sync),
    ) -> StorageResult<usize>;
    /// Requests per (set, hour) of the given sets from `from` on, oldest first: the
    /// registry's sparklines.
    async fn hourly_requests(&self, set_ids: &[i64], from: i64) -> StorageResult<Vec<(i64, i64, i64)>>;

    // Evals (see `crate::evals`)
    /// Queues sampled requests, each committed on its own.
    async fn insert_eval_jobs(&self, jobs: &[NewEvalJob], now: i64) -> StorageResult<()>;
    /// Leases up to `limit` due jobs to the caller's `token` until `lease_until`, oldest first.
    /// A job is due once its `run_after` has passed and it has no live lease; of two callers
    /// racing for one job, one gets it.
    async fn claim_eval_jobs(&self, now: i64, lease_until: i64, token: &str, limit: i64)
        -> StorageResult<Vec<EvalJob>>;
    /// Extends the caller's lease; false when it no longer holds the job.
    async fn renew_eval_lease(&self, job_id: i64, token: &str, lease_until: i64) -> StorageResult<bool>;
    /// In one transaction, while the caller still holds the job: stores `results` (a
    /// (request, metric) already stored is kept), adds their judge cost to the request's
    /// answered record, and deletes or reschedules the job. False, with nothing written,
    /// when the lease was lost: the job is another worker's.
    async fn finish_eval_job(
        &self,
        job_id: i64,
        token: &str,
        results: &[EvalResultRow],
        next: &JobNext,
    ) -> StorageResult<bool>;
    /// Stores results scored outside the queue (the demo's history), each committed on its
    /// own; a (request, metric) already stored is kept.
    async fn insert_eval_results(&self, results: &[EvalResultRow]) -> StorageResult<()>;
    /// The latest `limit` scored results (not the failed ones) of every set scored at or after
    /// `since`, oldest first: what routing learned from evals before a restart.
    async fn recent_eval_scores(&self, since: i64, limit: i64) -> StorageResult<Vec<EvalResultRow>>;
    /// The queue's depth and age, and the evals failed since `since`.
    async fn eval_queue_stats(&self, now: i64, since: i64) -> StorageResult<EvalQueueStats>;
    /// The set's latest results, newest first.
    async fn latest_eval_results(&self, set_id: i64, limit: i64) -> StorageResult<Vec<EvalResultRow>>;
    /// Forgets the texts of results scored before `before`; returns how many.
    async fn forget_eval_texts(&self, before: i64) -> StorageResult<u64>;
    /// G-Eval's steps stored for a criteria hash (a JSON array).
    async fn g_eval_steps(&self, criteria_hash: &str) -> StorageResult<Option<String>>;
    /// Keeps the first steps stored for a criteria hash.
    async fn put_g_eval_steps(&self, criteria_hash: &str, steps: &str, now: i64) -> StorageResult<()>;

    /// The sets with these ids, in this order; ids with no set are left out.
    async fn model_sets_by_ids(&self, ids: &[i64]) -> StorageResult<Vec<ModelSet>>;
    /// Every set's search entry, newest first (`created_at DESC, id DESC`): the registry
    /// searches them in memory (see `model_sets::registry`).
    async fn search_entries(&self) -> StorageResult<Vec<SearchEntry>>;
    /// Each set with traffic since `since` (an hour's start): its requests and latest hour.
    async fn set_activity(&self, since: i64) -> StorageResult<Vec<SetActivity>>;
}

pub type SharedStorage = Arc<dyn Storage>;

/// Opens the backend the URL names (`sqlite://…` or `postgres://…`) and migrates it.
pub async fn connect(url: &str) -> StorageResult<SharedStorage> {
    let storage: SharedStorage = if is_postgres_url(url) {
        Arc::new(postgres::PostgresStorage::connect(url).await?)
    } else {
        Arc::new(sqlite::SqliteStorage::connect(url).await?)
    };
    storage.migrate().await?;
    Ok(storage)
}

pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

pub fn is_sqlite_url(url: &str) -> bool {
    url.starts_with("sqlite:")
}

/// `%text%` for LIKE, with LIKE's wildcards in `text` escaped (`\` is the escape).
fn like_contains(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// What the registry's free text is matched against in `model_sets.search_text`: the address
/// (`@owner/slug`, so a pasted address finds its set), name, description, categories and tags
/// (as stored, JSON arrays), one per line, lower-cased. Migration 0010 writes the same for
/// the rows before it.
fn search_text(owner: &str, slug: &str, name: &str, content: &SetContent) -> StorageResult<String> {
    Ok(format!(
        "@{owner}/{slug}\n{name}\n{}\n{}\n{}",
        content.description,
        encode_json(&content.categories)?,
        encode_json(&content.tags)?
    )
    .to_lowercase())
}

/// The registry's free-text pattern: case-insensitive substring.
fn like_pattern(query: &str) -> String {
    like_contains(&query.trim().to_lowercase())
}

/// A stored JSON array's element as it appears in the array's text (lower-cased, quoted).
fn json_element(label: &str) -> String {
    serde_json::to_string(&label.trim().to_lowercase()).unwrap_or_default()
}

/// The registry's filter as a SQL condition on `$1` (free text), `$2` (category), `$3` (tag)
/// and `$4` (owner), with the values to bind in that order; see [`SetFilter`]. Every
/// parameter appears in the condition, so the binds are the same whatever it says.
#[derive(Debug, Clone, PartialEq)]
struct FilterSql {
    condition: String,
    binds: [Option<String>; 4],
}

impl FilterSql {
    fn new(filter: &SetFilter) -> Self {
        let query = filter.query.trim().to_lowercase();
        let (text, text_bind) = if query.is_empty() {
            ("$1 = ''".to_owned(), String::new())
        } else {
            Self::contains("search_text", 1, like_pattern(&query))
        };
        let element = |n: usize, column: &str, label: &Option<String>| match label {
            None => (format!("${n} IS NULL"), None),
            Some(label) => {
                let (condition, bind) = Self::contains(column, n, like_contains(&json_element(label)));
                (condition, Some(bind))
            }
        };
        let (category, category_bind) = element(2, "categories", &filter.category);
        let (tag, tag_bind) = element(3, "tags", &filter.tag);
        FilterSql {
            // The owner by username, through a subquery: the condition stays on `model_sets`.
            condition: format!(
                "{text} AND {category} AND {tag} AND ($4 IS NULL OR s.owner_id = (SELECT id FROM accounts WHERE username = $4))"
            ),
            binds: [Some(text_bind), category_bind, tag_bind, filter.owner.clone()],
        }
    }

    /// `s.<column>` matches the pattern `like`, as parameter `$n`. On PostgreSQL the column's
    /// `pg_trgm` GIN index answers it (migration 0010); SQLite scans (see migration 0011).
    fn contains(column: &str, n: usize, like: String) -> (String, String) {
        (format!("s.{column} LIKE ${n} ESCAPE '\\'"), like)
    }
}

fn decode_json<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> StorageResult<T> {
    serde_json::from_str(text).map_err(|e| StorageError::Corrupt(format!("{what}: {e}")))
}

fn encode_json<T: serde::Serialize>(value: &T) -> StorageResult<String> {
    serde_json::to_string(value).map_err(|e| StorageError::Corrupt(e.to_string()))
}
