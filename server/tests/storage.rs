//! The storage suite: every `Storage` operation, run against SQLite and PostgreSQL alike.

mod common;

use app::catalog::{Capabilities, CatalogModel};
use app::model_set::{Comparator, Dimension, ModelSetSpec, Requirement, Statistic};
use common::{fresh_db, Backend, TestDb};
use server::model_sets::registry::{Registry, RegistryListing, RegistryQuery, SetSort};
use server::storage::{
    self, EvalResultRow, Grain, NewModelSet, RequestRecord, RollupRow, RollupTable, SetContent, SetFilter, SetPage,
    SharedStorage, StorageError,
};

on_both_backends!(
    migrations_are_idempotent,
    accounts,
    sessions,
    api_keys,
    catalog,
    model_sets,
    request_records,
    eval_results,
    rollups,
    set_hours_are_backfilled_once,
    registry_pages,
);

async fn open(backend: Backend) -> (SharedStorage, TestDb) {
    let db = fresh_db(backend).await;
    let storage = storage::connect(&db.url).await.expect("connect and migrate");
    (storage, db)
}

async fn migrations_are_idempotent(backend: Backend) {
    let (storage, db) = open(backend).await;
    storage.create_account("keep", "hash", 1).await.expect("create");
    storage.migrate().await.expect("second migrate is a no-op");
    let again = storage::connect(&db.url).await.expect("reconnect");
    assert_eq!(
        again.count_accounts().await.expect("count"),
        1,
        "data survives reconnecting"
    );
}

async fn accounts(backend: Backend) {
    let (s, _db) = open(backend).await;
    let alice = s.create_account("alice", "$argon2id$x", 100).await.expect("create");
    assert_eq!(alice.username, "alice");
    assert_eq!(alice.created_at, 100);
    match s.create_account("alice", "other", 101).await {
        Err(StorageError::Conflict(_)) => {}
        other => panic!("duplicate username must conflict, got {other:?}"),
    }
    assert_eq!(
        s.count_accounts().await.expect("count"),
        1,
        "the failed insert wrote nothing"
    );
    let by_name = s.account_by_username("alice").await.expect("query").expect("found");
    assert_eq!(by_name, alice);
    let by_id = s.account_by_id(alice.id).await.expect("query").expect("found");
    assert_eq!(by_id, alice);
    assert!(s.account_by_username("bob").await.expect("query").is_none());
    assert!(s.account_by_id(alice.id + 1000).await.expect("query").is_none());

    s.set_password_hash(alice.id, "$argon2id$new")
        .await
        .expect("set the hash");
    let changed = s.account_by_id(alice.id).await.expect("query").expect("found");
    assert_eq!(
        changed,
        storage::Account {
            password_hash: "$argon2id$new".into(),
            ..alice.clone()
        },
        "the hash alone changed"
    );
    assert!(matches!(
        s.set_password_hash(alice.id + 1000, "x").await,
        Err(StorageError::NotFound)
    ));
}

async fn sessions(backend: Backend) {
    let (s, _db) = open(backend).await;
    assert!(s.session_insert("h1", r#"{"a":1}"#, 1_000).await.expect("insert"));
    assert!(
        !s.session_insert("h1", "{}", 2_000).await.expect("collision"),
        "an existing id is not overwritten"
    );
    assert_eq!(
        s.session_load("h1", 500).await.expect("load"),
        Some((r#"{"a":1}"#.to_string(), 1_000))
    );
    assert_eq!(
        s.session_load("h1", 1_000).await.expect("load"),
        None,
        "expired at its expiry time"
    );
    s.session_upsert("h1", r#"{"a":2}"#, 5_000).await.expect("upsert");
    assert_eq!(
        s.session_load("h1", 1_500).await.expect("load").map(|x| x.0),
        Some(r#"{"a":2}"#.into())
    );
    s.session_upsert("h2", "{}", 900).await.expect("upsert new");
    s.session_upsert("h3", "{}", 10_000).await.expect("upsert new");
    assert_eq!(s.sessions_delete_expired(2_000).await.expect("sweep"), 1);
    assert!(s.session_load("h3", 2_000).await.expect("load").is_some());
    s.session_delete("h3").await.expect("delete");
    assert!(s.session_load("h3", 2_000).await.expect("load").is_none());
}

async fn api_keys(backend: Backend) {
    let (s, _db) = open(backend).await;
    let alice = s.create_account("alice", "h", 1).await.expect("alice");
    let bob = s.create_account("bob", "h", 1).await.expect("bob");
    let k1 = s
        .create_api_key(alice.id, "first", "sk-sp-AAAA", "hash1", 10)
        .await
        .expect("k1");
    let k2 = s
        .create_api_key(alice.id, "second", "sk-sp-BBBB", "hash2", 20)
        .await
        .expect("k2");
    assert!(k1.is_active() && k1.last_used_at.is_none());
    match s.create_api_key(bob.id, "dup", "sk-sp-CCCC", "hash1", 30).await {
        Err(StorageError::Conflict(_)) => {}
        other => panic!("a duplicate secret hash must conflict, got {other:?}"),
    }

    let listed = s.list_api_keys(alice.id).await.expect("list");
    assert_eq!(
        listed.iter().map(|k| k.id).collect::<Vec<_>>(),
        vec![k2.id, k1.id],
        "newest first"
    );
    assert!(s.list_api_keys(bob.id).await.expect("list").is_empty());

    let owner = s.api_key_by_hash("hash1").await.expect("lookup").expect("found");
    assert_eq!(owner.username, "alice");
    assert_eq!(owner.key, k1);
    assert!(s.api_key_by_hash("nope").await.expect("lookup").is_none());

    s.touch_api_key(k1.id, 50).await.expect("touch");
    match s.revoke_api_key(bob.id, k1.id, 60).await {
        Err(StorageError::NotFound) => {}
        other => panic!("revoking another account's key must be NotFound, got {other:?}"),
    }
    s.revoke_api_key(alice.id, k1.id, 60).await.expect("revoke");
    s.revoke_api_key(alice.id, k1.id, 70)
        .await
        .expect("revoking again is harmless");
    let after = s.api_key_by_hash("hash1").await.expect("lookup").expect("still found");
    assert_eq!(after.key.revoked_at, Some(60), "the first revocation time is kept");
    assert_eq!(after.key.last_used_at, Some(50));
    assert!(!after.key.is_active());
    match s.revoke_api_key(alice.id, 9_999, 80).await {
        Err(StorageError::NotFound) => {}
        other => panic!("unknown key must be NotFound, got {other:?}"),
    }
}

fn model(id: &str, price: f64) -> CatalogModel {
    CatalogModel {
        id: id.into(),
        provider: "simulated".into(),
        upstream_name: id.split('/').nth(1).unwrap_or(id).into(),
        input_price_per_mtok: price,
        output_price_per_mtok: price * 4.0,
        context_window: 128_000,
        capabilities: Capabilities {
            tools: true,
            vision: false,
            json_output: true,
        },
        simulated: true,
        simulation: None,
    }
}

async fn catalog(backend: Backend) {
    let (s, _db) = open(backend).await;
    s.upsert_catalog_model(&model("z/last", 1.0), 1).await.expect("upsert");
    s.upsert_catalog_model(&model("a/first", 0.5), 1).await.expect("upsert");
    let mut changed = model("z/last", 2.0);
    changed.capabilities.vision = true;
    s.upsert_catalog_model(&changed, 2).await.expect("update");
    let list = s.list_catalog_models().await.expect("list");
    assert_eq!(
        list,
        vec![model("a/first", 0.5), changed],
        "sorted by id, updated in place"
    );
}

fn new_set(owner_id: i64, slug: &str, name: &str, categories: &[&str], tags: &[&str]) -> NewModelSet {
    NewModelSet {
        owner_id,
        slug: slug.into(),
        name: name.into(),
        content: content(name, categories, tags),
        cloned_from: None,
    }
}

fn content(name: &str, categories: &[&str], tags: &[&str]) -> SetContent {
    SetContent {
        description: format!("{name} description"),
        categories: categories.iter().map(|c| c.to_string()).collect(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        spec: ModelSetSpec {
            models: vec!["openai/gpt-4o-mini".into(), "groq/llama-3.1-8b-instant".into()],
            requirements: vec![Requirement {
                dimension: Dimension::Latency,
                statistic: Statistic::P90,
                comparator: Comparator::AtMost,
                target: 2000.0,
            }],
            ..ModelSetSpec::default()
        },
    }
}

async fn model_sets(backend: Backend) {
    let (s, _db) = open(backend).await;
    let alice = s.create_account("alice", "h", 1).await.expect("alice");
    let bob = s.create_account("bob", "h", 1).await.expect("bob");
    let chat = s
        .create_model_set(
            &new_set(alice.id, "cheap-chat", "Cheap Chat", &["chat"], &["budget"]),
            10,
        )
        .await
        .expect("create");
    assert_eq!(chat.owner, "alice");
    assert_eq!(chat.address(), "@alice/cheap-chat");
    assert_eq!(chat.spec.requirements.len(), 1);
    assert_eq!((chat.created_at, chat.updated_at, chat.revision), (10, 10, 1));
    s.create_model_set(&new_set(bob.id, "cheap-chat", "Bob's Chat", &["chat"], &["fast"]), 11)
        .await
        .expect("the same slug under another owner is fine");
    s.create_model_set(&new_set(bob.id, "coder", "Code 100%", &["coding"], &["fast"]), 12)
        .await
        .expect("create");
    match s
        .create_model_set(&new_set(alice.id, "cheap-chat", "Again", &[], &[]), 13)
        .await
    {
        Err(StorageError::Conflict(_)) => {}
        other => panic!("a duplicate slug for one owner must conflict, got {other:?}"),
    }

    let found = s
        .model_set_by_slug("alice", "cheap-chat")
        .await
        .expect("query")
        .expect("found");
    assert_eq!(found, chat);
    assert!(s
        .model_set_by_slug("carol", "cheap-chat")
        .await
        .expect("query")
        .is_none());

    let search = |query: &str, category: Option<&str>, tag: Option<&str>, owner: Option<&str>| SetFilter {
        query: query.into(),
        category: category.map(Into::into),
        tag: tag.map(Into::into),
        owner: owner.map(Into::into),
    };
    let names = |sets: Vec<app::model_set::ModelSet>| sets.into_iter().map(|m| m.name).collect::<Vec<_>>();
    // Every search is made twice: by the storage's SQL (the API's list) and in memory over the
    // search entries (the registry's), which must agree.
    let find = |f: SetFilter| {
        let s = s.clone();
        async move {
            let sets = s.search_model_sets(&f, SetPage::default()).await.expect("search");
            let mut by_sql: Vec<i64> = sets.iter().map(|m| m.id).collect();
            let entries = s.search_entries().await.expect("search entries");
            let matcher = f.matcher();
            let mut in_memory: Vec<i64> = entries.iter().filter(|e| matcher.matches(e)).map(|e| e.id).collect();
            by_sql.sort_unstable();
            in_memory.sort_unstable();
            assert_eq!(by_sql, in_memory, "SQL and in-memory matching disagree on {f:?}");
            names(sets)
        }
    };
    assert_eq!(
        find(search("", None, None, None)).await,
        vec!["Code 100%", "Bob's Chat", "Cheap Chat"]
    );
    assert_eq!(
        find(search("CHEAP", None, None, None)).await,
        vec!["Bob's Chat", "Cheap Chat"]
    );
    assert_eq!(find(search("coding", None, None, None)).await, vec!["Code 100%"]);
    assert_eq!(find(search("budget", None, None, None)).await, vec!["Cheap Chat"]);
    assert_eq!(find(search("bob", None, None, None)).await.len(), 2);
    assert_eq!(find(search("100%", None, None, None)).await, vec!["Code 100%"]);
    assert!(
        find(search("%_", None, None, None)).await.is_empty(),
        "wildcards are literal"
    );
    assert_eq!(
        find(search("", Some("chat"), None, None)).await,
        vec!["Bob's Chat", "Cheap Chat"]
    );
    assert!(
        find(search("", Some("cha"), None, None)).await.is_empty(),
        "categories match whole"
    );
    assert_eq!(
        find(search("", None, Some("fast"), Some("bob"))).await,
        vec!["Code 100%", "Bob's Chat"]
    );
    assert_eq!(find(search("chat", None, Some("fast"), None)).await, vec!["Bob's Chat"]);
    assert!(find(search("", None, None, Some("carol"))).await.is_empty());
    // Under three characters the trigram indexes cannot answer; the text is scanned instead.
    assert_eq!(find(search("bo", None, None, None)).await.len(), 2);
    assert_eq!(
        find(search("@bob/coder", None, None, None)).await,
        vec!["Code 100%"],
        "a pasted address"
    );
    // The text index's own syntax is literal text, and finds nothing here.
    for query in [
        "chat\"z",
        "\"chat x\"",
        "chat OR code",
        "cod*",
        "NEAR(chat code)",
        "search_text : chat",
        "chat) OR (1",
    ] {
        assert!(find(search(query, None, None, None)).await.is_empty(), "{query}");
    }
    assert!(find(search("", Some("ch\"at"), None, None)).await.is_empty());

    // Edits make revisions; the name and slug stay.
    let mut edited = content("Cheap Chat", &["chat", "support"], &["budget"]);
    edited.description = "cheaper".into();
    edited.spec.models.pop();
    let after = s.update_model_set(chat.id, &edited, 20).await.expect("update");
    assert_eq!((after.revision, after.updated_at, after.created_at), (2, 20, 10));
    assert_eq!((after.name.as_str(), after.slug.as_str()), ("Cheap Chat", "cheap-chat"));
    assert_eq!(after.description, "cheaper");
    assert_eq!(after.spec.models.len(), 1);
    let history = s.model_set_revisions(chat.id).await.expect("revisions");
    assert_eq!(history.iter().map(|r| r.revision).collect::<Vec<_>>(), vec![2, 1]);
    assert_eq!(history[1].spec.models.len(), 2, "revision 1 keeps the original spec");
    assert_eq!(history[0].edited_at, 20);
    // The search follows the edit: the new category and description match.
    assert_eq!(find(search("support", None, None, None)).await, vec!["Cheap Chat"]);
    assert_eq!(find(search("CHEAPER", None, None, None)).await, vec!["Cheap Chat"]);
    let mut accented = content("Café Über", &[], &[]);
    accented.description = "Résumé ÉCRIT".into();
    s.create_model_set(
        &NewModelSet {
            owner_id: bob.id,
            slug: "cafe".into(),
            name: "Café Über".into(),
            content: accented,
            cloned_from: None,
        },
        21,
    )
    .await
    .expect("create");
    assert_eq!(
        find(search("über", None, None, None)).await,
        vec!["Café Über"],
        "case is folded beyond ASCII"
    );
    assert_eq!(find(search("écrit", None, None, None)).await, vec!["Café Über"]);
    match s.update_model_set(9_999, &edited, 30).await {
        Err(StorageError::NotFound) => {}
        other => panic!("updating a missing set must be NotFound, got {other:?}"),
    }

    s.delete_model_set(chat.id).await.expect("delete");
    assert!(s.model_set_by_slug("alice", "cheap-chat").await.expect("q").is_none());
    assert!(s.model_set_revisions(chat.id).await.expect("revisions").is_empty());
    match s.delete_model_set(chat.id).await {
        Err(StorageError::NotFound) => {}
        other => panic!("deleting twice must be NotFound, got {other:?}"),
    }
    assert_eq!(
        find(search("cheap", None, None, None)).await,
        vec!["Bob's Chat"],
        "a deleted set leaves the search"
    );
    s.create_model_set(&new_set(alice.id, "cheap-chat", "Cheap Chat", &[], &[]), 40)
        .await
        .expect("a deleted slug can be used again");
    assert_eq!(
        find(search("cheap", None, None, None)).await,
        vec!["Cheap Chat", "Bob's Chat"]
    );
    assert!(
        find(search("", Some("chat"), None, Some("alice"))).await.is_empty(),
        "the new one has no category"
    );
}

fn record(i: i64, set: Option<i64>) -> RequestRecord {
    RequestRecord {
        request_id: format!("req-{i}"),
        at: 1_000 + i,
        account_id: 1,
        api_key_id: (i % 5 != 0).then_some(1),
        model_set_id: set,
        model_id: "openai/gpt-4o-mini".into(),
        status: if i % 3 == 0 { 502 } else { 200 },
        error_class: (i % 3 == 0).then(|| "upstream_5xx".to_string()),
        latency_ms: 120.5,
        ttft_ms: Some(40.0),
        output_tokens_per_s: Some(85.0),
        prompt_tokens: 12,
        completion_tokens: 30,
        cost_usd: 0.000_02,
        eval_sampled: false,
        eval_cost_usd: 0.0,
    }
}

async fn request_records(backend: Backend) {
    let (s, _db) = open(backend).await;
    assert_eq!(s.count_request_records().await.expect("count"), 0);
    // Not a multiple of the statement's rows: the last chunk is padded, and no padding row
    // may be stored.
    assert_ne!(250 % server::storage::RECORDS_PER_INSERT, 0);
    let batch: Vec<_> = (0..250)
        .map(|i| record(i, if i % 2 == 0 { Some(7) } else { None }))
        .collect();
    s.insert_request_records(&batch).await.expect("insert batch");
    s.insert_request_records(&[]).await.expect("an empty batch is fine");
    assert_eq!(s.count_request_records().await.expect("count"), 250);
    let recent = s.list_request_records(3).await.expect("list");
    assert_eq!(recent, batch[247..].to_vec(), "the latest, oldest first, as written");
    let all = s.list_request_records(1000).await.expect("list all");
    assert_eq!(all, batch, "every field of every record, in order");
}

fn eval_result(request_id: &str, set_id: i64, metric: &str, score: Option<f64>, scored_at: i64) -> EvalResultRow {
    EvalResultRow {
        request_id: request_id.into(),
        set_id,
        account_id: 3,
        model_id: "a/m".into(),
        metric: metric.into(),
        score,
        reason: format!("{metric} of {request_id}"),
        error: score.is_none().then(|| "malformed".to_string()),
        judge_model: "openai/gpt-4o-mini".into(),
        judge_calls: 2,
        prompt_tokens: 900,
        completion_tokens: 80,
        cost_usd: 0.000_25,
        request_at: scored_at - 5_000,
        scored_at,
        input: None,
        output: score.map(|_| "kept".to_string()),
    }
}

/// Results stored outside the queue keep the first of a (request, metric); the latest scores
/// of every set come back oldest first, the failed ones and the older ones left out.
async fn eval_results(backend: Backend) {
    let (s, _db) = open(backend).await;
    let first = vec![
        eval_result("demo-1", 7, "answer_relevancy", Some(0.75), 1_000),
        eval_result("demo-1", 7, "toxicity", Some(0.0), 1_000),
        eval_result("demo-2", 8, "answer_relevancy", None, 2_000),
        eval_result("demo-3", 7, "answer_relevancy", Some(1.0), 3_000),
        eval_result("demo-4", 8, "answer_relevancy", Some(0.5), 4_000),
    ];
    s.insert_eval_results(&first).await.expect("insert");
    s.insert_eval_results(&[]).await.expect("an empty batch is fine");
    let again = EvalResultRow {
        score: Some(0.1),
        ..first[0].clone()
    };
    s.insert_eval_results(&[again, eval_result("demo-5", 7, "answer_relevancy", Some(0.25), 5_000)])
        .await
        .expect("a stored (request, metric) is kept, the new one added");

    let latest = s.latest_eval_results(7, 10).await.expect("latest");
    let ids: Vec<(&str, &str, Option<f64>)> = latest
        .iter()
        .map(|r| (r.request_id.as_str(), r.metric.as_str(), r.score))
        .collect();
    assert_eq!(ids[0], ("demo-5", "answer_relevancy", Some(0.25)));
    assert!(ids.contains(&("demo-1", "answer_relevancy", Some(0.75))), "{ids:?}");
    assert_eq!(latest.len(), 4);
    assert_eq!(
        latest.iter().find(|r| r.request_id == "demo-3"),
        Some(&first[3]),
        "every field as written"
    );

    let scores = |rows: Vec<EvalResultRow>| -> Vec<(String, String, i64)> {
        rows.into_iter()
            .map(|r| (r.request_id, r.metric, r.scored_at))
            .collect()
    };
    let all = s.recent_eval_scores(0, 100).await.expect("recent");
    assert_eq!(all.len(), 5, "the failed one left out: {:?}", scores(all.clone()));
    assert!(all.windows(2).all(|w| w[0].scored_at <= w[1].scored_at), "oldest first");
    assert_eq!(
        scores(s.recent_eval_scores(2_500, 2).await.expect("recent")),
        [
            ("demo-4".to_string(), "answer_relevancy".to_string(), 4_000),
            ("demo-5".to_string(), "answer_relevancy".to_string(), 5_000)
        ],
        "the latest two since the time asked, oldest first"
    );
    assert!(s.recent_eval_scores(6_000, 10).await.expect("none").is_empty());
    let stats = s.eval_queue_stats(10_000, 0).await.expect("stats");
    assert_eq!(stats.failed_since, 1, "the failed one counts as failed");
}

fn rollup(set_id: i64, model: &str, minute: i64, writer: &str, count: i64) -> RollupRow {
    RollupRow {
        set_id,
        model_id: model.into(),
        minute,
        writer: writer.into(),
        count,
        errors: 1,
        latency_ms_sum: 100.5 * count as f64,
        ttft_ms_sum: 20.0,
        ttft_count: 1,
        tokens_per_s_sum: 60.0,
        tokens_per_s_count: 1,
        prompt_tokens: 10 * count,
        completion_tokens: 20 * count,
        cost_usd: 0.001 * count as f64,
        latency_sketch: format!("{{\"n\":{count}}}"),
        ttft_sketch: "{}".into(),
        error_classes: r#"{"timeout":1}"#.into(),
        eval_cost_usd: 0.0,
        evals: "{}".into(),
    }
}

/// Hours stored per model before the per-set table existed get their per-set row once; an
/// hour that has one already (written by a metrics writer since) is left alone.
async fn set_hours_are_backfilled_once(backend: Backend) {
    let (s, _db) = open(backend).await;
    const H: i64 = 3_600_000;
    s.upsert_rollups(
        RollupTable::Hour,
        &[
            rollup(7, "a/m", H, "w1", 3),
            rollup(7, "b/m", H, "w1", 1),
            rollup(7, "a/m", H, "w2", 2),
            rollup(7, "a/m", 2 * H, "w1", 4),
            rollup(8, "a/m", H, "w1", 9),
        ],
    )
    .await
    .expect("per-model hours");
    // Set 8's hour has its per-set row already.
    s.upsert_rollups(RollupTable::SetHour, &[rollup(8, "", H, "w1", 9)])
        .await
        .expect("a per-set row");
    let sum = |rows: Vec<RollupRow>| {
        let mut merged = rollup(rows[0].set_id, "", rows[0].minute, "backfill", 0);
        merged.count = rows.iter().map(|r| r.count).sum();
        merged
    };
    assert_eq!(s.backfill_set_hours(&sum).await.expect("backfill"), 2);
    let rows = s.rollups(RollupTable::SetHour, 7, 0, i64::MAX).await.expect("set 7");
    let got: Vec<(i64, &str, &str, i64)> = rows
        .iter()
        .map(|r| (r.minute, r.model_id.as_str(), r.writer.as_str(), r.count))
        .collect();
    assert_eq!(got, [(H, "", "backfill", 6), (2 * H, "", "backfill", 4)]);
    let rows = s.rollups(RollupTable::SetHour, 8, 0, i64::MAX).await.expect("set 8");
    assert_eq!(
        rows,
        [rollup(8, "", H, "w1", 9)],
        "an hour with a per-set row is left alone"
    );
    // Done once: a second server starting finds nothing to do, and new per-model rows are
    // the metrics writer's to merge.
    s.upsert_rollups(RollupTable::Hour, &[rollup(7, "a/m", 3 * H, "w1", 1)])
        .await
        .expect("a later hour");
    assert_eq!(s.backfill_set_hours(&sum).await.expect("again"), 0);
    assert_eq!(
        s.rollups(RollupTable::SetHour, 7, 0, i64::MAX)
            .await
            .expect("set 7")
            .len(),
        2
    );
}

async fn rollups(backend: Backend) {
    let (s, _db) = open(backend).await;
    s.upsert_rollups(
        Grain::Minute.into(),
        &[rollup(7, "a/m", 60_000, "w1", 3), rollup(7, "b/m", 60_000, "w1", 1)],
    )
    .await
    .expect("upsert");
    s.upsert_rollups(
        Grain::Minute.into(),
        &[rollup(7, "a/m", 60_000, "w1", 5), rollup(7, "a/m", 60_000, "w2", 2)],
    )
    .await
    .expect("replace and add");
    s.upsert_rollups(
        Grain::Minute.into(),
        &[rollup(7, "a/m", 120_000, "w1", 4), rollup(8, "a/m", 60_000, "w1", 9)],
    )
    .await
    .expect("other minute, other set");
    assert_eq!(
        s.rollup_row(Grain::Minute.into(), 7, "a/m", 60_000, "w1")
            .await
            .expect("q"),
        Some(rollup(7, "a/m", 60_000, "w1", 5)),
        "the writer's row was replaced"
    );
    assert!(s
        .rollup_row(Grain::Minute.into(), 7, "a/m", 60_000, "w3")
        .await
        .expect("q")
        .is_none());
    let rows = s
        .rollups(Grain::Minute.into(), 7, 60_000, 120_000)
        .await
        .expect("range");
    let keys: Vec<(String, String, i64)> = rows
        .iter()
        .map(|r| (r.model_id.clone(), r.writer.clone(), r.count))
        .collect();
    assert_eq!(
        keys,
        vec![
            ("a/m".into(), "w1".into(), 5),
            ("a/m".into(), "w2".into(), 2),
            ("b/m".into(), "w1".into(), 1)
        ]
    );
    assert_eq!(
        s.rollups(Grain::Minute.into(), 7, 0, i64::MAX)
            .await
            .expect("all")
            .len(),
        4
    );
}

const HOUR: i64 = 3_600_000;

/// The registry's page: filters (description included), the three orders by the hourly
/// rollups' traffic, paging with the total, and the sparklines' hourly counts.
async fn registry_pages(backend: Backend) {
    let (s, _db) = open(backend).await;
    let alice = s.create_account("alice", "h", 1).await.expect("alice");
    let mut ids = Vec::new();
    for (i, (slug, categories)) in [("quiet", &["chat"][..]), ("busy", &["chat"]), ("new", &["coding"])]
        .into_iter()
        .enumerate()
    {
        let set = s
            // Created at 101, 100, 102: the order of creation is not the ids' order.
            .create_model_set(&new_set(alice.id, slug, slug, categories, &["t"]), [101, 100, 102][i])
            .await
            .expect("create");
        ids.push(set.id);
    }
    let (quiet, busy) = (ids[0], ids[1]);
    // busy: 5 + 7 requests in two writers' rows of the last two hours; quiet: 1 request long ago
    // (before the window) and 2 in the last hour.
    let now = 100 * HOUR;
    s.upsert_rollups(
        Grain::Hour.into(),
        &[
            rollup(busy, "a/m", now - HOUR, "w1", 5),
            rollup(busy, "a/m", now - 2 * HOUR, "w2", 7),
            rollup(quiet, "a/m", now - 30 * HOUR, "w1", 1),
            rollup(quiet, "b/m", now - HOUR, "w1", 2),
        ],
    )
    .await
    .expect("hourly rows");
    // And per set, as the metrics writer writes them beside: what the registry reads.
    s.upsert_rollups(
        RollupTable::SetHour,
        &[
            rollup(busy, "", now - HOUR, "w1", 5),
            rollup(busy, "", now - 2 * HOUR, "w2", 7),
            rollup(quiet, "", now - 30 * HOUR, "w1", 1),
            rollup(quiet, "", now - HOUR, "w1", 2),
        ],
    )
    .await
    .expect("per-set hourly rows");
    // The registry service over this storage: it reads the matches and the page's sets from
    // it, and orders by the traffic the rollups hold.
    let registry = Registry::new(s.clone());
    let page = |sort, query: &str, limit, offset| {
        let q = RegistryQuery {
            filter: SetFilter {
                query: query.into(),
                ..SetFilter::default()
            },
            sort,
            limit,
            offset,
        };
        let registry = &registry;
        async move { registry.page(&q, now).await.expect("page") }
    };
    let slugs = |listing: &RegistryListing| listing.entries.iter().map(|e| e.set.slug.clone()).collect::<Vec<_>>();
    let requests = |listing: &RegistryListing| listing.entries.iter().map(|e| e.recent.last_day).collect::<Vec<_>>();

    let all = page(SetSort::MostUsed, "", 10, 0).await;
    assert_eq!(all.total, 3);
    assert_eq!(slugs(&all), ["busy", "quiet", "new"]);
    assert_eq!(
        requests(&all),
        [12, 2, 0],
        "the last day's requests; quiet's old one left out"
    );
    let mut line = vec![0.0; 24];
    (line[22], line[23]) = (7.0, 5.0);
    assert_eq!(
        all.entries[0].recent.hourly, line,
        "the sparkline: the 24 whole hours before now's"
    );
    // Pages that start among the sets with traffic and end among those without.
    for (limit, offset, want) in [
        (1, 0, &["busy"][..]),
        (1, 1, &["quiet"]),
        (2, 1, &["quiet", "new"]),
        (1, 2, &["new"]),
        (5, 3, &[]),
    ] {
        let listing = page(SetSort::MostUsed, "", limit, offset).await;
        assert_eq!(slugs(&listing), want, "limit {limit}, offset {offset}");
        assert_eq!(listing.total, 3, "limit {limit}, offset {offset}");
    }
    let recent = page(SetSort::RecentlyActive, "", 10, 0).await;
    // busy and quiet were both last active an hour ago: the newer (quiet) first.
    assert_eq!(
        slugs(&recent),
        ["quiet", "busy", "new"],
        "ties newest first, no traffic last"
    );
    assert_eq!(requests(&recent), [2, 12, 0]);
    let newest = page(SetSort::Newest, "", 10, 0).await;
    assert_eq!(slugs(&newest), ["new", "quiet", "busy"], "by creation time");
    let last = page(SetSort::Newest, "", 2, 2).await;
    assert_eq!(
        (slugs(&last), last.total),
        (vec!["busy".to_string()], 3),
        "the last page"
    );
    let searched = page(SetSort::Newest, "description", 10, 0).await;
    assert_eq!(slugs(&searched), ["new", "quiet", "busy"], "a search keeps the order");
    let found = page(SetSort::MostUsed, "BUSY DESCR", 10, 0).await;
    assert_eq!(
        (slugs(&found), found.total),
        (vec!["busy".to_string()], 1),
        "descriptions match too"
    );
    let found = page(SetSort::MostUsed, "coding", 10, 0).await;
    assert_eq!(
        (slugs(&found), found.total),
        (vec!["new".to_string()], 1),
        "categories match"
    );
    let found = page(SetSort::MostUsed, "description", 1, 0).await;
    assert_eq!(
        (found.entries.len(), found.total),
        (1, 3),
        "a full page counts every match"
    );

    // A set that turns busy moves up once the registry's traffic snapshot is renewed, in the
    // background after FRESH_FOR; what its card shows is current at once.
    s.upsert_rollups(RollupTable::SetHour, &[rollup(ids[2], "", now - HOUR, "w1", 40)])
        .await
        .expect("new traffic");
    let shown = page(SetSort::MostUsed, "", 10, 0).await;
    let new_card = shown.entries.iter().find(|e| e.set.slug == "new").expect("listed");
    assert_eq!(new_card.recent.last_day, 40, "the card's count is read with the page");
    tokio::time::sleep(server::model_sets::registry::FRESH_FOR).await;
    let mut moved = Vec::new();
    for _ in 0..50 {
        moved = slugs(&page(SetSort::MostUsed, "", 10, 0).await);
        if moved[0] == "new" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        moved,
        ["new", "busy", "quiet"],
        "the order follows the renewed snapshot"
    );
    // A deleted set leaves the registry at once, though the snapshot still counts its traffic.
    s.delete_model_set(ids[2]).await.expect("delete");
    let after = page(SetSort::MostUsed, "", 10, 0).await;
    assert_eq!(
        (slugs(&after), after.total),
        (vec!["busy".to_string(), "quiet".to_string()], 2)
    );
    // A set made elsewhere (another replica, here the storage itself) is found once the search
    // entries are renewed; a change made through this replica invalidates them at once.
    s.create_model_set(&new_set(alice.id, "late", "late", &["chat"], &["t"]), 103)
        .await
        .expect("late");
    registry.invalidate();
    let late = page(SetSort::Newest, "late", 10, 0).await;
    assert_eq!((slugs(&late), late.total), (vec!["late".to_string()], 1));

    let hourly = s
        .hourly_requests(&[busy, quiet], now - 24 * HOUR)
        .await
        .expect("hourly");
    assert_eq!(
        hourly,
        vec![(quiet, now - HOUR, 2), (busy, now - 2 * HOUR, 7), (busy, now - HOUR, 5)],
        "by set, oldest first"
    );
    assert!(s.hourly_requests(&[], 0).await.expect("none").is_empty());
    let all = s
        .all_rollups(Grain::Hour.into(), now - 24 * HOUR, now)
        .await
        .expect("all");
    assert_eq!(all.len(), 3, "every set's rows in the range, the old one left out");
    assert!(
        s.rollups(Grain::Minute.into(), busy, 0, i64::MAX)
            .await
            .expect("minutes")
            .is_empty(),
        "grains are apart"
    );
}
