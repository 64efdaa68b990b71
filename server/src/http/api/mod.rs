//! The JSON management API under `/api/v1`, for scripts and the web app alike.
//! Reads are public; writes need a session or an API key, and only the owner may write.

pub mod model_sets;

use app::backend::SESSION_ACCOUNT_ID;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;
use tower_sessions::Session;

use super::auth::bearer;
use super::error::ApiError;
use super::AppState;

/// The OpenAPI 3.1 document of `/v1` and `/api/v1`. Written by hand (the types live in `app`,
/// which also compiles to WASM, and the gateway's bodies are OpenAI's); `server/tests/openapi.rs`
/// checks it against the running server.
const OPENAPI: &str = include_str!("../../openapi.json");

/// `GET /api/v1/openapi.json`
pub async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        OPENAPI,
    )
}

/// The account behind an API request: from `Authorization: Bearer` when present,
/// otherwise from the session cookie.
pub struct ApiUser {
    pub id: i64,
    pub username: String,
}

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(secret) = bearer(&parts.headers) {
            let owner = state.accounts.authenticate(secret).await?;
            return Ok(ApiUser {
                id: owner.key.account_id,
                username: owner.username,
            });
        }
        let session = parts
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or(ApiError::Unauthenticated)?;
        let id = session
            .get::<i64>(SESSION_ACCOUNT_ID)
            .await
            .map_err(|e| ApiError::internal("session read", e))?
            .ok_or(ApiError::Unauthenticated)?;
        let account = state
            .storage
            .account_by_id(id)
            .await
            .map_err(|e| ApiError::internal("account lookup", e))?
            .ok_or(ApiError::Unauthenticated)?;
        Ok(ApiUser {
            id: account.id,
            username: account.username,
        })
    }
}
