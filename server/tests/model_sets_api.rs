//! The Model Set management API (`/api/v1/model-sets`) against the real binary, on both backends.

mod common;

use common::{account_with_key, fresh_db, http, Backend, Server};
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(
    owners_create_edit_and_delete,
    everyone_reads_only_owners_write,
    bad_input_is_refused
);

fn draft() -> Value {
    json!({
        "name": "Cheap Chat",
        "description": "Good enough answers, cheaply.",
        "categories": ["Chat"],
        "tags": ["budget", "fast"],
        "models": ["openai/gpt-4o-mini", "groq/llama-3.1-8b-instant"],
        "requirements": [
            {"dimension": {"kind": "latency"}, "statistic": "p90", "comparator": "<=", "target": 2000.0},
            {"dimension": {"kind": "error_rate"}, "statistic": "mean", "comparator": "<=", "target": 0.02}
        ],
        "objective": {"goal": "minimize", "dimension": {"kind": "cost"}}
    })
}

async fn owners_create_edit_and_delete(backend: Backend) {
    let db = fresh_db(backend).await;
    let key = account_with_key(&db.url, "alice");
    let server = Server::start(&db.url).await;
    let client = http();
    let sets = server.url("/api/v1/model-sets");

    let set = common::create_set(&server, &key, &draft()).await;
    assert_eq!(set["slug"], "cheap-chat", "slug derived from the name");
    assert_eq!(set["owner"], "alice");
    assert_eq!(set["categories"], json!(["chat"]), "labels are normalised");
    assert_eq!(set["revision"], 1);
    assert_eq!(set["spec"]["evals"]["sampling"], 0.1, "eval sampling defaults to 0.1");

    let again = client
        .post(&sets)
        .bearer_auth(&key)
        .json(&draft())
        .send()
        .await
        .expect("send");
    assert_eq!(again.status(), StatusCode::CONFLICT);

    let one = server.url("/api/v1/model-sets/@alice/cheap-chat");
    let got: Value = client.get(&one).send().await.expect("send").json().await.expect("json");
    assert_eq!(got, set);

    let patch = json!({"description": "Cheaper.", "models": ["openai/gpt-4o-mini"], "evals": {"metrics": ["answer_relevancy"], "sampling": 0.25}});
    let resp = client
        .patch(&one)
        .bearer_auth(&key)
        .json(&patch)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
    let edited: Value = resp.json().await.expect("json");
    assert_eq!(edited["revision"], 2);
    assert_eq!(edited["description"], "Cheaper.");
    assert_eq!(edited["spec"]["models"], json!(["openai/gpt-4o-mini"]));
    assert_eq!(
        edited["spec"]["requirements"], set["spec"]["requirements"],
        "untouched fields stay"
    );
    assert_eq!(edited["tags"], set["tags"]);

    let rename = client
        .patch(&one)
        .bearer_auth(&key)
        .json(&json!({"name": "New"}))
        .send()
        .await
        .expect("send");
    assert_eq!(rename.status(), StatusCode::BAD_REQUEST);
    let body: Value = rename.json().await.expect("json");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("cannot be changed"),
        "{body}"
    );

    let history: Value = client
        .get(format!("{one}/revisions"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let revs: Vec<i64> = history["data"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|r| r["revision"].as_i64())
        .collect();
    assert_eq!(revs, vec![2, 1]);

    let search: Value = client
        .get(format!("{sets}?tag=budget&category=chat&q=cheap"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(search["data"].as_array().map(Vec::len), Some(1), "{search}");
    let none: Value = client
        .get(format!("{sets}?tag=nope"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(none["data"], json!([]));

    // Lists come a page at a time, newest first, as OpenAI's do.
    for name in ["Second Set", "Third Set"] {
        let mut body = draft();
        body["name"] = json!(name);
        common::create_set(&server, &key, &body).await;
    }
    let list = |query: String| {
        let client = client.clone();
        let url = format!("{sets}?{query}");
        async move { client.get(url).send().await.expect("send") }
    };
    let first: Value = list("limit=2".into()).await.json().await.expect("json");
    let names: Vec<&str> = first["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["Third Set", "Second Set"], "{first}");
    assert_eq!(first["has_more"], true);
    assert_eq!(first["first_id"], first["data"][0]["id"]);
    let next: Value = list(format!("limit=2&after={}", first["last_id"]))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(next["data"].as_array().map(Vec::len), Some(1), "{next}");
    assert_eq!(next["data"][0]["name"], "Cheap Chat");
    assert_eq!(next["has_more"], false);
    let too_many = list("limit=101".into()).await;
    assert_eq!(too_many.status(), StatusCode::BAD_REQUEST);
    let body: Value = too_many.json().await.expect("json");
    assert!(
        body["error"]["message"].as_str().is_some_and(|m| m.contains("limit")),
        "{body}"
    );

    let gone = client.delete(&one).bearer_auth(&key).send().await.expect("send");
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    let missing = client.get(&one).send().await.expect("send");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let body: Value = missing.json().await.expect("json");
    assert_eq!(body["error"]["code"], "not_found");
}

async fn everyone_reads_only_owners_write(backend: Backend) {
    let db = fresh_db(backend).await;
    let alice = account_with_key(&db.url, "alice");
    let bob = account_with_key(&db.url, "bob");
    let server = Server::start(&db.url).await;
    let client = http();
    let sets = server.url("/api/v1/model-sets");
    common::create_set(&server, &alice, &draft()).await;
    let one = server.url("/api/v1/model-sets/alice/cheap-chat");

    // Anonymous reads work; anonymous writes do not.
    assert_eq!(client.get(&one).send().await.expect("send").status(), StatusCode::OK);
    let anon = client.post(&sets).json(&draft()).send().await.expect("send");
    assert_eq!(anon.status(), StatusCode::UNAUTHORIZED);

    // Bob can read but not change or delete alice's set.
    let patch = client
        .patch(&one)
        .bearer_auth(&bob)
        .json(&json!({"description": "mine"}))
        .send()
        .await
        .expect("send");
    assert_eq!(patch.status(), StatusCode::FORBIDDEN);
    let body: Value = patch.json().await.expect("json");
    assert_eq!(body["error"]["code"], "permission_denied");
    let del = client.delete(&one).bearer_auth(&bob).send().await.expect("send");
    assert_eq!(del.status(), StatusCode::FORBIDDEN);
    let still: Value = client.get(&one).send().await.expect("send").json().await.expect("json");
    assert_eq!(still["revision"], 1, "nothing changed");

    // The same slug under bob's own name is his to create.
    common::create_set(&server, &bob, &draft()).await;

    // A session works as well as a key (the web app's path).
    let browser = http();
    let signup = browser
        .post(server.url("/api/sign_up"))
        .header("accept", "application/json")
        .form(&[("username", "carol"), ("password", "a good password")])
        .send()
        .await
        .expect("send");
    assert_eq!(signup.status(), StatusCode::OK);
    let by_session = browser.post(&sets).json(&draft()).send().await.expect("send");
    assert_eq!(by_session.status(), StatusCode::CREATED);
    let cross = browser
        .post(&sets)
        .header("origin", "http://evil.example")
        .json(&draft())
        .send()
        .await
        .expect("send");
    assert_eq!(cross.status(), StatusCode::FORBIDDEN, "cross-site writes are refused");
}

async fn bad_input_is_refused(backend: Backend) {
    let db = fresh_db(backend).await;
    let key = account_with_key(&db.url, "alice");
    let server = Server::start(&db.url).await;
    let client = http();
    let sets = server.url("/api/v1/model-sets");

    let malformed = client
        .post(&sets)
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);

    let mut cases = Vec::new();
    let mut d = draft();
    d["models"] = json!(["nope/model"]);
    cases.push((d, "not in the catalog"));
    let mut d = draft();
    d["models"] = json!([]);
    cases.push((d, "at least one"));
    let mut d = draft();
    d["name"] = json!("x".repeat(81));
    cases.push((d, "name"));
    let mut d = draft();
    d["slug"] = json!("Bad Slug");
    cases.push((d, "slug"));
    let mut d = draft();
    d["requirements"][0]["statistic"] = json!("p42");
    cases.push((d, "p42"));
    let mut d = draft();
    d["requirements"][1]["target"] = json!(5.0);
    cases.push((d, "between 0 and 1"));
    let mut d = draft();
    d["evals"] = json!({"sampling": 2.0});
    cases.push((d, "sampling"));
    let mut d = draft();
    d["colour"] = json!("blue");
    cases.push((d, "colour"));
    for (body, needle) in cases {
        let resp = client
            .post(&sets)
            .bearer_auth(&key)
            .json(&body)
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{needle}");
        let err: Value = resp.json().await.expect("json");
        assert_eq!(err["error"]["type"], "invalid_request_error");
        let message = err["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{message:?} lacks {needle:?}");
    }
    let listed: Value = client
        .get(&sets)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(listed["data"], json!([]), "no refused draft was stored");

    let revoked = client
        .post(&sets)
        .bearer_auth("sk-sp-nonsense")
        .json(&draft())
        .send()
        .await
        .expect("send");
    assert_eq!(revoked.status(), StatusCode::UNAUTHORIZED);
}
