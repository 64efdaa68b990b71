//! The editor's server functions through the real server on both backends, as the browser
//! calls them: what the editor opens with, Deploy / Clone / Save through the Model Set service
//! (field errors named, the owner rule, clones naming their source, edits as revisions that
//! the gateway routes by at once), the slug check, and Delete (confirmation, 404 after, the
//! request records kept).

mod common;

use std::time::Duration;

use common::{account_with_key, create_set, fresh_db, http, Backend, Server};
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(the_editor_saves_through_the_service);

const MODELS: [&str; 2] = ["openai/gpt-4o-mini", "groq/llama-3.1-8b-instant"];

/// A server function with a JSON body (the editor's `input = Json` ones).
async fn call_json(client: &reqwest::Client, server: &Server, name: &str, body: Value) -> (StatusCode, Value) {
    let resp = client
        .post(server.url(&format!("/api/{name}")))
        .header("accept", "application/json")
        .json(&body)
        .send()
        .await
        .expect("send");
    let status = resp.status();
    let text = resp.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// A JSON API resource as the session sees it.
async fn get_json(client: &reqwest::Client, server: &Server, path: &str) -> Value {
    let resp = client.get(server.url(path)).send().await.expect("send");
    assert_eq!(resp.status(), StatusCode::OK, "{path}");
    resp.json().await.expect("json")
}

/// A server function with a form body.
async fn call_form(
    client: &reqwest::Client,
    server: &Server,
    name: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String) {
    let resp = client
        .post(server.url(&format!("/api/{name}")))
        .header("accept", "application/json")
        .form(form)
        .send()
        .await
        .expect("send");
    let status = resp.status();
    (status, resp.text().await.expect("body"))
}

fn form(name: &str, slug: &str, latency_target: f64) -> Value {
    json!({
        "name": name,
        "slug": slug,
        "description": "A clone for the editor test.",
        "categories": ["chat"],
        "tags": [],
        "spec": {
            "models": MODELS,
            "requirements": [{"dimension": {"kind": "latency"}, "statistic": "p90", "comparator": "<=", "target": latency_target}],
        },
    })
}

async fn the_editor_saves_through_the_service(backend: Backend) {
    let db = fresh_db(backend).await;
    let alice_key = account_with_key(&db.url, "alice");
    let server = Server::start(&db.url).await;
    create_set(
        &server,
        &alice_key,
        &json!({"name": "Source", "models": MODELS,
                "requirements": [{"dimension": {"kind": "latency"}, "statistic": "p90", "comparator": "<=", "target": 5000}]}),
    )
    .await;
    let clone_of_source = json!({"kind": "clone", "source": "@alice/source"});

    // A visitor cannot open the editor: the page sends them to log in.
    let visitor = http();
    let (status, _) = call_json(&visitor, &server, "open_editor", json!({"target": {"kind": "new"}})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let bob = http();
    let (status, text) = call_form(
        &bob,
        &server,
        "sign_up",
        &[("username", "bob"), ("password", "bob's password")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");

    // Clone opens with the source and the engine's inputs for every catalog model.
    let (status, start) = call_json(&bob, &server, "open_editor", json!({"target": clone_of_source})).await;
    assert_eq!(status, StatusCode::OK, "{start}");
    assert_eq!(start["source"]["slug"], "source");
    assert_eq!(start["owner"], "bob");
    let catalog = start["catalog"].as_array().expect("catalog").len();
    assert!(catalog >= MODELS.len());
    assert_eq!(start["inputs"].as_array().expect("inputs").len(), catalog);
    assert!(start["options"]["z"].is_number());
    // Someone else's set cannot be edited.
    let (status, err) = call_json(
        &bob,
        &server,
        "open_editor",
        json!({"target": {"kind": "edit", "owner": "alice", "slug": "source"}}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{err}");

    // A bad field comes back named, for the form to show beside it.
    let (status, err) = call_json(
        &bob,
        &server,
        "save_model_set",
        json!({"target": clone_of_source, "form": form("Mine", "No Spaces!", 3000.0)}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["Field"]["field"], "slug", "{err}");
    let mut bad_target = form("Mine", "mine", 3000.0);
    bad_target["spec"]["requirements"][0]["target"] = json!(-1.0);
    let (status, err) = call_json(
        &bob,
        &server,
        "save_model_set",
        json!({"target": clone_of_source, "form": bad_target}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        (err["Field"]["field"].clone(), err["Field"]["index"].clone()),
        (json!("requirements"), json!(0))
    );

    // Clone: saved under bob, naming its source.
    let (status, slug_free) = call_form(&bob, &server, "slug_available", &[("slug", "mine")]).await;
    assert_eq!((status, slug_free.as_str()), (StatusCode::OK, "true"));
    let (status, address) = call_json(
        &bob,
        &server,
        "save_model_set",
        json!({"target": clone_of_source, "form": form("Mine", "mine", 3000.0)}),
    )
    .await;
    assert_eq!((status, address.clone()), (StatusCode::OK, json!("@bob/mine")));
    let (_, slug_free) = call_form(&bob, &server, "slug_available", &[("slug", "mine")]).await;
    assert_eq!(slug_free, "false");
    let (status, again) = call_json(
        &bob,
        &server,
        "save_model_set",
        json!({"target": {"kind": "new"}, "form": form("Mine again", "mine", 3000.0)}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        again["Field"]["field"], "slug",
        "a taken slug is the slug's error: {again}"
    );
    let set = get_json(&bob, &server, "/api/v1/model-sets/bob/mine").await;
    assert_eq!(set["cloned_from"], "@alice/source");
    assert_eq!(set["revision"], 1);

    // Requests through it, with bob's key.
    let (status, key) = call_form(&bob, &server, "create_api_key", &[("name", "k")]).await;
    assert_eq!(status, StatusCode::OK);
    let key: Value = serde_json::from_str(&key).expect("key json");
    let secret = key["secret"].as_str().expect("secret").to_string();
    let chat = |model: &'static str| {
        let secret = secret.clone();
        let url = server.url("/v1/chat/completions");
        async move {
            http()
                .post(url)
                .bearer_auth(secret)
                .json(&json!({"model": model, "messages": [{"role": "user", "content": "hello"}]}))
                .send()
                .await
                .expect("send")
        }
    };
    let mut answered = 0;
    for _ in 0..6 {
        if chat("@bob/mine").await.status() == StatusCode::OK {
            answered += 1;
        }
    }
    assert!(answered >= 4, "{answered} of 6 answered");

    // Edit: a revision, which the gateway routes by at once.
    let edit = json!({"kind": "edit", "owner": "bob", "slug": "mine"});
    let (status, address) = call_json(
        &bob,
        &server,
        "save_model_set",
        json!({"target": edit, "form": form("ignored", "ignored", 2500.0)}),
    )
    .await;
    assert_eq!((status, address), (StatusCode::OK, json!("@bob/mine")));
    let set = get_json(&bob, &server, "/api/v1/model-sets/bob/mine").await;
    assert_eq!(
        (set["revision"].clone(), set["name"].clone()),
        (json!(2), json!("Mine")),
        "name and slug stay"
    );
    assert_eq!(set["spec"]["requirements"][0]["target"], 2500.0);
    assert_eq!(chat("@bob/mine").await.status(), StatusCode::OK);
    let routing = get_json(&bob, &server, "/api/v1/model-sets/bob/mine/routing").await;
    assert_eq!(routing["routing"]["revision"], 2, "routed by the edit: {routing}");

    // Delete: only with the slug typed; then 404 at the gateway, records kept.
    let storage = server::storage::connect(&db.url).await.expect("open");
    // Records are written in batches, so wait until the count has stood still for a second
    // after passing the answered requests: a loaded machine's writer may still be a batch behind.
    let (mut before, mut still) = (0, 0);
    for _ in 0..400 {
        let count = storage.count_request_records().await.expect("count");
        still = if count == before { still + 1 } else { 0 };
        before = count;
        if before > answered as i64 && still >= 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(before > answered as i64, "records stored: {before}");
    let (status, text) = call_form(
        &bob,
        &server,
        "delete_model_set",
        &[("owner", "bob"), ("slug", "mine"), ("confirm", "min")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    let (status, text) = call_form(
        &visitor,
        &server,
        "delete_model_set",
        &[("owner", "bob"), ("slug", "mine"), ("confirm", "mine")],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a visitor cannot delete: {text}");
    let (status, text) = call_form(
        &bob,
        &server,
        "delete_model_set",
        &[("owner", "bob"), ("slug", "mine"), ("confirm", "mine")],
    )
    .await;
    assert!(status.is_success() || status.is_redirection(), "{status} {text}");
    let gone = chat("@bob/mine").await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    let body: Value = gone.json().await.expect("json");
    assert_eq!(body["error"]["code"], "model_not_found");
    assert_eq!(
        storage.count_request_records().await.expect("count"),
        before,
        "records stay for usage"
    );
    let (_, slug_free) = call_form(&bob, &server, "slug_available", &[("slug", "mine")]).await;
    assert_eq!(slug_free, "true", "the slug can be used again");
}
