//! The OpenAI-compatible surface under `/v1`.
//!
//! One chat completion: auth (API key) → per-key rate limit → read the body → resolve the
//! model (a catalog id or `@owner/slug`) → candidates that can serve the request → pick
//! (routing seam) → provider → response (+ `x-setpoint-model`) → one metrics record per
//! provider call. A call that fails before any byte reached the client is retried once on
//! another model of the set.

mod meter;
mod request;

use std::sync::Arc;
use std::time::Instant;

use app::catalog::CatalogModel;
use app::model_set::ModelSet;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use rand::Rng;
use serde_json::{json, Value};

use super::auth::ApiCaller;
use super::error::GatewayError;
use super::AppState;
use crate::providers::{estimate_prompt_tokens, ChatRequest, Reply};
use crate::storage::{KeyOwner, SetFilter};
use meter::{Meter, RequestFacts};

// Header names made once: a name given as a string is parsed on every insert.
pub const MODEL_HEADER: HeaderName = HeaderName::from_static("x-setpoint-model");
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-setpoint-request-id");

/// The id of one gateway request, set by [`request_id`] for handlers and logs.
#[derive(Clone)]
pub struct RequestId(pub String);

/// Gives every `/v1` request an id and every response the `x-setpoint-request-id` header.
pub async fn request_id(mut request: Request, next: Next) -> Response {
    let id = new_request_id();
    request.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

/// `req_` and 24 random hex digits, written out by hand: `format!` cost as much as the rest
/// of this middleware.
fn new_request_id() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    const DIGITS: u32 = 24;
    let bits = rand::rng().random::<u128>();
    let mut id = String::with_capacity(4 + DIGITS as usize);
    id.push_str("req_");
    for digit in (0..DIGITS).rev() {
        id.push(char::from(HEX[((bits >> (4 * digit)) & 0xf) as usize]));
    }
    id
}

/// `GET /v1/models`: the catalog and the caller's own Model Sets, in OpenAI's list format,
/// with Setpoint's facts (prices, capabilities, simulated or not) under `setpoint`.
pub async fn list_models(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> Result<Json<Value>, GatewayError> {
    let mut data: Vec<Value> = state
        .catalog
        .values()
        .map(|m| {
            json!({
                "id": m.id,
                "object": "model",
                "created": 0,
                "owned_by": m.id.split('/').next().unwrap_or_default(),
                "setpoint": {
                    "provider": m.provider,
                    "simulated": m.simulated,
                    "input_price_per_mtok": m.input_price_per_mtok,
                    "output_price_per_mtok": m.output_price_per_mtok,
                    "context_window": m.context_window,
                    "capabilities": m.capabilities,
                }
            })
        })
        .collect();
    let own = SetFilter {
        owner: Some(caller.username.clone()),
        ..SetFilter::default()
    };
    let sets = state.storage.search_model_sets(&own).await.map_err(|e| {
        tracing::error!(error = %e, "listing the caller's sets failed");
        GatewayError::Internal
    })?;
    data.extend(sets.iter().map(|set| {
        json!({
            "id": set.address(),
            "object": "model",
            "created": set.created_at / 1000,
            "owned_by": set.owner,
            "setpoint": { "model_set": true, "name": set.name, "models": set.spec.models },
        })
    }));
    Ok(Json(json!({ "object": "list", "data": data })))
}

/// Where a request goes: one catalog model, or a set and its usable models.
struct Target<'a> {
    set: Option<Arc<ModelSet>>,
    candidates: Vec<&'a CatalogModel>,
}

async fn resolve<'a>(state: &'a AppState, caller: &KeyOwner, model: &str) -> Result<Target<'a>, GatewayError> {
    let Some(address) = model.strip_prefix('@') else {
        let found = state
            .catalog
            .get(model)
            .ok_or_else(|| GatewayError::ModelNotFound(model.to_string()))?;
        return Ok(Target {
            set: None,
            candidates: vec![found],
        });
    };
    let (owner, slug) = address
        .split_once('/')
        .ok_or_else(|| GatewayError::ModelNotFound(model.to_string()))?;
    let set = state
        .sets
        .find(owner, slug)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "set lookup failed");
            GatewayError::Internal
        })?
        .ok_or_else(|| GatewayError::ModelNotFound(model.to_string()))?;
    if set.owner != caller.username {
        return Err(GatewayError::SetNotYours(model.to_string()));
    }
    let candidates = set.spec.models.iter().filter_map(|id| state.catalog.get(id)).collect();
    Ok(Target {
        set: Some(set),
        candidates,
    })
}

/// `POST /v1/chat/completions`
pub async fn chat_completions(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    ApiCaller(caller): ApiCaller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, GatewayError> {
    let started = Instant::now();
    state
        .key_limiter
        .check(caller.key.id)
        .map_err(|retry_after| GatewayError::RateLimited { retry_after })?;
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => GatewayError::BodyTooLarge(state.max_body_bytes),
        _ => GatewayError::InvalidJson(rejection.body_text()),
    })?;
    let chat = request::parse(&body)?;
    let target = resolve(&state, &caller, &chat.model).await?;

    let usable: Vec<&CatalogModel> = target
        .candidates
        .iter()
        .copied()
        .filter(|m| request::missing(chat.needs, m.capabilities).is_empty())
        .collect();
    if usable.is_empty() {
        let lacking = target
            .candidates
            .first()
            .map(|m| request::missing(chat.needs, m.capabilities))
            .unwrap_or_default();
        return Err(GatewayError::Unsupported {
            model: chat.model.clone(),
            missing: lacking.join(", "),
        });
    }

    let meter = Meter {
        facts: RequestFacts {
            request_id,
            account_id: caller.key.account_id,
            api_key_id: caller.key.id,
            set_id: target.set.as_ref().map(|s| s.id),
            started,
            prompt_estimate: estimate_prompt_tokens(&chat.body),
        },
        sink: state.metrics.clone(),
        routing: state.routing.clone(),
    };
    let mut upstream_body = chat.body;
    if chat.stream {
        // Always ask for usage, to bill exactly; the chunk reaches the client only if it asked.
        upstream_body.insert("stream_options".into(), json!({"include_usage": true}));
    }

    let mut tried: Vec<&str> = Vec::new();
    let mut last_error = None;
    // The first pick, then at most one retry on another model.
    for _ in 0..2 {
        let remaining: Vec<&CatalogModel> = usable
            .iter()
            .copied()
            .filter(|m| !tried.contains(&m.id.as_str()))
            .collect();
        let Some(model) = state.routing.pick(target.set.as_deref(), &remaining) else {
            break;
        };
        tried.push(&model.id);
        let Some(served) = state.providers.get(&model.provider) else {
            tracing::error!(model = %model.id, provider = %model.provider, "model names an unknown provider");
            return Err(GatewayError::Internal);
        };
        let call = ChatRequest {
            body: &upstream_body,
            stream: chat.stream,
        };
        match served.provider.chat(model, call, served.timeouts).await {
            Ok(reply) => return Ok(respond(meter, model, reply, chat.include_usage)),
            Err(error) => {
                meter.failure(model, &error);
                tracing::warn!(model = %model.id, class = error.class(), "provider call failed");
                if !error.is_retryable() {
                    return Err(GatewayError::Provider(error));
                }
                last_error = Some(error);
            }
        }
    }
    Err(last_error.map_or(GatewayError::Internal, GatewayError::Provider))
}

fn respond(meter: Meter, model: &CatalogModel, reply: Reply, forward_usage: bool) -> Response {
    let (content_type, body) = match reply {
        Reply::Whole(bytes) => {
            meter.whole(model, &bytes);
            ("application/json", Body::from(bytes))
        }
        Reply::Stream(chunks) => ("text/event-stream", meter.stream(model.clone(), chunks, forward_usage)),
    };
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if content_type == "text/event-stream" {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    if let Ok(value) = HeaderValue::from_str(&model.id) {
        headers.insert(MODEL_HEADER, value);
    }
    response
}

/// Per-key request budget (`gateway.requests_per_minute_per_key`).
pub struct KeyLimiter(governor::DefaultKeyedRateLimiter<i64>);

impl KeyLimiter {
    pub fn new(per_minute: u32) -> Self {
        let quota =
            governor::Quota::per_minute(std::num::NonZeroU32::new(per_minute).unwrap_or(std::num::NonZeroU32::MIN));
        KeyLimiter(governor::RateLimiter::keyed(quota))
    }

    /// `Err(seconds)` until the key may send again.
    pub fn check(&self, key_id: i64) -> Result<(), u64> {
        self.0
            .check_key(&key_id)
            .map_err(crate::accounts::limiter::retry_after_secs)
    }

    pub fn forget_idle(&self) {
        self.0.retain_recent();
    }
}
