//! `POST /api/try/{owner}/{slug}`: the set page's "Try it" chat box.
//!
//! The signed-in owner sends `{"messages": […]}` (OpenAI's chat format) from the browser, on
//! the session rather than an API key, and the answer streams back through the very same
//! gateway path as `POST /v1/chat/completions` with `"stream": true` ([`super::serve`]): the
//! set's routing, fallback, metering, rollups and billing apply unchanged, with the record's
//! key left empty. The stream ends with an `event: setpoint` carrying the model that served,
//! the latency and the cost ([`app::chat`]), which the page shows under the answer.
//!
//! Refusals use the gateway's error object: 401 without a session, 403 for another account's
//! set, 404 for a missing one, 429 past the account's per-minute budget. The route sits
//! behind the web app's cross-site guard, so another site cannot spend a visitor's session.

use std::time::Instant;

use app::backend::SESSION_ACCOUNT_ID;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::request::Parts;
use axum::response::Response;
use serde::Deserialize;
use serde_json::value::RawValue;
use tower_sessions::Session;

use super::{read_body, serve, with_request_id, Caller, StreamTail};
use crate::http::error::GatewayError;
use crate::http::AppState;
use crate::storage::Account;

/// `POST /api/try/{owner}/{slug}` (`owner` with or without its `@`).
pub async fn try_set(
    State(state): State<AppState>,
    Path((owner, slug)): Path<(String, String)>,
    request: Request,
) -> Response {
    with_request_id(|id| run(state, owner, slug, request, id)).await
}

async fn run(
    state: AppState,
    owner: String,
    slug: String,
    request: Request,
    request_id: String,
) -> Result<Response, GatewayError> {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let account = signed_in(&state, &parts).await?;
    state
        .try_limiter
        .check(account.id)
        .map_err(|retry_after| GatewayError::TryRateLimited { retry_after })?;
    let raw = read_body(&state, body).await?;
    let chat = chat_body(&owner, &slug, &raw)?;
    let caller = Caller {
        account_id: account.id,
        username: &account.username,
        api_key_id: None,
    };
    serve(&state, caller, chat, request_id, started, StreamTail::Summary).await
}

/// The session's account: 401 when there is none (never signed in, logged out, expired, or
/// an account that no longer exists).
async fn signed_in(state: &AppState, parts: &Parts) -> Result<Account, GatewayError> {
    let Some(session) = parts.extensions.get::<Session>() else {
        tracing::error!("the try route is served without the session layer");
        return Err(GatewayError::Internal);
    };
    let id = session.get::<i64>(SESSION_ACCOUNT_ID).await.map_err(|e| {
        tracing::error!(error = %e, "session read failed");
        GatewayError::Internal
    })?;
    let Some(id) = id else {
        return Err(GatewayError::NotSignedIn);
    };
    state
        .storage
        .account_by_id(id)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "account lookup failed");
            GatewayError::Internal
        })?
        .ok_or(GatewayError::NotSignedIn)
}

/// What the browser sends: only `messages` is read; the model is the set in the path and the
/// answer always streams.
#[derive(Deserialize)]
struct TryBody<'a> {
    #[serde(borrow)]
    messages: Option<&'a RawValue>,
}

/// The chat-completions body the gateway reads: `{"model": "@owner/slug", "stream": true,
/// "messages": …}`, with the messages as the browser wrote them (the gateway checks them as it
/// checks any client's).
fn chat_body(owner: &str, slug: &str, raw: &[u8]) -> Result<Bytes, GatewayError> {
    if raw.trim_ascii_start().first() != Some(&b'{') {
        return Err(GatewayError::InvalidJson("the body must be a JSON object".into()));
    }
    let body: TryBody = serde_json::from_slice(raw).map_err(|e| GatewayError::InvalidJson(e.to_string()))?;
    let messages = body.messages.ok_or_else(|| GatewayError::InvalidRequest {
        message: "Missing required parameter: 'messages'.".into(),
        param: Some("messages".into()),
    })?;
    let address = format!("@{}/{slug}", owner.trim_start_matches('@'));
    let model = serde_json::to_string(&address).map_err(|e| {
        tracing::error!(error = %e, "could not write the set's address");
        GatewayError::Internal
    })?;
    let mut chat = Vec::with_capacity(raw.len() + model.len() + 40);
    chat.extend_from_slice(b"{\"model\":");
    chat.extend_from_slice(model.as_bytes());
    chat.extend_from_slice(b",\"stream\":true,\"messages\":");
    chat.extend_from_slice(messages.get().as_bytes());
    chat.push(b'}');
    Ok(Bytes::from(chat))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_set_and_streaming_are_added_to_the_messages() {
        let raw = br#" {"messages": [{"role": "user", "content": "Hi \"you\""}], "model": "other", "stream": false}"#;
        let Ok(chat) = chat_body("@alice", "fast-chat", raw) else {
            panic!("a valid body was refused")
        };
        let Ok(chat) = serde_json::from_slice::<serde_json::Value>(&chat) else {
            panic!("not JSON")
        };
        assert_eq!(
            chat,
            serde_json::json!({"model": "@alice/fast-chat", "stream": true,
                "messages": [{"role": "user", "content": "Hi \"you\""}]}),
            "the body's own model and stream are ignored"
        );
    }

    #[test]
    fn bodies_without_messages_are_refused() {
        assert!(matches!(
            chat_body("a", "b", br#"{"prompt": "hi"}"#),
            Err(GatewayError::InvalidRequest { param: Some(p), .. }) if p == "messages"
        ));
        for bad in [&b"[1]"[..], b"", b"{nope"] {
            assert!(matches!(chat_body("a", "b", bad), Err(GatewayError::InvalidJson(_))));
        }
    }
}
