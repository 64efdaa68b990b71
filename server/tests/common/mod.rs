//! Test support: fresh databases on either backend, and the real `setpoint` binary
//! started on a loopback port.
#![allow(dead_code)] // each test binary uses a different part of this module

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use sqlx::Connection;

/// Which storage backend a test runs on.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database of its own for one test: a SQLite file in a temp dir, or a new database
/// on the throwaway PostgreSQL server that scripts/with-postgres starts.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

pub async fn fresh_db(backend: Backend) -> TestDb {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("setpoint.db").display());
            TestDb { url, _dir: Some(dir) }
        }
        Backend::Postgres => {
            let admin = std::env::var("SETPOINT_TEST_POSTGRES_URL").expect(
                "SETPOINT_TEST_POSTGRES_URL is not set: run the PostgreSQL tests through scripts/test \
                 or `scripts/with-postgres cargo test`",
            );
            let name = format!("t_{}", random_suffix());
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .expect("connect to the test server");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .expect("create database");
            let (base, _) = admin.rsplit_once('/').expect("admin URL has a database");
            TestDb {
                url: format!("{base}/{name}"),
                _dir: None,
            }
        }
    }
}

pub fn random_suffix() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..12).map(|_| char::from(b'a' + rng.random_range(0..26u8))).collect()
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_setpoint")
}

/// A site root with the files the server checks for; integration tests need pages'
/// HTML, not the WASM bundle (the browser tests use the real one).
fn site_fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("pkg")).expect("pkg dir");
    std::fs::write(dir.path().join("pkg/setpoint.js"), "// test fixture\n").expect("write js");
    dir
}

/// A running `setpoint serve`, killed when dropped.
pub struct Server {
    pub base: String,
    pub db_url: String,
    child: Child,
    _site: tempfile::TempDir,
}

impl Server {
    pub async fn start(db_url: &str) -> Server {
        Self::start_with(db_url, &[]).await
    }

    pub async fn start_with(db_url: &str, env: &[(&str, &str)]) -> Server {
        Self::start_args(db_url, &["serve"], env, Duration::from_secs(30)).await
    }

    /// Runs `setpoint ARGS…` (a `serve` command), waiting up to `wait` for its address.
    pub async fn start_args(db_url: &str, args: &[&str], env: &[(&str, &str)], wait: Duration) -> Server {
        let site = site_fixture();
        let mut cmd = Command::new(bin());
        cmd.args(args)
            .env("SETPOINT_ADDR", "127.0.0.1:0")
            .env("SETPOINT_DATABASE_URL", db_url)
            .env("SETPOINT_SITE_ROOT", site.path())
            .env("SETPOINT_LOG", "info")
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn setpoint");
        let stderr = child.stderr.take().expect("stderr");
        // The server logs its bound address; keep draining stderr so it never blocks.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("listening on http://").nth(1) {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(addr.split_whitespace().next().unwrap_or_default().to_string());
                    }
                }
                // Errors always, so a failure in CI shows the server's side of it.
                if line.contains("ERROR") || std::env::var_os("SETPOINT_TEST_SERVER_LOG").is_some() {
                    eprintln!("[server] {line}");
                }
            }
        });
        let addr = tokio::task::spawn_blocking(move || rx.recv_timeout(wait))
            .await
            .expect("join")
            .unwrap_or_else(|_| panic!("server did not report its address within {wait:?}"));
        Server {
            base: format!("http://{addr}"),
            db_url: db_url.to_string(),
            child,
            _site: site,
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends SIGTERM and waits for a clean exit. The patience is generous: the server first
    /// finishes the requests in flight and stores what is queued, which on a loaded 2-core CI
    /// machine took more than 5 s; a hang still fails.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..400 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("server did not stop within 20 s of SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a `setpoint` command against `db_url`, feeding `stdin`; returns (success, stdout, stderr).
pub fn cli(db_url: &str, args: &[&str], stdin: &str) -> (bool, String, String) {
    use std::io::Write;
    let mut child = Command::new(bin())
        .args(args)
        .env("SETPOINT_DATABASE_URL", db_url)
        .env("SETPOINT_LOG", "warn")
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn setpoint");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Creates an account and a key with the command line; returns the key's secret.
pub fn account_with_key(db_url: &str, username: &str) -> String {
    let (ok, _, err) = cli(
        db_url,
        &["account", "create", "--username", username, "--password-stdin"],
        "a good password\n",
    );
    assert!(ok, "account create failed: {err}");
    let (ok, out, err) = cli(db_url, &["key", "create", "--account", username, "--name", "test"], "");
    assert!(ok, "key create failed: {err}");
    out.trim().to_string()
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Creates a Model Set through the management API with `key`; returns the stored set.
pub async fn create_set(server: &Server, key: &str, body: &serde_json::Value) -> serde_json::Value {
    let resp = http()
        .post(server.url("/api/v1/model-sets"))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .expect("send");
    let status = resp.status();
    let text = resp.text().await.expect("body");
    assert_eq!(status, reqwest::StatusCode::CREATED, "{text}");
    serde_json::from_str(&text).expect("json")
}

/// Declares `mod sqlite` and `mod postgres`, each with one `#[tokio::test]` per listed
/// async fn taking a [`Backend`], so every test runs on both backends.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::common::Backend::Sqlite).await }) *
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::common::Backend::Postgres).await }) *
        }
    };
}
