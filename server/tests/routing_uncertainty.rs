//! Issue 23's scenario through the real binary: a set that must hold a mean error rate and a
//! p90 latency at the lowest cost, on simulated models whose true behaviour the test knows.
//! Concurrent requests go through `/v1/chat/completions` (gateway, router, breakers, fallback,
//! meter); the realised statistics are read back from the stored request records and judged
//! against the targets, and the cost against the optimal mix, which the test computes itself
//! from the true parameters with an LP of its own (vertex enumeration, not the planner's solver).
//!
//! Scaled for CI, and said so:
//! - Latencies are a tenth of the issue's (p90 ≤ 300 ms instead of 3,000 ms), long enough that
//!   a loaded machine's overhead does not decide the mix. At a twentieth, a CI run's 10–15 ms of
//!   overhead put the steady model's p90 at its target: the planner's window margin on the p90
//!   then asked for fast models, the error rate for fewer of the fast one, and the premium model
//!   filled the gap at 2–4× the optimum's cost for eight windows.
//! - Error rates are five times the issue's (the fast model fails 10 %, the target is 6 %), so
//!   that a window of 3,334 requests (the router's for that target) measures them as well as
//!   16,667 do at the issue's rates. At ten times, the fast model's 20 % tripped its circuit
//!   breaker by chance in about one run in seven (ten failures in twenty calls), and the plan
//!   lost it for the breaker's cool-down. The issue's own rates need about 200,000
//!   requests, some 7 minutes a backend here: `SETPOINT_TEST_ROUTING_ERROR_SCALE=1
//!   SETPOINT_TEST_ROUTING_REQUESTS=200000`. The simulator sweeps them over 20 seeds
//!   (`app/tests/engine_uncertainty.rs`).
//!
//! `SETPOINT_TEST_ROUTING_REQUESTS` sends more (or fewer) requests than the default.

mod common;

use common::{account_with_key, fresh_db, http, Backend, Server};
use serde_json::{json, Value};
use sqlx::Connection;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

on_both_backends!(the_mix_holds_its_targets_at_the_optimal_cost);

/// The set's requirements: mean error rate and p90 latency.
/// The issue's error-rate target; the test's is this times [`error_scale`].
const ISSUE_ERROR_TARGET: f64 = 0.012;
const P90_TARGET_MS: f64 = 300.0;
/// Requests in flight at once.
const CONCURRENCY: usize = 96;
/// Requests sent in all, by default, and how many of the first are the learning phase, not
/// judged. The router's feedback window is 2,000 requests.
const REQUESTS: usize = 36_000;
const SETTLE_SHARE: f64 = 0.5;

/// One simulated model's truth: price per million prompt tokens (completions are free, so a
/// call's cost does not depend on its drawn length), median latency and its log-normal shape,
/// and the issue's error rate (the test's is this times [`error_scale`]).
struct Truth {
    id: &'static str,
    price: f64,
    median_ms: f64,
    sigma: f64,
    error_rate: f64,
}

/// The issue's four roles: a fast, cheap model that fails too often alone; a steadier one at
/// twice the price (mixed about 20 / 80 with the first, both targets hold at the lowest cost);
/// a premium model at about 37× the optimum's price; a slow one that misses the latency alone.
const MODELS: [Truth; 4] = [
    Truth {
        id: "sim/fast-cheap",
        price: 1.0,
        median_ms: 90.0,
        sigma: 0.5,
        error_rate: 0.02,
    },
    Truth {
        id: "sim/steady",
        price: 2.0,
        median_ms: 150.0,
        sigma: 0.45,
        error_rate: 0.01,
    },
    Truth {
        id: "sim/premium",
        price: 66.7,
        median_ms: 120.0,
        sigma: 0.3,
        error_rate: 0.005,
    },
    Truth {
        id: "sim/slow",
        price: 3.0,
        median_ms: 260.0,
        sigma: 0.4,
        error_rate: 0.008,
    },
];

fn config(scale: f64) -> String {
    // Latency is the time to first token: a million tokens a second makes the rest nothing.
    let mut toml = String::from("[gateway]\nrequests_per_minute_per_key = 10000000\n\n[evals]\nenabled = false\n");
    for m in &MODELS {
        toml.push_str(&format!(
            "[[catalog]]\nid = \"{id}\"\nprovider = \"simulated\"\nupstream_name = \"{up}\"\n\
             input_price_per_mtok = {price}\noutput_price_per_mtok = 0.0\ncontext_window = 8000\n\
             simulation = {{ ttft_ms = {median}, tokens_per_s = 1000000, output_tokens = 1, \
             jitter = {sigma}, error_rate = {err} }}\n\n",
            id = m.id,
            up = m.id.trim_start_matches("sim/"),
            price = m.price,
            median = m.median_ms,
            sigma = m.sigma,
            err = m.error_rate * scale,
        ));
    }
    toml
}

/// One backend at a time: both at once would share the machine's two cores and each see the
/// other's load as latency.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Error rates (and the target) are the issue's times this: 5 by default, so that CI can judge
/// them; `SETPOINT_TEST_ROUTING_ERROR_SCALE=1` runs the issue's own (with about 200,000 requests
/// in `SETPOINT_TEST_ROUTING_REQUESTS`: windows of 16,667).
fn error_scale() -> f64 {
    std::env::var("SETPOINT_TEST_ROUTING_ERROR_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5.0)
}

async fn the_mix_holds_its_targets_at_the_optimal_cost(backend: Backend) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let scale = error_scale();
    let error_target = ISSUE_ERROR_TARGET * scale;
    let requirements = json!([
        {"dimension": {"kind": "error_rate"}, "statistic": "mean", "comparator": "<=", "target": error_target},
        {"dimension": {"kind": "latency"}, "statistic": "p90", "comparator": "<=", "target": P90_TARGET_MS}]);
    // Judged on the window the router judges the set on: enough requests for 200 failures.
    let parsed: Vec<app::model_set::Requirement> = serde_json::from_value(requirements.clone()).expect("requirements");
    let window = app::engine::plan::requests_to_judge(&parsed);
    let db = fresh_db(backend).await;
    let key = account_with_key(&db.url, "alice");
    let config_file = tempfile::Builder::new().suffix(".toml").tempfile().expect("temp file");
    std::fs::write(config_file.path(), config(scale)).expect("write config");
    let path = config_file.path().to_string_lossy().to_string();
    let server = Server::start_with(&db.url, &[("SETPOINT_CONFIG", &path)]).await;
    common::create_set(
        &server,
        &key,
        &json!({"name": "rare", "models": MODELS.iter().map(|m| m.id).collect::<Vec<_>>(),
               "requirements": requirements,
               "objective": {"goal": "minimize", "dimension": {"kind": "cost"}}}),
    )
    .await;

    let total = std::env::var("SETPOINT_TEST_ROUTING_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(REQUESTS);
    let started = std::time::Instant::now();
    // The plan every two seconds while the requests run, for the report.
    let plans = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let trace = {
        let (base, plans) = (server.base.clone(), plans.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                let r = routing_at(&base).await;
                let weights: Vec<String> = r["weights"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|m| format!("{:.3}", m["weight"].as_f64().unwrap_or(f64::NAN)))
                    .collect();
                let line = format!(
                    "plan at {}: weights {weights:?}, planned targets {}, realised {}",
                    r["planned_at"], r["planned_targets"], r["realised"]
                );
                plans.lock().expect("lock").push(line);
            }
        })
    };
    send(&server, &key, "@alice/rare", total).await;
    let sent_in = started.elapsed();
    trace.abort();
    let status = routing(&server).await;

    let records = stored_records(&db.url, total).await;
    let judged = &records[(records.len() as f64 * SETTLE_SHARE) as usize..];

    // The optimum, from the truth: each model's mean cost per call (a failure costs nothing, as
    // the meter records it), error rate, and share of calls over the latency target.
    let success_cost = |id: &str| {
        records
            .iter()
            .find(|r| r.model == id && r.error.is_none())
            .map(|r| r.cost)
            .unwrap_or_else(|| panic!("no successful call of {id} was recorded"))
    };
    let costs: Vec<f64> = MODELS
        .iter()
        .map(|m| success_cost(m.id) * (1.0 - m.error_rate * scale))
        .collect();
    // The latency row: each model's share of calls over the target as the records show it. The
    // simulated time is the truth's, but the gateway measures the whole call, and on a loaded
    // machine its few milliseconds of overhead and scheduling move a p90 near its target (the
    // steady model's true share over the target is 6 %; at a twentieth of the issue's latencies,
    // before retries' records lost the failed call's time, it measured 8–9 % here).
    let measured_over = |id: &str| {
        let calls: Vec<&Record> = records.iter().filter(|r| r.model == id).collect();
        calls.iter().filter(|r| r.latency_ms > P90_TARGET_MS).count() as f64 / calls.len().max(1) as f64
    };
    let rows = vec![
        MODELS.iter().map(|m| m.error_rate * scale).collect::<Vec<_>>(),
        MODELS.iter().map(|m| measured_over(m.id)).collect(),
    ];
    let truth_over: Vec<String> = MODELS
        .iter()
        .map(|m| format!("{:.3}", share_over(m, P90_TARGET_MS)))
        .collect();
    let seen_over: Vec<String> = rows[1].iter().map(|s| format!("{s:.3}")).collect();
    let bounds = [error_target, 0.10];
    let (optimum, best_mix) = min_cost_mix(&costs, &rows, &bounds).expect("the scenario is feasible");
    let best_single = (0..MODELS.len())
        .filter(|&i| rows.iter().zip(bounds).all(|(row, b)| row[i] <= b))
        .map(|i| costs[i])
        .fold(f64::INFINITY, f64::min);

    let realised_cost = judged.iter().map(|r| r.cost).sum::<f64>() / judged.len() as f64;
    let mut report = format!(
        "{} requests in {:.1} s ({} records); optimum {:.3e} with {:?}, best single model {:.3e}; \
         judged {} records: cost {:.3e} = {:.3} × optimum\nshare over {P90_TARGET_MS} ms, true {truth_over:?}, \
         measured {seen_over:?}\nrouting at the end: {}\n{}\n",
        total,
        sent_in.as_secs_f64(),
        records.len(),
        optimum,
        best_mix.iter().map(|w| format!("{w:.3}")).collect::<Vec<_>>(),
        best_single,
        judged.len(),
        realised_cost,
        realised_cost / optimum,
        status["weights"],
        status
    );
    for line in plans.lock().expect("lock").iter() {
        report.push_str(line);
        report.push('\n');
    }
    let mut misses: Vec<f64> = Vec::new();
    for (k, chunk) in records.chunks(window).enumerate() {
        let n = chunk.len() as f64;
        let errors = chunk.iter().filter(|r| r.error.is_some()).count() as f64 / n;
        let over = chunk.iter().filter(|r| r.latency_ms > P90_TARGET_MS).count() as f64 / n;
        let mut shares = [0.0; MODELS.len()];
        for r in chunk {
            if let Some(i) = MODELS.iter().position(|m| m.id == r.model) {
                shares[i] += 1.0 / n;
            }
        }
        let cost = chunk.iter().map(|r| r.cost).sum::<f64>() / n / optimum;
        report.push_str(&format!(
            "window {k}: error rate {errors:.4}, over {P90_TARGET_MS} ms {over:.4}, cost × optimum {cost:.3}, shares {:?}\n",
            shares.iter().map(|s| format!("{s:.3}")).collect::<Vec<_>>()
        ));
        // Judged: whole windows after the learning phase, each within max(2 %, 3 standard errors)
        // of its target (the p90 as the share of calls over the target latency, against 10 %).
        let first = (records.len() as f64 * SETTLE_SHARE) as usize;
        if k * window >= first && chunk.len() == window {
            let err_tol = (0.02 * error_target).max(3.0 * (error_target * (1.0 - error_target) / n).sqrt());
            let over_tol = (0.02 * 0.10f64).max(3.0 * (0.10 * 0.90 / n).sqrt());
            for (what, value, target, tol) in [
                ("error rate", errors, error_target, err_tol),
                ("share over the p90 target", over, 0.10, over_tol),
            ] {
                if value > target + tol {
                    misses.push((value - target) / tol);
                    report.push_str(&format!(
                        "  beyond tolerance: {what} {value:.4} > {target} + {tol:.4}\n"
                    ));
                }
            }
        }
    }
    eprintln!("{report}");
    // Each call's record carries that call's time only: a retry's must not carry the failed
    // call's before it (it did: the fast model, retried onto after the steady one failed, showed
    // 12 % of its calls over the target instead of 0.8 %). So the share of each well-sampled
    // model's calls over the target is its true one, give or take the machine's overhead.
    for (m, measured) in MODELS.iter().zip(&rows[1]) {
        let calls = records.iter().filter(|r| r.model == m.id).count();
        let truth = share_over(m, P90_TARGET_MS);
        assert!(
            calls < 1_000 || (measured - truth).abs() <= 0.03,
            "{}: {measured:.3} of {calls} calls over {P90_TARGET_MS} ms, truly {truth:.3}\n{report}",
            m.id
        );
    }
    // As in the simulator's scenarios (`app/tests/engine_uncertainty.rs`): a window of a mix that
    // sits at its target lies beyond three standard errors by chance once in 740, and a run
    // judges about twenty (ten windows, two requirements), so one is allowed; none beyond four.
    assert!(
        misses.len() <= 1 && misses.iter().all(|m| *m <= 4.0 / 3.0),
        "targets missed after settling (excess in tolerances: {misses:?})\n{report}"
    );
    // The issue asks for 3 % of the optimum. Per run that held in 21 of the 22 runs measured at
    // ten times the issue's error rates (costs 0.97–1.033 of the optimum): the estimates and the
    // feedback's own noise scatter a run's settled mix by about 1.5 % of the cost at one standard deviation, as in the
    // simulator's sweeps (16–20 seeds of 20 within 3 %). A test that fails one run in twenty
    // for chance would fail CI for it, so a run is held to 5 %, and the count within 3 % over
    // many runs is measured and reported (issue 23's note).
    assert!(
        realised_cost <= 1.05 * optimum,
        "the settled mix costs more than 5 % over the optimal mix\n{report}"
    );
    assert!(
        realised_cost <= best_single,
        "the settled mix costs more than the best single model that meets the targets\n{report}"
    );
}

/// Sends `total` requests, [`CONCURRENCY`] at a time, each answered (the gateway retries a
/// failed call once on another model; a request both of whose calls failed is a 5xx, which is
/// what the set's error rate counts).
async fn send(server: &Server, key: &str, model: &str, total: usize) {
    let client = http();
    let url = server.url("/v1/chat/completions");
    let next = Arc::new(AtomicUsize::new(0));
    let workers = (0..CONCURRENCY).map(|_| {
        let (client, url, key, next) = (client.clone(), url.clone(), key.to_string(), next.clone());
        let model = model.to_string();
        tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < total {
                let resp = client
                    .post(&url)
                    .bearer_auth(&key)
                    .json(&json!({"model": model, "messages": [{"role": "user", "content": "Say hello"}]}))
                    .send()
                    .await
                    .expect("send");
                let status = resp.status();
                assert!(
                    status.is_success() || status.is_server_error(),
                    "{status}: {}",
                    resp.text().await.unwrap_or_default()
                );
                let _ = resp.bytes().await;
            }
        })
    });
    for worker in futures::future::join_all(workers).await {
        worker.expect("worker");
    }
}

async fn routing(server: &Server) -> Value {
    routing_at(&server.base).await
}

async fn routing_at(base: &str) -> Value {
    let resp = http()
        .get(format!("{base}/api/v1/model-sets/alice/rare/routing"))
        .send()
        .await
        .expect("send");
    resp.json::<Value>().await.expect("json")["routing"].clone()
}

/// One stored call of the set.
#[derive(Debug, sqlx::FromRow)]
struct Record {
    #[sqlx(rename = "model_id")]
    model: String,
    #[sqlx(rename = "error_class")]
    error: Option<String>,
    latency_ms: f64,
    #[sqlx(rename = "cost_usd")]
    cost: f64,
}

/// The set's stored calls in the order they were recorded, once the meter has written at least
/// one per request sent and stopped writing.
async fn stored_records(db_url: &str, at_least: usize) -> Vec<Record> {
    const SQL: &str = "SELECT model_id, error_class, latency_ms, cost_usd FROM request_records \
                       WHERE model_set_id IS NOT NULL ORDER BY id";
    let mut last = 0;
    for _ in 0..100 {
        let records: Vec<Record> = if db_url.starts_with("sqlite") {
            let mut conn = sqlx::SqliteConnection::connect(db_url).await.expect("connect");
            sqlx::query_as(SQL).fetch_all(&mut conn).await.expect("records")
        } else {
            let mut conn = sqlx::PgConnection::connect(db_url).await.expect("connect");
            sqlx::query_as(SQL).fetch_all(&mut conn).await.expect("records")
        };
        if records.len() >= at_least && records.len() == last {
            return records;
        }
        last = records.len();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    panic!("the meter stored {last} records of at least {at_least} within 30 s");
}

/// The true share of a model's calls slower than `ms`: its latency is log-normal.
fn share_over(m: &Truth, ms: f64) -> f64 {
    1.0 - app::engine::stats::normal_cdf((ms / m.median_ms).ln() / m.sigma)
}

/// The cheapest mix `w` (weights ≥ 0 summing to 1) with `rows[j]·w ≤ bounds[j]`, by
/// enumerating the LP's vertices: at a vertex, n − 1 of the inequalities (the rows and the
/// weights' lower bounds) hold with equality beside the sum. Exact for a handful of models.
fn min_cost_mix(costs: &[f64], rows: &[Vec<f64>], bounds: &[f64]) -> Option<(f64, Vec<f64>)> {
    let n = costs.len();
    // Inequalities as (coefficients, bound): rows, then −w_i ≤ 0.
    let mut ineq: Vec<(Vec<f64>, f64)> = rows.iter().cloned().zip(bounds.iter().copied()).collect();
    for i in 0..n {
        let mut c = vec![0.0; n];
        c[i] = -1.0;
        ineq.push((c, 0.0));
    }
    let mut best: Option<(f64, Vec<f64>)> = None;
    for tight in subsets(ineq.len(), n - 1) {
        let mut a: Vec<Vec<f64>> = vec![vec![1.0; n]];
        let mut b = vec![1.0];
        for &k in &tight {
            a.push(ineq[k].0.clone());
            b.push(ineq[k].1);
        }
        let Some(w) = solve(a, b) else { continue };
        let feasible = ineq
            .iter()
            .all(|(c, bound)| c.iter().zip(&w).map(|(x, y)| x * y).sum::<f64>() <= bound + 1e-9);
        if !feasible {
            continue;
        }
        let cost: f64 = costs.iter().zip(&w).map(|(c, w)| c * w).sum();
        if best.as_ref().is_none_or(|(b, _)| cost < *b) {
            best = Some((cost, w));
        }
    }
    best
}

fn subsets(n: usize, k: usize) -> Vec<Vec<usize>> {
    if k == 0 {
        return vec![Vec::new()];
    }
    (0..n)
        .flat_map(|first| {
            subsets(n - first - 1, k - 1).into_iter().map(move |rest| {
                std::iter::once(first)
                    .chain(rest.into_iter().map(|r| r + first + 1))
                    .collect()
            })
        })
        .collect()
}

/// Gaussian elimination with partial pivoting; `None` for a singular system.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        for row in col + 1..n {
            let f = a[row][col] / a[col][col];
            let (upper, lower) = a.split_at_mut(row);
            for (x, p) in lower[0][col..n].iter_mut().zip(&upper[col][col..n]) {
                *x -= f * p;
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|c| a[row][c] * x[c]).sum();
        x[row] = (b[row] - s) / a[row][row];
    }
    Some(x)
}

#[test]
fn the_test_lp_finds_the_known_optimum() {
    // Two models and one row: the cheap one fails 20 %, the dear one 10 %, at most 12 %:
    // 20 / 80 is the cheapest mix.
    let (cost, w) = min_cost_mix(&[1.0, 2.0], &[vec![0.2, 0.1]], &[0.12]).expect("feasible");
    assert!((w[0] - 0.2).abs() < 1e-9 && (cost - 1.8).abs() < 1e-9, "{w:?} {cost}");
    assert!(min_cost_mix(&[1.0, 2.0], &[vec![0.2, 0.1]], &[0.05]).is_none());
    assert!((app::engine::stats::normal_cdf(1.281_551_6) - 0.9).abs() < 1e-6);
}
