//! `POST /v1/chat/completions` through the real binary: a fake OpenAI-compatible upstream
//! on loopback and fast simulated models, on both storage backends.

mod common;

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::StatusCode as AxumStatus;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use common::{account_with_key, fresh_db, http, Backend, Server, TestDb};
use reqwest::StatusCode;
use serde_json::{json, Value};
use server::storage::Grain;

on_both_backends!(
    answers_pass_through_with_headers_and_records,
    streams_with_and_without_usage,
    failures_fall_back_once_to_another_model,
    upstream_client_errors_pass_through,
    a_broken_stream_ends_with_an_error_event,
    models_and_sets_are_resolved_and_guarded,
    capabilities_limit_the_choice,
    bad_requests_get_openai_errors,
    keys_are_rate_limited,
    sigterm_under_load_loses_no_record,
    a_client_that_leaves_stops_the_stream,
    rollups_sum_the_records,
    anthropic_is_translated_both_ways,
    provider_timeouts_refuse_and_fall_back,
);

/// Thread priorities are read from Linux's `/proc`.
#[cfg(target_os = "linux")]
mod idle_priority {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        records_are_stored_at_idle_priority(Backend::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        records_are_stored_at_idle_priority(Backend::Postgres).await
    }
}

/// An OpenAI-compatible upstream whose behaviour is chosen by the model name.
async fn fake_upstream() -> String {
    async fn chat(Json(body): Json<Value>) -> Response {
        let model = body["model"].as_str().unwrap_or_default().to_string();
        let stream = body["stream"].as_bool().unwrap_or(false);
        let usage = body["stream_options"]["include_usage"].as_bool().unwrap_or(false);
        if model == "fake-slow" {
            // Far beyond the `[providers.slowpoke]` first-token timeout.
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        match (model.as_str(), stream) {
            ("fake-500", _) => (AxumStatus::INTERNAL_SERVER_ERROR, "upstream exploded").into_response(),
            ("fake-400", _) => (
                AxumStatus::BAD_REQUEST,
                Json(json!({"error": {"message": "temperature is out of range", "type": "invalid_request_error", "param": "temperature", "code": "upstream_says_no"}})),
            )
                .into_response(),
            (_, false) => Json(json!({
                "id": "chatcmpl-fake", "object": "chat.completion", "created": 1, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello from fake"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
                "fake_dialect_field": true,
            }))
            .into_response(),
            (_, true) => {
                let chunk = |content: &str| {
                    json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": model,
                        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": null}]})
                };
                let mut events: Vec<Result<Bytes, std::io::Error>> = vec![
                    Ok(Bytes::from(format!("data: {}\n\n", chunk("Hel")))),
                    Ok(Bytes::from(format!("data: {}\n\n", chunk("lo")))),
                ];
                if model == "fake-break" {
                    events.push(Err(std::io::Error::other("connection reset")));
                } else {
                    if usage {
                        let u = json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": model,
                            "choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 2, "total_tokens": 13}});
                        events.push(Ok(Bytes::from(format!("data: {u}\n\n"))));
                    }
                    events.push(Ok(Bytes::from_static(b"data: [DONE]\n\n")));
                }
                // Pause before each event so the gateway really sees a stream that has started
                // before it breaks (instead of one coalesced write).
                let paced = futures::StreamExt::then(futures::stream::iter(events), |event| async move {
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    event
                });
                Response::builder()
                    .header("content-type", "text/event-stream")
                    .body(Body::from_stream(paced))
                    .unwrap_or_else(|_| AxumStatus::INTERNAL_SERVER_ERROR.into_response())
            }
        }
    }
    async fn messages(headers: axum::http::HeaderMap, Json(body): Json<Value>) -> Response {
        if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some("test-anthropic-key")
            || headers.get("anthropic-version").is_none()
        {
            return (
                AxumStatus::UNAUTHORIZED,
                Json(json!({"type": "error", "error": {"type": "authentication_error", "message": "bad key"}})),
            )
                .into_response();
        }
        // Anthropic's own rules: max_tokens required, system outside the messages.
        if body["max_tokens"].as_u64().is_none()
            || body["messages"]
                .as_array()
                .is_some_and(|m| m.iter().any(|m| m["role"] == "system"))
        {
            return (
                AxumStatus::BAD_REQUEST,
                Json(json!({"type": "error", "error": {"type": "invalid_request_error", "message": "malformed"}})),
            )
                .into_response();
        }
        if body["system"] != "Be brief." {
            return (AxumStatus::BAD_REQUEST, Json(json!({"type": "error", "error": {"type": "invalid_request_error", "message": "system prompt lost"}}))).into_response();
        }
        if body["stream"] != true {
            return Json(
                json!({"id": "msg_1", "type": "message", "role": "assistant", "model": body["model"],
                "content": [{"type": "text", "text": "Hi from Claude"}], "stop_reason": "end_turn",
                "usage": {"input_tokens": 12, "output_tokens": 5}}),
            )
            .into_response();
        }
        let events = [
            (
                "message_start",
                json!({"type": "message_start", "message": {"id": "msg_2", "model": body["model"], "usage": {"input_tokens": 12, "output_tokens": 1}}}),
            ),
            (
                "content_block_start",
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            ),
            (
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}}),
            ),
            ("ping", json!({"type": "ping"})),
            (
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "lo"}}),
            ),
            ("content_block_stop", json!({"type": "content_block_stop", "index": 0})),
            (
                "message_delta",
                json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 4}}),
            ),
            ("message_stop", json!({"type": "message_stop"})),
        ];
        let text: String = events
            .iter()
            .map(|(name, data)| format!("event: {name}\ndata: {data}\n\n"))
            .collect();
        Response::builder()
            .header("content-type", "text/event-stream")
            .body(Body::from(text))
            .unwrap_or_else(|_| AxumStatus::INTERNAL_SERVER_ERROR.into_response())
    }
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/messages", post(messages));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/v1")
}

fn config(upstream: &str, requests_per_minute_per_key: u32) -> tempfile::NamedTempFile {
    let anthropic = upstream.trim_end_matches("/v1");
    let text = format!(
        r#"
[gateway]
max_body_bytes = 65536
requests_per_minute_per_key = {requests_per_minute_per_key}
[gateway.timeouts]
connect_ms = 2000
first_token_ms = 5000
total_ms = 10000

[providers.fake]
kind = "openai"
base_url = "{upstream}"

# The same upstream, with a provider-level first-token timeout far below the gateway's.
[providers.slowpoke]
kind = "openai"
base_url = "{upstream}"
timeouts = {{ first_token_ms = 300 }}

[[catalog]]
id = "slowpoke/slow"
provider = "slowpoke"
upstream_name = "fake-slow"
input_price_per_mtok = 1.0
output_price_per_mtok = 2.0
context_window = 8000

[providers.fakeanthropic]
kind = "anthropic"
base_url = "{anthropic}"
api_key_env = "SETPOINT_TEST_ANTHROPIC_KEY"

[[catalog]]
id = "fakeanthropic/claude"
provider = "fakeanthropic"
upstream_name = "claude-test"
input_price_per_mtok = 3.0
output_price_per_mtok = 15.0
context_window = 200000
capabilities = {{ tools = true, vision = true, json_output = false }}

[[catalog]]
id = "fake/ok"
provider = "fake"
upstream_name = "fake-ok"
input_price_per_mtok = 1.0
output_price_per_mtok = 2.0
context_window = 8000
capabilities = {{ tools = true, vision = true, json_output = true }}

[[catalog]]
id = "fake/down"
provider = "fake"
upstream_name = "fake-500"
input_price_per_mtok = 1.0
output_price_per_mtok = 2.0
context_window = 8000
capabilities = {{ tools = true, vision = true, json_output = true }}

[[catalog]]
id = "fake/picky"
provider = "fake"
upstream_name = "fake-400"
input_price_per_mtok = 1.0
output_price_per_mtok = 2.0
context_window = 8000

[[catalog]]
id = "fake/break"
provider = "fake"
upstream_name = "fake-break"
input_price_per_mtok = 1.0
output_price_per_mtok = 2.0
context_window = 8000

[[catalog]]
id = "sim/fast"
provider = "simulated"
upstream_name = "fast"
input_price_per_mtok = 0.5
output_price_per_mtok = 1.5
context_window = 8000
capabilities = {{ tools = true, vision = false, json_output = true }}
simulation = {{ ttft_ms = 5, tokens_per_s = 5000, output_tokens = 20, jitter = 0.0 }}

[[catalog]]
id = "sim/slow"
provider = "simulated"
upstream_name = "slow"
input_price_per_mtok = 0.5
output_price_per_mtok = 1.5
context_window = 8000
simulation = {{ ttft_ms = 150, tokens_per_s = 400, output_tokens = 40, jitter = 0.0 }}

[[catalog]]
id = "sim/steady"
provider = "simulated"
upstream_name = "steady"
input_price_per_mtok = 0.5
output_price_per_mtok = 1.5
context_window = 8000
simulation = {{ ttft_ms = 300, tokens_per_s = 20, output_tokens = 40, jitter = 0.0 }}

[[catalog]]
id = "sim/long"
provider = "simulated"
upstream_name = "long"
input_price_per_mtok = 0.5
output_price_per_mtok = 1.5
context_window = 8000
simulation = {{ ttft_ms = 5, tokens_per_s = 20, output_tokens = 400, jitter = 0.0 }}
"#
    );
    let file = tempfile::Builder::new().suffix(".toml").tempfile().expect("temp file");
    std::fs::write(file.path(), text).expect("write config");
    file
}

struct Setup {
    server: Server,
    key: String,
    db: TestDb,
    _config: tempfile::NamedTempFile,
}

async fn setup(backend: Backend, requests_per_minute_per_key: u32) -> Setup {
    let upstream = fake_upstream().await;
    let db = fresh_db(backend).await;
    let key = account_with_key(&db.url, "alice");
    let config = config(&upstream, requests_per_minute_per_key);
    let path = config.path().to_string_lossy().to_string();
    let server = Server::start_with(
        &db.url,
        &[
            ("SETPOINT_CONFIG", &path),
            ("SETPOINT_TEST_ANTHROPIC_KEY", "test-anthropic-key"),
        ],
    )
    .await;
    Setup {
        server,
        key,
        db,
        _config: config,
    }
}

async fn create_set(s: &Setup, key: &str, slug: &str, models: &[&str]) {
    common::create_set(&s.server, key, &json!({"name": slug, "slug": slug, "models": models})).await;
}

async fn chat(s: &Setup, body: Value) -> reqwest::Response {
    http()
        .post(s.server.url("/v1/chat/completions"))
        .bearer_auth(&s.key)
        .json(&body)
        .send()
        .await
        .expect("send")
}

fn hello(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "Say hello"}]})
}

/// Waits until the metrics writer has stored `n` records (it batches off the request path).
/// How many 50 ms polls to wait for stored records: the writer runs at idle
/// priority, so on a CI machine busy with other tests it may wait seconds for
/// a core. Waits end as soon as what they wait for is stored.
const RECORD_WAIT_POLLS: usize = 400;

async fn records(s: &Setup, n: i64) -> Vec<server::storage::RequestRecord> {
    let storage = server::storage::connect(&s.db.url).await.expect("open");
    let mut count = 0;
    for _ in 0..RECORD_WAIT_POLLS {
        count = storage.count_request_records().await.expect("count");
        if count >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(count, n, "stored records");
    storage.list_request_records(1000).await.expect("list")
}

fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

async fn answers_pass_through_with_headers_and_records(backend: Backend) {
    let s = setup(backend, 10_000).await;
    create_set(&s, &s.key, "only-fake", &["fake/ok"]).await;
    let resp = chat(&s, hello("@alice/only-fake")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "x-setpoint-model"), "fake/ok");
    let request_id = header(&resp, "x-setpoint-request-id");
    let digits = request_id.strip_prefix("req_").unwrap_or_default();
    assert!(
        digits.len() == 24 && digits.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "req_ and 24 hex digits: {request_id}"
    );
    let body: Value = resp.json().await.expect("json");
    assert_eq!(
        body["fake_dialect_field"], true,
        "the provider's answer passes through unmodified"
    );
    assert_eq!(body["model"], "fake-ok");

    // A catalog id works directly too.
    let direct = chat(&s, hello("sim/fast")).await;
    assert_eq!(direct.status(), StatusCode::OK);
    assert_eq!(header(&direct, "x-setpoint-model"), "sim/fast");
    assert_ne!(
        header(&direct, "x-setpoint-request-id"),
        request_id,
        "each request has its own id"
    );
    let answer: Value = direct.json().await.expect("json");
    assert_eq!(answer["usage"]["completion_tokens"], 20);

    let stored = records(&s, 2).await;
    let first = stored
        .iter()
        .find(|r| r.request_id == request_id)
        .expect("record of the first request");
    assert_eq!((first.status, first.model_id.as_str()), (200, "fake/ok"));
    assert!(first.model_set_id.is_some());
    assert_eq!((first.prompt_tokens, first.completion_tokens), (11, 7));
    assert!(
        (first.cost_usd - (11.0 * 1.0 + 7.0 * 2.0) / 1e6).abs() < 1e-12,
        "{}",
        first.cost_usd
    );
    assert!(first.latency_ms > 0.0);
    let second = stored.iter().find(|r| r.request_id != request_id).expect("second");
    assert_eq!(second.model_set_id, None);
    assert_eq!(second.model_id, "sim/fast");
}

/// Reads an SSE body into its data payloads.
fn sse_payloads(text: &str) -> Vec<String> {
    text.split("\n\n")
        .filter_map(|event| event.strip_prefix("data: "))
        .map(str::to_string)
        .collect()
}

async fn streams_with_and_without_usage(backend: Backend) {
    let s = setup(backend, 10_000).await;
    create_set(&s, &s.key, "stream", &["fake/ok"]).await;
    let mut body = hello("@alice/stream");
    body["stream"] = json!(true);
    let resp = chat(&s, body.clone()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "content-type"), "text/event-stream");
    assert_eq!(header(&resp, "x-setpoint-model"), "fake/ok");
    let events = sse_payloads(&resp.text().await.expect("text"));
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    assert!(
        !events.iter().any(|e| e.contains("\"usage\"")),
        "no usage chunk unless asked: {events:?}"
    );
    let text: String = events
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(e).ok())
        .filter_map(|v| v["choices"][0]["delta"]["content"].as_str().map(str::to_string))
        .collect();
    assert_eq!(text, "Hello");

    body["stream_options"] = json!({"include_usage": true});
    let resp = chat(&s, body).await;
    let events = sse_payloads(&resp.text().await.expect("text"));
    let usage: Value = serde_json::from_str(&events[events.len() - 2]).expect("usage chunk json");
    assert_eq!(usage["usage"]["completion_tokens"], 2, "{events:?}");

    // Simulated streams too, with their own usage.
    let mut sim = hello("sim/fast");
    sim["stream"] = json!(true);
    sim["stream_options"] = json!({"include_usage": true});
    let events = sse_payloads(&chat(&s, sim).await.text().await.expect("text"));
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let usage: Value = serde_json::from_str(&events[events.len() - 2]).expect("usage chunk");
    assert_eq!(usage["usage"]["completion_tokens"], 20);

    let stored = records(&s, 3).await;
    for r in &stored {
        assert_eq!(r.status, 200, "{r:?}");
        assert!(r.ttft_ms.is_some(), "streams record time to first token");
    }
    let fake: Vec<_> = stored.iter().filter(|r| r.model_id == "fake/ok").collect();
    assert!(
        fake.iter().all(|r| r.completion_tokens == 2 && r.prompt_tokens == 11),
        "billed from usage: {fake:?}"
    );
}

async fn failures_fall_back_once_to_another_model(backend: Backend) {
    let s = setup(backend, 10_000).await;
    create_set(&s, &s.key, "mixed", &["fake/down", "sim/fast"]).await;
    for _ in 0..8 {
        let resp = chat(&s, hello("@alice/mixed")).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(
            header(&resp, "x-setpoint-model"),
            "sim/fast",
            "the failing model never answers"
        );
    }
    create_set(&s, &s.key, "down-only", &["fake/down"]).await;
    let resp = chat(&s, hello("@alice/down-only")).await;
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
    let err: Value = resp.json().await.expect("json");
    assert_eq!(err["error"]["code"], "upstream_error");

    // Records are written in batches by a background writer: wait until every
    // answer and a failure are stored, not just the first failure (the first
    // "mixed" request's failed attempt may be stored before the last answers).
    let storage = server::storage::connect(&s.db.url).await.expect("open");
    let answered = |stored: &[server::storage::RequestRecord]| {
        stored
            .iter()
            .filter(|r| r.model_id == "sim/fast" && r.status == 200)
            .count()
    };
    let mut stored = Vec::new();
    for _ in 0..RECORD_WAIT_POLLS {
        stored = storage.list_request_records(1000).await.expect("list");
        if answered(&stored) >= 8 && stored.iter().any(|r| r.model_id == "fake/down") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let failed: Vec<_> = stored.iter().filter(|r| r.model_id == "fake/down").collect();
    assert!(!failed.is_empty(), "failures count against the model that failed");
    assert!(failed
        .iter()
        .all(|r| r.status == 500 && r.error_class.as_deref() == Some("upstream_5xx")));
    assert_eq!(answered(&stored), 8);
}

async fn upstream_client_errors_pass_through(backend: Backend) {
    let s = setup(backend, 10_000).await;
    let resp = chat(&s, hello("fake/picky")).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let err: Value = resp.json().await.expect("json");
    assert_eq!(
        err["error"]["code"], "upstream_says_no",
        "the provider's own error, unmodified"
    );
    let stored = records(&s, 1).await;
    assert_eq!(stored[0].error_class.as_deref(), Some("upstream_4xx"));
}

async fn a_broken_stream_ends_with_an_error_event(backend: Backend) {
    let s = setup(backend, 10_000).await;
    let mut body = hello("fake/break");
    body["stream"] = json!(true);
    let resp = chat(&s, body).await;
    assert_eq!(resp.status(), StatusCode::OK, "the stream had started");
    let events = sse_payloads(&resp.text().await.expect("text"));
    assert_ne!(events.last().map(String::as_str), Some("[DONE]"));
    let last: Value = serde_json::from_str(events.last().expect("events")).expect("json");
    assert!(last["error"]["message"].is_string(), "{last}");
    let stored = records(&s, 1).await;
    assert_eq!(stored[0].status, 502);
    assert_eq!(
        stored[0].completion_tokens, 2,
        "billed for what was sent (\"Hel\" + \"lo\" ~ 2 tokens)"
    );
}

async fn models_and_sets_are_resolved_and_guarded(backend: Backend) {
    let s = setup(backend, 10_000).await;
    let bob = account_with_key(&s.db.url, "bob");
    create_set(&s, &bob, "bobs", &["sim/fast"]).await;
    create_set(&s, &s.key, "mine", &["sim/fast"]).await;

    let theirs = chat(&s, hello("@bob/bobs")).await;
    assert_eq!(theirs.status(), StatusCode::FORBIDDEN);
    let err: Value = theirs.json().await.expect("json");
    assert_eq!(err["error"]["code"], "model_set_not_owned");

    for unknown in ["@alice/nope", "@nobody/x", "@alice", "openai/gpt-9", "plain"] {
        let resp = chat(&s, hello(unknown)).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{unknown}");
        let err: Value = resp.json().await.expect("json");
        assert_eq!(err["error"]["code"], "model_not_found", "{unknown}");
    }

    // The model list shows the catalog and the caller's own sets only.
    let list: Value = http()
        .get(s.server.url("/v1/models"))
        .bearer_auth(&s.key)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let ids: Vec<&str> = list["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert!(ids.contains(&"@alice/mine") && ids.contains(&"sim/fast"), "{ids:?}");
    assert!(!ids.contains(&"@bob/bobs"), "{ids:?}");
}

async fn capabilities_limit_the_choice(backend: Backend) {
    let s = setup(backend, 10_000).await;
    create_set(&s, &s.key, "vision", &["sim/fast", "fake/ok"]).await;
    let image = json!({"model": "@alice/vision", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is this"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}]}]});
    for _ in 0..6 {
        let resp = chat(&s, image.clone()).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(
            header(&resp, "x-setpoint-model"),
            "fake/ok",
            "only fake/ok takes images"
        );
    }
    create_set(&s, &s.key, "text-only", &["sim/slow"]).await;
    let mut tools = hello("@alice/text-only");
    tools["tools"] = json!([{"type": "function", "function": {"name": "f", "parameters": {}}}]);
    tools["response_format"] = json!({"type": "json_object"});
    let resp = chat(&s, tools).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let err: Value = resp.json().await.expect("json");
    let message = err["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("tools") && message.contains("JSON output"),
        "{message}"
    );
    assert_eq!(err["error"]["code"], "unsupported_capability");
}

async fn bad_requests_get_openai_errors(backend: Backend) {
    let s = setup(backend, 10_000).await;
    let url = s.server.url("/v1/chat/completions");
    let client = http();
    let send = |body: Vec<u8>| {
        client
            .post(&url)
            .bearer_auth(&s.key)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let cases: Vec<(Vec<u8>, StatusCode, &str)> = vec![
        (b"{not json".to_vec(), StatusCode::BAD_REQUEST, "invalid_json"),
        (
            br#"{"model":"sim/fast"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            br#"{"model":"sim/fast","messages":"hi"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            br#"{"model":42,"messages":[{"role":"user","content":"x"}]}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            br#"{"model":"sim/fast","messages":[{"role":"user","content":"x"}],"stream":"yes"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (vec![b' '; 70_000], StatusCode::PAYLOAD_TOO_LARGE, "request_too_large"),
    ];
    for (body, status, code) in cases {
        let resp = send(body).await.expect("send");
        assert_eq!(resp.status(), status, "{code}");
        assert!(!header(&resp, "x-setpoint-request-id").is_empty());
        let err: Value = resp.json().await.expect("json");
        assert_eq!(err["error"]["code"], code);
        assert!(err["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let no_key = client.post(&url).json(&hello("sim/fast")).send().await.expect("send");
    assert_eq!(no_key.status(), StatusCode::UNAUTHORIZED);
    assert!(
        !header(&no_key, "x-setpoint-request-id").is_empty(),
        "even refusals carry a request id"
    );
}

async fn keys_are_rate_limited(backend: Backend) {
    let s = setup(backend, 3).await;
    for _ in 0..3 {
        assert_eq!(chat(&s, hello("sim/fast")).await.status(), StatusCode::OK);
    }
    let limited = chat(&s, hello("sim/fast")).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = header(&limited, "retry-after").parse().expect("Retry-After seconds");
    assert!((1..=60).contains(&retry), "{retry}");
    let err: Value = limited.json().await.expect("json");
    assert_eq!(err["error"]["code"], "rate_limit_exceeded");
}

async fn sigterm_under_load_loses_no_record(backend: Backend) {
    let s = setup(backend, 10_000).await;
    let url = s.server.url("/v1/chat/completions");
    // One client for all (building one per request costs more than the requests).
    let client = reqwest::Client::new();
    let (started_tx, mut started_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let url = url.clone();
        let key = s.key.clone();
        let client = client.clone();
        let started = started_tx.clone();
        let mut body = hello("sim/steady");
        body["stream"] = json!(i % 2 == 0);
        tasks.push(tokio::spawn(async move {
            let resp = client.post(&url).bearer_auth(&key).json(&body).send().await;
            // Headers are here: for a stream, ~2 s of body are still to come.
            let _ = started.send(());
            match resp {
                Ok(r) if r.status() == StatusCode::OK => r.text().await.is_ok(),
                _ => false,
            }
        }));
    }
    drop(started_tx);
    // Stop the server once the first answer has begun: every request was sent before it,
    // the streams are mid-body and the whole answers are still being generated.
    tokio::time::timeout(Duration::from_secs(20), started_rx.recv())
        .await
        .expect("a first answer within 20 s");
    let Setup {
        server, db, _config, ..
    } = s;
    let stopping = tokio::task::spawn_blocking(move || server.stop());
    let mut answered = 0;
    for t in tasks {
        if t.await.expect("join") {
            answered += 1;
        }
    }
    let status = stopping.await.expect("join");
    assert!(status.success(), "clean exit: {status:?}");
    let storage = server::storage::connect(&db.url).await.expect("open");
    let stored = storage.count_request_records().await.expect("count");
    assert!(answered > 0, "some requests were in flight");
    assert_eq!(
        stored, answered,
        "every answered request has its record, written before exit"
    );
}

async fn a_client_that_leaves_stops_the_stream(backend: Backend) {
    let s = setup(backend, 10_000).await;
    let mut body = hello("sim/long");
    body["stream"] = json!(true);
    let started = std::time::Instant::now();
    let mut resp = chat(&s, body).await;
    assert_eq!(resp.status(), StatusCode::OK);
    // Read a little of a 20-second stream, then hang up.
    let first = resp.chunk().await.expect("read").expect("a first chunk");
    assert!(!first.is_empty());
    drop(resp);
    let stored = records(&s, 1).await;
    let r = &stored[0];
    assert_eq!((r.status, r.error_class.as_deref()), (499, Some("cancelled")), "{r:?}");
    assert!(
        r.completion_tokens < 400,
        "billed for what was sent, not the whole answer: {r:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the record came when the client left, not when the 20 s stream would have ended"
    );
}

async fn rollups_sum_the_records(backend: Backend) {
    let s = setup(backend, 10_000).await;
    create_set(&s, &s.key, "rolled", &["sim/fast", "fake/ok", "fake/down"]).await;
    for i in 0..20 {
        let mut body = hello("@alice/rolled");
        body["stream"] = json!(i % 2 == 0);
        let resp = chat(&s, body).await;
        assert_eq!(resp.status(), StatusCode::OK);
        resp.text().await.expect("body");
    }
    let storage = server::storage::connect(&s.db.url).await.expect("open");
    let set = storage
        .model_set_by_slug("alice", "rolled")
        .await
        .expect("q")
        .expect("set");
    // Records are written first, rollups right after: wait until all 20 answers
    // are stored (a failed attempt's record is queued before its fallback's
    // answer, so nothing comes after them) and the rollups have caught up.
    let mut rows = Vec::new();
    let mut records = Vec::new();
    for _ in 0..RECORD_WAIT_POLLS {
        rows = storage
            .rollups(Grain::Minute.into(), set.id, 0, i64::MAX)
            .await
            .expect("rollups");
        records = storage.list_request_records(1000).await.expect("records");
        let answered = records.iter().filter(|r| r.status == 200).count();
        if answered >= 20 && rows.iter().map(|r| r.count).sum::<i64>() == records.len() as i64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        rows.iter().map(|r| r.count).sum::<i64>(),
        records.len() as i64,
        "{rows:?}"
    );
    for model in ["sim/fast", "fake/ok", "fake/down"] {
        let in_records = records.iter().filter(|r| r.model_id == model).count() as i64;
        let in_rollups: i64 = rows.iter().filter(|r| r.model_id == model).map(|r| r.count).sum();
        assert_eq!(in_rollups, in_records, "{model}");
        let errors: i64 = rows.iter().filter(|r| r.model_id == model).map(|r| r.errors).sum();
        let record_errors = records
            .iter()
            .filter(|r| r.model_id == model && r.error_class.is_some())
            .count() as i64;
        assert_eq!(errors, record_errors, "{model}");
    }
    let cost: f64 = rows.iter().map(|r| r.cost_usd).sum();
    let record_cost: f64 = records.iter().map(|r| r.cost_usd).sum();
    assert!((cost - record_cost).abs() < 1e-9, "{cost} vs {record_cost}");

    // The merged sketch's median matches the exact median of successful latencies within 2%.
    let merged = server::metrics::rollup::merge_by_minute(rows);
    let mut whole = merged[0].clone();
    for m in &merged[1..] {
        whole.merge(m);
    }
    let mut latencies: Vec<f64> = records
        .iter()
        .filter(|r| r.error_class.is_none())
        .map(|r| r.latency_ms)
        .collect();
    latencies.sort_by(f64::total_cmp);
    let sketch = whole.latency.quantile(0.5).ok().flatten().expect("median");
    let n = latencies.len();
    let (lo, hi) = (latencies[(n - 1) / 2], latencies[n / 2]);
    assert!(
        sketch >= lo * 0.98 && sketch <= hi * 1.02,
        "sketch median {sketch} vs exact {lo}..{hi}"
    );
}

async fn anthropic_is_translated_both_ways(backend: Backend) {
    let s = setup(backend, 10_000).await;
    let system = json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}]);
    let resp = chat(&s, json!({"model": "fakeanthropic/claude", "messages": system})).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let answer: Value = resp.json().await.expect("json");
    assert_eq!(answer["object"], "chat.completion");
    assert_eq!(answer["choices"][0]["message"]["content"], "Hi from Claude");
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    assert_eq!(answer["usage"]["total_tokens"], 17);

    let resp = chat(
        &s,
        json!({"model": "fakeanthropic/claude", "messages": system, "stream": true, "stream_options": {"include_usage": true}}),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let events = sse_payloads(&resp.text().await.expect("text"));
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).expect("json"))
        .collect();
    assert!(
        chunks.iter().all(|c| c["object"] == "chat.completion.chunk"),
        "{chunks:?}"
    );
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "Hello");
    assert_eq!(chunks.last().expect("usage")["usage"]["completion_tokens"], 4);

    // Anthropic's errors come back as OpenAI error objects.
    let resp = chat(
        &s,
        json!({"model": "fakeanthropic/claude", "messages": [{"role": "user", "content": "no system"}]}),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let err: Value = resp.json().await.expect("json");
    assert_eq!(err["error"]["message"], "system prompt lost");
    assert_eq!(err["error"]["type"], "invalid_request_error");

    let stored = records(&s, 3).await;
    let whole = &stored[0];
    assert_eq!((whole.prompt_tokens, whole.completion_tokens), (12, 5));
    assert!((whole.cost_usd - (12.0 * 3.0 + 5.0 * 15.0) / 1e6).abs() < 1e-12);
    assert_eq!((stored[1].prompt_tokens, stored[1].completion_tokens), (12, 4));
}

async fn provider_timeouts_refuse_and_fall_back(backend: Backend) {
    let s = setup(backend, 1000).await;
    // The provider's own first-token limit (300 ms) applies, not the gateway's (5 s): the
    // upstream would answer only after 5 s.
    let started = std::time::Instant::now();
    let resp = chat(&s, hello("slowpoke/slow")).await;
    assert_eq!(resp.status(), StatusCode::GATEWAY_TIMEOUT);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the provider's timeout was not used"
    );
    let err: Value = resp.json().await.expect("json");
    assert_eq!(err["error"]["code"], "upstream_timeout");
    let stored = records(&s, 1).await;
    assert_eq!(stored[0].model_id, "slowpoke/slow");
    assert_eq!(stored[0].error_class.as_deref(), Some("timeout"));

    // In a set, a timeout before any byte falls back to another model.
    create_set(&s, &s.key, "patient", &["slowpoke/slow", "fake/ok"]).await;
    for _ in 0..4 {
        let resp = chat(&s, hello("@alice/patient")).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["x-setpoint-model"], "fake/ok");
    }
}

/// The name, scheduling policy and nice value of each thread of a process (Linux:
/// `/proc/PID/task`).
#[cfg(target_os = "linux")]
fn threads(pid: u32) -> Vec<(String, u32, i64)> {
    let mut out = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).expect("tasks") {
        let dir = task.expect("task").path();
        let name = std::fs::read_to_string(dir.join("comm"))
            .unwrap_or_default()
            .trim()
            .to_string();
        let stat = std::fs::read_to_string(dir.join("stat")).unwrap_or_default();
        // Fields after the parenthesised name (field 2), which may hold spaces: the nice value
        // is field 19 of the whole line, the policy field 41.
        let after_name: Vec<&str> = stat
            .rsplit_once(") ")
            .map(|(_, rest)| rest.split(' ').collect())
            .unwrap_or_default();
        let field = |n: usize| after_name.get(n - 3).copied().unwrap_or_default();
        let nice = field(19).parse().unwrap_or(i64::MAX);
        let policy = field(41).parse().unwrap_or(u32::MAX);
        out.push((name, policy, nice));
    }
    out
}

/// The metrics writer that stores while requests flow runs at SCHED_IDLE, and on SQLite so
/// does the database thread it stores through; on SQLite the catch-up writer's database thread
/// runs at a lowered nice value; the request threads and the server's own SQLite threads keep
/// normal priority.
#[cfg(target_os = "linux")]
async fn records_are_stored_at_idle_priority(backend: Backend) {
    const SCHED_OTHER: u32 = 0;
    const SCHED_IDLE: u32 = 5;
    let s = setup(backend, 10_000).await;
    let resp = chat(&s, hello("sim/fast")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    records(&s, 1).await;
    let threads = threads(s.server.pid());
    let policy_of = |prefix: &str| -> Vec<u32> {
        threads
            .iter()
            .filter(|(n, _, _)| n.starts_with(prefix))
            .map(|(_, p, _)| *p)
            .collect()
    };
    assert_eq!(
        policy_of(server::metrics::BACKGROUND_THREAD),
        vec![SCHED_IDLE],
        "{threads:?}"
    );
    assert!(policy_of("tokio-rt").iter().all(|p| *p == SCHED_OTHER), "{threads:?}");
    if matches!(backend, Backend::Sqlite) {
        let sqlite = policy_of("sqlx-sqlite");
        assert!(sqlite.contains(&SCHED_IDLE), "the writer's SQLite thread: {threads:?}");
        assert!(
            sqlite.contains(&SCHED_OTHER),
            "the server's SQLite threads: {threads:?}"
        );
        let nice_of_normal_sqlite: Vec<i64> = threads
            .iter()
            .filter(|(n, p, _)| n.starts_with("sqlx-sqlite") && *p == SCHED_OTHER)
            .map(|(_, _, nice)| *nice)
            .collect();
        assert!(
            nice_of_normal_sqlite.contains(&i64::from(server::metrics::CATCH_UP_NICE)),
            "the catch-up writer's SQLite thread: {threads:?}"
        );
        assert!(
            nice_of_normal_sqlite.contains(&0),
            "the server's SQLite threads: {threads:?}"
        );
    } else {
        assert!(
            threads
                .iter()
                .filter(|(_, p, _)| *p == SCHED_OTHER)
                .all(|(_, _, nice)| *nice == 0),
            "on PostgreSQL only the background writer is lowered: {threads:?}"
        );
    }
    assert!(
        threads
            .iter()
            .filter(|(n, _, _)| n.starts_with("tokio-rt"))
            .all(|(_, _, nice)| *nice == 0),
        "{threads:?}"
    );
}
