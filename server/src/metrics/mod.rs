//! Request metrics off the request path: handlers hand a [`RequestRecord`] to a bounded
//! channel; one writer task stores them in batches and folds each batch into the
//! per-minute [`rollup`]s, stored at most once a second. On shutdown the channel closes when
//! the last handler is gone, the writer drains what is left, and `serve` waits for it.

pub mod rollup;

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::storage::{RequestRecord, SharedStorage};

/// Records waiting in memory before handlers start waiting for the writer.
const CAPACITY: usize = 16_384;
/// Records taken from the queue at the first wake-up of a round.
const BATCH: usize = 512;
/// How long the writer gathers records before storing a batch that is not full. Without
/// it, light traffic costs a transaction per request, which profiles showed to be most of
/// the gateway's CPU at low concurrency.
const GATHER: Duration = Duration::from_millis(50);
/// Attempts to store one batch before it is given up (and counted in the log).
const ATTEMPTS: u32 = 5;
/// How often the per-minute rollups are stored while traffic flows. Each write serialises
/// the touched sketches; doing it once a second instead of per batch keeps that work off
/// most batches (it runs on the request threads' runtime). Charts read per-minute rows, so a
/// second of lag is invisible; shutdown writes what is left.
const ROLLUP_EVERY: Duration = Duration::from_secs(1);

#[derive(Clone, Debug)]
pub struct MetricsSink {
    tx: mpsc::Sender<RequestRecord>,
}

impl MetricsSink {
    /// Queues a record without waiting. When the queue is full (the database is slower than
    /// the traffic) the record waits in a task of its own rather than being dropped.
    pub fn record(&self, record: RequestRecord) {
        match self.tx.try_send(record) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(record)) => {
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    if tx.send(record).await.is_err() {
                        tracing::error!("metrics writer gone; a request record was lost");
                    }
                });
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                tracing::error!("metrics writer gone; a request record was lost");
            }
        }
    }
}

/// Starts the writer; it ends after every sink is dropped and the queue is stored.
pub fn start(storage: SharedStorage) -> (MetricsSink, JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel(CAPACITY);
    // Each process owns its rollup rows, so replicas sharing a database never overwrite
    // one another.
    let writer_id = format!("{:016x}", rand::random::<u64>());
    let writer = tokio::spawn(async move {
        let mut batch = Vec::with_capacity(BATCH);
        let mut rollups = rollup::Rollups::new(writer_id);
        let mut stored: u64 = 0;
        // Set while rollups hold changes not yet written: the moment they became due.
        let mut rollups_due: Option<Instant> = None;
        // Parked without a timer while idle; once a record arrives, the writer sleeps out the
        // gathering window and then takes whatever queued meanwhile, so handlers' sends do not
        // wake it one by one.
        loop {
            let received = match rollups_due {
                None => rx.recv_many(&mut batch, BATCH).await,
                // `recv_many` is cancel-safe: a timeout loses no record.
                Some(due) => match tokio::time::timeout_at(due, rx.recv_many(&mut batch, BATCH)).await {
                    Ok(n) => n,
                    Err(_) => {
                        rollups_due = write_rollups(&storage, &mut rollups).await;
                        continue;
                    }
                },
            };
            if received == 0 {
                break;
            }
            tokio::time::sleep(GATHER).await;
            while let Ok(record) = rx.try_recv() {
                batch.push(record);
                if batch.len() >= CAPACITY {
                    break;
                }
            }
            if store(&storage, &batch).await {
                if let Err(e) = rollups.add(&storage, &batch).await {
                    tracing::warn!(error = %e, "updating rollups failed; the records are stored");
                }
            }
            stored += batch.len() as u64;
            batch.clear();
            if rollups.is_dirty() {
                let due = *rollups_due.get_or_insert_with(|| Instant::now() + ROLLUP_EVERY);
                if Instant::now() >= due {
                    rollups_due = write_rollups(&storage, &mut rollups).await;
                }
            }
        }
        if rollups.is_dirty() {
            write_rollups(&storage, &mut rollups).await;
        }
        tracing::info!(stored, "metrics writer finished");
    });
    (MetricsSink { tx }, writer)
}

/// Stores the changed rollups; on failure returns when to try again.
async fn write_rollups(storage: &SharedStorage, rollups: &mut rollup::Rollups) -> Option<Instant> {
    match rollups.write(storage).await {
        Ok(()) => None,
        Err(e) => {
            tracing::warn!(error = %e, "storing rollups failed; retrying");
            Some(Instant::now() + ROLLUP_EVERY)
        }
    }
}

/// Stores a batch, retrying with backoff; false when it was given up.
async fn store(storage: &SharedStorage, batch: &[RequestRecord]) -> bool {
    let mut wait = Duration::from_millis(50);
    for attempt in 1..=ATTEMPTS {
        match storage.insert_request_records(batch).await {
            Ok(()) => return true,
            Err(e) if attempt < ATTEMPTS => {
                tracing::warn!(error = %e, attempt, "storing request records failed; retrying");
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            Err(e) => tracing::error!(error = %e, lost = batch.len(), "storing request records failed; giving up"),
        }
    }
    false
}
