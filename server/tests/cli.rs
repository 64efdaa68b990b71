//! The `setpoint` command line: help, configuration errors, accounts and keys.

mod common;

use std::process::Command;

use common::{bin, cli, fresh_db, Backend};
use server::storage::{EvalResultRow, JobNext, NewEvalJob};

on_both_backends!(
    accounts_and_keys_from_the_command_line,
    a_password_is_set_from_the_command_line,
    the_eval_queue_s_status,
);

#[test]
fn help_names_commands_and_settings() {
    let out = Command::new(bin()).arg("--help").output().expect("run");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "serve",
        "account",
        "key",
        "evals",
        "SETPOINT_DATABASE_URL",
        "SETPOINT_ADDR",
        "--config",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
}

/// Runs `setpoint serve` with a bad setting; it must exit non-zero with one line naming it.
fn bad_config(args: &[&str], env: &[(&str, &str)], must_mention: &[&str]) {
    let mut cmd = Command::new(bin());
    cmd.args(args).env_remove("SETPOINT_CONFIG").env_remove("RUST_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run");
    assert!(!out.status.success(), "{args:?} {env:?} should fail");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "one line:\n{stderr}");
    for needle in must_mention {
        assert!(stderr.contains(needle), "{stderr:?} lacks {needle:?}");
    }
}

#[test]
fn bad_configuration_is_one_clear_line() {
    bad_config(
        &["serve"],
        &[("SETPOINT_ADDR", "not-an-address")],
        &["addr", "SETPOINT_ADDR"],
    );
    bad_config(
        &["serve"],
        &[("SETPOINT_DATABASE_URL", "mysql://db/x")],
        &["database_url", "mysql"],
    );
    bad_config(&["serve"], &[("SETPOINT_SESSION_DAYS", "soon")], &["session_days"]);
    bad_config(
        &["--config", "/nonexistent/setpoint.toml", "serve"],
        &[],
        &["/nonexistent/setpoint.toml"],
    );

    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "addr = 3000\n").expect("write");
    bad_config(
        &["--config", file.to_str().expect("utf8"), "serve"],
        &[],
        &["addr", "bad.toml"],
    );
    std::fs::write(&file, "adress = \"127.0.0.1:1\"\n").expect("write");
    bad_config(&["--config", file.to_str().expect("utf8"), "serve"], &[], &["adress"]);
}

async fn accounts_and_keys_from_the_command_line(backend: Backend) {
    let db = fresh_db(backend).await;
    let url = db.url.as_str();
    let create = ["account", "create", "--username", "ops", "--password-stdin"];
    let (ok, out, err) = cli(url, &create, "a long password\n");
    assert!(ok, "{err}");
    assert!(out.contains("ops"), "{out}");
    let (ok, _, err) = cli(url, &create, "a long password\n");
    assert!(!ok && err.contains("taken"), "duplicate: {err}");
    let (ok, _, err) = cli(
        url,
        &["account", "create", "--username", "x", "--password-stdin"],
        "a long password\n",
    );
    assert!(!ok && err.contains("at least 3"), "bad username: {err}");
    let (ok, _, err) = cli(
        url,
        &["account", "create", "--username", "nopw", "--password-stdin"],
        "",
    );
    assert!(!ok && err.contains("no password"), "empty stdin: {err}");

    let (ok, secret, err) = cli(url, &["key", "create", "--account", "ops", "--name", "deploy"], "");
    assert!(ok, "{err}");
    let secret = secret.trim();
    assert!(
        secret.starts_with("sk-sp-") && secret.len() == 49,
        "stdout is the secret alone: {secret:?}"
    );
    assert!(!err.contains(secret), "the secret appears once, on stdout");
    let (ok, _, err) = cli(url, &["key", "create", "--account", "nobody", "--name", "x"], "");
    assert!(!ok && err.contains("nobody"), "{err}");

    let (ok, listing, _) = cli(url, &["key", "list", "--account", "ops"], "");
    assert!(ok);
    assert!(
        listing.contains(&secret[..14]) && !listing.contains(secret),
        "{listing}"
    );
    assert!(listing.contains("active") && listing.contains("deploy"), "{listing}");

    let (ok, _, err) = cli(
        url,
        &["key", "revoke", "--account", "ops", "--prefix", "sk-sp-nope"],
        "",
    );
    assert!(!ok && err.contains("no active key"), "{err}");
    let (ok, out, err) = cli(
        url,
        &["key", "revoke", "--account", "ops", "--prefix", &secret[..14]],
        "",
    );
    assert!(ok, "{err}");
    assert!(out.contains("revoked"), "{out}");
    let (_, listing, _) = cli(url, &["key", "list", "--account", "ops"], "");
    assert!(listing.contains("revoked"), "{listing}");

    // The stored data holds neither the password nor the secret.
    let storage = server::storage::connect(url).await.expect("open");
    let ops = storage.account_by_username("ops").await.expect("q").expect("ops");
    assert!(!ops.password_hash.contains("a long password"));
    let keys = storage.list_api_keys(ops.id).await.expect("keys");
    assert_eq!(keys.len(), 1);
    assert!(storage
        .api_key_by_hash(&server::accounts::api_key::hash(secret))
        .await
        .expect("q")
        .is_some_and(|k| k.key.revoked_at.is_some()));
}

/// `account password`: an existing account's password, by sign-up's rules; logging in then
/// takes the new one and not the old.
async fn a_password_is_set_from_the_command_line(backend: Backend) {
    let db = fresh_db(backend).await;
    let url = db.url.as_str();
    let (ok, _, err) = cli(
        url,
        &["account", "create", "--username", "ops", "--password-stdin"],
        "the first password\n",
    );
    assert!(ok, "{err}");
    let set = ["account", "password", "--username", "ops", "--password-stdin"];
    let (ok, out, err) = cli(url, &set, "a second long password\n");
    assert!(ok, "{err}");
    assert!(out.contains("ops"), "{out}");

    let storage = server::storage::connect(url).await.expect("open");
    let ops = storage.account_by_username("ops").await.expect("q").expect("ops");
    let verify = server::accounts::password::verify;
    assert!(
        verify("a second long password", &ops.password_hash),
        "the new password logs in"
    );
    assert!(
        !verify("the first password", &ops.password_hash),
        "the old one no longer does"
    );
    assert!(ops.password_hash.starts_with("$argon2id$") && !ops.password_hash.contains("second"));

    // Sign-up's rules, and a clear error for a name nobody has; nothing changes then.
    let (ok, _, err) = cli(url, &set, "short\n");
    assert!(!ok && err.contains("at least"), "short: {err}");
    let (ok, _, err) = cli(url, &set, "");
    assert!(!ok && err.contains("no password"), "empty stdin: {err}");
    let (ok, _, err) = cli(
        url,
        &["account", "password", "--username", "nobody", "--password-stdin"],
        "a long enough password\n",
    );
    assert!(!ok && err.contains("no account named \"nobody\""), "{err}");
    let (ok, _, err) = cli(
        url,
        &["account", "password", "--username", "ops"],
        "a long enough password\n",
    );
    assert!(
        !ok && err.contains("--password-stdin"),
        "the password never comes as an argument: {err}"
    );
    assert_eq!(
        storage.account_by_username("ops").await.expect("q").expect("ops"),
        ops,
        "refused changes leave the hash as it was"
    );
}

/// `evals status`: the queue's figures, a line each, on an empty queue and on a queue with
/// jobs (one of them leased, one retrying) and a failure in the last hour.
async fn the_eval_queue_s_status(backend: Backend) {
    let db = fresh_db(backend).await;
    let url = db.url.as_str();
    let status = || {
        let (ok, out, err) = cli(url, &["evals", "status"], "");
        assert!(ok, "{err}");
        out.lines().map(str::to_string).collect::<Vec<_>>()
    };
    assert_eq!(
        status(),
        [
            "waiting: 0",
            "running: 0",
            "retrying: 0",
            "oldest queued request age: none queued",
            "failed in the last hour: 0"
        ]
    );

    let storage = server::storage::connect(url).await.expect("open");
    let now = server::clock::now_ms();
    let job = |n: i64, request_at: i64| NewEvalJob {
        request_id: format!("r{n}"),
        set_id: 1,
        account_id: 1,
        model_id: "m".into(),
        request_at,
        settings: "{}".into(),
        metrics: vec!["answer_relevancy".into()],
        input: "q".into(),
        output: "a".into(),
    };
    storage
        .insert_eval_jobs(
            &[job(1, now - 90_000), job(2, now - 5_000), job(3, now - 1_000)],
            now - 120_000,
        )
        .await
        .expect("queue");
    let claimed = storage
        .claim_eval_jobs(now, now + 600_000, "worker", 2)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 2);
    let retry = JobNext::Retry {
        metrics: vec!["answer_relevancy".into()],
        run_after: now + 60_000,
        error: "the judge timed out".into(),
    };
    assert!(storage
        .finish_eval_job(claimed[1].id, "worker", &[], &retry)
        .await
        .expect("retry"));
    let failed = |request_id: &str, scored_at: i64| EvalResultRow {
        request_id: request_id.into(),
        set_id: 1,
        account_id: 1,
        model_id: "m".into(),
        metric: "answer_relevancy".into(),
        score: None,
        reason: "Not scored".into(),
        error: Some("malformed".into()),
        judge_model: "j".into(),
        judge_calls: 2,
        prompt_tokens: 0,
        completion_tokens: 0,
        cost_usd: 0.0,
        request_at: scored_at,
        scored_at,
        input: None,
        output: None,
    };
    storage
        .insert_eval_results(&[failed("old", now - 2 * 3_600_000), failed("new", now - 60_000)])
        .await
        .expect("results");

    let lines = status();
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert_eq!(lines[..3], ["waiting: 2", "running: 1", "retrying: 1"]);
    let age: i64 = lines[3]
        .strip_prefix("oldest queued request age: ")
        .and_then(|a| a.strip_suffix(" s"))
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("{}", lines[3]));
    assert!((90..120).contains(&age), "{age}");
    assert_eq!(lines[4], "failed in the last hour: 1");
}
