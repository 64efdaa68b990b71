//! The routing engine behind `@owner/slug`, through the real binary with simulated models
//! whose true behaviour is known: the planner's weights show up in `x-setpoint-model`
//! shares, a failing model is cut off by its breaker, and drafts get a projection and verdict.

mod common;

use std::collections::HashMap;

use common::{account_with_key, fresh_db, http, Backend, Server, TestDb};
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(
    requests_follow_the_planned_weights,
    a_failing_model_is_cut_off_by_its_breaker,
    drafts_get_a_projection_and_a_verdict,
    a_requirement_the_traffic_cannot_measure_is_said,
);

// `slow` is cheap and takes ~100 ms, `quick` costs 100× more and takes ~20 ms: "mean latency
// ≤ 70 ms at the lowest cost" needs a mix of about 60 / 40. The latencies are long enough that
// a loaded machine's overhead (timer overshoot, scheduling: 5–10 ms on a busy 2-core CI box)
// moves the mix a little, not out of the asserted range; at 25 / 5 ms and a 15 ms target it
// pushed the planner to send everything to `quick`.
const CONFIG: &str = r#"
[[catalog]]
id = "sim/slow"
provider = "simulated"
upstream_name = "slow"
input_price_per_mtok = 0.1
output_price_per_mtok = 0.2
context_window = 8000
simulation = { ttft_ms = 20, tokens_per_s = 250, output_tokens = 20, jitter = 0.0 }

[[catalog]]
id = "sim/quick"
provider = "simulated"
upstream_name = "quick"
input_price_per_mtok = 10.0
output_price_per_mtok = 20.0
context_window = 8000
simulation = { ttft_ms = 4, tokens_per_s = 1250, output_tokens = 20, jitter = 0.0 }

[[catalog]]
id = "sim/broken"
provider = "simulated"
upstream_name = "broken"
input_price_per_mtok = 0.01
output_price_per_mtok = 0.01
context_window = 8000
simulation = { ttft_ms = 1, tokens_per_s = 5000, output_tokens = 20, error_rate = 1.0, jitter = 0.0 }
"#;

struct Setup {
    server: Server,
    key: String,
    _db: TestDb,
    _config: tempfile::NamedTempFile,
}

async fn setup(backend: Backend) -> Setup {
    let db = fresh_db(backend).await;
    let key = account_with_key(&db.url, "alice");
    let config = tempfile::Builder::new().suffix(".toml").tempfile().expect("temp file");
    std::fs::write(config.path(), CONFIG).expect("write config");
    let path = config.path().to_string_lossy().to_string();
    let server = Server::start_with(&db.url, &[("SETPOINT_CONFIG", &path)]).await;
    Setup {
        server,
        key,
        _db: db,
        _config: config,
    }
}

async fn create(s: &Setup, body: Value) {
    common::create_set(&s.server, &s.key, &body).await;
}

/// Sends `n` requests, 8 at a time; counts answers by the model that served them.
async fn send(s: &Setup, model: &str, n: usize) -> HashMap<String, usize> {
    let client = http();
    let url = s.server.url("/v1/chat/completions");
    let mut counts = HashMap::new();
    for _ in 0..n / 8 {
        let calls = (0..8).map(|_| {
            client
                .post(&url)
                .bearer_auth(&s.key)
                .json(&json!({"model": model, "messages": [{"role": "user", "content": "Say hello"}]}))
                .send()
        });
        for resp in futures::future::join_all(calls).await {
            let resp = resp.expect("send");
            assert_eq!(resp.status(), StatusCode::OK);
            let served = resp.headers()["x-setpoint-model"].to_str().expect("header").to_string();
            *counts.entry(served).or_default() += 1;
        }
    }
    counts
}

async fn routing(s: &Setup, slug: &str) -> Value {
    let resp = http()
        .get(s.server.url(&format!("/api/v1/model-sets/alice/{slug}/routing")))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json::<Value>().await.expect("json")["routing"].clone()
}

fn weight_of(status: &Value, model: &str) -> f64 {
    status["weights"]
        .as_array()
        .and_then(|w| w.iter().find(|m| m["model"] == model))
        .and_then(|m| m["weight"].as_f64())
        .unwrap_or_else(|| panic!("no weight for {model} in {status}"))
}

async fn requests_follow_the_planned_weights(backend: Backend) {
    let s = setup(backend).await;
    create(
        &s,
        json!({"name": "mix", "models": ["sim/slow", "sim/quick"],
               "requirements": [{"dimension": {"kind": "latency"}, "statistic": "mean", "comparator": "<=", "target": 70.0}],
               "objective": {"goal": "minimize", "dimension": {"kind": "cost"}}}),
    )
    .await;
    // Warm-up: both models are explored until each has data.
    send(&s, "@alice/mix", 160).await;
    // Let a re-plan (every 2 s) use the data.
    tokio::time::sleep(server::routing::REPLAN_EVERY * 2).await;
    let before = routing(&s, "mix").await;
    let counts = send(&s, "@alice/mix", 400).await;
    let after = routing(&s, "mix").await;

    let planned = (weight_of(&before, "sim/slow") + weight_of(&after, "sim/slow")) / 2.0;
    assert!(
        (0.2..0.8).contains(&planned),
        "the planner mixes the two models to hold the latency target at the lowest cost: {after}"
    );
    let share = *counts.get("sim/slow").unwrap_or(&0) as f64 / 400.0;
    // 400 draws: the binomial standard deviation is at most 0.025; weights move a little
    // between re-plans.
    assert!(
        (share - planned).abs() < 0.1,
        "served share {share:.3} vs planned weight {planned:.3} ({before} → {after})"
    );
    assert_eq!(after["weights"].as_array().map(Vec::len), Some(2));
    assert!(after["projection"]["verdict"]["feasibility"].is_string(), "{after}");
    // The realised mean latency is reported against the requirement.
    assert!(after["realised"][0].as_f64().is_some(), "{after}");
    // Each model says why it has its weight: both were explored past their first look, so a
    // model carrying weight is in the optimum, and one without is not needed by it.
    for m in after["weights"].as_array().into_iter().flatten() {
        if m["weight"].as_f64().is_some_and(|w| w > 1e-6) {
            assert_eq!(m["why"]["kind"], "optimal", "{m}");
            assert_eq!(m["explanation"], "In the best mix that meets the requirements.", "{m}");
        } else {
            assert_eq!(m["why"]["kind"], "not_needed", "{m}");
        }
    }
}

async fn a_failing_model_is_cut_off_by_its_breaker(backend: Backend) {
    let s = setup(backend).await;
    create(&s, json!({"name": "flaky", "models": ["sim/broken", "sim/slow"]})).await;
    // Every request still succeeds: a failure before any byte falls back to the other model.
    send(&s, "@alice/flaky", 40).await;
    let status = routing(&s, "flaky").await;
    let broken = status["weights"]
        .as_array()
        .and_then(|w| w.iter().find(|m| m["model"] == "sim/broken"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(broken["breaker"], "open", "{status}");
    // While open, it is skipped: requests go straight to the healthy model (no failed
    // first attempt), so nothing more is learned about the broken one.
    let seen = broken["requests_seen"].as_f64().unwrap_or_default();
    let counts = send(&s, "@alice/flaky", 40).await;
    assert_eq!(counts.get("sim/slow"), Some(&40));
    let later = routing(&s, "flaky").await;
    let seen_later = later["weights"]
        .as_array()
        .and_then(|w| w.iter().find(|m| m["model"] == "sim/broken"))
        .and_then(|m| m["requests_seen"].as_f64())
        .unwrap_or_default();
    assert_eq!(seen_later, seen, "no request went to the open breaker's model: {later}");
    let broken = later["weights"]
        .as_array()
        .and_then(|w| w.iter().find(|m| m["model"] == "sim/broken"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(broken["why"]["kind"], "unavailable", "{later}");
    assert!(
        broken["explanation"]
            .as_str()
            .is_some_and(|e| e.starts_with("Paused: failing")),
        "{later}"
    );
}

/// Sends `n` streamed requests, 8 at a time, reading each stream to its end.
async fn send_streamed(s: &Setup, model: &str, n: usize) {
    let client = http();
    let url = s.server.url("/v1/chat/completions");
    for _ in 0..n / 8 {
        let calls = (0..8).map(|_| async {
            let resp = client
                .post(&url)
                .bearer_auth(&s.key)
                .json(&json!({"model": model, "stream": true, "messages": [{"role": "user", "content": "Say hello"}]}))
                .send()
                .await
                .expect("send");
            assert_eq!(resp.status(), StatusCode::OK);
            resp.text().await.expect("stream")
        });
        for body in futures::future::join_all(calls).await {
            assert!(body.contains("[DONE]"), "{body}");
        }
    }
}

async fn a_requirement_the_traffic_cannot_measure_is_said(backend: Backend) {
    let s = setup(backend).await;
    create(
        &s,
        json!({"name": "quick-start", "models": ["sim/slow", "sim/quick"],
               "requirements": [
                   {"dimension": {"kind": "ttft"}, "statistic": "p90", "comparator": "<=", "target": 50.0},
                   {"dimension": {"kind": "latency"}, "statistic": "mean", "comparator": "<=", "target": 500.0}]}),
    )
    .await;
    // Clients that do not stream: time to first token is never measured.
    send(&s, "@alice/quick-start", 48).await;
    let status = routing(&s, "quick-start").await;
    let unmeasured = status["unmeasured"].as_array().cloned().unwrap_or_default();
    assert_eq!(unmeasured.len(), 1, "only the TTFT requirement is unmeasured: {status}");
    assert_eq!(unmeasured[0]["requirement"], 0);
    assert!(unmeasured[0]["requests"].as_u64().is_some_and(|n| n >= 30), "{status}");
    assert!(
        unmeasured[0]["explanation"]
            .as_str()
            .is_some_and(|e| e.contains("only for streamed answers")),
        "{status}"
    );
    assert!(status["realised"][0].is_null(), "{status}");
    let verdict = &status["projection"]["verdict"];
    assert_ne!(verdict["feasibility"], "yes", "{verdict}");
    assert!(
        verdict["reasons"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["reason"] == "unmeasured" && r["requirement"] == 0)),
        "{verdict}"
    );
    // The set's page says it too.
    let page = http()
        .get(s.server.url("/model-sets/@alice/quick-start"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("body");
    assert!(
        page.contains("cannot be judged on this set"),
        "the page names the unmeasured requirement"
    );
    // Once clients stream, it is measured and the note goes.
    send_streamed(&s, "@alice/quick-start", 16).await;
    let status = routing(&s, "quick-start").await;
    assert_eq!(status["unmeasured"], json!([]), "{status}");
    assert!(status["realised"][0].as_f64().is_some(), "{status}");
}

async fn drafts_get_a_projection_and_a_verdict(backend: Backend) {
    let s = setup(backend).await;
    let project = |body: Value| {
        let client = http();
        let url = s.server.url("/api/v1/projections");
        async move { client.post(url).json(&body).send().await.expect("send") }
    };
    // Nobody can answer in 0.1 ms: No, naming the requirement and the best value reachable.
    let resp = project(json!({"models": ["sim/slow", "sim/quick"],
        "requirements": [{"dimension": {"kind": "latency"}, "statistic": "p90", "comparator": "<=", "target": 0.1}]}))
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.expect("json");
    let verdict = &body["projection"]["verdict"];
    assert_eq!(verdict["feasibility"], "no", "{body}");
    assert!(
        verdict["reasons"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["reason"] == "unreachable" && r["requirement"] == 0)),
        "{verdict}"
    );
    // The projection covers every dimension and gives weights summing to 1, and the inputs
    // let a browser re-project by itself.
    let weights: f64 = body["projection"]["weights"]
        .as_array()
        .map(|w| w.iter().filter_map(|m| m["weight"].as_f64()).sum())
        .unwrap_or_default();
    assert!((weights - 1.0).abs() < 1e-6, "{body}");
    assert_eq!(body["inputs"].as_array().map(Vec::len), Some(2));

    // A generous target is reachable.
    let resp = project(json!({"models": ["sim/slow", "sim/quick"],
        "requirements": [{"dimension": {"kind": "latency"}, "statistic": "mean", "comparator": "<=", "target": 1000.0}]}))
    .await;
    let body: Value = resp.json().await.expect("json");
    assert_ne!(body["projection"]["verdict"]["feasibility"], "no", "{body}");

    // Bad input: a clear message.
    let resp = project(json!({"models": ["nope/nothing"]})).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.expect("json");
    assert!(body.to_string().contains("nope/nothing"), "{body}");
}
