//! One error type per HTTP surface: [`GatewayError`] for `/v1/*` and [`ApiError`] for the
//! management API `/api/v1/*`. Both answer in OpenAI's error format, so that OpenAI client
//! libraries raise their usual exceptions and scripts parse one shape:
//! `{"error": {"message": …, "type": …, "param": null, "code": …}}`.
//! Internal details are logged, never sent.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use app::model_set::FieldError;

use crate::accounts::KeyError;
use crate::model_sets::SetError;
use crate::providers::ProviderError;

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
    /// 401: the set page's "Try it" without a signed-in session (it takes no API key).
    #[error("Log in to try this Model Set.")]
    NotSignedIn,
    /// 400: the body is not JSON (or not an object).
    #[error("We could not parse the JSON body of your request: {0}")]
    InvalidJson(String),
    /// 400: a field the gateway reads is missing or of the wrong type; `param` names it.
    #[error("{message}")]
    InvalidRequest { message: String, param: Option<String> },
    /// 400: no model the request could go to supports what it uses (tools, images, JSON).
    #[error("{model} has no model that supports {missing}, which this request uses.")]
    Unsupported { model: String, missing: String },
    /// 413: over `gateway.max_body_bytes`.
    #[error("The request body is larger than the limit of {0} bytes.")]
    BodyTooLarge(usize),
    /// 429: the key's per-minute budget is spent; Retry-After says when to come back.
    #[error("Rate limit reached for this API key. Try again in {retry_after} s.")]
    RateLimited { retry_after: u64 },
    /// 429: the account's "Try it" budget (the same per-minute number as a key's) is spent.
    #[error("You have sent too many messages this minute. Try again in {retry_after} s.")]
    TryRateLimited { retry_after: u64 },
    /// 404: neither a catalog model nor a Model Set.
    #[error("The model '{0}' does not exist.")]
    ModelNotFound(String),
    /// 403: Model Sets are used only with their owner's keys (anyone may view and clone them).
    #[error(
        "The Model Set '{0}' belongs to another account; only its owner's API keys may use it. Clone it to use it."
    )]
    SetNotYours(String),
    /// The provider failed and no fallback succeeded: 4xx answers pass through as the
    /// provider sent them; otherwise 502 (504 on a timeout, 429 when rate limited).
    #[error("The model provider failed: {0}")]
    Provider(ProviderError),
    /// 500: details are logged, never sent.
    #[error("The server had an error while processing your request.")]
    Internal,
}

impl GatewayError {
    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        use GatewayError as E;
        match self {
            E::MissingKey => (StatusCode::UNAUTHORIZED, "invalid_request_error", "missing_api_key"),
            E::InvalidKey => (StatusCode::UNAUTHORIZED, "invalid_request_error", "invalid_api_key"),
            E::RevokedKey => (StatusCode::UNAUTHORIZED, "invalid_request_error", "revoked_api_key"),
            E::NotSignedIn => (StatusCode::UNAUTHORIZED, "invalid_request_error", "unauthenticated"),
            E::InvalidJson(_) => (StatusCode::BAD_REQUEST, "invalid_request_error", "invalid_json"),
            E::InvalidRequest { .. } => (StatusCode::BAD_REQUEST, "invalid_request_error", "invalid_request"),
            E::Unsupported { .. } => (
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "unsupported_capability",
            ),
            E::BodyTooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request_error",
                "request_too_large",
            ),
            E::RateLimited { .. } | E::TryRateLimited { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "requests", "rate_limit_exceeded")
            }
            E::ModelNotFound(_) => (StatusCode::NOT_FOUND, "invalid_request_error", "model_not_found"),
            E::SetNotYours(_) => (StatusCode::FORBIDDEN, "permission_error", "model_set_not_owned"),
            E::Provider(ProviderError::Timeout) => (StatusCode::GATEWAY_TIMEOUT, "server_error", "upstream_timeout"),
            E::Provider(ProviderError::RateLimited { .. }) => {
                (StatusCode::TOO_MANY_REQUESTS, "requests", "upstream_rate_limited")
            }
            E::Provider(_) => (StatusCode::BAD_GATEWAY, "server_error", "upstream_error"),
            E::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "server_error", "internal_error"),
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
        // A provider's own 4xx answer is the request's fault: pass it through in its dialect.
        if let GatewayError::Provider(ProviderError::Upstream { status, body }) = &self {
            if (400..500).contains(status) && !body.is_empty() {
                let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY);
                return (status, [(header::CONTENT_TYPE, "application/json")], body.clone()).into_response();
            }
        }
        let (status, kind, code) = self.parts();
        let param = match &self {
            GatewayError::InvalidRequest { param, .. } => param.as_deref(),
            _ => None,
        };
        let mut response = openai_error(status, kind, code, param, &self.to_string());
        if let GatewayError::RateLimited { retry_after } | GatewayError::TryRateLimited { retry_after } = self {
            if let Ok(value) = header::HeaderValue::from_str(&retry_after.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}

fn openai_error(status: StatusCode, kind: &str, code: &str, param: Option<&str>, message: &str) -> Response {
    let body = json!({
        "error": { "message": message, "type": kind, "param": param, "code": code }
    });
    (status, Json(body)).into_response()
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request breaks a rule; the message names it.
    #[error("{0}")]
    BadRequest(String),
    /// 400: a field breaks a rule; `param` names the field.
    #[error(transparent)]
    Invalid(FieldError),
    /// 401: neither a session nor an API key.
    #[error("Log in, or send an API key as 'Authorization: Bearer sk-sp-…'.")]
    Unauthenticated,
    /// 401: an API key was sent and refused.
    #[error(transparent)]
    Key(GatewayError),
    /// 403: the set is someone else's; everyone may read and clone it, only its owner may change it.
    #[error("Only the owner can change this Model Set.")]
    Forbidden,
    /// 404: names what was not found.
    #[error("No Model Set {0}.")]
    NotFound(String),
    /// 409: a uniqueness rule, e.g. a slug the owner already uses.
    #[error("{0}")]
    Conflict(String),
    /// 500: logged where it is built, see [`ApiError::internal`].
    #[error("The server had an error while processing your request.")]
    Internal,
}

impl ApiError {
    /// Logs `error` with what was being done, and hides it from the client.
    pub fn internal(doing: &str, error: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %error, "{doing} failed");
        ApiError::Internal
    }
}

impl From<SetError> for ApiError {
    fn from(e: SetError) -> Self {
        match e {
            SetError::Invalid(field) => ApiError::Invalid(field),
            SetError::BadAddress(_) => ApiError::BadRequest(e.to_string()),
            SetError::NotFound(address) => ApiError::NotFound(address),
            SetError::NotOwner => ApiError::Forbidden,
            SetError::SlugTaken(_) => ApiError::Conflict(e.to_string()),
            SetError::Storage(e) => ApiError::internal("model set storage", e),
        }
    }
}

impl From<KeyError> for ApiError {
    fn from(e: KeyError) -> Self {
        ApiError::Key(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = self.to_string();
        let param = match &self {
            ApiError::Invalid(field) => Some(field.param()),
            _ => None,
        };
        let (status, kind, code) = match self {
            ApiError::Key(e) => return e.into_response(),
            ApiError::BadRequest(_) | ApiError::Invalid(_) => {
                (StatusCode::BAD_REQUEST, "invalid_request_error", "invalid_request")
            }
            ApiError::Unauthenticated => (StatusCode::UNAUTHORIZED, "invalid_request_error", "unauthenticated"),
            ApiError::Forbidden => (StatusCode::FORBIDDEN, "permission_error", "permission_denied"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "invalid_request_error", "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "invalid_request_error", "conflict"),
            ApiError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "server_error", "internal_error"),
        };
        openai_error(status, kind, code, param.as_deref(), &message)
    }
}
