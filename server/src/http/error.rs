//! Errors of the gateway surface (`/v1/*`), answered in OpenAI's error format so that
//! OpenAI client libraries raise their usual exceptions:
//! `{"error": {"message": …, "type": …, "param": null, "code": …}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::accounts::KeyError;

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// 401: no `Authorization: Bearer` header.
    #[error("Missing API key. Send it as 'Authorization: Bearer sk-sp-…'.")]
    MissingKey,
    /// 401: the header is there but the key is not one of ours (shape or lookup).
    #[error("Invalid API key. Create one on your account page.")]
    InvalidKey,
    /// 401: the key existed and was revoked; refused from the moment of revocation.
    #[error("This API key has been revoked.")]
    RevokedKey,
    /// 500: details are logged, never sent.
    #[error("The server had an error while processing your request.")]
    Internal,
}

impl GatewayError {
    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            GatewayError::MissingKey => (StatusCode::UNAUTHORIZED, "invalid_request_error", "missing_api_key"),
            GatewayError::InvalidKey => (StatusCode::UNAUTHORIZED, "invalid_request_error", "invalid_api_key"),
            GatewayError::RevokedKey => (StatusCode::UNAUTHORIZED, "invalid_request_error", "revoked_api_key"),
            GatewayError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "server_error", "internal_error"),
        }
    }
}

impl From<KeyError> for GatewayError {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::Missing => GatewayError::MissingKey,
            KeyError::Malformed | KeyError::Unknown => GatewayError::InvalidKey,
            KeyError::Revoked => GatewayError::RevokedKey,
            KeyError::Storage(e) => {
                tracing::error!(error = %e, "key lookup failed");
                GatewayError::Internal
            }
        }
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        let (status, kind, code) = self.parts();
        let body = json!({
            "error": { "message": self.to_string(), "type": kind, "param": null, "code": code }
        });
        (status, Json(body)).into_response()
    }
}
