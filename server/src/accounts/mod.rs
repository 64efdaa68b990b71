//! Accounts and API keys: the rules (validation, hashing, throttling) over [`Storage`].
//!
//! The web pages reach this through `http::pages::PagesBackend`, the command line and the
//! gateway call it directly. Storage never sees a password or a key secret.

pub mod api_key;
pub mod limiter;
pub mod password;

use app::account::{validate_key_name, validate_password, validate_username, ApiKeyInfo, CreatedApiKey};

use crate::clock::now_ms;
use crate::config::LoginLimits;
use crate::storage::{Account, ApiKey, KeyOwner, SharedStorage, StorageError};
use limiter::LoginLimiter;

/// Why an account operation failed, for the command line and the pages alike.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Invalid(String),
    #[error("username {0:?} is taken")]
    UsernameTaken(String),
    #[error("wrong username or password")]
    BadCredentials,
    #[error("too many attempts; try again in {0} s")]
    RateLimited(u64),
    #[error("no account named {0:?}")]
    NoSuchAccount(String),
    #[error("no such key")]
    NoSuchKey,
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("internal: {0}")]
    Internal(String),
}

/// Why a bearer token was refused by the gateway.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("missing")]
    Missing,
    #[error("malformed")]
    Malformed,
    #[error("unknown")]
    Unknown,
    #[error("revoked")]
    Revoked,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// How often `last_used_at` is rewritten: a write per request would make every gateway
/// call a database write, and minute precision is all the account page shows.
const TOUCH_INTERVAL_MS: i64 = 60_000;

pub struct Accounts {
    storage: SharedStorage,
    limiter: LoginLimiter,
}

fn key_info(k: ApiKey) -> ApiKeyInfo {
    ApiKeyInfo {
        id: k.id,
        name: k.name,
        prefix: k.prefix,
        created_at: k.created_at,
        last_used_at: k.last_used_at,
        revoked_at: k.revoked_at,
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, AccountError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AccountError::Internal(e.to_string()))
}

impl Accounts {
    pub fn new(storage: SharedStorage, limits: LoginLimits) -> Self {
        Accounts {
            storage,
            limiter: LoginLimiter::new(limits),
        }
    }

    pub fn limiter(&self) -> &LoginLimiter {
        &self.limiter
    }

    /// Creates an account. Validation runs first and the insert is a single statement, so
    /// a failed sign-up writes nothing.
    pub async fn create_account(&self, username: &str, password: &str) -> Result<Account, AccountError> {
        validate_username(username).map_err(AccountError::Invalid)?;
        validate_password(password).map_err(AccountError::Invalid)?;
        if self.storage.account_by_username(username).await?.is_some() {
            return Err(AccountError::UsernameTaken(username.to_string()));
        }
        let pw = password.to_string();
        let phc = blocking(move || password::hash(&pw))
            .await?
            .map_err(|e| AccountError::Internal(e.to_string()))?;
        match self.storage.create_account(username, &phc, now_ms()).await {
            Ok(account) => Ok(account),
            // Lost a race with a concurrent sign-up for the same name.
            Err(StorageError::Conflict(_)) => Err(AccountError::UsernameTaken(username.to_string())),
            Err(e) => Err(e.into()),
        }
    }

    /// Checks credentials. Unknown user and wrong password are the same error, and cost
    /// the same time.
    pub async fn verify_login(&self, username: &str, password: &str) -> Result<Account, AccountError> {
        // Over-long input is refused before hashing it.
        if password.chars().count() > app::account::PASSWORD_MAX
            || username.chars().count() > app::account::USERNAME_MAX
        {
            return Err(AccountError::BadCredentials);
        }
        let account = self.storage.account_by_username(username).await?;
        let pw = password.to_string();
        let matched = match account {
            Some(account) => {
                let phc = account.password_hash.clone();
                blocking(move || password::verify(&pw, &phc)).await?.then_some(account)
            }
            None => {
                blocking(move || password::verify_dummy(&pw)).await?;
                None
            }
        };
        matched.ok_or(AccountError::BadCredentials)
    }

    pub async fn account_by_username(&self, username: &str) -> Result<Account, AccountError> {
        self.storage
            .account_by_username(username)
            .await?
            .ok_or_else(|| AccountError::NoSuchAccount(username.to_string()))
    }

    pub async fn create_key(&self, account_id: i64, name: &str) -> Result<CreatedApiKey, AccountError> {
        let name = validate_key_name(name).map_err(AccountError::Invalid)?;
        let new = api_key::generate();
        let key = self
            .storage
            .create_api_key(account_id, &name, &new.prefix, &new.hash, now_ms())
            .await?;
        Ok(CreatedApiKey {
            key: key_info(key),
            secret: new.secret,
        })
    }

    pub async fn list_keys(&self, account_id: i64) -> Result<Vec<ApiKeyInfo>, AccountError> {
        Ok(self
            .storage
            .list_api_keys(account_id)
            .await?
            .into_iter()
            .map(key_info)
            .collect())
    }

    pub async fn revoke_key(&self, account_id: i64, key_id: i64) -> Result<(), AccountError> {
        match self.storage.revoke_api_key(account_id, key_id, now_ms()).await {
            Err(StorageError::NotFound) => Err(AccountError::NoSuchKey),
            other => Ok(other?),
        }
    }

    /// Resolves an `Authorization: Bearer` secret to its key and owner. Looked up on every
    /// request (no cache), so a revocation takes effect on the very next request.
    pub async fn authenticate(&self, secret: &str) -> Result<KeyOwner, KeyError> {
        if !api_key::is_well_formed(secret) {
            return Err(KeyError::Malformed);
        }
        let owner = self
            .storage
            .api_key_by_hash(&api_key::hash(secret))
            .await?
            .ok_or(KeyError::Unknown)?;
        if !owner.key.is_active() {
            return Err(KeyError::Revoked);
        }
        let now = now_ms();
        if owner.key.last_used_at.is_none_or(|t| now - t >= TOUCH_INTERVAL_MS) {
            // Off the request path: a slow write must not delay the answer.
            let storage = self.storage.clone();
            let key_id = owner.key.id;
            tokio::spawn(async move {
                if let Err(e) = storage.touch_api_key(key_id, now).await {
                    tracing::warn!(error = %e, key_id, "could not record key use");
                }
            });
        }
        Ok(owner)
    }
}
