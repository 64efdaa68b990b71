//! The thinnest proxy on the gateway's own stack, for scripts/bench-gateway: axum accepts,
//! the gateway's upstream client (`providers::upstream`) forwards the body to one upstream, and the answer streams back untouched. No keys,
//! no sets, no routing, no records. What it adds over calling the upstream directly is the floor
//! any gateway built on these parts pays on the same machine, so the benchmark can show how much
//! of Setpoint's added latency is its own work. Usage: `reference_proxy LISTEN UPSTREAM`
//! (e.g. `127.0.0.1:3903 127.0.0.1:3901`).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::serve::ListenerExt;
use axum::Router;
use server::providers::upstream::{self, Upstream};

async fn forward(State(up): State<Arc<Upstream>>, body: Bytes) -> Response {
    match up.post(body).await {
        Ok(resp) => {
            let status = resp.status();
            let content_type = resp.headers().get(header::CONTENT_TYPE).cloned();
            let mut out = Response::new(Body::from_stream(upstream::chunks(resp)));
            *out.status_mut() = status;
            if let Some(ct) = content_type {
                out.headers_mut().insert(header::CONTENT_TYPE, ct);
            }
            out
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:3903".to_string());
    let upstream = args.next().unwrap_or_else(|| "127.0.0.1:3901".to_string());
    let up = Arc::new(Upstream::new(
        &format!("http://{upstream}/v1/chat/completions"),
        axum::http::HeaderMap::new(),
        std::time::Duration::from_secs(5),
    )?);
    let listener = tokio::net::TcpListener::bind(&listen).await?.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let app = Router::new()
        .route("/v1/chat/completions", post(forward))
        .with_state(up);
    axum::serve(listener, app).await?;
    Ok(())
}
