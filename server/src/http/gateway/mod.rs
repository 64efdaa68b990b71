//! The OpenAI-compatible surface under `/v1`.
//!
//! One chat completion: auth (API key) → per-key rate limit → read the body → [`serve`]:
//! resolve the model (a catalog id or `@owner/slug`) → candidates that can serve the
//! request → pick (routing seam) → provider → response (+ `x-setpoint-model`) → one metrics
//! record per provider call. A call that fails before any byte reached the client is retried
//! once on another model of the set.
//!
//! The set page's "Try it" ([`try_it`]) authenticates by session instead, and then runs the
//! same [`serve`], so its requests are routed, metered, rolled up and billed like any other.

mod meter;
pub mod request;
pub mod try_it;

use std::sync::Arc;
use std::time::Instant;

use app::catalog::CatalogModel;
use app::model_set::ModelSet;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rand::Rng;
use serde_json::{json, Value};

use super::auth::api_caller;
use super::error::GatewayError;
use super::AppState;
use crate::model_sets::SetError;
use crate::providers::{ChatRequest, Reply};
use crate::storage::{KeyOwner, SetFilter, SetPage};
use meter::{EvalDraw, Meter, RequestFacts};

// Header names made once: a name given as a string is parsed on every insert.
pub const MODEL_HEADER: HeaderName = HeaderName::from_static("x-setpoint-model");
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-setpoint-request-id");

/// Runs one `/v1` request under a fresh id, which every response carries, refusals
/// included, as `x-setpoint-request-id`.
///
/// A function the handlers call rather than a middleware layer: each layer on the router
/// cost every request a boxed service clone and a boxed future.
async fn with_request_id<F, Fut>(serve: F) -> Response
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = Result<Response, GatewayError>>,
{
    let started = Instant::now();
    let id = new_request_id();
    let header = HeaderValue::from_str(&id);
    let mut response = serve(id).await.into_response();
    if let Ok(value) = header {
        // What `TraceLayer` logged for these routes before, under this module's name.
        tracing::debug!(
            request_id = ?value,
            status = response.status().as_u16(),
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            "gateway request"
        );
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
pub async fn list_models(State(state): State<AppState>, request: Request) -> Response {
    with_request_id(|_| async move {
        let caller = api_caller(&state, request.headers()).await?;
        Ok(Json(models_for(&state, &caller).await?).into_response())
    })
    .await
}

async fn models_for(state: &AppState, caller: &KeyOwner) -> Result<Value, GatewayError> {
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
    let sets = state.model_sets.search(&own, SetPage::default()).await.map_err(|e| {
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
    Ok(json!({ "object": "list", "data": data }))
}

/// Who a chat completion is for, once authenticated: what resolution (only the owner may use
/// a set) and metering (the record's account and key) need. Borrowed from the key's cache
/// entry or the session's account, so building it copies nothing.
#[derive(Clone, Copy)]
pub struct Caller<'a> {
    pub account_id: i64,
    pub username: &'a str,
    /// The API key the request came with; `None` for the set page's "Try it", which runs on
    /// the browser's session.
    pub api_key_id: Option<i64>,
}

impl<'a> Caller<'a> {
    fn of_key(owner: &'a KeyOwner) -> Self {
        Caller {
            account_id: owner.key.account_id,
            username: &owner.username,
            api_key_id: Some(owner.key.id),
        }
    }
}

/// Where a request goes: one catalog model, or a set and its usable models.
struct Target<'a> {
    set: Option<Arc<ModelSet>>,
    candidates: Vec<&'a CatalogModel>,
}

async fn resolve<'a>(state: &'a AppState, caller: Caller<'_>, model: &str) -> Result<Target<'a>, GatewayError> {
    if !model.starts_with('@') {
        let found = state
            .catalog
            .get(model)
            .ok_or_else(|| GatewayError::ModelNotFound(model.to_string()))?;
        return Ok(Target {
            set: None,
            candidates: vec![found],
        });
    }
    let set = match state.model_sets.resolve(caller.username, model).await {
        Ok(Some(set)) => set,
        Ok(None) => return Err(GatewayError::ModelNotFound(model.to_string())),
        Err(SetError::NotOwner) => return Err(GatewayError::SetNotYours(model.to_string())),
        Err(e) => {
            tracing::error!(error = %e, "set lookup failed");
            return Err(GatewayError::Internal);
        }
    };
    let candidates = set.spec.models.iter().filter_map(|id| state.catalog.get(id)).collect();
    Ok(Target {
        set: Some(set),
        candidates,
    })
}

/// `POST /v1/chat/completions`
pub async fn chat_completions(State(state): State<AppState>, request: Request) -> Response {
    with_request_id(|id| complete(state, request, id)).await
}

/// The body, up to the configured limit (413 beyond it).
async fn read_body(state: &AppState, body: Body) -> Result<Bytes, GatewayError> {
    axum::body::to_bytes(body, state.max_body_bytes).await.map_err(|e| {
        let error = e.into_inner();
        if error.is::<http_body_util::LengthLimitError>() {
            GatewayError::BodyTooLarge(state.max_body_bytes)
        } else {
            GatewayError::InvalidJson(format!("Failed to read the request body: {error}"))
        }
    })
}

async fn complete(state: AppState, request: Request, request_id: String) -> Result<Response, GatewayError> {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let owner = api_caller(&state, &parts.headers).await?;
    state
        .key_limiter
        .check(owner.key.id)
        .map_err(|retry_after| GatewayError::RateLimited { retry_after })?;
    let raw = read_body(&state, body).await?;
    serve(
        &state,
        Caller::of_key(&owner),
        raw,
        request_id,
        started,
        StreamTail::OpenAi,
    )
    .await
}

/// What a stream tells its client after the last chunk, before `data: [DONE]`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum StreamTail {
    /// Nothing: OpenAI's stream, as `/v1` sends it.
    OpenAi,
    /// First an `event: setpoint` with the model that served, the latency and the cost
    /// ([`app::chat::Served`]), for the set page's "Try it", which shows them.
    Summary,
}

/// One chat completion for an authenticated, rate-checked `caller`, from its body on: parse,
/// resolve, pick, call with one fallback, respond, meter. `/v1/chat/completions` and the set
/// page's "Try it" both come here, so neither can route or bill differently from the other.
async fn serve(
    state: &AppState,
    caller: Caller<'_>,
    raw: Bytes,
    request_id: String,
    started: Instant,
    tail: StreamTail,
) -> Result<Response, GatewayError> {
    let chat = request::parse(raw)?;
    let target = resolve(state, caller, &chat.model).await?;

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

    let mut meter = Meter {
        facts: RequestFacts {
            request_id,
            account_id: caller.account_id,
            api_key_id: caller.api_key_id,
            set_id: target.set.as_ref().map(|s| s.id),
            started,
            prompt_estimate: chat.body.prompt_estimate(),
            eval: target
                .set
                .as_deref()
                .filter(|set| crate::evals::drawn(&set.spec.evals, rand::random::<f64>()))
                .map(|set| EvalDraw {
                    settings: Arc::new(set.spec.evals.clone()),
                    request: chat.body.raw().clone(),
                    sink: state.evals.clone(),
                }),
        },
        sink: state.metrics.clone(),
        routing: state.routing.clone(),
    };

    let mut tried: Vec<&str> = Vec::new();
    let mut last_error = None;
    // The first pick, then at most one retry on another model.
    for attempt in 0..2 {
        if attempt > 0 {
            meter.facts.started = Instant::now();
        }
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
            body: &chat.body,
            stream: chat.stream,
        };
        match served.provider.chat(model, call, served.timeouts).await {
            Ok(reply) => return Ok(respond(meter, model, reply, chat.include_usage, tail)),
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

fn respond(meter: Meter, model: &CatalogModel, reply: Reply, forward_usage: bool, tail: StreamTail) -> Response {
    let (content_type, body) = match reply {
        Reply::Whole(bytes) => {
            meter.whole(model, &bytes);
            ("application/json", Body::from(bytes))
        }
        Reply::Stream(chunks) => (
            "text/event-stream",
            meter.stream(model, chunks, forward_usage, tail == StreamTail::Summary),
        ),
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

/// A per-minute request budget per id (`gateway.requests_per_minute_per_key`): one limiter
/// counts API keys for `/v1`, another accounts for the set page's "Try it".
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
