//! The registry's listing: which sets match a search, in which order, one page at a time.
//!
//! Both the search and the orders are made here, from two snapshots of storage that every
//! request shares, each renewed at most every [`FRESH_FOR`] in the background while requests
//! keep the one they have:
//! - the **search entries** ([`Storage::search_entries`]): every set's search text, categories,
//!   tags and owner, newest first, matched in memory by [`SetFilter::matcher`] (the same rule
//!   as the storage's SQL condition). In the database a common word cost PostgreSQL 2-4 ms of
//!   a 20 ms budget (a trigram index pays little when a fifth of the sets match, and every
//!   match's wide row was read to check it); in memory 10,000 sets are scanned in about 0.3 ms.
//!   This replica's own writes (create, edit, delete: [`Registry::invalidate`]) drop the
//!   snapshot, so they show at once; another replica's show within [`FRESH_FOR`], and a set
//!   deleted there is left off the page at once (its row is gone) and the entries re-read.
//! - the **traffic** ([`Storage::set_activity`]): every set's requests over the last day, for
//!   the orders by use. Summing them inside each registry query was most of what a search cost.
//!
//! What a card *shows* is not from a snapshot: its request count and sparkline are read with
//! the page, so they are current. Only the order and the matches may lag, by up to
//! [`FRESH_FOR`] (plus the metrics writer's flush), and with several replicas each renews its
//! own snapshots from the shared database.
//!
//! [`Storage::search_entries`]: crate::storage::Storage::search_entries
//! [`Storage::set_activity`]: crate::storage::Storage::set_activity

use std::cmp::Reverse;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use app::model_set::ModelSet;

use crate::hash_map::HashMap;
use crate::monitoring::{self, RecentRequests};
use crate::storage::{SearchEntry, SetActivity, SetFilter, SharedStorage, StorageResult};

/// How long a snapshot (search entries, traffic) serves before it is renewed.
pub const FRESH_FOR: Duration = Duration::from_secs(5);

/// The registry's orders.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SetSort {
    /// Most requests in the last day first; sets without traffic after, newest first.
    #[default]
    MostUsed,
    /// The latest hour with traffic first; sets without traffic after, newest first.
    RecentlyActive,
    /// Created most recently first.
    Newest,
}

/// One page of the registry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RegistryQuery {
    pub filter: SetFilter,
    pub sort: SetSort,
    pub offset: usize,
    pub limit: usize,
}

/// A set on a registry page, with its recent requests.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryEntry {
    pub set: ModelSet,
    pub recent: RecentRequests,
}

/// A page of the registry and how many sets match in all.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryListing {
    pub entries: Vec<RegistryEntry>,
    pub total: usize,
}

/// A value read from storage at one moment, for one key (the traffic's window; `()` for the
/// search entries) and one generation (bumped by [`Kept::invalidate`]).
struct Stamped<K, T> {
    key: K,
    generation: u64,
    read_at: Instant,
    value: T,
}

/// Where a snapshot is kept (shared with the task renewing it).
type Slot<K, T> = Arc<RwLock<Option<Arc<Stamped<K, T>>>>>;

/// A snapshot all requests share: used while fresh, used and renewed in the background once
/// stale, read before answering when missing, of another key, or invalidated.
struct Kept<K, T> {
    slot: Slot<K, T>,
    /// Set while one renewal runs, so a busy registry starts one read, not one per request.
    renewing: Arc<AtomicBool>,
    generation: Arc<AtomicU64>,
}

impl<K, T> Kept<K, T>
where
    K: PartialEq + Copy + Send + Sync + 'static,
    T: Send + Sync + 'static,
{
    fn new() -> Self {
        Kept {
            slot: Arc::default(),
            renewing: Arc::default(),
            generation: Arc::default(),
        }
    }

    /// Drops the snapshot: the next request reads a new one (and a renewal already running
    /// does not put back what it read before).
    fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        *self.slot.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
    }

    /// The snapshot for `key`; `read` reads a new one from storage.
    async fn get<F, Fut>(&self, key: K, read: F) -> StorageResult<Arc<Stamped<K, T>>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = StorageResult<T>> + Send + 'static,
    {
        let current = self
            .slot
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        let generation = self.generation.load(Ordering::Acquire);
        match current {
            Some(kept) if kept.key == key && kept.generation == generation => {
                if kept.read_at.elapsed() >= FRESH_FOR && !self.renewing.swap(true, Ordering::AcqRel) {
                    let (slot, renewing, generations) =
                        (self.slot.clone(), self.renewing.clone(), self.generation.clone());
                    let reading = read();
                    tokio::spawn(async move {
                        if let Err(e) = keep(&slot, &generations, key, generation, reading).await {
                            tracing::warn!(error = %e, "a registry snapshot was not renewed");
                        }
                        renewing.store(false, Ordering::Release);
                    });
                }
                Ok(kept)
            }
            _ => keep(&self.slot, &self.generation, key, generation, read()).await,
        }
    }
}

/// Reads a snapshot and keeps it, unless the slot was invalidated meanwhile or holds a later read.
async fn keep<K: PartialEq, T>(
    slot: &RwLock<Option<Arc<Stamped<K, T>>>>,
    generations: &AtomicU64,
    key: K,
    generation: u64,
    reading: impl Future<Output = StorageResult<T>>,
) -> StorageResult<Arc<Stamped<K, T>>> {
    let read_at = Instant::now();
    let value = reading.await?;
    let stamped = Arc::new(Stamped {
        key,
        generation,
        read_at,
        value,
    });
    let mut slot = slot.write().unwrap_or_else(|poisoned| poisoned.into_inner());
    let newer = slot
        .as_ref()
        .is_some_and(|kept| kept.key == stamped.key && kept.read_at > read_at);
    if !newer && generations.load(Ordering::Acquire) == generation {
        *slot = Some(stamped.clone());
    }
    Ok(stamped)
}

/// The registry: searches and orders sets from snapshots renewed at most every [`FRESH_FOR`].
pub struct Registry {
    storage: SharedStorage,
    entries: Kept<(), Vec<SearchEntry>>,
    /// Keyed by the last-day window's start ([`monitoring::last_day_since`]).
    traffic: Kept<i64, HashMap<i64, SetActivity>>,
}

impl Registry {
    pub fn new(storage: SharedStorage) -> Self {
        Registry {
            storage,
            entries: Kept::new(),
            traffic: Kept::new(),
        }
    }

    /// Forgets the search entries after a change to a set here, so the next page sees it.
    pub fn invalidate(&self) {
        self.entries.invalidate();
    }

    /// The page `query` asks for, counting traffic in the day before `now_ms`.
    pub async fn page(&self, query: &RegistryQuery, now_ms: i64) -> StorageResult<RegistryListing> {
        // Twice at most: once more when a set matched was deleted since the entries were read.
        let mut listing = self.try_page(query, now_ms).await?;
        if listing.is_none() {
            self.invalidate();
            listing = self.try_page(query, now_ms).await?;
        }
        Ok(listing.unwrap_or(RegistryListing {
            entries: Vec::new(),
            total: 0,
        }))
    }

    /// The page, or `None` when a set on it no longer exists (the entries are out of date).
    async fn try_page(&self, query: &RegistryQuery, now_ms: i64) -> StorageResult<Option<RegistryListing>> {
        let storage = self.storage.clone();
        let entries = self
            .entries
            .get((), || async move { storage.search_entries().await })
            .await?;
        // Newest first, as read.
        let matcher = query.filter.matcher();
        let mut matches: Vec<i64> = entries
            .value
            .iter()
            .filter(|e| matcher.matches(e))
            .map(|e| e.id)
            .collect();
        if query.sort != SetSort::Newest {
            let since = monitoring::last_day_since(now_ms);
            let storage = self.storage.clone();
            let traffic = self
                .traffic
                .get(since, || async move {
                    let rows = storage.set_activity(since).await?;
                    Ok(rows.into_iter().map(|a| (a.set_id, a)).collect())
                })
                .await?;
            order_by_traffic(&mut matches, &traffic.value, query.sort);
        }
        let ids: Vec<i64> = matches.iter().skip(query.offset).take(query.limit).copied().collect();
        let sets = self.storage.model_sets_by_ids(&ids).await?;
        if sets.len() < ids.len() {
            return Ok(None);
        }
        let mut recent = monitoring::recent_requests(&self.storage, &ids, now_ms).await?;
        let entries = sets
            .into_iter()
            .map(|set| RegistryEntry {
                recent: recent.remove(&set.id).unwrap_or_default(),
                set,
            })
            .collect();
        Ok(Some(RegistryListing {
            entries,
            total: matches.len(),
        }))
    }
}

/// Sorts set ids (newest first) by traffic (`sort`: most requests, or the latest hour with
/// traffic), the sets without traffic after them; ties keep their order, newest first.
fn order_by_traffic(ids: &mut [i64], activity: &HashMap<i64, SetActivity>, sort: SetSort) {
    // Active sets first whatever their key's value, then by the key.
    ids.sort_by_key(|id| {
        Reverse(activity.get(id).map(|a| match sort {
            SetSort::RecentlyActive => a.last_active,
            _ => a.requests,
        }))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn activity(rows: &[(i64, i64, i64)]) -> HashMap<i64, SetActivity> {
        rows.iter()
            .map(|&(set_id, requests, last_active)| {
                (
                    set_id,
                    SetActivity {
                        set_id,
                        requests,
                        last_active,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn traffic_orders_active_sets_first_then_the_newest_quiet_ones() {
        // Newest first, as storage gives them.
        let all: Vec<i64> = (1..=5).rev().collect();
        // Set 2: most requests but an older hour; set 4: fewer, latest; 1, 3, 5: quiet.
        let traffic = activity(&[(2, 50, 100), (4, 7, 300), (1, 7, 200)]);
        let mut by_use = all.clone();
        order_by_traffic(&mut by_use, &traffic, SetSort::MostUsed);
        assert_eq!(
            by_use,
            [2, 4, 1, 5, 3],
            "requests, ties newest first, then the quiet ones newest first"
        );
        let mut by_recency = all;
        order_by_traffic(&mut by_recency, &traffic, SetSort::RecentlyActive);
        assert_eq!(by_recency, [4, 1, 2, 5, 3]);
    }
}
