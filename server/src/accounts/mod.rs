//! Accounts and API keys: the rules (validation, hashing, throttling) over [`Storage`].
//!
//! The web pages reach this through `http::pages::PagesBackend`, the command line and the
//! gateway call it directly. Storage never sees a password or a key secret.

pub mod api_key;
mod key_cache;
pub mod limiter;
pub mod password;

use app::account::{validate_key_name, validate_password, validate_username, ApiKeyInfo, CreatedApiKey};

use crate::clock::now_ms;
use crate::config::LoginLimits;
use crate::storage::{Account, ApiKey, KeyOwner, SharedStorage, StorageError};
use key_cache::KeyCache;
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

/// How often a server asks storage for revocations made outside it: the longest a key
/// revoked from the command line or on another replica keeps working here.
pub const REVOCATION_POLL: std::time::Duration = std::time::Duration::from_millis(500);
const REVOCATION_LOOKBACK_MS: i64 = 10 * 60_000;

pub struct Accounts {
    storage: SharedStorage,
    limiter: LoginLimiter,
    keys: KeyCache,
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
            keys: KeyCache::default(),
        }
    }

    pub fn limiter(&self) -> &LoginLimiter {
        &self.limiter
    }

    /// Polls storage for keys revoked by other processes and marks them in the cache, every
    /// [`REVOCATION_POLL`]. Runs until the server stops.
    pub async fn watch_revocations(&self) {
        let mut tick = tokio::time::interval(REVOCATION_POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let now = now_ms();
            // Look back further than one period: clocks of other hosts may lag ours a little.
            match self.storage.api_keys_revoked_since(now - REVOCATION_LOOKBACK_MS).await {
                Ok(ids) if !ids.is_empty() => self.keys.revoked(&ids, now),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not poll key revocations"),
            }
        }
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

    /// Sets an existing account's password (the operator's command line: there is no page
    /// for it). The rules are sign-up's; the hash is made the same way.
    pub async fn set_password(&self, username: &str, password: &str) -> Result<Account, AccountError> {
        validate_password(password).map_err(AccountError::Invalid)?;
        let account = self.account_by_username(username).await?;
        let pw = password.to_string();
        let phc = blocking(move || password::hash(&pw))
            .await?
            .map_err(|e| AccountError::Internal(e.to_string()))?;
        match self.storage.set_password_hash(account.id, &phc).await {
            Ok(()) => Ok(Account {
                password_hash: phc,
                ..account
            }),
            // Deleted between the lookup and the update.
            Err(StorageError::NotFound) => Err(AccountError::NoSuchAccount(username.to_string())),
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
        let now = now_ms();
        match self.storage.revoke_api_key(account_id, key_id, now).await {
            Err(StorageError::NotFound) => Err(AccountError::NoSuchKey),
            other => {
                other?;
                self.keys.revoked(&[key_id], now);
                Ok(())
            }
        }
    }

    /// Resolves an `Authorization: Bearer` secret to its key and owner.
    ///
    /// Served from [`KeyCache`] when the key was seen recently: a database round trip per
    /// request would cost more CPU than everything else the gateway does. A revocation made
    /// through this server updates the cache at once; one made elsewhere (the command line,
    /// another replica) is picked up by [`Accounts::watch_revocations`].
    pub async fn authenticate(&self, secret: &str) -> Result<KeyOwner, KeyError> {
        if !api_key::is_well_formed(secret) {
            return Err(KeyError::Malformed);
        }
        let hash = api_key::hash(secret);
        let owner = match self.keys.get(&hash) {
            Some(owner) => owner,
            None => {
                let owner = self.storage.api_key_by_hash(&hash).await?.ok_or(KeyError::Unknown)?;
                self.keys.insert(hash, owner.clone());
                owner
            }
        };
        if !owner.key.is_active() {
            return Err(KeyError::Revoked);
        }
        let now = now_ms();
        if owner.key.last_used_at.is_none_or(|t| now - t >= TOUCH_INTERVAL_MS) {
            // Off the request path: a slow write must not delay the answer.
            self.keys.touched(owner.key.id, now);
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
