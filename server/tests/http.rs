//! The real `setpoint` binary over loopback HTTP, on SQLite and on PostgreSQL: API-key
//! auth on `/v1/models`, accounts and keys through the pages' server functions, sessions,
//! rate limits and cross-site protection.

mod common;

use common::{account_with_key, cli, fresh_db, http, Backend, Server};
use reqwest::StatusCode;
use serde_json::Value;

on_both_backends!(
    models_need_a_valid_key,
    revocation_from_the_cli_takes_effect_within_a_second,
    sign_up_log_in_and_manage_keys,
    bad_sign_up_input_is_refused_and_writes_nothing,
    wrong_password_and_unknown_user_read_the_same,
    logins_are_rate_limited,
    sessions_survive_a_restart,
    cross_site_posts_are_refused,
    pages_render_on_the_server,
    demo_data_is_seeded_once,
);

async fn error_of(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    let body: Value = resp.json().await.expect("JSON error body");
    (status, body)
}

/// Checks OpenAI's error shape and returns the code.
fn openai_code(body: &Value) -> String {
    let err = &body["error"];
    assert!(
        err["message"].as_str().is_some_and(|m| !m.is_empty()),
        "message: {body}"
    );
    assert!(err["type"].is_string(), "type: {body}");
    assert!(err.get("param").is_some(), "param: {body}");
    err["code"].as_str().expect("code").to_string()
}

async fn models_need_a_valid_key(backend: Backend) {
    let db = fresh_db(backend).await;
    let secret = account_with_key(&db.url, "alice");
    let server = Server::start(&db.url).await;
    let client = http();
    let models = server.url("/v1/models");

    let (status, body) = error_of(client.get(&models).send().await.expect("send")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(openai_code(&body), "missing_api_key");

    for bad in ["nonsense", "sk-sp-short", "Basic abc"] {
        let (status, body) = error_of(client.get(&models).bearer_auth(bad).send().await.expect("send")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad}");
        assert_eq!(openai_code(&body), "invalid_api_key", "{bad}");
    }
    let unknown = format!("sk-sp-{}", "A".repeat(43));
    let (status, body) = error_of(client.get(&models).bearer_auth(&unknown).send().await.expect("send")).await;
    assert_eq!(
        (status, openai_code(&body).as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_api_key")
    );

    let resp = client.get(&models).bearer_auth(&secret).send().await.expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
    let list: Value = resp.json().await.expect("json");
    assert_eq!(list["object"], "list");
    let data = list["data"].as_array().expect("data");
    assert!(data.len() >= 5, "the demo catalog is listed: {list}");
    let mini = data
        .iter()
        .find(|m| m["id"] == "openai/gpt-4o-mini")
        .expect("gpt-4o-mini listed");
    assert_eq!(mini["object"], "model");
    assert_eq!(mini["owned_by"], "openai");
    assert_eq!(mini["setpoint"]["simulated"], true, "demo models are marked simulated");
    assert!(mini["setpoint"]["input_price_per_mtok"].as_f64().is_some());

    // The use is recorded (off the request path, so allow it a moment).
    let storage = server::storage::connect(&db.url).await.expect("open");
    let hash = server::accounts::api_key::hash(&secret);
    let mut last_used = None;
    for _ in 0..50 {
        last_used = storage
            .api_key_by_hash(&hash)
            .await
            .expect("q")
            .and_then(|k| k.key.last_used_at);
        if last_used.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(last_used.is_some(), "last_used_at was set");
}

/// The server keeps keys in memory; a revocation made by another process (the command line,
/// another replica) reaches it by polling, within `REVOCATION_POLL`.
async fn revocation_from_the_cli_takes_effect_within_a_second(backend: Backend) {
    let db = fresh_db(backend).await;
    let secret = account_with_key(&db.url, "alice");
    let server = Server::start(&db.url).await;
    let client = http();
    let models = server.url("/v1/models");
    let ok = client.get(&models).bearer_auth(&secret).send().await.expect("send");
    assert_eq!(ok.status(), StatusCode::OK);

    // Revoke with the command line, on the same database, while the server runs.
    let (done, out, err) = cli(&db.url, &["key", "revoke", "--account", "alice", "--name", "test"], "");
    assert!(done, "revoke failed: {err}");
    assert!(out.contains("revoked"), "{out}");

    let revoked_at = std::time::Instant::now();
    let (status, body) = loop {
        let (status, body) = error_of(client.get(&models).bearer_auth(&secret).send().await.expect("send")).await;
        // Generous: the bound is the poll period, but a loaded CI machine may be slow.
        if status != StatusCode::OK || revoked_at.elapsed() > server::accounts::REVOCATION_POLL * 10 {
            break (status, body);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(openai_code(&body), "revoked_api_key");

    // The listing now records the use and the revocation.
    let (_, listing, _) = cli(&db.url, &["key", "list", "--account", "alice"], "");
    assert!(listing.contains("revoked"), "{listing}");
}

/// Calls a page's server function the way the browser does (form-encoded POST, JSON back).
async fn call(client: &reqwest::Client, server: &Server, name: &str, form: &[(&str, &str)]) -> reqwest::Response {
    client
        .post(server.url(&format!("/api/{name}")))
        .header("accept", "application/json")
        .form(form)
        .send()
        .await
        .expect("send")
}

async fn sign_up_log_in_and_manage_keys(backend: Backend) {
    let db = fresh_db(backend).await;
    let server = Server::start(&db.url).await;
    let client = http();

    let resp = call(
        &client,
        &server,
        "sign_up",
        &[("username", "alice"), ("password", "a good password")],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK, "{:?}", resp.text().await);
    let who: Value = call(&client, &server, "current_user", &[])
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(who["username"], "alice");

    // Log out, then the session no longer knows us.
    assert_eq!(call(&client, &server, "log_out", &[]).await.status(), StatusCode::OK);
    let who: Value = call(&client, &server, "current_user", &[])
        .await
        .json()
        .await
        .expect("json");
    assert!(who.is_null(), "{who}");
    assert_eq!(
        call(&client, &server, "list_api_keys", &[]).await.status(),
        StatusCode::UNAUTHORIZED
    );

    let resp = call(
        &client,
        &server,
        "log_in",
        &[("username", "alice"), ("password", "a good password")],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);

    let created: Value = call(&client, &server, "create_api_key", &[("name", "  laptop  ")])
        .await
        .json()
        .await
        .expect("json");
    let secret = created["secret"].as_str().expect("secret").to_string();
    assert_eq!(created["key"]["name"], "laptop", "names are trimmed");
    let prefix = created["key"]["prefix"].as_str().expect("prefix");
    assert!(secret.starts_with(prefix) && secret.len() > prefix.len());

    let keys: Value = call(&client, &server, "list_api_keys", &[])
        .await
        .json()
        .await
        .expect("json");
    let listed = keys.to_string();
    assert!(
        listed.contains(prefix) && !listed.contains(&secret),
        "listed by prefix only: {listed}"
    );

    let models = server.url("/v1/models");
    assert_eq!(
        client
            .get(&models)
            .bearer_auth(&secret)
            .send()
            .await
            .expect("send")
            .status(),
        StatusCode::OK
    );
    let id = created["key"]["id"].to_string();
    assert_eq!(
        call(&client, &server, "revoke_api_key", &[("id", &id)]).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        client
            .get(&models)
            .bearer_auth(&secret)
            .send()
            .await
            .expect("send")
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let keys: Value = call(&client, &server, "list_api_keys", &[])
        .await
        .json()
        .await
        .expect("json");
    assert!(keys[0]["revoked_at"].is_i64(), "{keys}");

    // Another account cannot revoke alice's keys.
    let other = http();
    call(
        &other,
        &server,
        "sign_up",
        &[("username", "mallory"), ("password", "a good password")],
    )
    .await;
    let (status, body) = error_of(call(&other, &server, "revoke_api_key", &[("id", &id)]).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // Over-long key names are refused.
    let long = "k".repeat(65);
    let (status, body) = error_of(call(&client, &server, "create_api_key", &[("name", &long)]).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.to_string().contains("at most 64"), "{body}");
}

async fn bad_sign_up_input_is_refused_and_writes_nothing(backend: Backend) {
    let db = fresh_db(backend).await;
    let server = Server::start(&db.url).await;
    let client = http();
    let ok = call(
        &client,
        &server,
        "sign_up",
        &[("username", "alice"), ("password", "a good password")],
    )
    .await;
    assert_eq!(ok.status(), StatusCode::OK);

    let long_name = "a".repeat(33);
    let long_password = "p".repeat(129);
    let cases: [(&str, &str, StatusCode, &str); 5] = [
        ("alice", "another password", StatusCode::CONFLICT, "UsernameTaken"),
        (&long_name, "a good password", StatusCode::BAD_REQUEST, "at most 32"),
        ("bob", &long_password, StatusCode::BAD_REQUEST, "at most 128"),
        ("bob", "short", StatusCode::BAD_REQUEST, "at least 8"),
        ("Bob Smith", "a good password", StatusCode::BAD_REQUEST, "lowercase"),
    ];
    for (username, password, want_status, want_text) in cases {
        let other = http();
        let (status, body) = error_of(
            call(
                &other,
                &server,
                "sign_up",
                &[("username", username), ("password", password)],
            )
            .await,
        )
        .await;
        assert_eq!(status, want_status, "{username}: {body}");
        assert!(body.to_string().contains(want_text), "{username}: {body}");
    }
    // Missing fields are a clear 400 too, not a crash.
    let resp = call(&client, &server, "sign_up", &[("username", "bob")]).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    let storage = server::storage::connect(&db.url).await.expect("open");
    assert_eq!(
        storage.count_accounts().await.expect("count"),
        1,
        "failed sign-ups wrote nothing"
    );
    let alice = storage.account_by_username("alice").await.expect("q").expect("alice");
    assert!(
        alice.password_hash.starts_with("$argon2id$"),
        "argon2id: {}",
        alice.password_hash
    );
    assert!(!alice.password_hash.contains("a good password"));
}

async fn wrong_password_and_unknown_user_read_the_same(backend: Backend) {
    let db = fresh_db(backend).await;
    let server = Server::start(&db.url).await;
    let client = http();
    call(
        &client,
        &server,
        "sign_up",
        &[("username", "alice"), ("password", "a good password")],
    )
    .await;
    let fresh = http();
    let (s1, wrong) = error_of(
        call(
            &fresh,
            &server,
            "log_in",
            &[("username", "alice"), ("password", "not it at all")],
        )
        .await,
    )
    .await;
    let (s2, unknown) = error_of(
        call(
            &fresh,
            &server,
            "log_in",
            &[("username", "nobody"), ("password", "not it at all")],
        )
        .await,
    )
    .await;
    assert_eq!((s1, s2), (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED));
    assert_eq!(wrong, unknown, "the two failures must be indistinguishable");
    let (s3, _) = error_of(
        call(
            &fresh,
            &server,
            "log_in",
            &[("username", "alice"), ("password", &"x".repeat(10_000))],
        )
        .await,
    )
    .await;
    assert_eq!(
        s3,
        StatusCode::UNAUTHORIZED,
        "an over-long password is refused, not hashed"
    );
}

async fn logins_are_rate_limited(backend: Backend) {
    let db = fresh_db(backend).await;
    let server = Server::start(&db.url).await;
    let client = http();
    call(
        &client,
        &server,
        "sign_up",
        &[("username", "alice"), ("password", "a good password")],
    )
    .await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let resp = call(
            &client,
            &server,
            "log_in",
            &[("username", "alice"), ("password", "guess guess")],
        )
        .await;
        statuses.push(resp.status());
    }
    assert_eq!(&statuses[..5], &[StatusCode::UNAUTHORIZED; 5], "{statuses:?}");
    assert_eq!(statuses[5], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
    // Even the right password waits now: the limit is per username, whatever the outcome.
    let (status, body) = error_of(
        call(
            &client,
            &server,
            "log_in",
            &[("username", "alice"), ("password", "a good password")],
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(body.to_string().contains("RateLimited"), "{body}");
}

async fn sessions_survive_a_restart(backend: Backend) {
    let db = fresh_db(backend).await;
    let server = Server::start(&db.url).await;
    let client = http();
    let resp = call(
        &client,
        &server,
        "sign_up",
        &[("username", "alice"), ("password", "a good password")],
    )
    .await;
    let cookie = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("setpoint_session="))
        .expect("session cookie set")
        .to_string();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    let pair = cookie.split(';').next().expect("name=value").to_string();
    let exit = server.stop();
    assert!(exit.success(), "graceful exit on SIGTERM: {exit:?}");

    let server = Server::start(&db.url).await;
    let who: Value = reqwest::Client::new()
        .post(server.url("/api/current_user"))
        .header("cookie", &pair)
        .header("accept", "application/json")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(who["username"], "alice", "the session outlived the restart");
}

async fn cross_site_posts_are_refused(backend: Backend) {
    let db = fresh_db(backend).await;
    let server = Server::start(&db.url).await;
    let client = http();
    let form = [("username", "alice"), ("password", "a good password")];
    let evil_origin = client
        .post(server.url("/api/sign_up"))
        .header("origin", "http://evil.example")
        .form(&form)
        .send()
        .await
        .expect("send");
    assert_eq!(evil_origin.status(), StatusCode::FORBIDDEN);
    let evil_fetch = client
        .post(server.url("/api/sign_up"))
        .header("sec-fetch-site", "cross-site")
        .form(&form)
        .send()
        .await
        .expect("send");
    assert_eq!(evil_fetch.status(), StatusCode::FORBIDDEN);
    let storage = server::storage::connect(&db.url).await.expect("open");
    assert_eq!(
        storage.count_accounts().await.expect("count"),
        0,
        "refused posts did nothing"
    );

    let same_origin = client
        .post(server.url("/api/sign_up"))
        .header("origin", server.base.clone())
        .header("accept", "application/json")
        .form(&form)
        .send()
        .await
        .expect("send");
    assert_eq!(same_origin.status(), StatusCode::OK);
}

async fn pages_render_on_the_server(backend: Backend) {
    let db = fresh_db(backend).await;
    let server = Server::start(&db.url).await;
    let client = http();
    for (path, text) in [
        ("/", "Model Sets"),
        ("/model-sets", "No Model Sets yet."),
        ("/signup", "Create your account"),
        ("/login", "Log in"),
        ("/account", "to manage your account"),
    ] {
        let resp = client.get(server.url(path)).send().await.expect("send");
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let html = resp.text().await.expect("html");
        assert!(html.contains(text), "{path} lacks {text:?}");
        assert!(html.contains("/pkg/setpoint.js"), "{path} loads the hydration bundle");
    }
    let resp = client.get(server.url("/no/such/page")).send().await.expect("send");
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

async fn demo_data_is_seeded_once(backend: Backend) {
    let db = fresh_db(backend).await;
    let list = |server: &Server| {
        let url = server.url("/api/v1/model-sets?owner=demo");
        async move {
            let body: Value = http().get(url).send().await.expect("send").json().await.expect("json");
            body["data"].as_array().map(Vec::len).unwrap_or(0)
        }
    };
    // Seeding a week of history takes seconds (tens in a debug build on a busy machine).
    let seeding = std::time::Duration::from_secs(120);
    let server = Server::start_args(&db.url, &["serve"], &[("SETPOINT_DEMO", "true")], seeding).await;
    let seeded = list(&server).await;
    assert!(seeded >= 6, "six or more demo sets, not {seeded}");
    assert!(server.stop().success());
    let server = Server::start_args(&db.url, &["serve"], &[("SETPOINT_DEMO", "true")], seeding).await;
    assert_eq!(list(&server).await, seeded, "a second start seeds nothing more");
    let client = http();
    let (status, _) = error_of(
        call(
            &client,
            &server,
            "log_in",
            &[("username", "demo"), ("password", "any password")],
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the demo account cannot log in");
    let html = client
        .get(server.url("/model-sets"))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("html");
    assert!(
        html.contains("Budget Chat") && html.contains("@demo/budget-chat"),
        "the registry shows them"
    );
}
