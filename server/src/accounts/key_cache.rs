//! API keys seen recently, by secret hash, so the gateway authenticates without a database
//! round trip. Entries expire after [`TTL`] as a backstop: whatever a revocation poll might
//! miss (a clock far off on another replica), a key is re-read from storage at least that often.

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use crate::hash_map::HashMap;
use crate::storage::KeyOwner;

const TTL: Duration = Duration::from_secs(60);
/// Beyond this many entries the cache starts afresh rather than growing without bound.
const MAX_ENTRIES: usize = 100_000;

#[derive(Default)]
pub struct KeyCache {
    inner: RwLock<Entries>,
}

#[derive(Default)]
struct Entries {
    by_hash: HashMap<String, (KeyOwner, Instant)>,
    hash_of: HashMap<i64, String>,
}

impl KeyCache {
    // A panic while holding the lock cannot leave these maps half-updated in a way that
    // matters (each entry is replaced whole), so a poisoned lock is used as is.
    fn read(&self) -> RwLockReadGuard<'_, Entries> {
        self.inner.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Entries> {
        self.inner.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn get(&self, hash: &str) -> Option<KeyOwner> {
        self.read()
            .by_hash
            .get(hash)
            .filter(|(_, loaded)| loaded.elapsed() < TTL)
            .map(|(owner, _)| owner.clone())
    }

    pub fn insert(&self, hash: String, owner: KeyOwner) {
        let mut entries = self.write();
        if entries.by_hash.len() >= MAX_ENTRIES {
            entries.by_hash.clear();
            entries.hash_of.clear();
        }
        entries.hash_of.insert(owner.key.id, hash.clone());
        entries.by_hash.insert(hash, (owner, Instant::now()));
    }

    /// Marks keys revoked (keeping an earlier revocation time).
    pub fn revoked(&self, key_ids: &[i64], at: i64) {
        let mut entries = self.write();
        let Entries { by_hash, hash_of } = &mut *entries;
        for id in key_ids {
            if let Some((owner, _)) = hash_of.get(id).and_then(|hash| by_hash.get_mut(hash)) {
                owner.key.revoked_at.get_or_insert(at);
            }
        }
    }

    /// Notes a use, so the next requests do not ask storage to record it again.
    pub fn touched(&self, key_id: i64, at: i64) {
        let mut entries = self.write();
        let Entries { by_hash, hash_of } = &mut *entries;
        if let Some((owner, _)) = hash_of.get(&key_id).and_then(|hash| by_hash.get_mut(hash)) {
            owner.key.last_used_at = Some(at);
        }
    }
}
