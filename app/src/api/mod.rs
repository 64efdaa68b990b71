//! Server functions: the UI's calls to the server, a module per resource. Each body runs on
//! the server only.
//! Endpoints are fixed (`/api/<name>`) rather than hashed, so that tests and scripts can
//! call them too; errors come back as JSON [`UiError`](crate::error::UiError) with a matching 4xx/5xx status.

pub mod accounts;
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
