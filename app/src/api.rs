//! Server functions: the UI's calls to the server. Each body runs on the server only.
//! Endpoints are fixed (`/api/<name>`) rather than hashed, so that tests and scripts can
//! call them too; errors come back as JSON [`UiError`] with a matching 4xx/5xx status.

use leptos::prelude::*;

use crate::account::{ApiKeyInfo, CreatedApiKey, UserInfo};
use crate::error::UiError;
use crate::model_set::ModelSet;

#[cfg(feature = "ssr")]
mod ssr {
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

#[server(endpoint = "current_user")]
pub async fn current_user() -> Result<Option<UserInfo>, UiError> {
    let Some(id) = ssr::account_id().await? else {
        return Ok(None);
    };
    ssr::backend()?.user(id).await
}

#[server(endpoint = "sign_up")]
pub async fn sign_up(username: String, password: String) -> Result<UserInfo, UiError> {
    let ip = ssr::client_ip().await;
    let user = ssr::backend()?.sign_up(&username, &password, ip).await?;
    ssr::start_session(user.id).await?;
    leptos_axum::redirect("/account");
    Ok(user)
}

#[server(endpoint = "log_in")]
pub async fn log_in(username: String, password: String) -> Result<UserInfo, UiError> {
    let ip = ssr::client_ip().await;
    let user = ssr::backend()?.log_in(&username, &password, ip).await?;
    ssr::start_session(user.id).await?;
    leptos_axum::redirect("/account");
    Ok(user)
}

#[server(endpoint = "log_out")]
pub async fn log_out() -> Result<(), UiError> {
    let session = ssr::session().await?;
    session.flush().await.map_err(|e| {
        tracing::error!(error = %e, "session delete failed");
        UiError::Internal
    })?;
    leptos_axum::redirect("/");
    Ok(())
}

#[server(endpoint = "list_api_keys")]
pub async fn list_api_keys() -> Result<Vec<ApiKeyInfo>, UiError> {
    let account = ssr::require_account().await?;
    ssr::backend()?.api_keys(account).await
}

#[server(endpoint = "create_api_key")]
pub async fn create_api_key(name: String) -> Result<CreatedApiKey, UiError> {
    let account = ssr::require_account().await?;
    ssr::backend()?.create_api_key(account, &name).await
}

#[server(endpoint = "revoke_api_key")]
pub async fn revoke_api_key(id: i64) -> Result<(), UiError> {
    let account = ssr::require_account().await?;
    ssr::backend()?.revoke_api_key(account, id).await
}

#[server(endpoint = "list_model_sets")]
pub async fn list_model_sets(query: String) -> Result<Vec<ModelSet>, UiError> {
    ssr::backend()?.model_sets(&query).await
}
