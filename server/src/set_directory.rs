//! The Model Sets the gateway resolves, kept in memory for a short while so a request to
//! `@owner/slug` costs no database round trip.
//!
//! Edits and deletions made through this server take effect on the next request (the API
//! calls [`SetDirectory::forget`]); those made on another replica sharing the database are
//! seen within [`FRESH_FOR`].

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use app::model_set::ModelSet;

use crate::storage::{SharedStorage, StorageResult};

pub const FRESH_FOR: Duration = Duration::from_secs(2);
/// Beyond this many entries the directory starts afresh rather than growing without bound.
const MAX_ENTRIES: usize = 100_000;

/// Owner → slug → the set (or `None`: no such set) and when it was read.
type Entries = HashMap<String, HashMap<String, (Option<Arc<ModelSet>>, Instant)>>;

pub struct SetDirectory {
    storage: SharedStorage,
    // `None` remembers that no such set exists, so unknown slugs do not reach storage on
    // every request either.
    entries: RwLock<Entries>,
}

impl SetDirectory {
    pub fn new(storage: SharedStorage) -> Self {
        SetDirectory {
            storage,
            entries: RwLock::default(),
        }
    }

    /// The set at `@owner/slug`, if there is one.
    pub async fn find(&self, owner: &str, slug: &str) -> StorageResult<Option<Arc<ModelSet>>> {
        if let Some(found) = self.cached(owner, slug) {
            return Ok(found);
        }
        let found = self.storage.model_set_by_slug(owner, slug).await?.map(Arc::new);
        let mut entries = self.entries.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.values().map(HashMap::len).sum::<usize>() >= MAX_ENTRIES {
            entries.clear();
        }
        entries
            .entry(owner.to_string())
            .or_default()
            .insert(slug.to_string(), (found.clone(), Instant::now()));
        Ok(found)
    }

    fn cached(&self, owner: &str, slug: &str) -> Option<Option<Arc<ModelSet>>> {
        let entries = self.entries.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries
            .get(owner)?
            .get(slug)
            .filter(|(_, loaded)| loaded.elapsed() < FRESH_FOR)
            .map(|(set, _)| set.clone())
    }

    /// Drops what is known of `@owner/slug` after it changed here.
    pub fn forget(&self, owner: &str, slug: &str) {
        let mut entries = self.entries.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(sets) = entries.get_mut(owner) {
            sets.remove(slug);
        }
    }
}
