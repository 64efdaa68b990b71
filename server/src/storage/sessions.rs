//! tower-sessions' store over our [`Storage`], so sessions live in the same database as
//! everything else (either backend) and survive restarts.
//!
//! Rows are keyed by SHA-256 of the session id: whoever reads the table cannot replay a
//! cookie from it.

use std::fmt;

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};

use super::SharedStorage;
use crate::clock::now_ms;

#[derive(Clone)]
pub struct StorageSessionStore {
    storage: SharedStorage,
}

impl fmt::Debug for StorageSessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StorageSessionStore")
    }
}

impl StorageSessionStore {
    pub fn new(storage: SharedStorage) -> Self {
        StorageSessionStore { storage }
    }
}

fn id_hash(id: &Id) -> String {
    let digest = Sha256::digest(id.to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn backend(e: impl fmt::Display) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

fn encode(record: &Record) -> session_store::Result<(String, i64)> {
    let data = serde_json::to_string(&record.data).map_err(|e| session_store::Error::Encode(e.to_string()))?;
    let expires_at = i64::try_from(record.expiry_date.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
    Ok((data, expires_at))
}

#[async_trait]
impl SessionStore for StorageSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let (data, expires_at) = encode(record)?;
        // Ids are 128-bit random; a collision is astronomically rare but must not merge sessions.
        while !self
            .storage
            .session_insert(&id_hash(&record.id), &data, expires_at)
            .await
            .map_err(backend)?
        {
            record.id = Id::default();
        }
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let (data, expires_at) = encode(record)?;
        self.storage
            .session_upsert(&id_hash(&record.id), &data, expires_at)
            .await
            .map_err(backend)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let Some((data, expires_at)) = self
            .storage
            .session_load(&id_hash(id), now_ms())
            .await
            .map_err(backend)?
        else {
            return Ok(None);
        };
        let data = serde_json::from_str(&data).map_err(|e| session_store::Error::Decode(e.to_string()))?;
        let expiry_date = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(expires_at) * 1_000_000)
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        Ok(Some(Record {
            id: *id,
            data,
            expiry_date,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.storage.session_delete(&id_hash(id)).await.map_err(backend)
    }
}

#[async_trait]
impl ExpiredDeletion for StorageSessionStore {
    async fn delete_expired(&self) -> session_store::Result<()> {
        self.storage
            .sessions_delete_expired(now_ms())
            .await
            .map(|_| ())
            .map_err(backend)
    }
}
