//! Server functions: the UI's calls to the server, a module per resource. Each body runs on
//! the server only.
//! Endpoints are fixed (`/api/<name>`) rather than hashed, so that tests and scripts can
//! call them too; errors come back as JSON [`UiError`](crate::error::UiError) with a matching 4xx/5xx status.

pub mod accounts;
pub mod editor;
pub mod model_sets;

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use std::net::{IpAddr, Ipv4Addr, SocketAddr};

    use axum::extract::ConnectInfo;
    use leptos::prelude::use_context;
    use tower_sessions::Session;

    use crate::backend::{SharedBackend, SESSION_ACCOUNT_ID};
    use crate::error::UiError;

    pub fn backend() -> Result<SharedBackend, UiError> {
        use_context::<SharedBackend>().ok_or_else(|| {
            tracing::error!("server function called without a Backend in context");
            UiError::Internal
        })
    }

    pub async fn session() -> Result<Session, UiError> {
        leptos_axum::extract::<Session>().await.map_err(|e| {
            tracing::error!(error = %e, "no session layer");
            UiError::Internal
        })
    }

    pub async fn client_ip() -> IpAddr {
        match leptos_axum::extract::<ConnectInfo<SocketAddr>>().await {
            Ok(ConnectInfo(addr)) => addr.ip(),
            // Served without connect info (never in the binary): one shared bucket.
            Err(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        }
    }

    pub async fn account_id() -> Result<Option<i64>, UiError> {
        let session = session().await?;
        session.get::<i64>(SESSION_ACCOUNT_ID).await.map_err(|e| {
            tracing::error!(error = %e, "session read failed");
            UiError::Internal
        })
    }

    /// `http://host[:port]` as the browser addressed this server (its Host header).
    pub async fn origin() -> String {
        let host = leptos_axum::extract::<axum::http::HeaderMap>()
            .await
            .ok()
            .and_then(|h| h.get(axum::http::header::HOST)?.to_str().ok().map(str::to_string))
            .unwrap_or_else(|| "127.0.0.1:3000".to_string());
        format!("http://{host}")
    }

    /// Answers the page being rendered with 404 (a missing set's page is not a 200).
    pub fn not_found() {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(axum::http::StatusCode::NOT_FOUND);
        }
    }

    pub async fn require_account() -> Result<i64, UiError> {
        account_id().await?.ok_or(UiError::NotLoggedIn)
    }

    /// Starts a fresh session for the account: a new id defeats session fixation.
    pub async fn start_session(account_id: i64) -> Result<(), UiError> {
        let session = session().await?;
        let fail = |e: tower_sessions::session::Error| {
            tracing::error!(error = %e, "session write failed");
            UiError::Internal
        };
        session.cycle_id().await.map_err(fail)?;
        session.insert(SESSION_ACCOUNT_ID, account_id).await.map_err(fail)
    }
}
