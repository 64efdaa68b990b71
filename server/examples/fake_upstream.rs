//! A fast OpenAI-compatible upstream for the gateway benchmark (scripts/bench-gateway):
//! answers every chat completion at once with a fixed body, or a short SSE stream, so the
//! benchmark measures the gateway, not a model. Usage: `fake_upstream 127.0.0.1:PORT`.

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::serve::ListenerExt;
use axum::Router;

const WHOLE: &str = r#"{"id":"chatcmpl-bench","object":"chat.completion","created":1,"model":"echo","choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the benchmark upstream."},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":8,"total_tokens":20}}"#;

fn stream_body() -> String {
    let mut out = String::new();
    for word in ["Hello", " from", " the", " benchmark", " upstream."] {
        out.push_str(&format!(
            "data: {{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"echo\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{word}\"}},\"finish_reason\":null}}]}}\n\n"
        ));
    }
    out.push_str("data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"echo\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":5,\"total_tokens\":17}}\n\n");
    out.push_str("data: [DONE]\n\n");
    out
}

async fn chat(body: Bytes) -> Response {
    // A substring test is enough here and keeps the upstream's own cost negligible.
    const STREAM: &[u8] = b"\"stream\":true";
    let wants_stream = body.windows(STREAM.len()).any(|w| w == STREAM);
    if wants_stream {
        ([(header::CONTENT_TYPE, "text/event-stream")], Body::from(stream_body())).into_response()
    } else {
        ([(header::CONTENT_TYPE, "application/json")], WHOLE).into_response()
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:3901".to_string());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let app = Router::new().route("/v1/chat/completions", post(chat));
    axum::serve(listener, app).await
}
