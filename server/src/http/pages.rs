//! The Leptos side of the router: server-side rendering of pages and the endpoint that
//! answers the browser's server-function calls. Both get the [`Backend`] as context.

use app::backend::SharedBackend;
use app::error::UiError;
use app::{shell, App};
use axum::body::Body;
use axum::extract::State;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use leptos::prelude::provide_context;

use super::AppState;

/// Largest error body we re-read to pick its status; `UiError`s are a few hundred bytes.
const ERROR_BODY_LIMIT: usize = 16 * 1024;

pub async fn server_fn(State(state): State<AppState>, request: Request<Body>) -> Response {
    let backend = state.backend.clone();
    let response =
        leptos_axum::handle_server_fns_with_context(move || provide_context::<SharedBackend>(backend.clone()), request)
            .await
            .into_response();
    // server_fn answers every error with 500; give the client the status the error means
    // (the browser side decodes any 4xx/5xx the same way).
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, ERROR_BODY_LIMIT).await.unwrap_or_default();
    if let Ok(error) = serde_json::from_slice::<UiError>(&bytes) {
        parts.status = status_of(&error);
    }
    Response::from_parts(parts, Body::from(bytes))
}

fn status_of(error: &UiError) -> StatusCode {
    match error {
        UiError::Invalid(_) | UiError::Transport(_) => StatusCode::BAD_REQUEST,
        UiError::BadCredentials | UiError::NotLoggedIn => StatusCode::UNAUTHORIZED,
        UiError::UsernameTaken => StatusCode::CONFLICT,
        UiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
        UiError::NotFound => StatusCode::NOT_FOUND,
        UiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

pub async fn page(State(state): State<AppState>, request: Request<Body>) -> Response {
    let backend = state.backend.clone();
    let options = state.leptos_options.clone();
    let render = leptos_axum::render_route_with_context(
        state.routes.clone(),
        move || provide_context::<SharedBackend>(backend.clone()),
        move || shell(options.clone()),
    );
    render(State(state), request).await.into_response()
}

/// The route list Leptos derives from [`App`], computed once at start-up.
pub fn routes() -> Vec<leptos_axum::AxumRouteListing> {
    leptos_axum::generate_route_list(App)
}
