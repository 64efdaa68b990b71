//! What the monitoring pages read: rollups merged across writers (so replicas add up) into
//! the buckets of a range, for a whole set and for each of its models.
//!
//! Buckets wider than a rollup row are made by merging rows — sums add, DDSketches merge into
//! the sketch of the union — so a p90 over an hour or a week is the p90 of its requests,
//! never an average of per-minute percentiles.

use std::collections::BTreeMap;

use app::model_set::ModelSet;
use app::monitoring::{Bucket, EvalScores, Line, Lines, Quantiles, Range, Series};

use crate::hash_map::HashMap;
use crate::metrics::rollup::Rollup;
use crate::storage::{Grain, RollupRow, RollupTable, SharedStorage, StorageResult};

/// The set's behaviour over `range`, ending with the bucket that holds `now_ms`: the whole
/// set's line and the model lines asked for.
pub async fn set_series(
    storage: &SharedStorage,
    set: &ModelSet,
    range: Range,
    lines: &Lines,
    now_ms: i64,
) -> StorageResult<Series> {
    let (from, to) = range.window(now_ms);
    // The whole set alone, by the hour: its per-set rows, one per hour and writer, instead
    // of one per model.
    let table = match (range.grain(), lines) {
        (Grain::Hour, Lines::Set) => RollupTable::SetHour,
        (grain, _) => grain.into(),
    };
    let rows = storage.rollups(table, set.id, from, to).await?;
    Ok(series_from_rows(rows, &set.spec.models, lines, range, from, to))
}

/// Folds rollup rows (any writers, any models) into a [`Series`]: one line for the set and
/// one per model asked for that served requests, models in `order` first.
pub fn series_from_rows(
    rows: Vec<RollupRow>,
    order: &[String],
    lines: &Lines,
    range: Range,
    from: i64,
    to: i64,
) -> Series {
    let width = range.bucket_ms();
    let mut set: BTreeMap<i64, Rollup> = BTreeMap::new();
    let mut models: HashMap<String, BTreeMap<i64, Rollup>> = HashMap::default();
    for row in rows {
        let at = from + (row.minute - from).div_euclid(width) * width;
        let model = row.model_id.clone();
        let rollup = Rollup::from_row(row);
        merge_into(&mut set, at, &rollup);
        if lines.wants(&model) {
            merge_into(models.entry(model).or_default(), at, &rollup);
        }
    }
    let mut ids: Vec<String> = models.keys().cloned().collect();
    ids.sort_by_key(|id| (order.iter().position(|m| m == id).unwrap_or(usize::MAX), id.clone()));
    let lines = ids
        .into_iter()
        .filter_map(|id| {
            let buckets = models.remove(&id)?;
            Some(line(Some(id), buckets, from))
        })
        .collect();
    Series {
        range,
        from,
        to,
        bucket_ms: width,
        set: line(None, set, from),
        models: lines,
    }
}

fn merge_into(buckets: &mut BTreeMap<i64, Rollup>, at: i64, rollup: &Rollup) {
    match buckets.get_mut(&at) {
        Some(bucket) => bucket.merge(rollup),
        None => {
            buckets.insert(at, rollup.clone());
        }
    }
}

fn line(model: Option<String>, buckets: BTreeMap<i64, Rollup>, from: i64) -> Line {
    let mut total: Option<Rollup> = None;
    let mut out = Vec::with_capacity(buckets.len());
    for (at, rollup) in buckets {
        out.push(bucket(&rollup, at));
        match &mut total {
            Some(t) => t.merge(&rollup),
            None => total = Some(rollup),
        }
    }
    Line {
        model,
        buckets: out,
        total: total.map(|t| bucket(&t, from)).unwrap_or(Bucket {
            at: from,
            ..Bucket::default()
        }),
    }
}

/// What a merged rollup says, as the charts read it.
pub fn bucket(r: &Rollup, at: i64) -> Bucket {
    let row = &r.row;
    let ok = row.count - row.errors;
    let mean = |sum: f64, n: i64| (n > 0).then(|| sum / n as f64);
    let quantiles = |sketch: &sketches_ddsketch::DDSketch, sum: f64, n: i64| {
        let q = |q: f64| sketch.quantile(q).ok().flatten();
        Quantiles {
            mean: mean(sum, n),
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
        }
    };
    let mut error_classes: Vec<(String, u64)> = r
        .error_classes
        .iter()
        .map(|(class, n)| (class.clone(), u64::try_from(*n).unwrap_or(0)))
        .collect();
    error_classes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Bucket {
        at,
        requests: u64::try_from(row.count).unwrap_or(0),
        errors: u64::try_from(row.errors).unwrap_or(0),
        error_classes,
        latency: quantiles(&r.latency, row.latency_ms_sum, ok),
        ttft: quantiles(&r.ttft, row.ttft_ms_sum, row.ttft_count),
        tokens_per_s: mean(row.tokens_per_s_sum, row.tokens_per_s_count),
        cost_usd: row.cost_usd,
        prompt_tokens: u64::try_from(row.prompt_tokens).unwrap_or(0),
        completion_tokens: u64::try_from(row.completion_tokens).unwrap_or(0),
        eval_cost_usd: row.eval_cost_usd,
        evals: r
            .evals
            .iter()
            .map(|(metric, e)| EvalScores {
                metric: metric.clone(),
                scored: u64::try_from(e.n).unwrap_or(0),
                sum: e.sum,
                failed: u64::try_from(e.failed).unwrap_or(0),
            })
            .collect(),
    }
}

/// Each model's behaviour over the last 24 h across every set (and direct calls), from the
/// hourly rollups: what the models page shows and the projections start from.
pub async fn models_last_day(storage: &SharedStorage, now_ms: i64) -> StorageResult<HashMap<String, Bucket>> {
    let (from, to) = Range::Day.window(now_ms);
    let rows = storage.all_rollups(Range::Day.grain().into(), from, to).await?;
    let mut merged: HashMap<String, Rollup> = HashMap::default();
    for row in rows {
        let rollup = Rollup::from_row(row);
        match merged.get_mut(&rollup.row.model_id) {
            Some(m) => m.merge(&rollup),
            None => {
                merged.insert(rollup.row.model_id.clone(), rollup);
            }
        }
    }
    Ok(merged.into_iter().map(|(id, r)| (id, bucket(&r, from))).collect())
}

/// A set's recent requests as its registry card shows them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecentRequests {
    /// Requests in each of the 24 whole hours before the current one, oldest first. The
    /// current hour is left out of the line: only begun, it would always look like a drop.
    pub hourly: Vec<f64>,
    /// Requests in the current hour so far and the 23 whole hours before it: the card's
    /// "last 24 h", over the window that starts at [`last_day_since`].
    pub last_day: i64,
}

/// The start of the "last 24 h" the registry counts and orders by: the hour 23 hours before
/// the current one (hourly rollups count whole hours).
pub fn last_day_since(now_ms: i64) -> i64 {
    let hour = Grain::Hour.ms();
    now_ms - now_ms.rem_euclid(hour) - 23 * hour
}

/// [`RecentRequests`] of each of `set_ids`, from the per-set hourly rollups.
pub async fn recent_requests(
    storage: &SharedStorage,
    set_ids: &[i64],
    now_ms: i64,
) -> StorageResult<HashMap<i64, RecentRequests>> {
    let hour = Grain::Hour.ms();
    let current = now_ms - now_ms.rem_euclid(hour);
    let from = current - 24 * hour;
    // Slots 0..24 are the whole hours, slot 24 the current one.
    let mut slots: HashMap<i64, Vec<f64>> = set_ids.iter().map(|id| (*id, vec![0.0; 25])).collect();
    for (set_id, at, requests) in storage.hourly_requests(set_ids, from).await? {
        let slot = usize::try_from((at - from) / hour).unwrap_or(usize::MAX);
        if let Some(v) = slots.get_mut(&set_id).and_then(|v| v.get_mut(slot)) {
            *v += requests as f64;
        }
    }
    Ok(slots
        .into_iter()
        .map(|(id, mut slots)| {
            let last_day = slots[1..].iter().sum::<f64>() as i64;
            slots.truncate(24);
            (
                id,
                RecentRequests {
                    hourly: slots,
                    last_day,
                },
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::RequestRecord;

    fn record(at: i64, model: &str, latency: f64, error: Option<&str>) -> RequestRecord {
        RequestRecord {
            request_id: "r".into(),
            at,
            account_id: 1,
            api_key_id: None,
            model_set_id: Some(1),
            model_id: model.into(),
            status: if error.is_some() { 500 } else { 200 },
            error_class: error.map(str::to_string),
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

    /// Per-minute rows of two writers and two models, as the metrics writers store them.
    fn rows(records: &[RequestRecord]) -> Vec<RollupRow> {
        let mut by_key: BTreeMap<(String, i64, String), Rollup> = BTreeMap::new();
        for (i, r) in records.iter().enumerate() {
            let writer = if i % 2 == 0 { "a" } else { "b" };
            let minute = crate::metrics::rollup::minute_of(r.at);
            let key = (r.model_id.clone(), minute, writer.to_string());
            let rollup = by_key
                .entry(key)
                .or_insert_with(|| Rollup::empty(1, &r.model_id, minute, writer));
            rollup.add(r);
        }
        by_key.values().map(Rollup::to_row).collect()
    }

    #[test]
    fn buckets_merge_writers_minutes_and_sketches() {
        let hour = 3_600_000;
        let now = 100 * hour + 30 * 60_000;
        let (from, to) = Range::Day.window(now);
        // Two hours of traffic: model x fast, model y slow with timeouts.
        let mut records = Vec::new();
        for i in 0..1200_i64 {
            let at = now - 2 * hour + i * 6_000;
            let slow = i % 3 == 0;
            let model = if slow { "y" } else { "x" };
            let latency = if slow {
                2000.0 + (i % 100) as f64
            } else {
                100.0 + (i % 50) as f64
            };
            let error = (slow && i % 30 == 0).then_some("timeout");
            records.push(record(at, model, latency, error));
        }
        let order = ["y".to_string(), "x".to_string()];
        let series = series_from_rows(rows(&records), &order, &Lines::Models, Range::Day, from, to);
        assert_eq!(series.models.len(), 2);
        assert_eq!(series.models[0].model.as_deref(), Some("y"), "the set's order");
        let total = &series.set.total;
        assert_eq!(total.requests, 1200);
        assert_eq!(total.errors, 40);
        assert_eq!(total.error_classes, vec![("timeout".to_string(), 40)]);
        assert!((total.cost_usd - 1.2).abs() < 1e-9);
        // Every bucket is an hour wide and the counts add up.
        assert!(series.set.buckets.iter().all(|b| (b.at - from) % hour == 0));
        let summed: u64 = series.set.buckets.iter().map(|b| b.requests).sum();
        assert_eq!(summed, 1200);
        // The merged p90 is the p90 of all successful requests, within the sketch's 1%.
        let mut ok: Vec<f64> = records
            .iter()
            .filter(|r| r.error_class.is_none())
            .map(|r| r.latency_ms)
            .collect();
        ok.sort_by(f64::total_cmp);
        let exact = ok[((ok.len() - 1) as f64 * 0.9).round() as usize];
        let p90 = total.latency.p90.expect("p90");
        assert!((p90 - exact).abs() / exact < 0.02, "p90 {p90} vs exact {exact}");
        let mean = ok.iter().sum::<f64>() / ok.len() as f64;
        assert!((total.latency.mean.expect("mean") - mean).abs() < 1e-6);
    }

    #[test]
    fn only_the_lines_asked_for_are_sent() {
        let hour = 3_600_000;
        let records: Vec<RequestRecord> = (0..20)
            .map(|i| record(i * 60_000, if i % 2 == 0 { "x" } else { "y" }, 100.0, None))
            .collect();
        let order = ["x".to_string(), "y".to_string()];
        let set_only = series_from_rows(rows(&records), &order, &Lines::Set, Range::Day, 0, 24 * hour);
        assert!(set_only.models.is_empty());
        assert_eq!(set_only.set.total.requests, 20, "the set's line counts every model");
        let one = series_from_rows(
            rows(&records),
            &order,
            &Lines::Model("y".into()),
            Range::Day,
            0,
            24 * hour,
        );
        assert_eq!(one.models.len(), 1);
        assert_eq!(
            (one.models[0].model.as_deref(), one.models[0].total.requests),
            (Some("y"), 10)
        );
    }

    #[test]
    fn an_empty_range_has_empty_lines() {
        let series = series_from_rows(Vec::new(), &[], &Lines::Models, Range::Hour, 0, 3_600_000);
        assert!(series.set.buckets.is_empty());
        assert!(series.models.is_empty());
        assert_eq!(series.set.total.requests, 0);
        assert_eq!(series.set.total.error_rate(), None);
    }
}
