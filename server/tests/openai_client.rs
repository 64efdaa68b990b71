//! The official `openai` Python package against the real binary, streaming and not.
//! scripts/test installs it in a virtualenv and names its interpreter in SETPOINT_TEST_PYTHON.

mod common;

use std::process::Command;

use common::{account_with_key, fresh_db, http, Backend, Server};
use serde_json::json;

on_both_backends!(the_official_python_client_works);

fn python() -> String {
    std::env::var("SETPOINT_TEST_PYTHON").unwrap_or_else(|_| {
        panic!(
            "SETPOINT_TEST_PYTHON is not set: run through scripts/test, which installs the openai \
             package in a virtualenv, or point it at a python with `openai` installed"
        )
    })
}

async fn the_official_python_client_works(backend: Backend) {
    let db = fresh_db(backend).await;
    let key = account_with_key(&db.url, "alice");
    // Fast simulated models, so the test spends its time in the client, not in sleeps.
    let config = tempfile::Builder::new().suffix(".toml").tempfile().expect("temp");
    std::fs::write(
        config.path(),
        r#"
[[catalog]]
id = "sim/one"
provider = "simulated"
upstream_name = "one"
input_price_per_mtok = 0.1
output_price_per_mtok = 0.4
context_window = 8000
simulation = { ttft_ms = 5, tokens_per_s = 4000, output_tokens = 24 }

[[catalog]]
id = "sim/two"
provider = "simulated"
upstream_name = "two"
input_price_per_mtok = 0.2
output_price_per_mtok = 0.8
context_window = 8000
simulation = { ttft_ms = 8, tokens_per_s = 3000, output_tokens = 30 }
"#,
    )
    .expect("write config");
    let path = config.path().to_string_lossy().to_string();
    let server = Server::start_with(&db.url, &[("SETPOINT_CONFIG", &path)]).await;
    let created = http()
        .post(server.url("/api/v1/model-sets"))
        .bearer_auth(&key)
        .json(&json!({"name": "Python Demo", "models": ["sim/one", "sim/two"]}))
        .send()
        .await
        .expect("send");
    assert_eq!(created.status(), reqwest::StatusCode::CREATED);

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/openai_client.py");
    let out = Command::new(python())
        .arg(script)
        .env("SETPOINT_BASE_URL", &server.base)
        .env("SETPOINT_API_KEY", &key)
        .env("SETPOINT_MODEL", "@alice/python-demo")
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "python client failed:\n{stdout}\n{stderr}");
    assert!(stdout.trim_end().ends_with("ok"), "{stdout}");

    let storage = server::storage::connect(&db.url).await.expect("open");
    let mut stored = 0;
    // The writer runs at idle priority: on a busy machine allow it seconds.
    for _ in 0..400 {
        stored = storage.count_request_records().await.expect("count");
        if stored >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        stored, 3,
        "one record per completed chat request (errors before routing make none)"
    );
}
