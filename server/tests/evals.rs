//! Evals through the real binary on simulated models whose answers differ in quality and a
//! simulated judge that reads them: sampling holds its probability, scores move traffic to
//! the model that answers to the point, the judge's cost is charged apart, judge failures
//! are recorded without touching the request, and the queue survives a crash.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use common::{account_with_key, fresh_db, http, Backend, Server, TestDb};
use reqwest::StatusCode;
use serde_json::{json, Value};
use server::storage::{EvalResultRow, RequestRecord, SharedStorage};

on_both_backends!(
    a_judge_that_answers_in_prose_is_an_error_not_a_score,
    sampling_holds_its_probability,
    scores_move_traffic_and_the_judge_is_charged_apart,
    judge_failures_are_recorded_and_requests_unaffected,
    the_queue_survives_a_crash,
);

/// `poor` is cheap and answers half off the point; `good` costs 50× more and keeps to it.
/// The judges: a quick one, one that always fails, one slower than the evals' time limit.
const CATALOG: &str = r#"
[gateway]
max_body_bytes = 4194304
requests_per_minute_per_key = 1000000
[gateway.timeouts]
connect_ms = 5000
first_token_ms = 60000
total_ms = 600000

[[catalog]]
id = "sim/poor"
provider = "simulated"
upstream_name = "poor"
input_price_per_mtok = 0.2
output_price_per_mtok = 0.4
context_window = 8000
capabilities = { json_output = true }
simulation = { ttft_ms = 2, tokens_per_s = 20000, output_tokens = 40, jitter = 0.0, quality = 0.45 }

[[catalog]]
id = "sim/good"
provider = "simulated"
upstream_name = "good"
input_price_per_mtok = 10.0
output_price_per_mtok = 20.0
context_window = 8000
capabilities = { json_output = true }
simulation = { ttft_ms = 2, tokens_per_s = 20000, output_tokens = 40, jitter = 0.0, quality = 0.97 }

[[catalog]]
id = "sim/judge"
provider = "simulated"
upstream_name = "judge"
input_price_per_mtok = 0.15
output_price_per_mtok = 0.6
context_window = 128000
simulation = { ttft_ms = 3, tokens_per_s = 20000, output_tokens = 50, jitter = 0.0 }

[[catalog]]
id = "sim/slow-judge"
provider = "simulated"
upstream_name = "slow-judge"
input_price_per_mtok = 0.15
output_price_per_mtok = 0.6
context_window = 128000
simulation = { ttft_ms = 400, tokens_per_s = 20000, output_tokens = 50, jitter = 0.0 }

[[catalog]]
id = "sim/broken-judge"
provider = "simulated"
upstream_name = "broken-judge"
input_price_per_mtok = 0.15
output_price_per_mtok = 0.6
context_window = 128000
simulation = { ttft_ms = 1, tokens_per_s = 20000, output_tokens = 50, jitter = 0.0, error_rate = 1.0 }
"#;

struct Setup {
    /// `None` while the server is down.
    server: Option<Server>,
    key: String,
    db: TestDb,
    config: tempfile::NamedTempFile,
    storage: SharedStorage,
}

fn write_config(evals: &str) -> tempfile::NamedTempFile {
    let config = tempfile::Builder::new().suffix(".toml").tempfile().expect("temp file");
    std::fs::write(config.path(), format!("{CATALOG}\n[evals]\n{evals}\n")).expect("write config");
    config
}

async fn start(db_url: &str, config: &tempfile::NamedTempFile) -> Server {
    let path = config.path().to_string_lossy().to_string();
    Server::start_with(db_url, &[("SETPOINT_CONFIG", &path)]).await
}

async fn setup(backend: Backend, evals: &str) -> Setup {
    let db = fresh_db(backend).await;
    let key = account_with_key(&db.url, "alice");
    let config = write_config(evals);
    let server = start(&db.url, &config).await;
    let storage = server::storage::connect(&db.url).await.expect("open the database");
    Setup {
        server: Some(server),
        key,
        db,
        config,
        storage,
    }
}

impl Setup {
    fn server(&self) -> &Server {
        self.server.as_ref().expect("the server is up")
    }

    /// Kills the server (SIGKILL: no graceful shutdown) and starts it again on the same
    /// database with `config`.
    async fn crash_and_restart(&mut self, config: tempfile::NamedTempFile) {
        drop(self.server.take());
        self.config = config;
        self.server = Some(start(&self.db.url, &self.config).await);
    }
}

/// `GET /api/v1/model-sets/alice/{slug}/routing`.
async fn routing_status(s: &Setup, slug: &str) -> Value {
    http()
        .get(s.server().url(&format!("/api/v1/model-sets/alice/{slug}/routing")))
        .send()
        .await
        .expect("routing")
        .json()
        .await
        .expect("json")
}

/// Creates `@alice/{slug}`; returns its id.
async fn create(s: &Setup, slug: &str, models: &[&str], evals: Value, requirements: Value) -> i64 {
    let body = json!({
        "name": slug, "slug": slug, "models": models,
        "requirements": requirements,
        "objective": {"goal": "minimize", "dimension": {"kind": "cost"}},
        "evals": evals,
    });
    let set = common::create_set(s.server(), &s.key, &body).await;
    set["id"].as_i64().unwrap_or_else(|| panic!("set id in {set}"))
}

const QUESTIONS: &[&str] = &[
    "How do I rotate the API keys of a production database safely?",
    "Explain how a bloom filter trades memory for false positives.",
    "What should I check before migrating a service to a new region?",
    "Why does garbage collection pause some applications, and how can pauses be shortened?",
];

/// Sends `n` requests to `model`, `parallel` at a time; counts answers by the model that
/// served them. Every request must be answered.
async fn send(s: &Setup, model: &str, n: usize, parallel: usize) -> HashMap<String, usize> {
    let client = http();
    let url = s.server().url("/v1/chat/completions");
    let mut counts = HashMap::new();
    let mut sent = 0;
    while sent < n {
        let batch = parallel.min(n - sent);
        let calls = (0..batch).map(|i| {
            let question = QUESTIONS[(sent + i) % QUESTIONS.len()];
            client
                .post(&url)
                .bearer_auth(&s.key)
                .json(&json!({"model": model, "messages": [{"role": "user", "content": question}]}))
                .send()
        });
        for resp in futures::future::join_all(calls).await {
            let resp = resp.expect("send");
            assert_eq!(
                resp.status(),
                StatusCode::OK,
                "a request drawn for evals is answered as any other"
            );
            let served = resp.headers()["x-setpoint-model"].to_str().expect("header").to_string();
            *counts.entry(served).or_default() += 1;
        }
        sent += batch;
    }
    counts
}

async fn records(storage: &SharedStorage) -> Vec<RequestRecord> {
    storage.list_request_records(100_000).await.expect("records")
}

async fn results(storage: &SharedStorage, set_id: i64) -> Vec<EvalResultRow> {
    storage.latest_eval_results(set_id, 100_000).await.expect("results")
}

/// Waits until the records of `n` requests are stored.
async fn wait_for_records(storage: &SharedStorage, n: usize) -> Vec<RequestRecord> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let stored = records(storage).await;
        if stored.len() >= n || Instant::now() > deadline {
            return stored;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the queue is empty and the set has `expected` results.
async fn wait_for_evals(storage: &SharedStorage, set_id: i64, expected: usize, within: Duration) -> Vec<EvalResultRow> {
    let deadline = Instant::now() + within;
    loop {
        let stats = storage
            .eval_queue_stats(server::clock::now_ms(), 0)
            .await
            .expect("queue stats");
        let done = results(storage, set_id).await;
        if stats.waiting + stats.running == 0 && done.len() >= expected {
            return done;
        }
        if Instant::now() > deadline {
            eprintln!(
                "evals pending after {within:?}: {stats:?}, {} of {expected} done",
                done.len()
            );
            return done;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The sampled requests of a set, once `n` requests are stored.
async fn sampled(storage: &SharedStorage, set_id: i64, n: usize) -> usize {
    let stored = wait_for_records(storage, n).await;
    stored
        .iter()
        .filter(|r| r.model_set_id == Some(set_id) && r.eval_sampled)
        .count()
}

/// The decision is made per request and recorded on its answered record: over 10,000 requests
/// at 0.1 the share drawn is within four standard deviations of 1,000.
async fn sampling_holds_its_probability(backend: Backend) {
    let s = setup(backend, r#"judge = "sim/judge""#).await;
    let set_id = create(
        &s,
        "sampled",
        &["sim/poor"],
        json!({"metrics": ["json_correctness"], "sampling": 0.1}),
        json!([]),
    )
    .await;
    let n = 10_000;
    send(&s, "@alice/sampled", n, 32).await;
    let stored = wait_for_records(&s.storage, n).await;
    assert_eq!(stored.len(), n, "every request has its record");
    let drawn = stored.iter().filter(|r| r.eval_sampled).count() as f64;
    // Binomial(10,000, 0.1): σ = 30.
    assert!((drawn - 1000.0).abs() <= 120.0, "{drawn} of {n} drawn at 0.1");
    // Each drawn request is judged once, with no judge needed for JSON correctness.
    let done = wait_for_evals(&s.storage, set_id, drawn as usize, Duration::from_secs(60)).await;
    assert_eq!(done.len() as f64, drawn);
    assert!(done
        .iter()
        .all(|r| r.metric == "json_correctness" && r.judge_calls == 0 && r.cost_usd == 0.0));
    // A plain-text answer is not JSON: the metric says so with a reason.
    assert!(
        done.iter().all(|r| r.score == Some(0.0) && !r.reason.is_empty()),
        "{:?}",
        done.first()
    );
}

/// Answer relevancy ≥ 0.8 at the lowest cost: the cheap model's answers wander, so once the
/// judge has scored both, traffic moves to the good one; the judge's cost lands in the
/// records and rollups apart from the gateway's.
async fn scores_move_traffic_and_the_judge_is_charged_apart(backend: Backend) {
    let evals = "judge = \"sim/judge\"\nworkers = 8";
    let mut s = setup(backend, evals).await;
    let set_id = create(
        &s,
        "relevant",
        &["sim/poor", "sim/good"],
        json!({"metrics": ["answer_relevancy"], "sampling": 0.1}),
        json!([{"dimension": {"kind": "eval", "metric": "answer_relevancy"}, "statistic": "mean", "comparator": ">=", "target": 0.8}]),
    )
    .await;
    let first = send(&s, "@alice/relevant", 400, 16).await;
    let share = |counts: &HashMap<String, usize>| {
        let good = counts.get("sim/good").copied().unwrap_or(0) as f64;
        good / counts.values().sum::<usize>().max(1) as f64
    };
    let planned = |status: &Value| {
        status["routing"]["weights"]
            .as_array()
            .and_then(|w| w.iter().find(|m| m["model"] == "sim/good"))
            .and_then(|m| m["weight"].as_f64())
            .unwrap_or(0.0)
    };
    // Later traffic is routed on the scores: send in rounds, letting the judge and the re-plan
    // (every 2 s) catch up between them, until the plan leans on the good model.
    let mut sent = 400;
    let mut status = Value::Null;
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_secs(3)).await;
        status = routing_status(&s, "relevant").await;
        if planned(&status) >= 0.65 {
            break;
        }
        send(&s, "@alice/relevant", 200, 16).await;
        sent += 200;
    }
    let last = send(&s, "@alice/relevant", 600, 16).await;
    sent += 600;
    eprintln!(
        "{backend:?}: good's share {:.2} of the first 400, {:.2} of the last 600; planned {} (targets {}, realised {})",
        share(&first),
        share(&last),
        status["routing"]["weights"],
        status["routing"]["planned_targets"],
        status["routing"]["realised"],
    );
    assert!(
        planned(&status) >= 0.65,
        "the plan moves to the model that scores higher: {status}"
    );
    assert!(
        share(&last) >= 0.6 && share(&last) > share(&first) + 0.05,
        "and traffic follows: {first:?} then {last:?}"
    );

    let expected = sampled(&s.storage, set_id, sent).await;
    let done = wait_for_evals(&s.storage, set_id, expected, Duration::from_secs(60)).await;
    assert_eq!(done.len(), expected, "every sampled request is judged");
    let mean = |model: &str| {
        let scores: Vec<f64> = done
            .iter()
            .filter(|r| r.model_id == model)
            .filter_map(|r| r.score)
            .collect();
        scores.iter().sum::<f64>() / scores.len().max(1) as f64
    };
    eprintln!(
        "{backend:?}: relevancy poor {:.2}, good {:.2}",
        mean("sim/poor"),
        mean("sim/good")
    );
    assert!(
        mean("sim/good") > mean("sim/poor") + 0.2,
        "the real metric tells the models apart"
    );
    // Two calls, a third when an answer was not the JSON asked for (the simulated judge does that now and then).
    assert!(done
        .iter()
        .all(|r| r.judge_model == "sim/judge" && (2..=4).contains(&r.judge_calls) && r.cost_usd > 0.0));

    // Charged apart: each evaluated request's record carries its judge's cost beside its own.
    let stored = records(&s.storage).await;
    let judged: f64 = done.iter().map(|r| r.cost_usd).sum();
    let on_records: f64 = stored.iter().map(|r| r.eval_cost_usd).sum();
    assert!(
        (judged - on_records).abs() < 1e-12,
        "judge {judged} vs records {on_records}"
    );
    let by_request: HashMap<&str, &RequestRecord> = stored.iter().map(|r| (r.request_id.as_str(), r)).collect();
    for r in &done {
        let record = by_request[r.request_id.as_str()];
        assert!(record.eval_sampled && record.cost_usd > 0.0);
        assert!((record.eval_cost_usd - r.cost_usd).abs() < 1e-15);
    }
    // ... and in the rollups the set page and usage read.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let rows = s
        .storage
        .rollups(server::storage::Grain::Minute.into(), set_id, 0, i64::MAX)
        .await
        .expect("rollups");
    let rolled: f64 = rows.iter().map(|r| r.eval_cost_usd).sum();
    assert!((rolled - judged).abs() < 1e-9, "rollups {rolled} vs judge {judged}");
    let gateway: f64 = rows.iter().map(|r| r.cost_usd).sum();
    let records_cost: f64 = stored.iter().map(|r| r.cost_usd).sum();
    assert!(
        (gateway - records_cost).abs() < 1e-9,
        "gateway cost stays the gateway's"
    );

    // A restart remembers the scores: before any new request, the set knows its realised
    // relevancy and plans on it (without them it could not be planned, and would route
    // evenly until evals came in again).
    s.crash_and_restart(write_config(evals)).await;
    let restarted = routing_status(&s, "relevant").await;
    eprintln!(
        "{backend:?}: after a restart: planned {}, realised {}",
        restarted["routing"]["weights"], restarted["routing"]["realised"]
    );
    assert!(
        restarted["routing"]["realised"][0].as_f64().is_some_and(|r| r > 0.6),
        "{restarted}"
    );
    assert_eq!(restarted["routing"]["feasible"], true, "{restarted}");
    assert!(planned(&restarted) > 0.55, "{restarted}");
}

/// A judge that answers 500, and one slower than the evals' limit: each eval ends as an
/// error once its tries are spent; every request is answered as usual.
async fn judge_failures_are_recorded_and_requests_unaffected(backend: Backend) {
    let evals = "judge = \"sim/broken-judge\"\nmax_attempts = 2\nretry_after_secs = 1";
    let mut s = setup(backend, evals).await;
    let set_id = create(
        &s,
        "judged",
        &["sim/good"],
        json!({"metrics": ["answer_relevancy"], "sampling": 1.0}),
        json!([]),
    )
    .await;
    send(&s, "@alice/judged", 10, 5).await;
    let done = wait_for_evals(&s.storage, set_id, 10, Duration::from_secs(30)).await;
    assert_eq!(done.len(), 10);
    for r in &done {
        assert_eq!(r.score, None, "no score is made up");
        assert!(r.error.as_deref().is_some_and(|e| e.contains("5xx")), "{:?}", r.error);
    }

    // The same database, now with a judge that times out.
    let slow = write_config("judge = \"sim/slow-judge\"\nmax_attempts = 1\njudge_timeout_ms = 100");
    s.crash_and_restart(slow).await;
    send(&s, "@alice/judged", 10, 5).await;
    let done = wait_for_evals(&s.storage, set_id, 20, Duration::from_secs(30)).await;
    assert_eq!(done.len(), 20);
    let timed_out = done
        .iter()
        .filter(|r| r.error.as_deref().is_some_and(|e| e.contains("timeout")))
        .count();
    let errors: Vec<_> = done.iter().map(|r| r.error.clone()).collect();
    assert_eq!(timed_out, 10, "{errors:?}");
    let stored = records(&s.storage).await;
    assert!(stored.iter().all(|r| r.status == 200 && r.error_class.is_none()));
}

/// A server killed with evals queued and one in progress: after the restart every sampled
/// request is judged exactly once (one result per metric, its cost charged once).
async fn the_queue_survives_a_crash(backend: Backend) {
    let evals = "judge = \"sim/slow-judge\"\nworkers = 1\nlease_secs = 2";
    let mut s = setup(backend, evals).await;
    let set_id = create(
        &s,
        "durable",
        &["sim/good"],
        json!({"metrics": ["answer_relevancy", "toxicity"], "sampling": 1.0}),
        json!([]),
    )
    .await;
    let n = 12;
    send(&s, "@alice/durable", n, 4).await;
    wait_for_records(&s.storage, n).await;
    // Let the one worker start on the queue, then kill the server mid-way.
    let deadline = Instant::now() + Duration::from_secs(20);
    while results(&s.storage, set_id).await.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let pending = s
        .storage
        .eval_queue_stats(server::clock::now_ms(), 0)
        .await
        .expect("stats");
    assert!(
        pending.waiting + pending.running > 0,
        "jobs are pending at the crash: {pending:?}"
    );
    let same = write_config(evals);
    s.crash_and_restart(same).await;
    let done = wait_for_evals(&s.storage, set_id, 2 * n, Duration::from_secs(90)).await;
    let per_request: HashSet<(&str, &str)> = done
        .iter()
        .map(|r| (r.request_id.as_str(), r.metric.as_str()))
        .collect();
    assert_eq!(per_request.len(), done.len(), "no (request, metric) judged twice");
    assert_eq!(done.len(), 2 * n, "every sampled request judged on both metrics");
    // Scored, or unscored because the simulated judge answered in prose on both attempts
    // (`PROSE_RATE`, 0.5 % a call: one CI run in several hundred sees it): a result either way,
    // never a lost job or a made-up score.
    assert!(
        done.iter()
            .all(|r| r.score.is_some() || r.error.as_deref() == Some("malformed")),
        "{done:?}"
    );
    assert!(
        done.iter().filter(|r| r.score.is_some()).count() >= 2 * n - 2,
        "{done:?}"
    );
    let stored = records(&s.storage).await;
    let judged: f64 = done.iter().map(|r| r.cost_usd).sum();
    let on_records: f64 = stored.iter().map(|r| r.eval_cost_usd).sum();
    assert!(
        (judged - on_records).abs() < 1e-12,
        "charged once: {judged} vs {on_records}"
    );
}

/// An OpenAI-compatible judge on loopback that always answers in prose, never the JSON asked
/// for; returns its base URL and how many calls it got.
async fn prose_judge() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use axum::routing::post;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let calls = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move || {
            let calls = counted.clone();
            async move {
                calls.fetch_add(1, Ordering::SeqCst);
                axum::Json(json!({
                    "id": "chatcmpl-prose", "object": "chat.completion", "created": 1, "model": "prose",
                    "choices": [{"index": 0, "finish_reason": "stop",
                        "message": {"role": "assistant", "content": "I think the answer is quite relevant overall."}}],
                    "usage": {"prompt_tokens": 300, "completion_tokens": 10, "total_tokens": 310}
                }))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/v1"), calls)
}

/// Malformed judge output: asked again once, then recorded as the eval's error with what the
/// two calls cost; no score is made up and the request is answered as usual.
async fn a_judge_that_answers_in_prose_is_an_error_not_a_score(backend: Backend) {
    let (url, calls) = prose_judge().await;
    let evals = format!(
        "judge = \"prose/judge\"\n\n[providers.prose]\nkind = \"openai\"\nbase_url = \"{url}\"\n\n\
         [[catalog]]\nid = \"prose/judge\"\nprovider = \"prose\"\nupstream_name = \"prose\"\n\
         input_price_per_mtok = 1.0\noutput_price_per_mtok = 2.0\ncontext_window = 8000\n"
    );
    let s = setup(backend, &evals).await;
    let set_id = create(
        &s,
        "prose",
        &["sim/good"],
        json!({"metrics": ["answer_relevancy"], "sampling": 1.0}),
        json!([]),
    )
    .await;
    send(&s, "@alice/prose", 3, 3).await;
    let done = wait_for_evals(&s.storage, set_id, 3, Duration::from_secs(30)).await;
    assert_eq!(done.len(), 3);
    for r in &done {
        assert_eq!(r.score, None, "no score is made up");
        assert_eq!(r.error.as_deref(), Some("malformed"), "{r:?}");
        assert_eq!(r.judge_calls, 2, "asked once more, then given up");
        // 2 × (300 × $1 + 10 × $2) per million tokens.
        assert!((r.cost_usd - 2.0 * 320e-6).abs() < 1e-12, "{}", r.cost_usd);
    }
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 6);
    let stored = records(&s.storage).await;
    assert!(stored.iter().all(|r| r.status == 200 && r.error_class.is_none()));
}
