//! Sign-up, log-in, the session, and API keys.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use super::ssr;
use crate::account::{ApiKeyInfo, CreatedApiKey, UserInfo};
use crate::error::UiError;

#[server(endpoint = "current_user")]
pub async fn current_user() -> Result<Option<UserInfo>, UiError> {
    let Some(id) = ssr::account_id().await? else {
        return Ok(None);
    };
    ssr::backend()?.user(id).await
}

/// Where to go after signing in: `next` when it is a path on this site (never another
/// site: `//host` and `/\\host` are refused), else the account page.
pub fn after_sign_in(next: Option<&str>) -> String {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.starts_with("/\\") => path.to_string(),
        _ => "/account".to_string(),
    }
}

#[server(endpoint = "sign_up")]
pub async fn sign_up(
    username: String,
    password: String,
    #[server(default)] next: Option<String>,
) -> Result<UserInfo, UiError> {
    let ip = ssr::client_ip().await;
    let user = ssr::backend()?.sign_up(&username, &password, ip).await?;
    ssr::start_session(user.id).await?;
    leptos_axum::redirect(&after_sign_in(next.as_deref()));
    Ok(user)
}

#[server(endpoint = "log_in")]
pub async fn log_in(
    username: String,
    password: String,
    #[server(default)] next: Option<String>,
) -> Result<UserInfo, UiError> {
    let ip = ssr::client_ip().await;
    let user = ssr::backend()?.log_in(&username, &password, ip).await?;
    ssr::start_session(user.id).await?;
    leptos_axum::redirect(&after_sign_in(next.as_deref()));
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
