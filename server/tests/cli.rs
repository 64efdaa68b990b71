//! The `setpoint` command line: help, configuration errors, accounts and keys.

mod common;

use std::process::Command;

use common::{bin, cli, fresh_db, Backend};

on_both_backends!(accounts_and_keys_from_the_command_line);

#[test]
fn help_names_commands_and_settings() {
    let out = Command::new(bin()).arg("--help").output().expect("run");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "serve",
        "account",
        "key",
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
