//! The registry's listing: which sets match a search, in which order, one page at a time.
//!
//! Storage answers which sets match (PostgreSQL from its trigram indexes, SQLite by a scan)
//! and reads the page's sets by id; the orders are made here. Ordering by traffic needs every
//! set's requests over the last day, and summing them inside each registry query was most of
//! what a search cost (PostgreSQL: 1.5–3 ms of aggregation, then a join that read every set's
//! whole row). So the sums are read once for all requests, as a [`Snapshot`] renewed at most
//! every [`FRESH_FOR`], in the background while requests keep the one they have.
//!
//! What a card *shows* is not from the snapshot: its request count and sparkline are read with
//! the page, so they are current. Only the order may lag, by up to [`FRESH_FOR`] (plus the
//! metrics writer's flush), and with several replicas each renews its own snapshot from the
//! shared rollups.

use std::cmp::Reverse;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use app::model_set::ModelSet;

use crate::hash_map::HashMap;
use crate::monitoring::{self, RecentRequests};
use crate::storage::{SetActivity, SetFilter, SharedStorage, StorageResult};

/// How long a traffic snapshot orders the registry before it is renewed.
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

/// Every set's traffic over one "last day" window, as read at one moment.
struct Snapshot {
    /// The window's start ([`monitoring::last_day_since`]).
    since: i64,
    read_at: Instant,
    by_set: HashMap<i64, SetActivity>,
}

/// The registry: lists sets in order, reading traffic sums at most every [`FRESH_FOR`].
pub struct Registry {
    storage: SharedStorage,
    snapshot: Arc<RwLock<Option<Arc<Snapshot>>>>,
    /// Set while one renewal runs, so a busy registry starts one read, not one per request.
    renewing: Arc<AtomicBool>,
}

impl Registry {
    pub fn new(storage: SharedStorage) -> Self {
        Registry {
            storage,
            snapshot: Arc::default(),
            renewing: Arc::default(),
        }
    }

    /// The page `query` asks for, counting traffic in the day before `now_ms`.
    pub async fn page(&self, query: &RegistryQuery, now_ms: i64) -> StorageResult<RegistryListing> {
        // Newest first, as stored.
        let mut matches = self.storage.registry_matches(&query.filter).await?;
        if query.sort != SetSort::Newest {
            let activity = self.activity(monitoring::last_day_since(now_ms)).await?;
            order_by_traffic(&mut matches, &activity.by_set, query.sort);
        }
        let ids: Vec<i64> = matches.iter().skip(query.offset).take(query.limit).copied().collect();
        let sets = self.storage.model_sets_by_ids(&ids).await?;
        let mut recent = monitoring::recent_requests(&self.storage, &ids, now_ms).await?;
        let entries = sets
            .into_iter()
            .map(|set| RegistryEntry {
                recent: recent.remove(&set.id).unwrap_or_default(),
                set,
            })
            .collect();
        Ok(RegistryListing {
            entries,
            total: matches.len(),
        })
    }

    /// The traffic snapshot for the window starting at `since`. A fresh one is used as it is;
    /// a stale one too, while a background task renews it; none, or one of another window
    /// (the hour turned), is read before answering.
    async fn activity(&self, since: i64) -> StorageResult<Arc<Snapshot>> {
        let current = self
            .snapshot
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        match current {
            Some(snapshot) if snapshot.since == since => {
                if snapshot.read_at.elapsed() >= FRESH_FOR {
                    self.renew_in_background(since);
                }
                Ok(snapshot)
            }
            _ => read_snapshot(&self.storage, &self.snapshot, since).await,
        }
    }

    fn renew_in_background(&self, since: i64) {
        if self.renewing.swap(true, Ordering::AcqRel) {
            return;
        }
        let (storage, slot, renewing) = (self.storage.clone(), self.snapshot.clone(), self.renewing.clone());
        tokio::spawn(async move {
            if let Err(e) = read_snapshot(&storage, &slot, since).await {
                tracing::warn!(error = %e, "the registry's traffic snapshot was not renewed");
            }
            renewing.store(false, Ordering::Release);
        });
    }
}

/// Reads every set's traffic since `since` and keeps it in `slot`.
async fn read_snapshot(
    storage: &SharedStorage,
    slot: &RwLock<Option<Arc<Snapshot>>>,
    since: i64,
) -> StorageResult<Arc<Snapshot>> {
    let read_at = Instant::now();
    let by_set = storage
        .set_activity(since)
        .await?
        .into_iter()
        .map(|a| (a.set_id, a))
        .collect();
    let snapshot = Arc::new(Snapshot { since, read_at, by_set });
    let mut slot = slot.write().unwrap_or_else(|poisoned| poisoned.into_inner());
    // A slower read that started earlier does not replace a later one.
    let newer = slot
        .as_ref()
        .is_some_and(|kept| kept.since == since && kept.read_at > read_at);
    if !newer {
        *slot = Some(snapshot.clone());
    }
    Ok(snapshot)
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
