//! The set page's "Try it" (`POST /api/try/{owner}/{slug}`) through the real binary, on both
//! storage backends: a signed-in owner's message streams back through the gateway, ends with
//! the `event: setpoint` summary, and is metered for the set like any gateway request; the
//! session, ownership, existence and cross-site rules refuse the rest.

mod common;

use std::time::Duration;

use app::chat::{Served, SseReader, StreamEvent};
use common::{fresh_db, http, Backend, Server};
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(
    an_owner_s_message_streams_back_and_is_metered,
    only_the_signed_in_owner_may_try
);

/// Two fast simulated models that never fail, so every try answers.
const CATALOG: &str = r#"
[[catalog]]
id = "sim/one"
provider = "simulated"
upstream_name = "one"
input_price_per_mtok = 0.1
output_price_per_mtok = 0.4
context_window = 8000
simulation = { ttft_ms = 5, tokens_per_s = 2000, output_tokens = 24, jitter = 0.0 }

[[catalog]]
id = "sim/two"
provider = "simulated"
upstream_name = "two"
input_price_per_mtok = 0.2
output_price_per_mtok = 0.8
context_window = 8000
simulation = { ttft_ms = 8, tokens_per_s = 2000, output_tokens = 30, jitter = 0.0 }
"#;

struct Setup {
    server: Server,
    db_url: String,
    _db: common::TestDb,
    _config: tempfile::NamedTempFile,
}

async fn setup(backend: Backend) -> Setup {
    let db = fresh_db(backend).await;
    let config = tempfile::Builder::new().suffix(".toml").tempfile().expect("temp");
    std::fs::write(config.path(), CATALOG).expect("write config");
    let path = config.path().to_string_lossy().to_string();
    let server = Server::start_with(&db.url, &[("SETPOINT_CONFIG", &path)]).await;
    Setup {
        server,
        db_url: db.url.clone(),
        _db: db,
        _config: config,
    }
}

/// A client signed in as a new account `username` (its session in its cookie jar), and the
/// account's id.
async fn signed_in(server: &Server, username: &str) -> (reqwest::Client, i64) {
    let client = http();
    let resp = client
        .post(server.url("/api/sign_up"))
        .header("accept", "application/json")
        .form(&[("username", username), ("password", "a good password")])
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
    let who: Value = resp.json().await.expect("json");
    (client, who["id"].as_i64().expect("the account's id"))
}

/// Creates a set on the session (the JSON API takes it as it takes a key).
async fn create_set(server: &Server, client: &reqwest::Client, name: &str) -> Value {
    let resp = client
        .post(server.url("/api/v1/model-sets"))
        .json(&json!({"name": name, "models": ["sim/one", "sim/two"]}))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::CREATED, "{:?}", resp.text().await);
    resp.json().await.expect("json")
}

async fn try_set(server: &Server, client: &reqwest::Client, address: &str, body: &Value) -> reqwest::Response {
    client
        .post(server.url(&format!("/api/try/{address}")))
        .json(body)
        .send()
        .await
        .expect("send")
}

fn hello() -> Value {
    json!({"messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hello in five words."}
    ]})
}

fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// The OpenAI error code of a refusal, with its status.
async fn refusal(resp: reqwest::Response) -> (StatusCode, String) {
    let status = resp.status();
    let body: Value = resp.json().await.expect("an error object");
    (status, body["error"]["code"].as_str().unwrap_or_default().to_string())
}

/// What a try stream said, read as it arrives, piece by piece, the way the browser reads it.
struct Answer {
    text: String,
    served: Option<Served>,
    /// Whether the summary came before `[DONE]`, and `[DONE]` last.
    done_last: bool,
    failures: Vec<String>,
    pieces: usize,
}

async fn read_answer(mut resp: reqwest::Response) -> Answer {
    let mut reader = SseReader::default();
    let mut events = Vec::new();
    let mut pieces = 0;
    while let Some(piece) = resp.chunk().await.expect("a piece of the stream") {
        pieces += 1;
        events.extend(reader.push(&piece));
    }
    let mut answer = Answer {
        text: String::new(),
        served: None,
        done_last: matches!(events.last(), Some(StreamEvent::Done)),
        failures: Vec::new(),
        pieces,
    };
    for event in events {
        match event {
            StreamEvent::Text(text) => {
                assert!(answer.served.is_none(), "text after the summary");
                answer.text.push_str(&text);
            }
            StreamEvent::Served(served) => answer.served = Some(served),
            StreamEvent::Failed(message) => answer.failures.push(message),
            StreamEvent::Done => {}
        }
    }
    answer
}

/// Waits for the metrics writer (batched, off the request path) to store the request.
async fn record_of(db_url: &str, request_id: &str) -> server::storage::RequestRecord {
    let storage = server::storage::connect(db_url).await.expect("open");
    for _ in 0..400 {
        let records = storage.list_request_records(1000).await.expect("list");
        if let Some(record) = records.into_iter().find(|r| r.request_id == request_id) {
            return record;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no record of {request_id} was stored");
}

/// The set's requests in the last hour, as its page's charts count them (from the rollups).
async fn requests_on_the_page(server: &Server, owner: &str, slug: &str, at_least: u64) -> u64 {
    let mut seen = 0;
    for _ in 0..400 {
        let series: Value = http()
            .post(server.url("/api/set_series"))
            .header("accept", "application/json")
            .form(&[("owner", owner), ("slug", slug), ("range", "1h"), ("lines", "models")])
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json");
        seen = series["set"]["total"]["requests"].as_u64().unwrap_or(0);
        if seen >= at_least {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    seen
}

async fn an_owner_s_message_streams_back_and_is_metered(backend: Backend) {
    let s = setup(backend).await;
    let (alice, alice_id) = signed_in(&s.server, "alice").await;
    let set = create_set(&s.server, &alice, "Try Me").await;
    let set_id = set["id"].as_i64().expect("set id");

    let resp = try_set(&s.server, &alice, "@alice/try-me", &hello()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "content-type"), "text/event-stream");
    let model = header(&resp, "x-setpoint-model");
    assert!(["sim/one", "sim/two"].contains(&model.as_str()), "{model}");
    let request_id = header(&resp, "x-setpoint-request-id");
    let answer = read_answer(resp).await;

    assert!(answer.failures.is_empty(), "{:?}", answer.failures);
    assert!(answer.pieces > 1, "the answer arrives in pieces, not at once");
    assert!(answer.done_last, "the stream ends with [DONE]");
    let Some(served) = answer.served else {
        panic!("no summary event before [DONE]")
    };
    assert_eq!(served.model, model, "the summary names the model the header names");
    assert_eq!(served.request_id, request_id);
    assert_eq!(
        served.completion_tokens,
        if model == "sim/one" { 24 } else { 30 },
        "billed from the provider's usage"
    );
    assert_eq!(
        answer.text.split_whitespace().count() as u64,
        served.completion_tokens,
        "the simulated answer (a word a token) streams back whole: {:?}",
        answer.text
    );
    let (input, output) = if model == "sim/one" { (0.1, 0.4) } else { (0.2, 0.8) };
    let expected_cost = (served.prompt_tokens as f64 * input + served.completion_tokens as f64 * output) / 1e6;
    assert!(
        (served.cost_usd - expected_cost).abs() < 1e-15 && served.cost_usd > 0.0,
        "usage × the catalog price: {served:?}"
    );
    assert!(served.latency_ms > 5.0 && served.latency_ms < 10_000.0, "{served:?}");

    // Metered like any gateway request: one record for the set, on the account, with no key,
    // and the same numbers the page was told.
    let record = record_of(&s.db_url, &request_id).await;
    assert_eq!(record.model_set_id, Some(set_id));
    assert_eq!(record.model_id, model);
    assert_eq!(record.status, 200);
    assert_eq!(record.api_key_id, None, "a try runs on the session, not a key");
    assert_eq!(record.account_id, alice_id);
    assert_eq!(
        (record.prompt_tokens, record.completion_tokens),
        (served.prompt_tokens as i64, served.completion_tokens as i64)
    );
    // To the last digit but one: JSON numbers are read back without a correctly rounded parse.
    assert!(
        (record.cost_usd - served.cost_usd).abs() <= record.cost_usd * 1e-12,
        "the page shows what is billed: {} vs {}",
        record.cost_usd,
        served.cost_usd
    );
    assert!(
        (record.latency_ms - served.latency_ms).abs() < 1e-6,
        "the page shows the recorded latency: {} vs {}",
        record.latency_ms,
        served.latency_ms
    );
    assert!(
        record.ttft_ms.is_some(),
        "a stream's record has its time to first token"
    );

    // The conversation goes on: earlier turns are sent back with the new message.
    let follow_up = json!({"messages": [
        {"role": "user", "content": "Say hello in five words."},
        {"role": "assistant", "content": answer.text},
        {"role": "user", "content": "Again, in three."}
    ]});
    let resp = try_set(&s.server, &alice, "alice/try-me", &follow_up).await;
    assert_eq!(resp.status(), StatusCode::OK, "the owner without its @ works too");
    let second = read_answer(resp).await;
    let Some(second_served) = second.served else {
        panic!("no summary on the second try")
    };
    assert!(
        second_served.prompt_tokens > served.prompt_tokens,
        "the longer conversation is billed as a longer prompt: {second_served:?} after {served:?}"
    );

    // Both tries reach the rollups the set page's charts read.
    assert_eq!(requests_on_the_page(&s.server, "alice", "try-me", 2).await, 2);

    // The same set through /v1 with a key streams OpenAI's stream, without the summary.
    let key: Value = alice
        .post(s.server.url("/api/create_api_key"))
        .header("accept", "application/json")
        .form(&[("name", "laptop")])
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let secret = key["secret"].as_str().expect("secret");
    let mut body = hello();
    body["model"] = json!("@alice/try-me");
    body["stream"] = json!(true);
    let text = http()
        .post(s.server.url("/v1/chat/completions"))
        .bearer_auth(secret)
        .json(&body)
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    assert!(!text.contains("event:"), "/v1 streams carry no summary: {text}");
}

async fn only_the_signed_in_owner_may_try(backend: Backend) {
    let s = setup(backend).await;
    let (alice, _) = signed_in(&s.server, "alice").await;
    create_set(&s.server, &alice, "Mine").await;

    // No session: 401, whether or not the set exists.
    for address in ["@alice/mine", "@alice/missing"] {
        let resp = try_set(&s.server, &http(), address, &hello()).await;
        assert!(
            !header(&resp, "x-setpoint-request-id").is_empty(),
            "refusals carry a request id"
        );
        assert_eq!(
            refusal(resp).await,
            (StatusCode::UNAUTHORIZED, "unauthenticated".into())
        );
    }

    // Logged out: the session no longer counts.
    let (leaving, _) = signed_in(&s.server, "carol").await;
    let out = leaving
        .post(s.server.url("/api/log_out"))
        .header("accept", "application/json")
        .send()
        .await
        .expect("send");
    assert_eq!(out.status(), StatusCode::OK);
    let resp = try_set(&s.server, &leaving, "@alice/mine", &hello()).await;
    assert_eq!(refusal(resp).await.0, StatusCode::UNAUTHORIZED);

    // Someone else's set: 403; a missing one: 404.
    let (bob, _) = signed_in(&s.server, "bob").await;
    let resp = try_set(&s.server, &bob, "@alice/mine", &hello()).await;
    assert_eq!(
        refusal(resp).await,
        (StatusCode::FORBIDDEN, "model_set_not_owned".into())
    );
    let resp = try_set(&s.server, &alice, "@alice/missing", &hello()).await;
    assert_eq!(refusal(resp).await, (StatusCode::NOT_FOUND, "model_not_found".into()));

    // A body without messages, or with bad ones, is refused as the gateway refuses it.
    let resp = try_set(&s.server, &alice, "@alice/mine", &json!({"prompt": "hi"})).await;
    assert_eq!(refusal(resp).await, (StatusCode::BAD_REQUEST, "invalid_request".into()));
    let resp = try_set(&s.server, &alice, "@alice/mine", &json!({"messages": []})).await;
    assert_eq!(refusal(resp).await, (StatusCode::BAD_REQUEST, "invalid_request".into()));

    // Another site cannot spend the owner's session.
    let resp = alice
        .post(s.server.url("/api/try/@alice/mine"))
        .header("sec-fetch-site", "cross-site")
        .json(&hello())
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    // None of the refusals reached a model: nothing was metered.
    let storage = server::storage::connect(&s.db_url).await.expect("open");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(storage.count_request_records().await.expect("count"), 0);
}
