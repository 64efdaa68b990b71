//! Projection of a configuration being edited: the browser calls [`project`] on every edit, so it must stay
//! well under a millisecond for 20 models (see `benches/engine.rs`).
//!
//! Intervals are ± z standard errors: on means from each model's standard error; on percentiles from the
//! mixture CDF's standard error Σ vᵢ²·Fᵢ(1 − Fᵢ)/nᵢ, inverted at the percentile level on the shared grid.

use serde::{Deserialize, Serialize};

use super::estimate::has_distribution;
use super::grid;
use super::histogram::{mixture_cdf, mixture_quantile};
use super::plan::{mixture_mean, mixture_parts, plan, quantile_level, ModelInput, PlanError, PlanOptions, Stance};
use super::verdict::{verdict, Verdict};
use crate::model_set::{Comparator, Dimension, ModelSetSpec, Objective, Statistic};

/// A point value with a low–high band.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub low: f64,
    pub value: f64,
    pub high: f64,
}

/// Projected behaviour of the set on one dimension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DimensionProjection {
    pub dimension: Dimension,
    pub mean: Option<Interval>,
    pub p50: Option<Interval>,
    pub p90: Option<Interval>,
    pub p99: Option<Interval>,
}

/// How a projected value compares with its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// The whole interval meets the target.
    Met,
    /// The point meets it, the interval straddles it (or the point misses but the interval reaches it).
    AtRisk,
    /// The whole interval misses it.
    Missed,
    /// No data to project.
    Unknown,
}

/// One requirement against its projection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequirementCheck {
    /// Index into the spec's requirements.
    pub requirement: usize,
    pub target: f64,
    pub projected: Option<Interval>,
    pub status: CheckStatus,
}

/// A model's planned share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelWeight {
    pub model: String,
    pub weight: f64,
    /// True when the weight includes an exploration floor.
    pub exploring: bool,
}

/// Everything the editor shows for a configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Projection {
    pub weights: Vec<ModelWeight>,
    /// The plan meets every requirement on pessimistic estimates.
    pub plan_feasible: bool,
    /// Objective value of the plan (point estimate).
    pub objective: Option<f64>,
    pub dimensions: Vec<DimensionProjection>,
    pub requirements: Vec<RequirementCheck>,
    pub verdict: Verdict,
}

/// The intervals of several quantiles (levels `qs`) of `dim` over the mix, from one scan of the grid: the
/// point value where the mixture CDF crosses q, and the band where CDF ± z·sd crosses it.
pub fn quantile_intervals(
    models: &[ModelInput],
    weights: &[f64],
    dim: &Dimension,
    qs: &[f64],
    z: f64,
) -> Vec<Option<Interval>> {
    // Normalised component weights vᵢ and their histograms.
    let mut parts = Vec::new();
    let mut vsum = 0.0;
    for (m, &w) in models.iter().zip(weights) {
        if !(w > 0.0) {
            continue;
        }
        let Some(d) = m.estimate.dim(dim) else { continue };
        let Some(h) = d.hist.as_ref().filter(|h| !h.is_empty()) else {
            continue;
        };
        let v = w * m.estimate.presence(dim);
        if v > 0.0 {
            parts.push((h, v, d.n_eff.max(1e-9), 0.0f64));
            vsum += v;
        }
    }
    if parts.is_empty() || !(vsum > 0.0) {
        return vec![None; qs.len()];
    }
    let lo_k = parts.iter().map(|p| p.0.first_bucket()).min().unwrap_or(0);
    let hi_k = parts.iter().map(|p| p.0.end_bucket()).max().unwrap_or(0);
    // Per level: (value, low, high) as found.
    let mut found: Vec<(Option<f64>, Option<f64>, Option<f64>)> = vec![(None, None, None); qs.len()];
    // Scan buckets tracking the mixture CDF and CDF ± z·sd at bucket ends; interpolate linearly inside the
    // crossing bucket.
    let (mut prev_f, mut prev_up, mut prev_dn) = (0.0, 0.0, 0.0);
    let mut last_mass = lo_k;
    for k in lo_k..hi_k {
        let mut f = 0.0;
        let mut var = 0.0;
        let mut mass = false;
        for p in parts.iter_mut() {
            let b = p.0.bucket(k);
            if b > 0.0 {
                mass = true;
                p.3 += b / p.0.total();
            }
            let fi = p.3.clamp(0.0, 1.0);
            let v = p.1 / vsum;
            f += v * fi;
            var += v * v * super::stats::proportion_std_err(fi, p.2).powi(2);
        }
        if mass {
            last_mass = k;
        }
        let sd = var.sqrt();
        let (up, dn) = ((f + z * sd).min(1.0), (f - z * sd).max(0.0));
        let at =
            |prev: f64, cur: f64, q: f64| grid::value_at(k, if cur > prev { (q - prev) / (cur - prev) } else { 1.0 });
        let mut all = true;
        for (q, slot) in qs.iter().zip(found.iter_mut()) {
            if slot.0.is_none() && mass && f >= *q {
                slot.0 = Some(at(prev_f, f, *q));
            }
            if slot.1.is_none() && up >= *q {
                slot.1 = Some(at(prev_up, up, *q));
            }
            if slot.2.is_none() && dn >= *q {
                slot.2 = Some(at(prev_dn, dn, *q));
            }
            all &= slot.2.is_some();
        }
        if all {
            break;
        }
        prev_f = f;
        prev_up = up;
        prev_dn = dn;
    }
    let top = grid::upper_edge(hi_k.saturating_sub(1));
    found
        .into_iter()
        .map(|(value, low, high)| {
            let value = value.unwrap_or_else(|| grid::value_at(last_mass, 1.0));
            Some(Interval {
                low: low.unwrap_or(value).min(value),
                value,
                high: high.unwrap_or(top).max(value),
            })
        })
        .collect()
}

/// The interval of the q-quantile of `dim` over the mix.
pub fn quantile_interval(models: &[ModelInput], weights: &[f64], dim: &Dimension, q: f64, z: f64) -> Option<Interval> {
    quantile_intervals(models, weights, dim, &[q], z).pop().flatten()
}

/// The interval of a requirement-style statistic over the mix.
pub fn statistic_interval(
    models: &[ModelInput],
    weights: &[f64],
    dim: &Dimension,
    stat: Statistic,
    z: f64,
) -> Option<Interval> {
    match quantile_level(stat).filter(|_| has_distribution(dim)) {
        Some(q) => quantile_interval(models, weights, dim, q, z),
        None => {
            let (m, se) = mixture_mean(models, weights, dim, Stance::Point, 0.0)?;
            let (low, high) = (m - z * se, m + z * se);
            let (low, high) = match dim {
                Dimension::ErrorRate | Dimension::Eval(_) => (low.max(0.0), high.min(1.0)),
                _ => (low.max(0.0), high),
            };
            Some(Interval { low, value: m, high })
        }
    }
}

/// Whether a chart or sweep over `lo..=hi` of `dim` reads better on a logarithmic scale: latency, TTFT and
/// cost are ratios at heart (a model twice as slow, ten times as dear) and often span decades across a set's
/// models, where a linear axis would crush the cheap or fast end into a few pixels. Below a tenfold span the
/// linear axis is easier to read; zero or negative ends cannot be logged at all.
pub fn log_scaled(dim: &Dimension, lo: f64, hi: f64) -> bool {
    matches!(dim, Dimension::Latency | Dimension::Ttft | Dimension::Cost) && lo > 0.0 && hi / lo > 10.0
}

/// One bin of a mix's distribution: the share of the mix's requests (of those reporting the dimension) with
/// a value in `low..high`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DensityBin {
    pub low: f64,
    pub high: f64,
    pub share: f64,
}

/// The share of a mix's values left out at each end of [`mixture_density`]'s range, so that one rare
/// outlier (a 60 s timeout among 1 s answers) does not stretch the editor's axis tenfold.
pub const DENSITY_TAIL: f64 = 0.001;

/// The distribution of `dim` over the mix `weights`, in `buckets` bins (at most 1,000) for the editor's chart.
///
/// Built from the models' histograms on the shared grid, each weighted by its plan weight times its
/// presence, exactly as the planner's quantiles are ([`mixture_parts`]), so a bar's share is read off the same
/// mixture CDF that the projected percentiles come from. The bins span the mix's [`DENSITY_TAIL`] to
/// 1 − [`DENSITY_TAIL`] quantiles, evenly in log(value) when [`log_scaled`] (so they are equally wide on
/// the chart's log axis) and in value otherwise; the tails beyond are left out, so the shares add up to a
/// little under 1. A range narrower than ±10 % (every request costs the same) is widened to that, so a
/// point mass shows as a spike, not as a flat block across a 1 % sliver.
///
/// Empty when no weighted model has a histogram of `dim`: error rate never has one (a request fails or not),
/// and a mix may have no data yet; the chart then draws the interval against the target instead.
pub fn mixture_density(models: &[ModelInput], weights: &[f64], dim: &Dimension, buckets: usize) -> Vec<DensityBin> {
    let parts = mixture_parts(models, weights, dim);
    let n = buckets.min(1_000);
    let (Some(lo), Some(hi)) = (
        mixture_quantile(&parts, DENSITY_TAIL),
        mixture_quantile(&parts, 1.0 - DENSITY_TAIL),
    ) else {
        return Vec::new();
    };
    if n == 0 || !(lo.is_finite() && hi.is_finite()) {
        return Vec::new();
    }
    let unit_range = matches!(dim, Dimension::ErrorRate | Dimension::Eval(_));
    let (lo, hi) = if !(hi > 0.0) {
        (0.0, 1.0)
    } else if hi - lo >= 0.2 * hi {
        (lo, hi)
    } else {
        let mid = (lo + hi) / 2.0;
        let top = mid * 1.1;
        (mid * 0.9, if unit_range && mid <= 1.0 { top.min(1.0) } else { top })
    };
    let log = log_scaled(dim, lo, hi);
    let edge = |j: usize| {
        let f = j as f64 / n as f64;
        match j {
            0 => lo,
            j if j == n => hi,
            _ if log => lo * (hi / lo).powf(f),
            _ => lo + (hi - lo) * f,
        }
    };
    // The CDF below each edge; the first bin counts a mass at zero when it starts there (mixture_cdf(0)
    // holds the grid's zero bucket).
    let below = |x: f64| mixture_cdf(&parts, x).unwrap_or(0.0);
    let mut prev = if lo > 0.0 { below(lo) } else { 0.0 };
    (0..n)
        .map(|j| {
            let (low, high) = (edge(j), edge(j + 1));
            let cum = below(high);
            let share = (cum - prev).max(0.0);
            prev = cum;
            DensityBin { low, high, share }
        })
        .collect()
}

fn check(target: f64, cmp: Comparator, i: Option<Interval>) -> CheckStatus {
    let Some(i) = i else { return CheckStatus::Unknown };
    let (best, point, worst) = match cmp {
        Comparator::AtMost => (i.low <= target, i.value <= target, i.high <= target),
        Comparator::AtLeast => (i.high >= target, i.value >= target, i.low >= target),
    };
    match (best, point, worst) {
        (_, _, true) => CheckStatus::Met,
        (true, _, _) | (_, true, _) => CheckStatus::AtRisk,
        _ => CheckStatus::Missed,
    }
}

/// Plans `spec` over `models`, projects every dimension and checks every requirement. Dimensions shown:
/// cost, latency, TTFT, throughput, error rate, and each eval metric named by the spec.
pub fn project(spec: &ModelSetSpec, models: &[ModelInput], opts: &PlanOptions) -> Result<Projection, PlanError> {
    let p = plan(spec, models, None, opts)?;
    let v = verdict(spec, models, opts)?;
    let z = opts.z;
    let mut dims = vec![
        Dimension::Cost,
        Dimension::Latency,
        Dimension::Ttft,
        Dimension::Throughput,
        Dimension::ErrorRate,
    ];
    let named = spec
        .evals
        .metrics
        .iter()
        .map(|m| Dimension::Eval(m.clone()))
        .chain(spec.requirements.iter().map(|r| r.dimension.clone()))
        .chain(std::iter::once(match &spec.objective {
            Objective::Minimize(d) | Objective::Maximize(d) => d.clone(),
        }));
    for d in named {
        if !dims.contains(&d) {
            dims.push(d);
        }
    }
    let w = &p.weights;
    let dimensions = dims
        .into_iter()
        .map(|d| {
            let [p50, p90, p99] = if has_distribution(&d) {
                match quantile_intervals(models, w, &d, &[0.5, 0.9, 0.99], z)[..] {
                    [a, b, c] => [a, b, c],
                    _ => [None; 3],
                }
            } else {
                [None; 3]
            };
            DimensionProjection {
                mean: statistic_interval(models, w, &d, Statistic::Mean, z),
                p50,
                p90,
                p99,
                dimension: d,
            }
        })
        .collect::<Vec<_>>();
    let requirements = spec
        .requirements
        .iter()
        .enumerate()
        .map(|(i, r)| {
            // The dimension's projection above already holds every statistic a requirement can name.
            let projected = dimensions
                .iter()
                .find(|p: &&DimensionProjection| p.dimension == r.dimension)
                .map(|p| match r.statistic {
                    // Error rate has no distribution: any statistic on it means its mean.
                    _ if !has_distribution(&r.dimension) => p.mean,
                    Statistic::Mean => p.mean,
                    Statistic::P50 => p.p50,
                    Statistic::P90 => p.p90,
                    Statistic::P99 => p.p99,
                })
                .unwrap_or_else(|| statistic_interval(models, w, &r.dimension, r.statistic, z));
            RequirementCheck {
                requirement: i,
                target: r.target,
                projected,
                status: check(r.target, r.comparator, projected),
            }
        })
        .collect();
    let weights = models
        .iter()
        .zip(w)
        .enumerate()
        .map(|(i, (m, &weight))| ModelWeight {
            model: m.id.clone(),
            weight,
            exploring: p.exploring.contains(&i),
        })
        .collect();
    Ok(Projection {
        weights,
        plan_feasible: p.feasible,
        objective: p.objective,
        dimensions,
        requirements,
        verdict: v,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::plan::{mixture_quantile_of, observed_model};

    fn model(id: &str, latency: f64, spread: f64, n: usize) -> ModelInput {
        // A deterministic spread of latencies around `latency`.
        let latencies = (0..n).map(|i| latency * (spread * ((i as f64 + 0.5) / n as f64 - 0.5)).exp());
        observed_model(id, 0.001, latencies)
    }

    #[test]
    fn one_scan_matches_the_mixture_quantile_and_brackets_it() {
        let models = vec![
            model("a", 300.0, 1.0, 400),
            model("b", 1200.0, 2.0, 50),
            model("c", 5000.0, 0.5, 900),
        ];
        for weights in [[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.2, 0.3, 0.5], [0.0, 0.1, 0.9]] {
            let qs = [0.5, 0.9, 0.99];
            let got = quantile_intervals(&models, &weights, &Dimension::Latency, &qs, 1.0);
            for (q, i) in qs.iter().zip(&got) {
                let exact = mixture_quantile_of(&models, &weights, &Dimension::Latency, *q);
                let i = i.expect("interval");
                let exact = exact.expect("quantile");
                assert!(
                    (i.value - exact).abs() <= 1e-9 * exact,
                    "{weights:?} q={q}: {i:?} vs {exact}"
                );
                assert!(i.low <= i.value && i.value <= i.high, "{i:?}");
                // A single level asked alone gives the same interval.
                assert_eq!(
                    quantile_interval(&models, &weights, &Dimension::Latency, *q, 1.0),
                    Some(i)
                );
            }
        }
        let none = quantile_intervals(&models, &[0.0, 0.0, 0.0], &Dimension::Latency, &[0.5], 1.0);
        assert_eq!(none, vec![None]);
    }

    #[test]
    fn a_density_is_the_mixture_cdf_in_bins() {
        let models = vec![model("a", 300.0, 1.0, 400), model("b", 1200.0, 0.5, 400)];
        let weights = [0.25, 0.75];
        let bins = mixture_density(&models, &weights, &Dimension::Latency, 40);
        assert_eq!(bins.len(), 40);
        // Contiguous, from the mix's 0.1 % quantile to its 99.9 %, linear under a tenfold span.
        assert!(bins.windows(2).all(|w| w[0].high == w[1].low), "{bins:?}");
        let lo = mixture_quantile_of(&models, &weights, &Dimension::Latency, DENSITY_TAIL);
        let hi = mixture_quantile_of(&models, &weights, &Dimension::Latency, 1.0 - DENSITY_TAIL);
        assert_eq!((Some(bins[0].low), Some(bins[39].high)), (lo, hi));
        let width = bins[0].high - bins[0].low;
        assert!(bins.iter().all(|b| (b.high - b.low - width).abs() < 1e-9 * width));
        let total: f64 = bins.iter().map(|b| b.share).sum();
        assert!((total - (1.0 - 2.0 * DENSITY_TAIL)).abs() < 1e-9, "{total}");
        // Each share is the mixture's probability of its bin, weighted by the plan.
        let parts = mixture_parts(&models, &weights, &Dimension::Latency);
        for b in &bins {
            let p = mixture_cdf(&parts, b.high).unwrap_or(0.0) - mixture_cdf(&parts, b.low).unwrap_or(0.0);
            assert!((b.share - p).abs() < 1e-12, "{b:?} vs {p}");
        }
        // More weight on the slow model moves mass up.
        let mean = |bins: &[DensityBin]| bins.iter().map(|b| b.share * (b.low + b.high) / 2.0).sum::<f64>();
        let slower = mixture_density(&models, &[0.0, 1.0], &Dimension::Latency, 40);
        assert!(mean(&slower) > mean(&bins));

        // A single cost is a spike in a ±10 % range, not a flat block over a 1 % sliver.
        let cost = mixture_density(&models, &weights, &Dimension::Cost, 20);
        let (lo, hi) = (cost[0].low, cost[19].high);
        assert!(lo < 0.001 * 0.92 && hi > 0.001 * 1.08, "{cost:?}");
        let tallest = cost.iter().map(|b| b.share).fold(0.0, f64::max);
        assert!(tallest > 0.4, "{cost:?}");

        // No histogram, no density: error rate, no data, no weight, no bins asked for.
        assert!(mixture_density(&models, &weights, &Dimension::ErrorRate, 40).is_empty());
        assert!(mixture_density(&models, &weights, &Dimension::Ttft, 40).is_empty());
        assert!(mixture_density(&models, &[0.0, 0.0], &Dimension::Latency, 40).is_empty());
        assert!(mixture_density(&models, &weights, &Dimension::Latency, 0).is_empty());
        assert_eq!(
            mixture_density(&models, &weights, &Dimension::Latency, 5000).len(),
            1000
        );
    }

    #[test]
    fn decades_of_latency_or_cost_are_log_scaled() {
        assert!(log_scaled(&Dimension::Latency, 150.0, 9000.0));
        assert!(log_scaled(&Dimension::Cost, 0.0001, 0.002));
        assert!(!log_scaled(&Dimension::Latency, 300.0, 2900.0));
        assert!(!log_scaled(&Dimension::Latency, 0.0, 9000.0));
        assert!(!log_scaled(&Dimension::Throughput, 5.0, 500.0));
        assert!(!log_scaled(&Dimension::ErrorRate, 0.001, 0.5));
        let wide = vec![model("quick", 150.0, 0.5, 400), model("slow", 9000.0, 0.5, 400)];
        let bins = mixture_density(&wide, &[0.5, 0.5], &Dimension::Latency, 30);
        let ratio = bins[0].high / bins[0].low;
        assert!(
            bins.iter().all(|b| (b.high / b.low / ratio - 1.0).abs() < 1e-9),
            "{bins:?}"
        );
    }
}
