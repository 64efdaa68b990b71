//! The set page's data against what the records say, through the real server on both
//! backends: requests sent through the gateway (simulated models), then the series the page
//! draws read back through its server function and compared with the stored records.

mod common;

use std::time::Duration;

use app::monitoring::{Bucket, Line, Series};
use common::{account_with_key, create_set, fresh_db, http, Backend, Server};
use reqwest::StatusCode;
use serde_json::json;
use server::storage::{RequestRecord, RollupTable, SharedStorage};

on_both_backends!(series_equal_the_records, missing_deleted_and_foreign_sets_answer_404);

const MODELS: [&str; 3] = [
    "openai/gpt-4o-mini",
    "groq/llama-3.1-8b-instant",
    "mistral/mistral-small",
];
const REQUESTS: usize = 60;
/// 50 ms polls while the idle-priority metrics writer stores records and rollups.
const WAIT_POLLS: usize = 600;

/// The set page's series, as the browser asks for it.
async fn series(server: &Server, owner: &str, slug: &str, range: &str) -> Series {
    series_of(server, owner, slug, range, "models").await
}

/// `lines`: `models` (the set's line merged from its models' rows, and theirs) or `set` (the
/// set's line alone, by the hour from its per-set rows).
async fn series_of(server: &Server, owner: &str, slug: &str, range: &str, lines: &str) -> Series {
    let resp = http()
        .post(server.url("/api/set_series"))
        .header("accept", "application/json")
        .form(&[("owner", owner), ("slug", slug), ("range", range), ("lines", lines)])
        .send()
        .await
        .expect("send");
    let status = resp.status();
    let text = resp.text().await.expect("body");
    assert_eq!(status, StatusCode::OK, "{text}");
    serde_json::from_str(&text).expect("a Series")
}

/// Waits until every request's record is stored and the three rollup tables count them all.
async fn settled(storage: &SharedStorage, set_id: i64, n: usize) -> Vec<RequestRecord> {
    for _ in 0..WAIT_POLLS {
        let records = storage.list_request_records(10_000).await.expect("records");
        let answered = records.iter().filter(|r| r.status == 200).count();
        let mut rolled = Vec::new();
        for table in [RollupTable::Minute, RollupTable::Hour, RollupTable::SetHour] {
            let rows = storage.rollups(table, set_id, 0, i64::MAX).await.expect("rollups");
            rolled.push(rows.iter().map(|r| r.count).sum::<i64>());
        }
        if answered >= n && rolled.iter().all(|&c| c == records.len() as i64) {
            return records;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the records and rollups of {n} requests were not stored in time");
}

/// The exact q-quantile of `values` by rank, and the one rank above: a sketch may return
/// either neighbourhood (within its 1 % relative accuracy).
fn exact_quantiles(mut values: Vec<f64>, q: f64) -> (f64, f64) {
    values.sort_by(f64::total_cmp);
    let rank = q * (values.len() - 1) as f64;
    (values[rank.floor() as usize], values[rank.ceil() as usize])
}

fn assert_within_sketch(measured: f64, exact: (f64, f64), what: &str) {
    let (low, high) = exact;
    assert!(
        measured >= low * 0.99 && measured <= high * 1.01,
        "{what}: {measured} is not within 1 % of the exact {low}..{high}"
    );
}

/// Two merges of the same requests in another order: counts and sketches (integer bins)
/// equal, sums equal to rounding.
fn assert_same_bucket(a: &Bucket, b: &Bucket, what: &str) {
    let close = |x: Option<f64>, y: Option<f64>| match (x, y) {
        (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()),
        (x, y) => x == y,
    };
    assert_eq!(
        (
            a.at,
            a.requests,
            a.errors,
            &a.error_classes,
            a.prompt_tokens,
            a.completion_tokens
        ),
        (
            b.at,
            b.requests,
            b.errors,
            &b.error_classes,
            b.prompt_tokens,
            b.completion_tokens
        ),
        "{what}"
    );
    for (x, y) in [(a.latency, b.latency), (a.ttft, b.ttft)] {
        assert_eq!((x.p50, x.p90, x.p99), (y.p50, y.p90, y.p99), "{what}: quantiles");
        assert!(close(x.mean, y.mean), "{what}: mean {:?} vs {:?}", x.mean, y.mean);
    }
    assert!(close(a.tokens_per_s, b.tokens_per_s), "{what}: tokens/s");
    assert!(close(Some(a.cost_usd), Some(b.cost_usd)), "{what}: cost");
}

/// A line's totals against the records it covers.
fn check_line(line: &Line, records: &[&RequestRecord], what: &str) {
    let total = &line.total;
    assert_eq!(total.requests as usize, records.len(), "{what}: requests");
    let errors = records.iter().filter(|r| r.error_class.is_some()).count();
    assert_eq!(total.errors as usize, errors, "{what}: errors");
    let cost: f64 = records.iter().map(|r| r.cost_usd).sum();
    assert!(
        (total.cost_usd - cost).abs() <= 1e-9 * cost.max(1.0),
        "{what}: cost {} vs {cost}",
        total.cost_usd
    );
    let prompt: i64 = records.iter().map(|r| r.prompt_tokens).sum();
    let completion: i64 = records.iter().map(|r| r.completion_tokens).sum();
    assert_eq!(
        (total.prompt_tokens as i64, total.completion_tokens as i64),
        (prompt, completion),
        "{what}: tokens"
    );
    let bucketed: u64 = line.buckets.iter().map(|b| b.requests).sum();
    assert_eq!(bucketed, total.requests, "{what}: the buckets add up to the total");
    let ok: Vec<f64> = records
        .iter()
        .filter(|r| r.error_class.is_none())
        .map(|r| r.latency_ms)
        .collect();
    if ok.len() >= 2 {
        let mean = ok.iter().sum::<f64>() / ok.len() as f64;
        let measured = total.latency.mean.expect("mean latency");
        assert!(
            (measured - mean).abs() < 1e-6 * mean,
            "{what}: mean {measured} vs {mean}"
        );
        for (q, p) in [
            (0.5, total.latency.p50),
            (0.9, total.latency.p90),
            (0.99, total.latency.p99),
        ] {
            assert_within_sketch(
                p.expect("quantile"),
                exact_quantiles(ok.clone(), q),
                &format!("{what} p{}", q * 100.0),
            );
        }
    }
}

async fn series_equal_the_records(backend: Backend) {
    let db = fresh_db(backend).await;
    let key = account_with_key(&db.url, "alice");
    let server = Server::start(&db.url).await;
    let set = create_set(
        &server,
        &key,
        &json!({"name": "Watched", "models": MODELS,
                "requirements": [{"dimension": {"kind": "latency"}, "statistic": "p90", "comparator": "<=", "target": 3000}]}),
    )
    .await;
    let set_id = set["id"].as_i64().expect("id");
    let client = http();
    let mut answered = 0;
    for round in 0..REQUESTS / 20 {
        let sends = (0..20).map(|i| {
            let body = json!({
                "model": "@alice/watched",
                "stream": (round + i) % 2 == 0,
                "messages": [{"role": "user", "content": format!("Question {round}-{i}")}],
            });
            client
                .post(server.url("/v1/chat/completions"))
                .bearer_auth(&key)
                .json(&body)
                .send()
        });
        for resp in futures::future::join_all(sends).await {
            let resp = resp.expect("send");
            // Simulated failures fall back once; a double failure is still a record.
            answered += usize::from(resp.status() == StatusCode::OK);
            resp.text().await.expect("body");
        }
    }
    let storage = server::storage::connect(&db.url).await.expect("open");
    assert!(answered >= REQUESTS - 3, "{answered} of {REQUESTS} answered");
    let records = settled(&storage, set_id, answered).await;
    let all: Vec<&RequestRecord> = records.iter().collect();

    // The last hour reads per-minute rows; seven days read the hourly rows, whose sketches
    // the writer merged from the same requests: both must say what the records say.
    for range in ["1h", "24h", "7d", "30d"] {
        let s = series(&server, "alice", "watched", range).await;
        check_line(&s.set, &all, &format!("{range} whole set"));
        assert!(s.models.len() >= 2, "{range}: the routed models have lines");
        for line in &s.models {
            let id = line.model.as_deref().expect("a model line");
            let theirs: Vec<&RequestRecord> = records.iter().filter(|r| r.model_id == id).collect();
            check_line(line, &theirs, &format!("{range} {id}"));
        }
        let per_model: u64 = s.models.iter().map(|l| l.total.requests).sum();
        assert_eq!(per_model, s.set.total.requests, "{range}: the models add up to the set");
        // The set's line alone reads other rows (per set, by the hour): the same answer.
        let alone = series_of(&server, "alice", "watched", range, "set").await;
        check_line(&alone.set, &all, &format!("{range} whole set alone"));
        assert!(alone.models.is_empty(), "{range}: no model lines asked for");
        assert_eq!(alone.set.buckets.len(), s.set.buckets.len(), "{range}");
        for (a, b) in alone.set.buckets.iter().zip(&s.set.buckets) {
            assert_same_bucket(a, b, &format!("{range} at {}", a.at));
        }
    }
    // The page reads as a page too, with the set's name and its charts.
    let page = client
        .get(server.url("/model-sets/@alice/watched?range=7d"))
        .send()
        .await
        .expect("send");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("html");
    assert!(
        html.contains("Watched") && html.contains("<svg"),
        "the set page renders its charts"
    );
}

async fn missing_deleted_and_foreign_sets_answer_404(backend: Backend) {
    let db = fresh_db(backend).await;
    let key = account_with_key(&db.url, "alice");
    let _bob = account_with_key(&db.url, "bob");
    let server = Server::start(&db.url).await;
    create_set(&server, &key, &json!({"name": "Mine", "models": MODELS})).await;
    let client = http();
    let status = |path: &'static str| {
        let client = client.clone();
        let url = server.url(path);
        async move { client.get(url).send().await.expect("send").status() }
    };
    assert_eq!(status("/model-sets/@alice/mine").await, StatusCode::OK);
    assert_eq!(status("/model-sets/@alice/nothing").await, StatusCode::NOT_FOUND);
    assert_eq!(
        status("/model-sets/@bob/mine").await,
        StatusCode::NOT_FOUND,
        "another owner's address of the same slug"
    );
    assert_eq!(status("/model-sets/@nobody/mine").await, StatusCode::NOT_FOUND);
    let series_of_missing = client
        .post(server.url("/api/set_series"))
        .header("accept", "application/json")
        .form(&[("owner", "bob"), ("slug", "mine"), ("range", "24h"), ("lines", "set")])
        .send()
        .await
        .expect("send");
    assert_eq!(series_of_missing.status(), StatusCode::NOT_FOUND);

    let deleted = client
        .delete(server.url("/api/v1/model-sets/alice/mine"))
        .bearer_auth(&key)
        .send()
        .await
        .expect("send");
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(status("/model-sets/@alice/mine").await, StatusCode::NOT_FOUND);
    let html = client
        .get(server.url("/model-sets/@alice/mine"))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("html");
    assert!(html.contains("Page not found"), "a deleted set's page says so");
}
