//! The SQL both backends share. Every statement here is written in the common subset of
//! SQLite and PostgreSQL (`$n` placeholders, `RETURNING`, `ON CONFLICT`, `LIKE … ESCAPE`),
//! so one text serves both; only connecting and migrating differ per backend.
//!
//! sqlx's row and pool types differ per database and generic code over `sqlx::Database`
//! drowns in trait bounds, so the shared implementation is stamped out by a macro for each
//! backend's concrete types instead.

/// Binds a [`FilterSql`]'s four values to a query, in order.
///
/// [`FilterSql`]: crate::storage::FilterSql
macro_rules! bind_filter {
    ($query:expr, $filter:expr) => {{
        let [text, category, tag, owner] = $filter.binds.clone();
        $query.bind(text).bind(category).bind(tag).bind(owner)
    }};
}

/// Implements `Storage` for `$storage` (a struct with a `pool` field) whose rows are `$row`.
/// `$placeholder` writes the `n`th bind parameter (from 1) for the one statement built at run
/// time. The invoking module must define `static MIGRATOR: sqlx::migrate::Migrator`, and
/// `$storage` a `const WORKS_IN_PROCESS: bool` (see `Storage::works_in_process`).
macro_rules! portable_sql_storage {
    ($storage:ty, $row:ty, $placeholder:expr $(,)?) => {
        use app::catalog::{Capabilities, CatalogModel};
        use app::model_set::{ModelSet, ModelSetRevision};
        use sqlx::Row;

        use $crate::storage::{
            decode_json, encode_json, search_text, Account, FilterSql, SearchEntry, ApiKey, EvalJob,
            EvalQueueStats, EvalResultRow, JobNext, KeyOwner, NewEvalJob, NewModelSet, RequestRecord, RollupRow,
            RollupTable, SetActivity, SetContent, SetFilter, SetPage, StorageError, StorageResult,
        };

        /// The table holding these rollups (the same columns in all three).
        fn rollup_table(table: RollupTable) -> &'static str {
            match table {
                RollupTable::Minute => "request_rollups",
                RollupTable::Hour => "request_rollups_hourly",
                RollupTable::SetHour => "request_rollups_set_hourly",
            }
        }

        /// The statement that writes a rollup row, replacing the writer's row for its key.
        fn upsert_rollup_sql(table: RollupTable) -> String {
            format!(
                "INSERT INTO {} (set_id, model_id, minute, writer, count, errors, latency_ms_sum, \
                 ttft_ms_sum, ttft_count, tokens_per_s_sum, tokens_per_s_count, prompt_tokens, completion_tokens, \
                 cost_usd, latency_sketch, ttft_sketch, error_classes, eval_cost_usd, evals) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) \
                 ON CONFLICT (set_id, model_id, minute, writer) DO UPDATE SET count = excluded.count, \
                 errors = excluded.errors, latency_ms_sum = excluded.latency_ms_sum, \
                 ttft_ms_sum = excluded.ttft_ms_sum, ttft_count = excluded.ttft_count, \
                 tokens_per_s_sum = excluded.tokens_per_s_sum, tokens_per_s_count = excluded.tokens_per_s_count, \
                 prompt_tokens = excluded.prompt_tokens, completion_tokens = excluded.completion_tokens, \
                 cost_usd = excluded.cost_usd, latency_sketch = excluded.latency_sketch, \
                 ttft_sketch = excluded.ttft_sketch, error_classes = excluded.error_classes, \
                 eval_cost_usd = excluded.eval_cost_usd, evals = excluded.evals",
                rollup_table(table)
            )
        }

        /// Binds a row's 19 columns to [`upsert_rollup_sql`]'s statement.
        fn bind_rollup<'q>(
            query: sqlx::query::Query<'q, <$row as sqlx::Row>::Database, <<$row as sqlx::Row>::Database as sqlx::Database>::Arguments<'q>>,
            r: &'q RollupRow,
        ) -> sqlx::query::Query<'q, <$row as sqlx::Row>::Database, <<$row as sqlx::Row>::Database as sqlx::Database>::Arguments<'q>> {
            query
                .bind(r.set_id)
                .bind(&r.model_id)
                .bind(r.minute)
                .bind(&r.writer)
                .bind(r.count)
                .bind(r.errors)
                .bind(r.latency_ms_sum)
                .bind(r.ttft_ms_sum)
                .bind(r.ttft_count)
                .bind(r.tokens_per_s_sum)
                .bind(r.tokens_per_s_count)
                .bind(r.prompt_tokens)
                .bind(r.completion_tokens)
                .bind(r.cost_usd)
                .bind(&r.latency_sketch)
                .bind(&r.ttft_sketch)
                .bind(&r.error_classes)
                .bind(r.eval_cost_usd)
                .bind(&r.evals)
        }

        /// The columns of a request record as inserted.
        const RECORD_COLUMNS: usize = 15;

        /// `INSERT … SELECT` from a `VALUES` list of [`RECORDS_PER_INSERT`] rows of
        /// placeholders; rows whose `request_id` is NULL are padding.
        ///
        /// [`RECORDS_PER_INSERT`]: $crate::storage::RECORDS_PER_INSERT
        fn insert_records_sql() -> &'static str {
            static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
                let rows: Vec<String> = (0..$crate::storage::RECORDS_PER_INSERT)
                    .map(|row| {
                        let placeholder: fn(usize) -> String = $placeholder;
                        let params: Vec<String> =
                            (1..=RECORD_COLUMNS).map(|column| placeholder(row * RECORD_COLUMNS + column)).collect();
                        format!("({})", params.join(", "))
                    })
                    .collect();
                let values: Vec<String> = (1..=RECORD_COLUMNS).map(|column| format!("column{column}")).collect();
                format!(
                    "INSERT INTO request_records (request_id, at, account_id, api_key_id, model_set_id, model_id, \
                     status, error_class, latency_ms, ttft_ms, output_tokens_per_s, prompt_tokens, \
                     completion_tokens, cost_usd, eval_sampled) SELECT {} FROM (VALUES {}) AS padded WHERE column1 IS NOT NULL",
                    values.join(", "),
                    rows.join(", ")
                )
            });
            &SQL
        }

        fn account(row: &$row) -> StorageResult<Account> {
            Ok(Account {
                id: row.try_get("id")?,
                username: row.try_get("username")?,
                password_hash: row.try_get("password_hash")?,
                created_at: row.try_get("created_at")?,
            })
        }

        fn api_key(row: &$row) -> StorageResult<ApiKey> {
            Ok(ApiKey {
                id: row.try_get("id")?,
                account_id: row.try_get("account_id")?,
                name: row.try_get("name")?,
                prefix: row.try_get("prefix")?,
                created_at: row.try_get("created_at")?,
                last_used_at: row.try_get("last_used_at")?,
                revoked_at: row.try_get("revoked_at")?,
            })
        }

        fn catalog_model(row: &$row) -> StorageResult<CatalogModel> {
            Ok(CatalogModel {
                id: row.try_get("id")?,
                provider: row.try_get("provider")?,
                upstream_name: row.try_get("upstream_name")?,
                input_price_per_mtok: row.try_get("input_price_per_mtok")?,
                output_price_per_mtok: row.try_get("output_price_per_mtok")?,
                context_window: u32::try_from(row.try_get::<i64, _>("context_window")?)
                    .map_err(|e| StorageError::Corrupt(format!("context_window: {e}")))?,
                capabilities: Capabilities {
                    tools: row.try_get("supports_tools")?,
                    vision: row.try_get("supports_vision")?,
                    json_output: row.try_get("supports_json")?,
                },
                simulated: row.try_get("simulated")?,
                simulation: None,
            })
        }

        fn model_set(row: &$row) -> StorageResult<ModelSet> {
            Ok(ModelSet {
                id: row.try_get("id")?,
                owner: row.try_get("owner")?,
                slug: row.try_get("slug")?,
                name: row.try_get("name")?,
                description: row.try_get("description")?,
                categories: decode_json("categories", row.try_get("categories")?)?,
                tags: decode_json("tags", row.try_get("tags")?)?,
                spec: decode_json("spec", row.try_get("spec")?)?,
                revision: row.try_get("revision")?,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
                cloned_from: row.try_get("cloned_from")?,
            })
        }

        fn model_set_revision(row: &$row) -> StorageResult<ModelSetRevision> {
            Ok(ModelSetRevision {
                revision: row.try_get("revision")?,
                edited_at: row.try_get("edited_at")?,
                description: row.try_get("description")?,
                categories: decode_json("categories", row.try_get("categories")?)?,
                tags: decode_json("tags", row.try_get("tags")?)?,
                spec: decode_json("spec", row.try_get("spec")?)?,
            })
        }

        fn request_record(row: &$row) -> StorageResult<RequestRecord> {
            Ok(RequestRecord {
                request_id: row.try_get("request_id")?,
                at: row.try_get("at")?,
                account_id: row.try_get("account_id")?,
                api_key_id: row.try_get("api_key_id")?,
                model_set_id: row.try_get("model_set_id")?,
                model_id: row.try_get("model_id")?,
                status: u16::try_from(row.try_get::<i64, _>("status")?)
                    .map_err(|e| StorageError::Corrupt(format!("status: {e}")))?,
                error_class: row.try_get("error_class")?,
                latency_ms: row.try_get("latency_ms")?,
                ttft_ms: row.try_get("ttft_ms")?,
                output_tokens_per_s: row.try_get("output_tokens_per_s")?,
                prompt_tokens: row.try_get("prompt_tokens")?,
                completion_tokens: row.try_get("completion_tokens")?,
                cost_usd: row.try_get("cost_usd")?,
                eval_sampled: row.try_get("eval_sampled")?,
                eval_cost_usd: row.try_get("eval_cost_usd")?,
            })
        }

        fn eval_job(row: &$row) -> StorageResult<EvalJob> {
            Ok(EvalJob {
                id: row.try_get("id")?,
                attempts: row.try_get("attempts")?,
                job: NewEvalJob {
                    request_id: row.try_get("request_id")?,
                    set_id: row.try_get("set_id")?,
                    account_id: row.try_get("account_id")?,
                    model_id: row.try_get("model_id")?,
                    request_at: row.try_get("request_at")?,
                    settings: row.try_get("settings")?,
                    metrics: decode_json("metrics", row.try_get("metrics")?)?,
                    input: row.try_get("input")?,
                    output: row.try_get("output")?,
                },
            })
        }

        fn eval_result(row: &$row) -> StorageResult<EvalResultRow> {
            Ok(EvalResultRow {
                request_id: row.try_get("request_id")?,
                set_id: row.try_get("set_id")?,
                account_id: row.try_get("account_id")?,
                model_id: row.try_get("model_id")?,
                metric: row.try_get("metric")?,
                score: row.try_get("score")?,
                reason: row.try_get("reason")?,
                error: row.try_get("error")?,
                judge_model: row.try_get("judge_model")?,
                judge_calls: row.try_get("judge_calls")?,
                prompt_tokens: row.try_get("prompt_tokens")?,
                completion_tokens: row.try_get("completion_tokens")?,
                cost_usd: row.try_get("cost_usd")?,
                request_at: row.try_get("request_at")?,
                scored_at: row.try_get("scored_at")?,
                input: row.try_get("input")?,
                output: row.try_get("output")?,
            })
        }

        /// Stores one eval result unless its (request, metric) has one already.
        fn insert_eval_result(
            r: &EvalResultRow,
        ) -> sqlx::query::Query<'_, <$row as sqlx::Row>::Database, <<$row as sqlx::Row>::Database as sqlx::Database>::Arguments<'_>> {
            sqlx::query(
                "INSERT INTO eval_results (request_id, set_id, account_id, model_id, metric, score, reason, error, \
                 judge_model, judge_calls, prompt_tokens, completion_tokens, cost_usd, request_at, scored_at, \
                 input, output) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
                 ON CONFLICT (request_id, metric) DO NOTHING",
            )
            .bind(&r.request_id)
            .bind(r.set_id)
            .bind(r.account_id)
            .bind(&r.model_id)
            .bind(&r.metric)
            .bind(r.score)
            .bind(&r.reason)
            .bind(&r.error)
            .bind(&r.judge_model)
            .bind(r.judge_calls)
            .bind(r.prompt_tokens)
            .bind(r.completion_tokens)
            .bind(r.cost_usd)
            .bind(r.request_at)
            .bind(r.scored_at)
            .bind(&r.input)
            .bind(&r.output)
        }

        fn rollup_row(row: &$row) -> StorageResult<RollupRow> {
            Ok(RollupRow {
                set_id: row.try_get("set_id")?,
                model_id: row.try_get("model_id")?,
                minute: row.try_get("minute")?,
                writer: row.try_get("writer")?,
                count: row.try_get("count")?,
                errors: row.try_get("errors")?,
                latency_ms_sum: row.try_get("latency_ms_sum")?,
                ttft_ms_sum: row.try_get("ttft_ms_sum")?,
                ttft_count: row.try_get("ttft_count")?,
                tokens_per_s_sum: row.try_get("tokens_per_s_sum")?,
                tokens_per_s_count: row.try_get("tokens_per_s_count")?,
                prompt_tokens: row.try_get("prompt_tokens")?,
                completion_tokens: row.try_get("completion_tokens")?,
                cost_usd: row.try_get("cost_usd")?,
                latency_sketch: row.try_get("latency_sketch")?,
                ttft_sketch: row.try_get("ttft_sketch")?,
                error_classes: row.try_get("error_classes")?,
                eval_cost_usd: row.try_get("eval_cost_usd")?,
                evals: row.try_get("evals")?,
            })
        }

        /// A set's columns, with `SET_TABLES`.
        const SET_FIELDS: &str = "s.id, a.username AS owner, s.slug, s.name, s.description, s.categories, \
             s.tags, s.spec, s.revision, s.created_at, s.updated_at, s.cloned_from";
        const SET_TABLES: &str = "model_sets s JOIN accounts a ON a.id = s.owner_id";

        /// What creating and editing a set share once its row is written, in the same
        /// transaction: the revision that records the content, the set read back (its owner's
        /// name joined) and the search text made from it.
        async fn record_revision(
            tx: &mut sqlx::Transaction<'static, <$row as sqlx::Row>::Database>,
            set_id: i64,
            c: &SetContent,
        ) -> StorageResult<ModelSet> {
            sqlx::query(
                "INSERT INTO model_set_revisions (set_id, revision, edited_at, description, categories, tags, spec) \
                 SELECT id, revision, updated_at, description, categories, tags, spec FROM model_sets WHERE id = $1",
            )
            .bind(set_id)
            .execute(&mut **tx)
            .await?;
            let row = sqlx::query(&format!("SELECT {SET_FIELDS} FROM {SET_TABLES} WHERE s.id = $1"))
                .bind(set_id)
                .fetch_one(&mut **tx)
                .await?;
            let set = model_set(&row)?;
            sqlx::query("UPDATE model_sets SET search_text = $1 WHERE id = $2")
                .bind(search_text(&set.owner, &set.slug, &set.name, c)?)
                .bind(set_id)
                .execute(&mut **tx)
                .await?;
            Ok(set)
        }

        const API_KEY_COLUMNS: &str = "k.id, k.account_id, k.name, k.prefix, k.created_at, k.last_used_at, k.revoked_at";

        #[async_trait::async_trait]
        impl $crate::storage::Storage for $storage {
            async fn migrate(&self) -> StorageResult<()> {
                MIGRATOR.run(&self.pool).await?;
                Ok(())
            }

            async fn connect_again(&self) -> StorageResult<$crate::storage::SharedStorage> {
                let options = (*self.pool.connect_options()).clone();
                // Kept for the life of the process, so it is never reopened from another thread.
                let pool = sqlx::pool::PoolOptions::<<$row as sqlx::Row>::Database>::new()
                    .max_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .connect_with(options)
                    .await?;
                Ok(std::sync::Arc::new(Self { pool }))
            }

            fn works_in_process(&self) -> bool {
                <$storage>::WORKS_IN_PROCESS
            }

            async fn create_account(&self, username: &str, password_hash: &str, now: i64) -> StorageResult<Account> {
                let row = sqlx::query(
                    "INSERT INTO accounts (username, password_hash, created_at) VALUES ($1, $2, $3) \
                     RETURNING id, username, password_hash, created_at",
                )
                .bind(username)
                .bind(password_hash)
                .bind(now)
                .fetch_one(&self.pool)
                .await?;
                account(&row)
            }

            async fn account_by_username(&self, username: &str) -> StorageResult<Option<Account>> {
                let row = sqlx::query("SELECT id, username, password_hash, created_at FROM accounts WHERE username = $1")
                    .bind(username)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(account).transpose()
            }

            async fn account_by_id(&self, id: i64) -> StorageResult<Option<Account>> {
                let row = sqlx::query("SELECT id, username, password_hash, created_at FROM accounts WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(account).transpose()
            }

            async fn count_accounts(&self) -> StorageResult<i64> {
                Ok(sqlx::query_scalar("SELECT COUNT(*) FROM accounts").fetch_one(&self.pool).await?)
            }

            async fn set_password_hash(&self, account_id: i64, password_hash: &str) -> StorageResult<()> {
                let done = sqlx::query("UPDATE accounts SET password_hash = $1 WHERE id = $2")
                    .bind(password_hash)
                    .bind(account_id)
                    .execute(&self.pool)
                    .await?;
                match done.rows_affected() {
                    0 => Err(StorageError::NotFound),
                    _ => Ok(()),
                }
            }

            async fn session_insert(&self, id_hash: &str, data: &str, expires_at: i64) -> StorageResult<bool> {
                let done = sqlx::query(
                    "INSERT INTO sessions (id_hash, data, expires_at) VALUES ($1, $2, $3) ON CONFLICT (id_hash) DO NOTHING",
                )
                .bind(id_hash)
                .bind(data)
                .bind(expires_at)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn session_upsert(&self, id_hash: &str, data: &str, expires_at: i64) -> StorageResult<()> {
                sqlx::query(
                    "INSERT INTO sessions (id_hash, data, expires_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (id_hash) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at",
                )
                .bind(id_hash)
                .bind(data)
                .bind(expires_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn session_load(&self, id_hash: &str, now: i64) -> StorageResult<Option<(String, i64)>> {
                Ok(sqlx::query_as("SELECT data, expires_at FROM sessions WHERE id_hash = $1 AND expires_at > $2")
                    .bind(id_hash)
                    .bind(now)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn session_delete(&self, id_hash: &str) -> StorageResult<()> {
                sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(id_hash).execute(&self.pool).await?;
                Ok(())
            }

            async fn sessions_delete_expired(&self, now: i64) -> StorageResult<u64> {
                let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now).execute(&self.pool).await?;
                Ok(done.rows_affected())
            }

            async fn create_api_key(
                &self,
                account_id: i64,
                name: &str,
                prefix: &str,
                secret_hash: &str,
                now: i64,
            ) -> StorageResult<ApiKey> {
                let row = sqlx::query(
                    "INSERT INTO api_keys (account_id, name, prefix, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5) \
                     RETURNING id, account_id, name, prefix, created_at, last_used_at, revoked_at",
                )
                .bind(account_id)
                .bind(name)
                .bind(prefix)
                .bind(secret_hash)
                .bind(now)
                .fetch_one(&self.pool)
                .await?;
                api_key(&row)
            }

            async fn list_api_keys(&self, account_id: i64) -> StorageResult<Vec<ApiKey>> {
                let rows = sqlx::query(&format!(
                    "SELECT {API_KEY_COLUMNS} FROM api_keys k WHERE k.account_id = $1 ORDER BY k.id DESC"
                ))
                .bind(account_id)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(api_key).collect()
            }

            async fn api_key_by_hash(&self, secret_hash: &str) -> StorageResult<Option<KeyOwner>> {
                let row = sqlx::query(&format!(
                    "SELECT {API_KEY_COLUMNS}, a.username FROM api_keys k JOIN accounts a ON a.id = k.account_id \
                     WHERE k.secret_hash = $1"
                ))
                .bind(secret_hash)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|row| {
                    Ok(KeyOwner {
                        key: api_key(&row)?,
                        username: row.try_get("username")?,
                    })
                })
                .transpose()
            }

            async fn revoke_api_key(&self, account_id: i64, key_id: i64, now: i64) -> StorageResult<()> {
                let done = sqlx::query(
                    "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2 AND account_id = $3",
                )
                .bind(now)
                .bind(key_id)
                .bind(account_id)
                .execute(&self.pool)
                .await?;
                if done.rows_affected() == 0 {
                    return Err(StorageError::NotFound);
                }
                Ok(())
            }

            async fn touch_api_key(&self, key_id: i64, now: i64) -> StorageResult<()> {
                sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(key_id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn api_keys_revoked_since(&self, since: i64) -> StorageResult<Vec<i64>> {
                let ids = sqlx::query_scalar("SELECT id FROM api_keys WHERE revoked_at >= $1")
                    .bind(since)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(ids)
            }

            async fn upsert_catalog_model(&self, m: &CatalogModel, now: i64) -> StorageResult<()> {
                sqlx::query(
                    "INSERT INTO catalog_models (id, provider, upstream_name, input_price_per_mtok, output_price_per_mtok, \
                     context_window, supports_tools, supports_vision, supports_json, simulated, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                     ON CONFLICT (id) DO UPDATE SET provider = excluded.provider, upstream_name = excluded.upstream_name, \
                     input_price_per_mtok = excluded.input_price_per_mtok, output_price_per_mtok = excluded.output_price_per_mtok, \
                     context_window = excluded.context_window, supports_tools = excluded.supports_tools, \
                     supports_vision = excluded.supports_vision, supports_json = excluded.supports_json, \
                     simulated = excluded.simulated, updated_at = excluded.updated_at",
                )
                .bind(&m.id)
                .bind(&m.provider)
                .bind(&m.upstream_name)
                .bind(m.input_price_per_mtok)
                .bind(m.output_price_per_mtok)
                .bind(i64::from(m.context_window))
                .bind(m.capabilities.tools)
                .bind(m.capabilities.vision)
                .bind(m.capabilities.json_output)
                .bind(m.simulated)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn list_catalog_models(&self) -> StorageResult<Vec<CatalogModel>> {
                let rows = sqlx::query("SELECT * FROM catalog_models ORDER BY id").fetch_all(&self.pool).await?;
                rows.iter().map(catalog_model).collect()
            }

            async fn create_model_set(&self, set: &NewModelSet, now: i64) -> StorageResult<ModelSet> {
                let c = &set.content;
                // Every read comes after the transaction's first write: on SQLite a transaction
                // that reads first fails at once (busy, not waiting) when another connection
                // writes before it does. The search text needs the owner's name, read below.
                let mut tx = self.pool.begin().await?;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO model_sets (owner_id, slug, name, description, categories, tags, spec, revision, \
                     created_at, updated_at, search_text, cloned_from) VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8, $9, $10) RETURNING id",
                )
                .bind(set.owner_id)
                .bind(&set.slug)
                .bind(&set.name)
                .bind(&c.description)
                .bind(encode_json(&c.categories)?)
                .bind(encode_json(&c.tags)?)
                .bind(encode_json(&c.spec)?)
                .bind(now)
                .bind("")
                .bind(set.cloned_from.as_deref())
                .fetch_one(&mut *tx)
                .await?;
                let created = record_revision(&mut tx, id, c).await?;
                tx.commit().await?;
                Ok(created)
            }

            async fn model_set_by_slug(&self, owner: &str, slug: &str) -> StorageResult<Option<ModelSet>> {
                let row = sqlx::query(&format!("SELECT {SET_FIELDS} FROM {SET_TABLES} WHERE a.username = $1 AND s.slug = $2"))
                    .bind(owner)
                    .bind(slug)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(model_set).transpose()
            }

            async fn update_model_set(&self, set_id: i64, c: &SetContent, now: i64) -> StorageResult<ModelSet> {
                // Writes first, then reads, as in `create_model_set`.
                let mut tx = self.pool.begin().await?;
                let done = sqlx::query(
                    "UPDATE model_sets SET description = $1, categories = $2, tags = $3, spec = $4, \
                     revision = revision + 1, updated_at = $5 WHERE id = $6",
                )
                .bind(&c.description)
                .bind(encode_json(&c.categories)?)
                .bind(encode_json(&c.tags)?)
                .bind(encode_json(&c.spec)?)
                .bind(now)
                .bind(set_id)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Err(StorageError::NotFound);
                }
                let updated = record_revision(&mut tx, set_id, c).await?;
                tx.commit().await?;
                Ok(updated)
            }

            async fn delete_model_set(&self, set_id: i64) -> StorageResult<()> {
                let mut tx = self.pool.begin().await?;
                sqlx::query("DELETE FROM model_set_revisions WHERE set_id = $1")
                    .bind(set_id)
                    .execute(&mut *tx)
                    .await?;
                let done = sqlx::query("DELETE FROM model_sets WHERE id = $1").bind(set_id).execute(&mut *tx).await?;
                if done.rows_affected() == 0 {
                    return Err(StorageError::NotFound);
                }
                tx.commit().await?;
                Ok(())
            }

            async fn model_set_revisions(&self, set_id: i64) -> StorageResult<Vec<ModelSetRevision>> {
                let rows = sqlx::query(
                    "SELECT revision, edited_at, description, categories, tags, spec FROM model_set_revisions \
                     WHERE set_id = $1 ORDER BY revision DESC",
                )
                .bind(set_id)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(model_set_revision).collect()
            }

            async fn search_model_sets(&self, filter: &SetFilter, page: SetPage) -> StorageResult<Vec<ModelSet>> {
                let filter = FilterSql::new(filter);
                let sql = format!(
                    "SELECT {SET_FIELDS} FROM {SET_TABLES} WHERE {} AND ($5 IS NULL OR s.id < $5) \
                     ORDER BY s.id DESC LIMIT $6",
                    filter.condition
                );
                // No limit is the largest one both databases take (SQLite's "none", -1, is an
                // error to PostgreSQL).
                let limit = page.limit.map_or(i64::MAX, |l| i64::try_from(l).unwrap_or(i64::MAX));
                let rows = $crate::storage::portable::bind_filter!(sqlx::query(&sql), filter)
                    .bind(page.after)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(model_set).collect()
            }

            async fn insert_request_records(&self, records: &[RequestRecord]) -> StorageResult<()> {
                for chunk in records.chunks($crate::storage::RECORDS_PER_INSERT) {
                    // Room for every parameter up front (and, for PostgreSQL's encoded buffer,
                    // about 8 bytes each): grown one bind at a time, the list was copied over
                    // and over, about 5 % of storing a record.
                    let mut arguments =
                        <<$row as sqlx::Row>::Database as sqlx::Database>::Arguments::<'_>::default();
                    sqlx::Arguments::reserve(
                        &mut arguments,
                        RECORD_COLUMNS * $crate::storage::RECORDS_PER_INSERT,
                        RECORD_COLUMNS * $crate::storage::RECORDS_PER_INSERT * 8,
                    );
                    let mut insert = sqlx::query_with(insert_records_sql(), arguments);
                    for slot in 0..$crate::storage::RECORDS_PER_INSERT {
                        // Past the chunk's end, a padding row of NULLs (typed like the columns,
                        // as PostgreSQL checks), which the statement filters out.
                        let r = chunk.get(slot);
                        insert = insert
                            .bind(r.map(|r| &r.request_id))
                            .bind(r.map(|r| r.at))
                            .bind(r.map(|r| r.account_id))
                            .bind(r.and_then(|r| r.api_key_id))
                            .bind(r.and_then(|r| r.model_set_id))
                            .bind(r.map(|r| &r.model_id))
                            .bind(r.map(|r| i64::from(r.status)))
                            .bind(r.and_then(|r| r.error_class.as_ref()))
                            .bind(r.map(|r| r.latency_ms))
                            .bind(r.and_then(|r| r.ttft_ms))
                            .bind(r.and_then(|r| r.output_tokens_per_s))
                            .bind(r.map(|r| r.prompt_tokens))
                            .bind(r.map(|r| r.completion_tokens))
                            .bind(r.map(|r| r.cost_usd))
                            .bind(r.map(|r| r.eval_sampled));
                    }
                    insert.execute(&self.pool).await?;
                }
                Ok(())
            }

            async fn list_request_records(&self, limit: i64) -> StorageResult<Vec<RequestRecord>> {
                let rows = sqlx::query(
                    "SELECT * FROM (SELECT * FROM request_records ORDER BY id DESC LIMIT $1) recent ORDER BY id",
                )
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(request_record).collect()
            }

            async fn upsert_rollups(&self, table: RollupTable, rows: &[RollupRow]) -> StorageResult<()> {
                let sql = upsert_rollup_sql(table);
                for r in rows {
                    bind_rollup(sqlx::query(&sql), r).execute(&self.pool).await?;
                }
                Ok(())
            }

            async fn backfill_set_hours(
                &self,
                merge: &(dyn Fn(Vec<RollupRow>) -> RollupRow + Send + Sync),
            ) -> StorageResult<usize> {
                let mut tx = self.pool.begin().await?;
                // Taking the marker first: on PostgreSQL a second server starting at the same
                // time waits on this row until the first commits, then finds it gone.
                let pending = sqlx::query("DELETE FROM rollup_backfills WHERE name = 'set_hourly'")
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    > 0;
                if !pending {
                    tx.commit().await?;
                    return Ok(0);
                }
                let sets: Vec<i64> = sqlx::query_scalar("SELECT DISTINCT set_id FROM request_rollups_hourly ORDER BY set_id")
                    .fetch_all(&mut *tx)
                    .await?;
                let sql = upsert_rollup_sql(RollupTable::SetHour);
                let mut written = 0;
                // A set at a time: a year of hours of every set would not fit in memory at once.
                for set_id in sets {
                    let rows = sqlx::query(
                        "SELECT * FROM request_rollups_hourly h WHERE h.set_id = $1 AND NOT EXISTS \
                         (SELECT 1 FROM request_rollups_set_hourly s WHERE s.set_id = h.set_id AND s.minute = h.minute) \
                         ORDER BY h.minute, h.model_id, h.writer",
                    )
                    .bind(set_id)
                    .fetch_all(&mut *tx)
                    .await?;
                    let mut hour: Vec<RollupRow> = Vec::new();
                    for row in rows.iter().map(rollup_row) {
                        let row = row?;
                        if hour.first().is_some_and(|h| h.minute != row.minute) {
                            let merged = merge(std::mem::take(&mut hour));
                            bind_rollup(sqlx::query(&sql), &merged).execute(&mut *tx).await?;
                            written += 1;
                        }
                        hour.push(row);
                    }
                    if !hour.is_empty() {
                        let merged = merge(hour);
                        bind_rollup(sqlx::query(&sql), &merged).execute(&mut *tx).await?;
                        written += 1;
                    }
                }
                tx.commit().await?;
                Ok(written)
            }

            async fn rollup_row(
                &self,
                table: RollupTable,
                set_id: i64,
                model_id: &str,
                minute: i64,
                writer: &str,
            ) -> StorageResult<Option<RollupRow>> {
                let row = sqlx::query(&format!(
                    "SELECT * FROM {} WHERE set_id = $1 AND model_id = $2 AND minute = $3 AND writer = $4",
                    rollup_table(table)
                ))
                .bind(set_id)
                .bind(model_id)
                .bind(minute)
                .bind(writer)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(rollup_row).transpose()
            }

            async fn rollups(&self, table: RollupTable, set_id: i64, from: i64, to: i64) -> StorageResult<Vec<RollupRow>> {
                let rows = sqlx::query(&format!(
                    "SELECT * FROM {} WHERE set_id = $1 AND minute >= $2 AND minute < $3 \
                     ORDER BY minute, model_id, writer",
                    rollup_table(table)
                ))
                .bind(set_id)
                .bind(from)
                .bind(to)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(rollup_row).collect()
            }

            async fn all_rollups(&self, table: RollupTable, from: i64, to: i64) -> StorageResult<Vec<RollupRow>> {
                let rows = sqlx::query(&format!(
                    "SELECT * FROM {} WHERE minute >= $1 AND minute < $2 ORDER BY minute, set_id, model_id, writer",
                    rollup_table(table)
                ))
                .bind(from)
                .bind(to)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(rollup_row).collect()
            }

            async fn hourly_requests(&self, set_ids: &[i64], from: i64) -> StorageResult<Vec<(i64, i64, i64)>> {
                if set_ids.is_empty() {
                    return Ok(Vec::new());
                }
                let placeholder: fn(usize) -> String = $placeholder;
                let list: Vec<String> = (0..set_ids.len()).map(|i| placeholder(i + 2)).collect();
                let sql = format!(
                    "SELECT set_id, minute, CAST(SUM(count) AS BIGINT) AS requests FROM request_rollups_set_hourly \
                     WHERE minute >= {} AND set_id IN ({}) GROUP BY set_id, minute ORDER BY set_id, minute",
                    placeholder(1),
                    list.join(", ")
                );
                // Not kept prepared: on the benchmark's 10,000 sets PostgreSQL's generic plan for
                // it (used from the sixth run) took 3 ms; planned for its values, 0.7-1.5.
                let mut query = sqlx::query(&sql).persistent(false).bind(from);
                for id in set_ids {
                    query = query.bind(*id);
                }
                let rows = query.fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|row| Ok((row.try_get("set_id")?, row.try_get("minute")?, row.try_get("requests")?)))
                    .collect()
            }

            async fn model_sets_by_ids(&self, ids: &[i64]) -> StorageResult<Vec<ModelSet>> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let placeholder: fn(usize) -> String = $placeholder;
                let list: Vec<String> = (0..ids.len()).map(|i| placeholder(i + 1)).collect();
                let sql = format!("SELECT {SET_FIELDS} FROM {SET_TABLES} WHERE s.id IN ({})", list.join(", "));
                let mut query = sqlx::query(&sql).persistent(false);
                for id in ids {
                    query = query.bind(*id);
                }
                let mut sets = query
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(model_set)
                    .collect::<StorageResult<Vec<ModelSet>>>()?;
                let rank: std::collections::HashMap<i64, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
                sets.sort_by_key(|set| rank.get(&set.id).copied());
                Ok(sets)
            }

            async fn search_entries(&self) -> StorageResult<Vec<SearchEntry>> {
                let rows = sqlx::query(
                    "SELECT s.id, a.username, s.search_text, s.categories, s.tags FROM model_sets s \
                     JOIN accounts a ON a.id = s.owner_id ORDER BY s.created_at DESC, s.id DESC",
                )
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok(SearchEntry {
                            id: row.try_get("id")?,
                            owner: row.try_get("username")?,
                            text: row.try_get("search_text")?,
                            categories: row.try_get("categories")?,
                            tags: row.try_get("tags")?,
                        })
                    })
                    .collect()
            }

            async fn set_activity(&self, since: i64) -> StorageResult<Vec<SetActivity>> {
                // Grouped by `+set_id`, an expression, so SQLite reads the window's rows from
                // the narrow index on (minute, set_id, count) and groups them in a temporary
                // tree: grouped by the column itself, it walked the primary key's order through
                // every row the table holds, sketches and all (4-5 ms on 10,000 sets, against
                // 2). PostgreSQL plans the same either way.
                let rows = sqlx::query(
                    "SELECT +set_id AS set_id, CAST(SUM(count) AS BIGINT) AS requests, MAX(minute) AS last_active \
                     FROM request_rollups_set_hourly WHERE minute >= $1 AND count > 0 GROUP BY +set_id",
                )
                .bind(since)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok(SetActivity {
                            set_id: row.try_get("set_id")?,
                            requests: row.try_get("requests")?,
                            last_active: row.try_get("last_active")?,
                        })
                    })
                    .collect()
            }

            async fn insert_eval_jobs(&self, jobs: &[NewEvalJob], now: i64) -> StorageResult<()> {
                for j in jobs {
                    sqlx::query(
                        "INSERT INTO eval_jobs (request_id, set_id, account_id, model_id, request_at, settings, metrics, \
                         input, output, run_after, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
                    )
                    .bind(&j.request_id)
                    .bind(j.set_id)
                    .bind(j.account_id)
                    .bind(&j.model_id)
                    .bind(j.request_at)
                    .bind(&j.settings)
                    .bind(encode_json(&j.metrics)?)
                    .bind(&j.input)
                    .bind(&j.output)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                }
                Ok(())
            }

            async fn claim_eval_jobs(&self, now: i64, lease_until: i64, token: &str, limit: i64) -> StorageResult<Vec<EvalJob>> {
                // The outer WHERE repeats the subquery's test: on PostgreSQL a racing claimer
                // that waited for the row's lock re-checks it against the row as the winner
                // left it, and skips it. SQLite runs one writer at a time.
                // A job waits for its request's record (stored by the metrics writer, usually
                // within a second), so that finishing it always finds the record to charge;
                // after a minute without one (a record lost), it runs anyway.
                let rows = sqlx::query(
                    "UPDATE eval_jobs SET lease_until = $1, lease_token = $2, attempts = attempts + 1 \
                     WHERE id IN (SELECT j.id FROM eval_jobs j WHERE j.run_after <= $3 \
                     AND (j.lease_until IS NULL OR j.lease_until < $3) \
                     AND (j.created_at < $5 OR EXISTS (SELECT 1 FROM request_records r \
                     WHERE r.request_id = j.request_id AND r.eval_sampled = TRUE)) ORDER BY j.id LIMIT $4) \
                     AND run_after <= $3 AND (lease_until IS NULL OR lease_until < $3) RETURNING *",
                )
                .bind(lease_until)
                .bind(token)
                .bind(now)
                .bind(limit)
                .bind(now - 60_000)
                .fetch_all(&self.pool)
                .await?;
                let mut jobs = rows.iter().map(eval_job).collect::<StorageResult<Vec<EvalJob>>>()?;
                jobs.sort_by_key(|j| j.id);
                Ok(jobs)
            }

            async fn renew_eval_lease(&self, job_id: i64, token: &str, lease_until: i64) -> StorageResult<bool> {
                let done = sqlx::query("UPDATE eval_jobs SET lease_until = $1 WHERE id = $2 AND lease_token = $3")
                    .bind(lease_until)
                    .bind(job_id)
                    .bind(token)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn finish_eval_job(
                &self,
                job_id: i64,
                token: &str,
                results: &[EvalResultRow],
                next: &JobNext,
            ) -> StorageResult<bool> {
                let mut tx = self.pool.begin().await?;
                let held = match next {
                    JobNext::Done => sqlx::query("DELETE FROM eval_jobs WHERE id = $1 AND lease_token = $2")
                        .bind(job_id)
                        .bind(token)
                        .execute(&mut *tx)
                        .await?,
                    JobNext::Retry { metrics, run_after, error } => sqlx::query(
                        "UPDATE eval_jobs SET metrics = $1, run_after = $2, last_error = $3, lease_until = NULL, \
                         lease_token = NULL WHERE id = $4 AND lease_token = $5",
                    )
                    .bind(encode_json(metrics)?)
                    .bind(run_after)
                    .bind(error)
                    .bind(job_id)
                    .bind(token)
                    .execute(&mut *tx)
                    .await?,
                };
                if held.rows_affected() != 1 {
                    tx.rollback().await?;
                    return Ok(false);
                }
                let mut charged = 0.0;
                let mut request_id: Option<&str> = None;
                for r in results {
                    let stored = insert_eval_result(r).execute(&mut *tx).await?;
                    if stored.rows_affected() == 1 {
                        charged += r.cost_usd;
                        request_id = Some(&r.request_id);
                    }
                }
                if let Some(request_id) = request_id {
                    // The answered record: the one that says it was sampled (a fallback's failed
                    // attempts share the request id).
                    sqlx::query(
                        "UPDATE request_records SET eval_cost_usd = eval_cost_usd + $1 \
                         WHERE request_id = $2 AND eval_sampled = TRUE",
                    )
                    .bind(charged)
                    .bind(request_id)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn insert_eval_results(&self, results: &[EvalResultRow]) -> StorageResult<()> {
                for r in results {
                    insert_eval_result(r).execute(&self.pool).await?;
                }
                Ok(())
            }

            async fn recent_eval_scores(&self, since: i64, limit: i64) -> StorageResult<Vec<EvalResultRow>> {
                let rows = sqlx::query(
                    "SELECT * FROM (SELECT * FROM eval_results WHERE scored_at >= $1 AND score IS NOT NULL \
                     ORDER BY scored_at DESC, id DESC LIMIT $2) AS latest ORDER BY scored_at, id",
                )
                .bind(since)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(eval_result).collect()
            }

            async fn eval_queue_stats(&self, now: i64, since: i64) -> StorageResult<EvalQueueStats> {
                let row = sqlx::query(
                    "SELECT \
                     COALESCE(SUM(CASE WHEN lease_until IS NULL OR lease_until < $1 THEN 1 ELSE 0 END), 0) AS waiting, \
                     COALESCE(SUM(CASE WHEN lease_until >= $1 THEN 1 ELSE 0 END), 0) AS running, \
                     COALESCE(SUM(CASE WHEN last_error IS NOT NULL THEN 1 ELSE 0 END), 0) AS retrying, \
                     MIN(request_at) AS oldest FROM eval_jobs",
                )
                .bind(now)
                .fetch_one(&self.pool)
                .await?;
                let failed: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM eval_results WHERE error IS NOT NULL AND scored_at >= $1")
                        .bind(since)
                        .fetch_one(&self.pool)
                        .await?;
                Ok(EvalQueueStats {
                    waiting: row.try_get("waiting")?,
                    running: row.try_get("running")?,
                    retrying: row.try_get("retrying")?,
                    oldest_request_at: row.try_get("oldest")?,
                    failed_since: failed,
                })
            }

            async fn latest_eval_results(&self, set_id: i64, limit: i64) -> StorageResult<Vec<EvalResultRow>> {
                let rows = sqlx::query(
                    "SELECT * FROM eval_results WHERE set_id = $1 ORDER BY scored_at DESC, id DESC LIMIT $2",
                )
                .bind(set_id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(eval_result).collect()
            }

            async fn forget_eval_texts(&self, before: i64) -> StorageResult<u64> {
                let done = sqlx::query(
                    "UPDATE eval_results SET input = NULL, output = NULL \
                     WHERE scored_at < $1 AND (input IS NOT NULL OR output IS NOT NULL)",
                )
                .bind(before)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected())
            }

            async fn g_eval_steps(&self, criteria_hash: &str) -> StorageResult<Option<String>> {
                Ok(sqlx::query_scalar("SELECT steps FROM g_eval_steps WHERE criteria_hash = $1")
                    .bind(criteria_hash)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn put_g_eval_steps(&self, criteria_hash: &str, steps: &str, now: i64) -> StorageResult<()> {
                sqlx::query(
                    "INSERT INTO g_eval_steps (criteria_hash, steps, created_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (criteria_hash) DO NOTHING",
                )
                .bind(criteria_hash)
                .bind(steps)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn count_request_records(&self) -> StorageResult<i64> {
                Ok(sqlx::query_scalar("SELECT COUNT(*) FROM request_records").fetch_one(&self.pool).await?)
            }
        }
    };
}

pub(crate) use {bind_filter, portable_sql_storage};
