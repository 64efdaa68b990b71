//! HTTP: one router wires every surface.
//!
//! - `/v1/*`: the OpenAI-compatible gateway, authenticated by API key ([`gateway`]).
//! - `/api/v1/*`: the JSON management API ([`api`]), by session or API key.
//! - `/api/*`: the pages' server functions; pages themselves; static files. These carry
//!   the session cookie and are guarded against cross-site posts ([`auth`]).

pub mod api;
pub mod auth;
pub mod error;
pub mod gateway;
pub mod pages;

use std::sync::Arc;
use std::time::Duration;

use app::backend::SharedBackend;
use axum::extract::FromRef;
use axum::routing::{get, post};
use axum::Router;
use leptos::prelude::LeptosOptions;
use leptos_axum::{AxumRouteListing, LeptosRoutes};
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::accounts::Accounts;
use crate::catalog::Catalog;
use crate::metrics::MetricsSink;
use crate::model_sets::ModelSets;
use crate::providers::Providers;
use crate::routing::Routing;
use crate::storage::sessions::StorageSessionStore;
use crate::storage::SharedStorage;
use gateway::KeyLimiter;

/// Everything a handler may need. Handlers receive a clone per request, so it is one
/// reference-counted pointer to [`Shared`].
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// Leptos' file and error handlers read their options from the state.
impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

pub struct Shared {
    pub leptos_options: LeptosOptions,
    pub routes: Arc<Vec<AxumRouteListing>>,
    pub storage: SharedStorage,
    pub catalog: Catalog,
    pub providers: Arc<Providers>,
    pub routing: Arc<Routing>,
    pub metrics: MetricsSink,
    /// Where answers drawn for evals go.
    pub evals: crate::evals::queue::EvalSink,
    pub key_limiter: Arc<KeyLimiter>,
    /// The set page's "Try it" budget per account: a session has no key to count against.
    pub try_limiter: Arc<KeyLimiter>,
    pub max_body_bytes: usize,
    pub accounts: Arc<Accounts>,
    pub model_sets: Arc<ModelSets>,
    /// What the pages call ([`pages::PagesBackend`]), behind the app's trait.
    pub backend: SharedBackend,
}

pub struct SessionSettings {
    pub secure_cookies: bool,
    pub days: u32,
}

pub const SESSION_COOKIE: &str = "setpoint_session";

pub fn router(state: AppState, sessions: SessionSettings) -> Router {
    let session_layer = SessionManagerLayer::new(StorageSessionStore::new(state.storage.clone()))
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(sessions.secure_cookies)
        .with_expiry(Expiry::OnInactivity(time::Duration::days(i64::from(sessions.days))));

    // No layers on the gateway: each cost every request a boxed service clone and a boxed
    // future. Its handlers read the body within the size limit, give the request its id and
    // log it themselves.
    let gateway = Router::new()
        .route("/v1/models", get(gateway::list_models))
        .route("/v1/chat/completions", post(gateway::chat_completions));

    let web = Router::new()
        .route(
            "/api/v1/model-sets",
            get(api::model_sets::list).post(api::model_sets::create),
        )
        .route(
            "/api/v1/model-sets/{owner}/{slug}",
            get(api::model_sets::get)
                .patch(api::model_sets::update)
                .delete(api::model_sets::delete),
        )
        .route(
            "/api/v1/model-sets/{owner}/{slug}/revisions",
            get(api::model_sets::revisions),
        )
        .route(
            "/api/v1/model-sets/{owner}/{slug}/routing",
            get(api::model_sets::routing),
        )
        .route("/api/v1/projections", post(api::model_sets::projection))
        .route("/api/v1/openapi.json", get(api::openapi))
        // Before the server functions' catch-all: the set page's chat, on the session.
        .route("/api/try/{owner}/{slug}", post(gateway::try_it::try_set))
        .route("/api/{*fn_name}", post(pages::server_fn).get(pages::server_fn))
        .leptos_routes_with_handler((*state.routes).clone(), get(pages::page))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(app::shell))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::reject_cross_site,
        ))
        .layer(session_layer)
        .layer(TraceLayer::new_for_http());

    Router::new().merge(gateway).merge(web).with_state(state)
}

/// How often expired sessions are swept from the database.
pub const SESSION_SWEEP: Duration = Duration::from_secs(15 * 60);
