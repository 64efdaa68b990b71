//! Per-minute rollups per (set, model): counts, sums and mergeable latency / TTFT sketches
//! (DDSketch from `sketches-ddsketch`: 1% relative error on any quantile, and two sketches
//! merge into the sketch of the union — what the charts' p50/p90/p99 and the routing engine
//! need across minutes and replicas).

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD_NO_PAD as BASE64;
use base64::Engine as _;
use sketches_ddsketch::{Config, DDSketch};

use crate::hash_map::HashMap;
use crate::storage::{Grain, RequestRecord, RollupRow, RollupTable, SharedStorage, StorageResult};

const MINUTE_MS: i64 = 60_000;
/// Buckets kept in memory behind the newest one seen, per grain; older accumulators are
/// dropped (their rows are final in the database).
const KEEP_BUCKETS: i64 = 10;

pub fn minute_of(at_ms: i64) -> i64 {
    at_ms - at_ms.rem_euclid(MINUTE_MS)
}

/// The start of the `grain` bucket holding `at_ms`.
pub fn bucket_of(grain: Grain, at_ms: i64) -> i64 {
    at_ms - at_ms.rem_euclid(grain.ms())
}

/// One (set, model, minute or hour) being accumulated, with decoded sketches.
#[derive(Clone)]
pub struct Rollup {
    pub row: RollupRow,
    pub latency: DDSketch,
    pub ttft: DDSketch,
    /// Failed requests by class.
    pub error_classes: BTreeMap<String, i64>,
    /// Eval scores by metric.
    pub evals: BTreeMap<String, EvalSums>,
}

/// One metric's evals in a rollup: scored ones (their count and the sum of their scores) and
/// failed ones. Stored as `{"n": 3, "sum": 2.4, "failed": 1}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EvalSums {
    #[serde(default)]
    pub n: i64,
    #[serde(default)]
    pub sum: f64,
    #[serde(default)]
    pub failed: i64,
}

/// One finished eval, as the rollups count it: at its request's time, for the model that
/// answered.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalOutcome {
    pub set_id: i64,
    pub model_id: String,
    pub request_at: i64,
    pub metric: String,
    /// `None`: the eval failed.
    pub score: Option<f64>,
    pub cost_usd: f64,
}

fn empty_sketch() -> DDSketch {
    DDSketch::new(Config::defaults())
}

/// A sketch as stored: DDSketch's binary format (the one Datadog's libraries share, which
/// `sketches-ddsketch` writes and reads), base64 in the TEXT column. Against the crate's serde
/// JSON it is about a fifth of the size (sparse varint bins instead of a dense array of
/// numbers) and several times faster to read back, and reading thousands of hourly sketches is
/// most of what a week's chart costs the server.
fn encode(sketch: &DDSketch) -> String {
    BASE64.encode(sketch.to_java_bytes())
}

/// Reads either form: rows written before the binary form are JSON objects.
fn decode(text: &str) -> DDSketch {
    let sketch = if text.starts_with('{') {
        serde_json::from_str(text).ok()
    } else {
        BASE64
            .decode(text)
            .ok()
            .and_then(|bytes| DDSketch::from_java_bytes(&bytes).ok())
    };
    sketch.unwrap_or_else(empty_sketch)
}

impl Rollup {
    /// No requests yet for (set, model, bucket start) by `writer`.
    pub fn empty(set_id: i64, model_id: &str, minute: i64, writer: &str) -> Rollup {
        Rollup {
            row: RollupRow {
                set_id,
                model_id: model_id.to_string(),
                minute,
                writer: writer.to_string(),
                count: 0,
                errors: 0,
                latency_ms_sum: 0.0,
                ttft_ms_sum: 0.0,
                ttft_count: 0,
                tokens_per_s_sum: 0.0,
                tokens_per_s_count: 0,
                prompt_tokens: 0,
                completion_tokens: 0,
                cost_usd: 0.0,
                latency_sketch: String::new(),
                ttft_sketch: String::new(),
                error_classes: String::new(),
                eval_cost_usd: 0.0,
                evals: String::new(),
            },
            latency: empty_sketch(),
            ttft: empty_sketch(),
            error_classes: BTreeMap::new(),
            evals: BTreeMap::new(),
        }
    }

    pub fn from_row(row: RollupRow) -> Rollup {
        Rollup {
            latency: decode(&row.latency_sketch),
            ttft: decode(&row.ttft_sketch),
            error_classes: serde_json::from_str(&row.error_classes).unwrap_or_default(),
            evals: serde_json::from_str(&row.evals).unwrap_or_default(),
            row,
        }
    }

    /// Counts every record; timing sums and sketches take successful requests only, so an
    /// outage shows in the error rate rather than as fast (or slow) "latencies".
    pub fn add(&mut self, r: &RequestRecord) {
        let row = &mut self.row;
        row.count += 1;
        row.prompt_tokens += r.prompt_tokens;
        row.completion_tokens += r.completion_tokens;
        row.cost_usd += r.cost_usd;
        if let Some(class) = &r.error_class {
            row.errors += 1;
            match self.error_classes.get_mut(class) {
                Some(n) => *n += 1,
                None => {
                    self.error_classes.insert(class.clone(), 1);
                }
            }
            return;
        }
        row.latency_ms_sum += r.latency_ms;
        self.latency.add(r.latency_ms);
        if let Some(ttft) = r.ttft_ms {
            row.ttft_ms_sum += ttft;
            row.ttft_count += 1;
            self.ttft.add(ttft);
        }
        if let Some(tps) = r.output_tokens_per_s {
            row.tokens_per_s_sum += tps;
            row.tokens_per_s_count += 1;
        }
    }

    /// Counts one finished eval (its judge's cost, and its score or its failure).
    pub fn add_eval(&mut self, e: &EvalOutcome) {
        self.row.eval_cost_usd += e.cost_usd;
        let sums = match self.evals.get_mut(&e.metric) {
            Some(sums) => sums,
            None => self.evals.entry(e.metric.clone()).or_default(),
        };
        match e.score {
            Some(score) => {
                sums.n += 1;
                sums.sum += score;
            }
            None => sums.failed += 1,
        }
    }

    /// Folds `other` in: the rollup of both sets of requests.
    pub fn merge(&mut self, other: &Rollup) {
        let (a, b) = (&mut self.row, &other.row);
        a.count += b.count;
        a.errors += b.errors;
        a.latency_ms_sum += b.latency_ms_sum;
        a.ttft_ms_sum += b.ttft_ms_sum;
        a.ttft_count += b.ttft_count;
        a.tokens_per_s_sum += b.tokens_per_s_sum;
        a.tokens_per_s_count += b.tokens_per_s_count;
        a.prompt_tokens += b.prompt_tokens;
        a.completion_tokens += b.completion_tokens;
        a.cost_usd += b.cost_usd;
        // Same configuration on both sides, so merging cannot fail.
        let _ = self.latency.merge(&other.latency);
        let _ = self.ttft.merge(&other.ttft);
        for (class, n) in &other.error_classes {
            *self.error_classes.entry(class.clone()).or_insert(0) += n;
        }
        a.eval_cost_usd += b.eval_cost_usd;
        for (metric, e) in &other.evals {
            let sums = self.evals.entry(metric.clone()).or_default();
            sums.n += e.n;
            sums.sum += e.sum;
            sums.failed += e.failed;
        }
    }

    pub fn to_row(&self) -> RollupRow {
        RollupRow {
            latency_sketch: encode(&self.latency),
            ttft_sketch: encode(&self.ttft),
            error_classes: serde_json::to_string(&self.error_classes).unwrap_or_default(),
            evals: serde_json::to_string(&self.evals).unwrap_or_default(),
            ..self.row.clone()
        }
    }
}

type Key = (i64, String, i64);

/// One table's accumulators for recent buckets.
struct Accumulators {
    table: RollupTable,
    grain: Grain,
    open: HashMap<Key, Rollup>,
    /// Keys changed since the last write.
    dirty: Vec<Key>,
    newest: i64,
    /// Whether a new key may have a stored row to continue (see [`Rollups::without_stored_rows`]).
    read_stored: bool,
    /// Records before this (unix ms) are left out (see [`Rollups::minutes_from`]).
    from: i64,
    /// Rows upserted so far.
    written: usize,
}

impl Accumulators {
    fn new(table: RollupTable) -> Accumulators {
        Accumulators {
            table,
            grain: table.grain(),
            open: HashMap::default(),
            dirty: Vec::new(),
            newest: 0,
            read_stored: true,
            from: i64::MIN,
            written: 0,
        }
    }

    async fn add(&mut self, storage: &SharedStorage, writer: &str, r: &RequestRecord) -> StorageResult<()> {
        let set_id = r.model_set_id.unwrap_or(0);
        self.apply(storage, writer, (set_id, &r.model_id, r.at), |rollup| rollup.add(r))
            .await
    }

    /// Applies `change` to the bucket of (set, model, at), opening it first if need be.
    async fn apply(
        &mut self,
        storage: &SharedStorage,
        writer: &str,
        (set_id, model_id, at): (i64, &str, i64),
        change: impl FnOnce(&mut Rollup),
    ) -> StorageResult<()> {
        if at < self.from {
            return Ok(());
        }
        // The per-set table merges every model of the set into one row (model id "").
        let model_id = match self.table {
            RollupTable::SetHour => "",
            RollupTable::Minute | RollupTable::Hour => model_id,
        };
        let key = (set_id, model_id.to_string(), bucket_of(self.grain, at));
        if !self.open.contains_key(&key) {
            // A bucket this writer has a row for already (after a restart, or evicted):
            // continue from the stored row instead of overwriting it.
            let stored = match self.read_stored {
                true => storage.rollup_row(self.table, key.0, &key.1, key.2, writer).await?,
                false => None,
            };
            let rollup = stored.map_or_else(|| Rollup::empty(key.0, &key.1, key.2, writer), Rollup::from_row);
            self.open.insert(key.clone(), rollup);
        }
        if let Some(rollup) = self.open.get_mut(&key) {
            change(rollup);
        }
        self.newest = self.newest.max(key.2);
        if !self.dirty.contains(&key) {
            self.dirty.push(key);
        }
        Ok(())
    }

    async fn write(&mut self, storage: &SharedStorage) -> StorageResult<()> {
        let rows: Vec<RollupRow> = self
            .dirty
            .iter()
            .filter_map(|k| self.open.get(k))
            .map(Rollup::to_row)
            .collect();
        storage.upsert_rollups(self.table, &rows).await?;
        self.written += rows.len();
        self.dirty.clear();
        let horizon = self.newest - KEEP_BUCKETS * self.grain.ms();
        self.open.retain(|k, _| k.2 >= horizon);
        Ok(())
    }
}

/// The metrics writer's accumulators for recent minutes and hours, written as this writer's
/// rows of the three tables: per model by the minute and by the hour, per set by the hour.
pub struct Rollups {
    writer: String,
    minutes: Accumulators,
    hours: Accumulators,
    set_hours: Accumulators,
}

impl Rollups {
    pub fn new(writer: String) -> Rollups {
        Rollups {
            writer,
            minutes: Accumulators::new(RollupTable::Minute),
            hours: Accumulators::new(RollupTable::Hour),
            set_hours: Accumulators::new(RollupTable::SetHour),
        }
    }

    /// Accumulators for a writer that knows it has no stored rows for the keys it will add
    /// (e.g. the demo history, written once under a writer id of its own, oldest first): a
    /// new key starts empty instead of being looked up, one query per (set, model, minute)
    /// that made back-filling a week take minutes. Rows it does have are overwritten.
    pub fn without_stored_rows(mut self) -> Rollups {
        self.minutes.read_stored = false;
        self.hours.read_stored = false;
        self.set_hours.read_stored = false;
        self
    }

    /// Leaves records before `from_ms` out of the per-minute rows (they still count in the
    /// hourly ones): a back-fill of days needs minutes only for the charts of the last hours,
    /// and a row per (set, model, minute) for a week would be most of its writing.
    pub fn minutes_from(mut self, from_ms: i64) -> Rollups {
        self.minutes.from = from_ms;
        self
    }

    /// Folds a stored batch into the accumulators (in memory; [`Rollups::write`] stores them).
    pub async fn add(&mut self, storage: &SharedStorage, batch: &[RequestRecord]) -> StorageResult<()> {
        for r in batch {
            self.minutes.add(storage, &self.writer, r).await?;
            self.hours.add(storage, &self.writer, r).await?;
            self.set_hours.add(storage, &self.writer, r).await?;
        }
        Ok(())
    }

    /// Folds finished evals into the buckets of their requests' times (in memory, like
    /// [`Rollups::add`]). A bucket already written is read back first and continued.
    pub async fn add_evals(&mut self, storage: &SharedStorage, evals: &[EvalOutcome]) -> StorageResult<()> {
        for e in evals {
            let key = (e.set_id, e.model_id.as_str(), e.request_at);
            self.minutes
                .apply(storage, &self.writer, key, |r| r.add_eval(e))
                .await?;
            self.hours.apply(storage, &self.writer, key, |r| r.add_eval(e)).await?;
            self.set_hours
                .apply(storage, &self.writer, key, |r| r.add_eval(e))
                .await?;
        }
        Ok(())
    }

    /// True when some accumulator changed since the last write.
    pub fn is_dirty(&self) -> bool {
        !self.minutes.dirty.is_empty() || !self.hours.dirty.is_empty() || !self.set_hours.dirty.is_empty()
    }

    /// Rows upserted so far (per minute, per hour); a row written again counts again.
    pub fn rows_written(&self) -> (usize, usize) {
        (self.minutes.written, self.hours.written)
    }

    /// Stores the rows changed since the last write. On failure they stay dirty for the next.
    pub async fn write(&mut self, storage: &SharedStorage) -> StorageResult<()> {
        self.minutes.write(storage).await?;
        self.hours.write(storage).await?;
        self.set_hours.write(storage).await
    }
}

/// Merges stored rows (all writers, all models) into one rollup per minute: the set's view.
pub fn merge_by_minute(rows: Vec<RollupRow>) -> Vec<Rollup> {
    let mut out: Vec<Rollup> = Vec::new();
    for row in rows {
        let rollup = Rollup::from_row(row);
        match out.last_mut() {
            Some(last) if last.row.minute == rollup.row.minute => last.merge(&rollup),
            _ => out.push(rollup),
        }
    }
    out
}

/// The writer id of per-set rows merged from per-model rows written before the per-set
/// table existed.
pub const BACKFILL_WRITER: &str = "backfill";

/// One (set, hour)'s per-model rows, any writers, merged into its per-set row (see
/// `Storage::backfill_set_hours`).
pub fn merge_into_set_hour(rows: Vec<RollupRow>) -> RollupRow {
    let mut merged: Option<Rollup> = None;
    for row in rows {
        let rollup = Rollup::from_row(row);
        match &mut merged {
            Some(m) => m.merge(&rollup),
            None => merged = Some(rollup),
        }
    }
    let mut row = merged
        .unwrap_or_else(|| Rollup::empty(0, "", 0, BACKFILL_WRITER))
        .to_row();
    row.model_id = String::new();
    row.writer = BACKFILL_WRITER.to_string();
    row
}

/// Fills the per-set hourly rows of hours written before that table existed, once per
/// database (see `Storage::backfill_set_hours`). Run before anything writes rollups.
pub async fn backfill_set_hours(storage: &SharedStorage) -> StorageResult<()> {
    let written = storage.backfill_set_hours(&merge_into_set_hour).await?;
    if written > 0 {
        tracing::info!(rows = written, "merged earlier hours into per-set rollups");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(latency: f64, error: bool) -> RequestRecord {
        RequestRecord {
            request_id: "r".into(),
            at: 61_000,
            account_id: 1,
            api_key_id: None,
            model_set_id: Some(1),
            model_id: "m".into(),
            status: if error { 500 } else { 200 },
            error_class: error.then(|| "upstream_5xx".to_string()),
            latency_ms: latency,
            ttft_ms: Some(latency / 4.0),
            output_tokens_per_s: Some(50.0),
            prompt_tokens: 10,
            completion_tokens: 20,
            cost_usd: 0.001,
            eval_sampled: false,
            eval_cost_usd: 0.0,
        }
    }

    fn quantiles(s: &DDSketch) -> Vec<Option<f64>> {
        [0.0, 0.01, 0.5, 0.9, 0.99, 1.0]
            .iter()
            .map(|q| s.quantile(*q).ok().flatten())
            .collect()
    }

    #[test]
    fn sketches_read_back_as_written_in_either_form() {
        let mut sketch = empty_sketch();
        for i in 0..500 {
            sketch.add(3.0 + f64::from(i * i) * 0.37);
        }
        sketch.add(0.0);
        let stored = encode(&sketch);
        assert!(!stored.starts_with('{'));
        let legacy = serde_json::to_string(&sketch).expect("json");
        assert!(
            stored.len() * 2 < legacy.len(),
            "{} vs {} bytes",
            stored.len(),
            legacy.len()
        );
        for read in [decode(&stored), decode(&legacy)] {
            assert_eq!(read.count(), sketch.count());
            assert_eq!(read.sum(), sketch.sum());
            assert_eq!((read.min(), read.max()), (sketch.min(), sketch.max()));
            assert_eq!(quantiles(&read), quantiles(&sketch));
        }
        // A sketch read back merges with a new one (same mapping), as the writers and the
        // charts merge rows of both forms.
        let mut merged = decode(&stored);
        merged.merge(&decode(&legacy)).expect("same configuration");
        merged.merge(&empty_sketch()).expect("same configuration");
        assert_eq!(merged.count(), 2 * sketch.count());
        // Empty and damaged text read as an empty sketch.
        for text in ["", "not base64!", "AAAA"] {
            assert_eq!(decode(text).count(), 0, "{text}");
        }
        assert_eq!(decode(&encode(&empty_sketch())).count(), 0);
    }

    #[test]
    fn minutes_start_on_the_minute() {
        assert_eq!(minute_of(61_000), 60_000);
        assert_eq!(minute_of(60_000), 60_000);
        assert_eq!(minute_of(59_999), 0);
    }

    #[test]
    fn a_backfilled_set_hour_is_its_models_merged() {
        let mut whole = Rollup::empty(1, "", 0, "w");
        let mut models = [
            Rollup::empty(1, "a/m", 0, "w"),
            Rollup::empty(1, "b/m", 0, "w"),
            Rollup::empty(1, "b/m", 0, "v"),
        ];
        for i in 0..300 {
            let r = record(50.0 + f64::from(i), i % 30 == 0);
            whole.add(&r);
            models[i as usize % 3].add(&r);
        }
        let row = merge_into_set_hour(models.iter().map(Rollup::to_row).collect());
        assert_eq!((row.model_id.as_str(), row.writer.as_str()), ("", BACKFILL_WRITER));
        let merged = Rollup::from_row(row);
        assert_eq!((merged.row.count, merged.row.errors), (300, 10));
        assert_eq!(merged.error_classes, whole.error_classes);
        assert_eq!(quantiles(&merged.latency), quantiles(&whole.latency));
        assert!((merged.row.cost_usd - whole.row.cost_usd).abs() < 1e-12);
    }

    #[test]
    fn merged_halves_equal_the_whole() {
        let mut whole = Rollup::empty(1, "m", 60_000, "w");
        let mut left = Rollup::empty(1, "m", 60_000, "a");
        let mut right = Rollup::empty(1, "m", 60_000, "b");
        for i in 0..1000 {
            let r = record(100.0 + f64::from(i), i % 50 == 0);
            whole.add(&r);
            if i % 2 == 0 {
                left.add(&r)
            } else {
                right.add(&r)
            }
        }
        // Through the stored form, as readers see it.
        let mut merged = Rollup::from_row(left.to_row());
        merged.merge(&Rollup::from_row(right.to_row()));
        assert_eq!(merged.row.count, 1000);
        assert_eq!(merged.row.errors, 20);
        assert_eq!(merged.row.count, whole.row.count);
        assert!((merged.row.latency_ms_sum - whole.row.latency_ms_sum).abs() < 1e-6);
        for q in [0.5, 0.9, 0.99] {
            let m = merged.latency.quantile(q).ok().flatten().expect("quantile");
            let w = whole.latency.quantile(q).ok().flatten().expect("quantile");
            assert!((m - w).abs() <= w * 1e-9, "q{q}: merged {m} vs whole {w}");
            // Exact quantile of the 980 successes 100..1099 (every 50th failed).
            let exact: Vec<f64> = (0..1000)
                .filter(|i| i % 50 != 0)
                .map(|i| 100.0 + f64::from(i))
                .collect();
            let truth = exact[((exact.len() - 1) as f64 * q).round() as usize];
            assert!((m - truth).abs() / truth < 0.02, "q{q}: sketch {m} vs exact {truth}");
        }
    }
}
