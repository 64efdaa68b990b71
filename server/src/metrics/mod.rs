//! Request metrics off the request path: handlers hand a [`RequestRecord`] to a queue;
//! writers store them in batches and fold each batch into the per-minute [`rollup`]s,
//! stored at most once a second. On shutdown the queue closes when the last handler is gone,
//! the writers drain what is left, and `serve` waits for them.
//!
//! Two writers share the queue, each with rollup rows of its own:
//! - The **background writer** runs on a thread of its own at the lowest CPU priority
//!   (`SCHED_IDLE` on Linux) and stores through a connection that thread opened, so SQLite's
//!   work, on a thread the connection starts, inherits the priority. It runs when the core
//!   would otherwise idle, and a request thread that wakes takes the core back at once. At the
//!   request threads' priority, each batch's SQLite work used to preempt them and keep the core
//!   until the next scheduler tick: up to 4 ms at one request at a time.
//! - The **catch-up writer** is a task on the request runtime at normal priority. A thread at
//!   idle priority gets almost no CPU on a saturated core, so this one takes over when the
//!   queue holds more than [`HIGH_WATER`] records, or when the background writer has made no
//!   progress for [`STALL`] while records wait, and for good once the queue closes. On SQLite
//!   it stores through a connection of its own whose thread runs at [`CATCH_UP_NICE`]: lower
//!   than the request threads, so one that wakes takes the core back, yet with a share of a
//!   saturated core well above what storing its records needs. At the request threads'
//!   priority, its SQLite work took the core for whole scheduler slices while every request
//!   in flight waited. While it
//!   stores, the background writer takes nothing, so it is not starved in the middle of its
//!   statements: a statement in progress holds SQLite's write lock and the catch-up writer
//!   waits for it. That is also why records go [`RECORDS_PER_INSERT`] to a statement with no
//!   transaction around them: a starved writer holds the lock for one statement's work (well
//!   under a millisecond of CPU; at an idle thread's share of a saturated core, a fraction of
//!   a second), where 512-row transactions held it 1–2 s in the benchmark and the queue backed
//!   up meanwhile.
//!   It hands back after at least [`HANDBACK`], once the standing-aside background writer has
//!   woken on time for [`SPARE_CHECKS`] checks in a row: a sign the core has idle moments
//!   again. On a saturated core an idle-priority thread wakes milliseconds late, so no
//!   hand-back is tried there (each would risk a batch starved while holding the write lock).
//!
//! Why two writers rather than one that changes priority: any thread may lower its own
//! priority, but raising it back needs CAP_SYS_NICE, which a normal deployment lacks.

pub mod rollup;

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::storage::{RequestRecord, SharedStorage, RECORDS_PER_INSERT};

/// Records a writer takes from the queue at a time.
const BATCH: usize = 512;
/// How long the background writer gathers records before storing a batch that is not full.
/// Without it, light traffic costs a statement per request, which profiles showed to be
/// most of the gateway's CPU at low concurrency.
const GATHER: Duration = Duration::from_millis(50);
/// Queued records beyond which the catch-up writer stores them (a few batches: about 0.1 s of
/// traffic at the gateway's top rate on one core).
const HIGH_WATER: usize = 4 * BATCH;
/// Queued records at which the operator is warned that the database falls behind (about 10 s
/// of traffic at the gateway's top rate on one core; tens of megabytes). Warned again at each
/// doubling.
const PILING_UP: usize = 100_000;
/// How long records may wait while the background writer makes no progress before the catch-up
/// writer stores them.
const STALL: Duration = Duration::from_millis(500);
/// How often the catch-up writer looks at the queue.
const CHECK_EVERY: Duration = Duration::from_millis(100);
/// The least time the catch-up writer stores before handing back to the background writer.
const HANDBACK: Duration = Duration::from_secs(2);
/// Consecutive on-time wake-ups of the standing-aside background writer (one per
/// [`CHECK_EVERY`]) before the catch-up writer hands back.
const SPARE_CHECKS: u32 = 10;
/// How late a wake-up may be and still count as on time. An idle core wakes the thread well
/// within a millisecond (tokio's timer rounds to one); on a saturated core an idle-priority
/// thread waits for a slice, milliseconds.
const ON_TIME: Duration = Duration::from_millis(2);
/// Attempts to store one batch before it is given up (and counted in the log).
const ATTEMPTS: u32 = 5;
/// How often the per-minute rollups are stored while traffic flows. Each write serialises
/// the touched sketches; doing it once a second instead of per batch keeps that work off
/// most batches. Charts read per-minute rows, so a second of lag is invisible; shutdown
/// writes what is left.
const ROLLUP_EVERY: Duration = Duration::from_secs(1);
/// The background writer's thread name (shown by `top -H`, checked by the tests).
pub const BACKGROUND_THREAD: &str = "records-writer";
/// The nice value of the thread that runs the catch-up writer's SQLite statements (request
/// threads run at 0). Linux gives a nice-5 thread about a quarter of a core it contends for;
/// storing a saturated core's records takes about a twentieth (the profile at 16 concurrent
/// requests), and a waking request thread, with the earlier deadline, preempts it.
pub const CATCH_UP_NICE: i8 = 5;

#[derive(Clone, Debug)]
pub struct MetricsSink {
    tx: flume::Sender<RequestRecord>,
}

impl MetricsSink {
    /// Queues a record without waiting. The queue has no bound: when the database is slower
    /// than the traffic, records wait in memory (a few hundred bytes each) rather than being
    /// dropped or holding up the response.
    pub fn record(&self, record: RequestRecord) {
        if self.tx.send(record).is_err() {
            tracing::error!("metrics writers gone; a request record was lost");
        }
    }
}

/// The running writers; [`MetricsWriters::finished`] waits until both have stored everything.
pub struct MetricsWriters {
    background: Option<oneshot::Receiver<()>>,
    catch_up: JoinHandle<()>,
}

impl MetricsWriters {
    /// Returns once every sink is dropped and the queue is stored.
    pub async fn finished(self) {
        if let Err(e) = self.catch_up.await {
            tracing::error!(error = %e, "the catch-up metrics writer failed");
        }
        if let Some(background) = self.background {
            // An error means the thread ended early (logged there); the catch-up writer has
            // stored the queue meanwhile.
            let _ = background.await;
        }
    }
}

/// What the two writers tell each other.
#[derive(Default)]
struct Handover {
    /// Steps the background writer has taken (records taken, batches stored).
    progress: AtomicU64,
    /// Set while the catch-up writer stores everything; the background writer takes nothing.
    catching_up: AtomicBool,
    /// Meanwhile: how many times in a row the background writer woke on time.
    on_time: AtomicU32,
}

/// Starts both writers. Must be called inside the request runtime.
pub fn start(storage: SharedStorage) -> (MetricsSink, MetricsWriters) {
    let (tx, rx) = flume::unbounded();
    let handover = Arc::new(Handover::default());
    let background = spawn_background(Writer::new(rx.clone(), storage.clone()), handover.clone());
    let catch_up = tokio::spawn(run_catch_up(Writer::new(rx, storage), handover));
    (MetricsSink { tx }, MetricsWriters { background, catch_up })
}

/// Starts the background writer's thread; None (logged) when the system refuses one, and the
/// catch-up writer then stores everything.
fn spawn_background(writer: Writer, handover: Arc<Handover>) -> Option<oneshot::Receiver<()>> {
    let (done_tx, done) = oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name(BACKGROUND_THREAD.into())
        .spawn(move || {
            lower_current_thread(Lowered::Idle);
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(e) => {
                    tracing::error!(error = %e, "no runtime for the background metrics writer");
                    return;
                }
            };
            runtime.block_on(async move {
                let mut writer = writer;
                match writer.storage.connect_again().await {
                    Ok(own) => writer.storage = own,
                    Err(e) => tracing::warn!(error = %e, "background metrics writer shares the server's connections"),
                }
                run_background(writer, handover).await;
            });
            let _ = done_tx.send(());
        });
    match spawned {
        Ok(_) => Some(done),
        Err(e) => {
            tracing::error!(error = %e, "no thread for the background metrics writer");
            None
        }
    }
}

/// How far a writer's thread lowers its CPU priority.
#[derive(Clone, Copy, Debug)]
enum Lowered {
    /// `SCHED_IDLE`: runs only when the core would otherwise idle.
    Idle,
    /// A normal thread at this nice value.
    Nice(i8),
}

/// Lowers the calling thread's priority (threads it starts inherit it); logs when the system
/// refuses.
#[cfg(target_os = "linux")]
fn lower_current_thread(to: Lowered) {
    use thread_priority::unix::{
        set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy, ThreadSchedulePolicy,
        NICENESS_MAX, NICENESS_MIN,
    };
    use thread_priority::{ThreadPriority, ThreadPriorityValue};
    let (priority, policy) = match to {
        Lowered::Idle => (Ok(ThreadPriority::Min), NormalThreadSchedulePolicy::Idle),
        Lowered::Nice(nice) => {
            // The crate sets a nice value from its portable 0–99 scale, mapped linearly onto
            // 19 down to -20 and rounded toward 19; the largest value that maps to `nice` is
            // this one. (The gateway's tests check the nice value the thread gets.)
            let span = f32::from(NICENESS_MIN) - f32::from(NICENESS_MAX);
            let top = f32::from(u8::from(ThreadPriorityValue::MAX));
            let value = ((f32::from(NICENESS_MIN) - f32::from(nice)) / span * top).floor() as u8;
            let priority = ThreadPriorityValue::try_from(value).map(ThreadPriority::Crossplatform);
            (priority, NormalThreadSchedulePolicy::Other)
        }
    };
    let policy = ThreadSchedulePolicy::Normal(policy);
    match priority.map(|p| set_thread_priority_and_policy(thread_native_id(), p, policy)) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = ?e, ?to, "a metrics writer keeps normal priority"),
        Err(e) => tracing::warn!(error = %e, ?to, "a metrics writer keeps normal priority"),
    }
}

/// Elsewhere the writers keep normal priority.
#[cfg(not(target_os = "linux"))]
fn lower_current_thread(_to: Lowered) {}

/// Waits for records, gathers for [`GATHER`], stores, and counts each step in `progress`;
/// stands aside while the catch-up writer stores.
async fn run_background(mut writer: Writer, handover: Arc<Handover>) {
    let rx = writer.rx.clone();
    loop {
        if handover.catching_up.load(Ordering::Relaxed) {
            if rx.is_disconnected() && rx.is_empty() {
                break;
            }
            if writer.rollups_due.is_some_and(|due| Instant::now() >= due) {
                writer.write_rollups().await;
            }
            let asleep = Instant::now();
            tokio::time::sleep(CHECK_EVERY).await;
            let late = asleep.elapsed().saturating_sub(CHECK_EVERY);
            tracing::trace!(late_us = late.as_micros() as u64, "background metrics writer woke");
            if late <= ON_TIME {
                handover.on_time.fetch_add(1, Ordering::Relaxed);
            } else {
                handover.on_time.store(0, Ordering::Relaxed);
            }
            continue;
        }
        let first = match writer.rollups_due {
            None => rx.recv_async().await,
            // Dropping the receive future loses no record: flume keeps them queued.
            Some(due) => match tokio::time::timeout_at(due, rx.recv_async()).await {
                Ok(received) => received,
                Err(_) => {
                    writer.write_rollups().await;
                    continue;
                }
            },
        };
        // Err: the queue is closed and empty.
        let Ok(first) = first else { break };
        handover.progress.fetch_add(1, Ordering::Relaxed);
        // A backlog needs no gathering: storing it at once is how the writer catches up.
        if rx.len() < BATCH - 1 {
            tokio::time::sleep(GATHER).await;
        }
        let mut batch = vec![first];
        if !handover.catching_up.load(Ordering::Relaxed) {
            batch.extend(rx.try_iter().take(BATCH - 1));
        }
        writer.store(&batch).await;
        handover.progress.fetch_add(1, Ordering::Relaxed);
    }
    writer.finish("background").await;
}

/// Every [`CHECK_EVERY`], takes over from the background writer if the queue backed up or the
/// background writer stalled, hands back when due; ends once the queue is closed and stored.
async fn run_catch_up(mut writer: Writer, handover: Arc<Handover>) {
    writer.storage = catch_up_storage(writer.storage).await;
    let mut tick = tokio::time::interval(CHECK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // While records wait: the background writer's progress count when they were first seen
    // waiting, and when.
    let mut waiting: Option<(u64, Instant)> = None;
    // When the catch-up writer took over (None: the background writer stores).
    let mut took_over: Option<Instant> = None;
    let mut warn_at = PILING_UP;
    loop {
        tick.tick().await;
        let queued = writer.rx.len();
        if queued >= warn_at {
            tracing::warn!(
                queued,
                "request records are piling up in memory: the database is slower than the traffic"
            );
            warn_at *= 2;
        } else if queued < PILING_UP / 2 {
            warn_at = PILING_UP;
        }
        let closed = writer.rx.is_disconnected();
        let stalled = if writer.rx.is_empty() {
            waiting = None;
            false
        } else {
            let now = handover.progress.load(Ordering::Relaxed);
            match waiting {
                Some((seen, since)) if seen == now => since.elapsed() >= STALL,
                _ => {
                    waiting = Some((now, Instant::now()));
                    false
                }
            }
        };
        let backed_up = queued > HIGH_WATER;
        match took_over {
            None if closed || stalled || backed_up => {
                took_over = Some(Instant::now());
                handover.on_time.store(0, Ordering::Relaxed);
                handover.catching_up.store(true, Ordering::Relaxed);
                tracing::debug!(stalled, backed_up, "catch-up metrics writer takes over");
            }
            Some(since)
                if !closed
                    && !backed_up
                    && since.elapsed() >= HANDBACK
                    && handover.on_time.load(Ordering::Relaxed) >= SPARE_CHECKS =>
            {
                took_over = None;
                waiting = None;
                handover.catching_up.store(false, Ordering::Relaxed);
                tracing::debug!("catch-up metrics writer hands back");
            }
            _ => {}
        }
        if took_over.is_some() {
            loop {
                let batch: Vec<RequestRecord> = writer.rx.try_iter().take(BATCH).collect();
                if batch.is_empty() {
                    break;
                }
                writer.store(&batch).await;
            }
        }
        if closed && writer.rx.is_empty() {
            break;
        }
        if writer.rollups_due.is_some_and(|due| Instant::now() >= due) {
            writer.write_rollups().await;
        }
    }
    writer.finish("catch-up").await;
}

/// The catch-up writer's storage. When the database works in this process (SQLite): a
/// connection of its own, opened on a short-lived thread lowered to [`CATCH_UP_NICE`], so the
/// thread SQLite starts for the connection inherits that priority. Such a connection needs
/// nothing from the runtime that opened it (its thread and channels are its own), so it
/// outlives that thread's runtime. Otherwise, or when the thread or connection fails (logged),
/// the server's own.
async fn catch_up_storage(shared: SharedStorage) -> SharedStorage {
    if !shared.works_in_process() {
        return shared;
    }
    let (tx, rx) = oneshot::channel();
    let storage = shared.clone();
    let spawned = std::thread::Builder::new()
        .name("records-connect".into())
        .spawn(move || {
            lower_current_thread(Lowered::Nice(CATCH_UP_NICE));
            let opened = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime.block_on(storage.connect_again()).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            let _ = tx.send(opened);
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "catch-up metrics writer shares the server's connections");
        return shared;
    }
    match rx.await {
        Ok(Ok(own)) => own,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "catch-up metrics writer shares the server's connections");
            shared
        }
        Err(_) => shared,
    }
}

/// One writer: the queue it drains, where it stores, and its own rollup rows.
struct Writer {
    rx: flume::Receiver<RequestRecord>,
    storage: SharedStorage,
    rollups: rollup::Rollups,
    /// Set while rollups hold changes not yet written: the moment they became due.
    rollups_due: Option<Instant>,
    stored: u64,
}

impl Writer {
    fn new(rx: flume::Receiver<RequestRecord>, storage: SharedStorage) -> Writer {
        // Each writer owns its rollup rows, so writers (and replicas sharing a database) never
        // overwrite one another.
        let id = format!("{:016x}", rand::random::<u64>());
        Writer {
            rx,
            storage,
            rollups: rollup::Rollups::new(id),
            rollups_due: None,
            stored: 0,
        }
    }

    /// Stores the batch a statement's worth at a time, folds it into the rollups, and writes
    /// them when due.
    async fn store(&mut self, batch: &[RequestRecord]) {
        for chunk in batch.chunks(RECORDS_PER_INSERT) {
            if store(&self.storage, chunk).await {
                if let Err(e) = self.rollups.add(&self.storage, chunk).await {
                    tracing::warn!(error = %e, "updating rollups failed; the records are stored");
                }
            }
        }
        self.stored += batch.len() as u64;
        if self.rollups.is_dirty() {
            let due = *self.rollups_due.get_or_insert_with(|| Instant::now() + ROLLUP_EVERY);
            if Instant::now() >= due {
                self.write_rollups().await;
            }
        }
    }

    /// Stores the changed rollups; on failure tries again [`ROLLUP_EVERY`] later.
    async fn write_rollups(&mut self) {
        self.rollups_due = match self.rollups.write(&self.storage).await {
            Ok(()) => None,
            Err(e) => {
                tracing::warn!(error = %e, "storing rollups failed; retrying");
                Some(Instant::now() + ROLLUP_EVERY)
            }
        };
    }

    async fn finish(mut self, name: &str) {
        if self.rollups.is_dirty() {
            self.write_rollups().await;
        }
        tracing::info!(writer = name, stored = self.stored, "metrics writer finished");
    }
}

/// Stores up to [`RECORDS_PER_INSERT`] records (all or none), retrying with backoff; false
/// when they were given up.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn record(i: usize) -> RequestRecord {
        RequestRecord {
            request_id: format!("r{i}"),
            at: crate::clock::now_ms(),
            account_id: 1,
            api_key_id: None,
            model_set_id: Some(7),
            model_id: "sim/a".into(),
            status: 200,
            error_class: None,
            latency_ms: 10.0 + i as f64,
            ttft_ms: Some(5.0),
            output_tokens_per_s: Some(50.0),
            prompt_tokens: 3,
            completion_tokens: 4,
            cost_usd: 0.001,
            eval_sampled: false,
            eval_cost_usd: 0.0,
        }
    }

    async fn sqlite() -> (tempfile::TempDir, SharedStorage) {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("metrics.db").display());
        let storage = crate::storage::connect(&url).await.expect("open");
        (dir, storage)
    }

    /// Stored records, and the request count over every writer's rollup rows.
    async fn stored(storage: &SharedStorage) -> (i64, i64) {
        let records = storage.count_request_records().await.expect("count");
        let rolled = storage
            .rollups(crate::storage::Grain::Minute.into(), 7, 0, i64::MAX)
            .await
            .expect("rollups");
        (records, rolled.iter().map(|r| r.count).sum())
    }

    #[tokio::test]
    async fn both_writers_store_every_record_and_its_rollup() {
        let (_dir, storage) = sqlite().await;
        let (sink, writers) = start(storage.clone());
        for i in 0..3000 {
            sink.record(record(i));
        }
        drop(sink);
        writers.finished().await;
        assert_eq!(stored(&storage).await, (3000, 3000));
    }

    /// The catch-up writer alone, as a starved background writer leaves it; `handover` stands
    /// for the background writer's side.
    fn catch_up_only(storage: &SharedStorage) -> (MetricsSink, JoinHandle<()>, Arc<Handover>) {
        let (tx, rx) = flume::unbounded();
        let handover = Arc::new(Handover::default());
        let task = tokio::spawn(run_catch_up(Writer::new(rx, storage.clone()), handover.clone()));
        (MetricsSink { tx }, task, handover)
    }

    async fn wait_for_count(storage: &SharedStorage, n: i64) -> i64 {
        let mut count = 0;
        for _ in 0..100 {
            count = storage.count_request_records().await.expect("count");
            if count >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        count
    }

    #[tokio::test]
    async fn catch_up_stores_what_a_stalled_background_writer_leaves_waiting() {
        let (_dir, storage) = sqlite().await;
        let (sink, catch_up, handover) = catch_up_only(&storage);
        for i in 0..10 {
            sink.record(record(i));
        }
        // Stored while the queue is open: the stall, not the shutdown, triggered it.
        assert_eq!(wait_for_count(&storage, 10).await, 10);
        assert!(
            handover.catching_up.load(Ordering::Relaxed),
            "the background writer is told to stand aside"
        );
        sink.record(record(10));
        drop(sink);
        catch_up.await.expect("catch-up writer");
        assert_eq!(stored(&storage).await, (11, 11));
    }

    #[tokio::test]
    async fn catch_up_leaves_a_progressing_background_writer_alone_until_the_queue_backs_up() {
        let (_dir, storage) = sqlite().await;
        let (sink, catch_up, handover) = catch_up_only(&storage);
        // A background writer that is slow but alive: no stall is ever seen.
        let side = handover.clone();
        let alive = tokio::spawn(async move {
            loop {
                side.progress.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        for i in 0..10 {
            sink.record(record(i));
        }
        tokio::time::sleep(STALL * 2).await;
        assert_eq!(
            storage.count_request_records().await.expect("count"),
            0,
            "a few records are the background writer's"
        );
        assert!(!handover.catching_up.load(Ordering::Relaxed));
        let backlog = HIGH_WATER + 100;
        for i in 10..10 + backlog {
            sink.record(record(i));
        }
        let all = (10 + backlog) as i64;
        assert_eq!(wait_for_count(&storage, all).await, all, "a backlog is stored at once");
        alive.abort();
        drop(sink);
        catch_up.await.expect("catch-up writer");
        assert_eq!(stored(&storage).await, (all, all));
    }

    #[tokio::test]
    async fn catch_up_hands_back_only_once_the_background_writer_wakes_on_time() {
        let (_dir, storage) = sqlite().await;
        let (sink, catch_up, handover) = catch_up_only(&storage);
        sink.record(record(0));
        assert_eq!(wait_for_count(&storage, 1).await, 1, "taken over on the stall");
        assert!(handover.catching_up.load(Ordering::Relaxed));
        // Past the least hand-back time, but the background writer wakes late (saturated core).
        tokio::time::sleep(HANDBACK + Duration::from_millis(500)).await;
        assert!(
            handover.catching_up.load(Ordering::Relaxed),
            "no hand-back onto a saturated core"
        );
        handover.on_time.store(SPARE_CHECKS, Ordering::Relaxed);
        let mut handed_back = false;
        for _ in 0..50 {
            handed_back = !handover.catching_up.load(Ordering::Relaxed);
            if handed_back {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(handed_back, "handed back once the core has idle moments");
        drop(sink);
        catch_up.await.expect("catch-up writer");
    }
}
