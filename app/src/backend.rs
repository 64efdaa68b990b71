//! The seam between the pages' server functions and the server (compiled with `ssr` only).
//!
//! Server functions live in this crate because the browser needs their HTTP stubs, but the
//! work (hashing, storage, rate limits) belongs to the server. The server implements
//! [`Backend`] and provides it as a Leptos context; server functions only translate between
//! HTTP/session and these calls.

use std::net::IpAddr;
use std::sync::Arc;

use crate::account::{ApiKeyInfo, CreatedApiKey, UserInfo};
use crate::error::UiError;
use crate::evals::ScoredRequest;
use crate::monitoring::{Lines, Range, Series};
use crate::views::{EditorStart, ModelOverview, RegistryPage, RegistryParams, SaveTarget, SetDetail, SetForm};

/// Session key holding the signed-in account's id. The server's session extractor for the
/// JSON API reads the same key.
pub const SESSION_ACCOUNT_ID: &str = "account_id";

#[async_trait::async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Creates the account; nothing is written when it fails.
    async fn sign_up(&self, username: &str, password: &str, client: IpAddr) -> Result<UserInfo, UiError>;
    /// Checks credentials under the login rate limits.
    async fn log_in(&self, username: &str, password: &str, client: IpAddr) -> Result<UserInfo, UiError>;
    async fn user(&self, account_id: i64) -> Result<Option<UserInfo>, UiError>;
    async fn api_keys(&self, account_id: i64) -> Result<Vec<ApiKeyInfo>, UiError>;
    async fn create_api_key(&self, account_id: i64, name: &str) -> Result<CreatedApiKey, UiError>;
    async fn revoke_api_key(&self, account_id: i64, key_id: i64) -> Result<(), UiError>;
    /// One page of the public registry.
    async fn registry(&self, params: &RegistryParams) -> Result<RegistryPage, UiError>;
    /// A set's page; `viewer` is the signed-in account, if any. `NotFound` when there is no such set.
    async fn set_detail(&self, owner: &str, slug: &str, viewer: Option<i64>) -> Result<SetDetail, UiError>;
    /// A set's behaviour over a range, for its charts: the whole set's line and the `lines` asked for.
    async fn set_series(&self, owner: &str, slug: &str, range: Range, lines: &Lines) -> Result<Series, UiError>;
    /// The set's latest evaluated requests, newest first: its owner only (`viewer`).
    async fn latest_evals(&self, owner: &str, slug: &str, viewer: Option<i64>) -> Result<Vec<ScoredRequest>, UiError>;
    /// The catalog with each model's behaviour over the last 24 h.
    async fn models_overview(&self) -> Result<Vec<ModelOverview>, UiError>;
    /// What the editor starts from: `NotOwner` for an edit of someone else's set.
    async fn editor_start(&self, account_id: i64, target: &SaveTarget) -> Result<EditorStart, UiError>;
    /// Deploys, clones or saves; the set's address. Rule failures come back as `UiError::Field`.
    async fn save_set(&self, account_id: i64, target: &SaveTarget, form: SetForm) -> Result<String, UiError>;
    /// Whether the account has no set with this slug.
    async fn slug_available(&self, account_id: i64, slug: &str) -> Result<bool, UiError>;
    async fn delete_set(&self, account_id: i64, owner: &str, slug: &str) -> Result<(), UiError>;
}

pub type SharedBackend = Arc<dyn Backend>;
