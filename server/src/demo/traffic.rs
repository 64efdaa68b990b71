//! Live demo traffic: while `serve --demo` runs, a background task sends a few requests a
//! second to the demo sets through the real gateway over loopback, so routing, metrics and
//! charts move as they would for real clients.
//!
//! The key: each start creates a fresh key of the demo account ([`KEY_NAME`]) and revokes the
//! ones earlier starts made. The secret lives only in this task's memory (keys are stored
//! hashed), so an earlier run's key is of use to nobody: revoking it keeps the account's key
//! list to one active key instead of one per start. (Two servers started with `--demo` on one
//! database would revoke each other's key; demo mode is for a single first-look server.)

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Exp};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use super::Target;
use crate::accounts::{AccountError, Accounts};

/// The name of the demo account's traffic key.
pub const KEY_NAME: &str = "demo-traffic";
/// Requests per second over all demo sets (well under the key's per-minute limit).
const PER_SECOND: f64 = 3.0;
/// Requests in flight at most; past it an arrival is skipped rather than queued.
const MAX_IN_FLIGHT: usize = 64;
/// Share of requests that stream.
const STREAMED: f64 = 0.3;

/// A secret that never shows in logs or debug output.
struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The running traffic; [`Traffic::stopped`] waits for it after the stop signal.
pub struct Traffic {
    handle: JoinHandle<()>,
}

impl Traffic {
    /// Returns once the task has ended (after `stop` turned true); its requests in flight
    /// are dropped, which the gateway sees as clients that left.
    pub async fn stopped(self) {
        if let Err(e) = self.handle.await {
            tracing::error!(error = %e, "demo traffic task failed");
        }
    }
}

/// Makes this start's key (revoking earlier ones) and starts sending to `addr` until `stop`
/// turns true.
pub async fn start(
    accounts: Arc<Accounts>,
    account_id: i64,
    targets: Vec<Target>,
    addr: SocketAddr,
    mut stop: watch::Receiver<bool>,
) -> Result<Traffic, AccountError> {
    for key in accounts.list_keys(account_id).await? {
        if key.name == KEY_NAME && key.revoked_at.is_none() {
            accounts.revoke_key(account_id, key.id).await?;
        }
    }
    let created = accounts.create_key(account_id, KEY_NAME).await?;
    let secret = Secret(created.secret);
    // A server bound to every address is reached on loopback.
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    tracing::info!(
        per_second = PER_SECOND,
        sets = targets.len(),
        key_prefix = %created.key.prefix,
        "demo traffic starting"
    );
    let handle = tokio::spawn(async move {
        if targets.is_empty() {
            return;
        }
        let uri = format!("http://{addr}/v1/chat/completions");
        let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let weights: Vec<f64> = targets.iter().map(|t| t.traffic.per_minute).collect();
        let total: f64 = weights.iter().sum();
        let mut rng = StdRng::from_os_rng();
        let gap = Exp::new(PER_SECOND).ok();
        let mut in_flight = JoinSet::new();
        loop {
            let wait = gap.map_or(1.0 / PER_SECOND, |g| g.sample(&mut rng));
            tokio::select! {
                _ = stop.changed() => break,
                _ = tokio::time::sleep(Duration::from_secs_f64(wait)) => {}
            }
            // Finished requests leave the set.
            while in_flight.try_join_next().is_some() {}
            if in_flight.len() >= MAX_IN_FLIGHT {
                continue;
            }
            let target = pick(&targets, &weights, total, rng.random::<f64>());
            let prompt = target.traffic.prompts[rng.random_range(0..target.traffic.prompts.len().max(1))];
            let body = serde_json::json!({
                "model": format!("@{}/{}", target.set.owner, target.set.slug),
                "messages": [{"role": "user", "content": prompt}],
                "stream": rng.random_bool(STREAMED),
            });
            let request = http::Request::post(uri.as_str())
                .header(http::header::CONTENT_TYPE, "application/json")
                .header(http::header::AUTHORIZATION, format!("Bearer {}", secret.0))
                .body(Full::new(Bytes::from(body.to_string())));
            let request = match request {
                Ok(request) => request,
                Err(e) => {
                    tracing::error!(error = %e, "demo traffic: bad request; stopping");
                    break;
                }
            };
            let client = client.clone();
            in_flight.spawn(async move {
                match client.request(request).await {
                    Ok(response) => {
                        let status = response.status();
                        // Reading the body to its end is what runs a stream.
                        let read = response.into_body().collect().await;
                        if !status.is_success() || read.is_err() {
                            tracing::debug!(%status, "demo request failed");
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, "demo request failed"),
                }
            });
        }
        // Dropping the requests in flight closes their connections, so the server's
        // graceful shutdown does not wait for their answers.
        in_flight.shutdown().await;
        tracing::info!("demo traffic stopped");
    });
    Ok(Traffic { handle })
}

/// The target a uniform `u` in [0, 1) falls on, by weight.
fn pick<'a>(targets: &'a [Target], weights: &[f64], total: f64, u: f64) -> &'a Target {
    let mut left = u * total;
    for (target, w) in targets.iter().zip(weights) {
        if left < *w {
            return target;
        }
        left -= w;
    }
    &targets[targets.len() - 1]
}
