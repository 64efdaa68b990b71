//! Projection of a configuration being edited: the browser calls [`project`] on every edit, so it must stay
//! well under a millisecond for 20 models (see `benches/engine.rs`).
//!
//! Intervals are ± z standard errors: on means from each model's standard error; on percentiles from the
//! mixture CDF's standard error Σ vᵢ²·Fᵢ(1 − Fᵢ)/nᵢ, inverted at the percentile level on the shared grid.

use serde::{Deserialize, Serialize};

use super::estimate::has_distribution;
use super::grid;
use super::plan::{
    mixture_mean, mixture_quantile_of, plan, quantile_level, ModelInput, PlanError, PlanOptions, Stance,
};
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

/// The interval of the q-quantile of `dim` over the mix.
pub fn quantile_interval(models: &[ModelInput], weights: &[f64], dim: &Dimension, q: f64, z: f64) -> Option<Interval> {
    let value = mixture_quantile_of(models, weights, dim, q)?;
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
        return None;
    }
    let lo_k = parts.iter().map(|p| p.0.first_bucket()).min().unwrap_or(0);
    let hi_k = parts.iter().map(|p| p.0.end_bucket()).max().unwrap_or(0);
    // Scan buckets tracking the mixture CDF ± z·sd at bucket ends; interpolate linearly inside the crossing bucket.
    let (mut low, mut high) = (None, None);
    let (mut prev_up, mut prev_dn) = (0.0, 0.0);
    for k in lo_k..hi_k {
        let mut f = 0.0;
        let mut var = 0.0;
        for p in parts.iter_mut() {
            p.3 += p.0.bucket(k) / p.0.total();
            let fi = p.3.clamp(0.0, 1.0);
            let v = p.1 / vsum;
            f += v * fi;
            var += v * v * super::stats::proportion_std_err(fi, p.2).powi(2);
        }
        let sd = var.sqrt();
        let (up, dn) = ((f + z * sd).min(1.0), (f - z * sd).max(0.0));
        let at = |prev: f64, cur: f64| grid::value_at(k, if cur > prev { (q - prev) / (cur - prev) } else { 1.0 });
        if low.is_none() && up >= q {
            low = Some(at(prev_up, up));
        }
        if high.is_none() && dn >= q {
            high = Some(at(prev_dn, dn));
            break;
        }
        prev_up = up;
        prev_dn = dn;
    }
    let high = high.unwrap_or_else(|| grid::upper_edge(hi_k.saturating_sub(1)));
    let low = low.unwrap_or(value).min(value);
    Some(Interval {
        low,
        value,
        high: high.max(value),
    })
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
            let q = |s| {
                if has_distribution(&d) {
                    statistic_interval(models, w, &d, s, z)
                } else {
                    None
                }
            };
            DimensionProjection {
                mean: statistic_interval(models, w, &d, Statistic::Mean, z),
                p50: q(Statistic::P50),
                p90: q(Statistic::P90),
                p99: q(Statistic::P99),
                dimension: d,
            }
        })
        .collect();
    let requirements = spec
        .requirements
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let projected = statistic_interval(models, w, &r.dimension, r.statistic, z);
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
