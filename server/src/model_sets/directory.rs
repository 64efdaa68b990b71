//! The Model Sets the gateway resolves, kept in memory for a short while so a request to
//! `@owner/slug` costs no database round trip.
//!
//! Edits and deletions made through this server take effect on the next request (the API
//! calls [`SetDirectory::forget`]); those made on another replica sharing the database are
//! seen within [`FRESH_FOR`].

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use app::model_set::ModelSet;

use crate::hash_map::HashMap;
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
    /// Held while reading storage: requests that missed together wait for the first one's
    /// read instead of all querying (at start, 64 requests in flight opened a pool connection
    /// each).
    reading: tokio::sync::Mutex<()>,
}

impl SetDirectory {
    pub fn new(storage: SharedStorage) -> Self {
        SetDirectory {
            storage,
            entries: RwLock::default(),
            reading: tokio::sync::Mutex::new(()),
        }
    }

    /// The set at `@owner/slug`, if there is one.
    pub async fn find(&self, owner: &str, slug: &str) -> StorageResult<Option<Arc<ModelSet>>> {
        if let Some(found) = self.cached(owner, slug) {
            return Ok(found);
        }
        let asked = Instant::now();
        let _reading = self.reading.lock().await;
        if let Some(found) = self.read_since(owner, slug, asked) {
            return Ok(found);
        }
        self.read(owner, slug).await
    }

    /// The entry, if another request read it from storage after `asked`.
    fn read_since(&self, owner: &str, slug: &str, asked: Instant) -> Option<Option<Arc<ModelSet>>> {
        let entries = self.entries.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (set, loaded) = entries.get(owner)?.get(slug)?;
        (*loaded >= asked).then(|| set.clone())
    }

    /// Reads `@owner/slug` from storage and remembers it.
    async fn read(&self, owner: &str, slug: &str) -> StorageResult<Option<Arc<ModelSet>>> {
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

    /// What is known of `@owner/slug` while fresh; None when it must be read. An entry that
    /// went stale is read again by one caller only: the first to see it renews its time, so the
    /// other requests in flight keep the set they had instead of all querying at once (which,
    /// every [`FRESH_FOR`] at high concurrency, opened a pool connection per waiting request).
    /// Should that read fail, the old set serves until the entry is stale again.
    fn cached(&self, owner: &str, slug: &str) -> Option<Option<Arc<ModelSet>>> {
        {
            let entries = self.entries.read().unwrap_or_else(|poisoned| poisoned.into_inner());
            let (set, loaded) = entries.get(owner)?.get(slug)?;
            if loaded.elapsed() < FRESH_FOR {
                return Some(set.clone());
            }
        }
        let mut entries = self.entries.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (set, loaded) = entries.get_mut(owner)?.get_mut(slug)?;
        if loaded.elapsed() < FRESH_FOR {
            // Another request claimed the read meanwhile.
            return Some(set.clone());
        }
        *loaded = Instant::now();
        None
    }

    /// Drops what is known of `@owner/slug` after it changed here.
    pub fn forget(&self, owner: &str, slug: &str) {
        let mut entries = self.entries.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(sets) = entries.get_mut(owner) {
            sets.remove(slug);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{NewModelSet, SetContent};
    use app::model_set::ModelSetSpec;

    fn content(description: &str) -> SetContent {
        SetContent {
            description: description.into(),
            categories: vec![],
            tags: vec![],
            spec: ModelSetSpec {
                models: vec!["openai/gpt-4o-mini".into()],
                ..ModelSetSpec::default()
            },
        }
    }

    /// A SQLite file holding `@ann/chat` (described "first").
    async fn storage_with_a_set() -> (tempfile::TempDir, SharedStorage, ModelSet) {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("sets.db").display());
        let storage = crate::storage::connect(&url).await.expect("open");
        let owner = storage.create_account("ann", "hash", 0).await.expect("account");
        let new = NewModelSet {
            owner_id: owner.id,
            slug: "chat".into(),
            name: "Chat".into(),
            content: content("first"),
            cloned_from: None,
        };
        let set = storage.create_model_set(&new, 0).await.expect("set");
        (dir, storage, set)
    }

    #[tokio::test]
    async fn a_stale_set_is_read_again_by_one_caller_while_the_others_keep_it() {
        let (_dir, storage, set) = storage_with_a_set().await;
        let sets = SetDirectory::new(storage.clone());
        let first = sets.find("ann", "chat").await.expect("find").expect("the set");
        assert_eq!(first.revision, 1);
        // Edited elsewhere (another replica): this directory sees it once its entry is stale.
        storage
            .update_model_set(set.id, &content("second"), 1)
            .await
            .expect("update");
        assert_eq!(
            sets.cached("ann", "chat").map(|s| s.map(|s| s.revision)),
            Some(Some(1)),
            "fresh"
        );
        tokio::time::sleep(FRESH_FOR).await;
        assert_eq!(
            sets.cached("ann", "chat"),
            None,
            "the first caller after expiry reads again"
        );
        assert_eq!(
            sets.cached("ann", "chat").map(|s| s.map(|s| s.revision)),
            Some(Some(1)),
            "meanwhile the others keep the set they had"
        );
        let read = sets.read("ann", "chat").await.expect("read").expect("the set");
        assert_eq!(read.revision, 2, "the first caller's read sees the edit");
        assert_eq!(sets.cached("ann", "chat").map(|s| s.map(|s| s.revision)), Some(Some(2)));
    }

    #[tokio::test]
    async fn requests_that_miss_together_share_one_read() {
        let (_dir, storage, _set) = storage_with_a_set().await;
        let sets = Arc::new(SetDirectory::new(storage.clone()));
        // The first request's read is in progress (it holds the lock) when the others miss.
        let reading = sets.reading.lock().await;
        let waiting: Vec<_> = (0..8)
            .map(|_| {
                let sets = sets.clone();
                tokio::spawn(async move { sets.find("ann", "chat").await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let asked = Instant::now();
        // What the first request's read stores; then it lets go.
        let first = sets.read("ann", "chat").await.expect("read").expect("the set");
        drop(reading);
        for w in waiting {
            let found = w.await.expect("join").expect("find").expect("the set");
            assert!(
                Arc::ptr_eq(&found, &first),
                "the waiting requests got the first read's set"
            );
        }
        assert!(sets.read_since("ann", "chat", asked).is_some());
    }
}
