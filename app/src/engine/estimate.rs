//! Per-model behaviour estimates, built incrementally from request records.
//!
//! * [`Observation`] is what one gateway request yields.
//! * [`Estimator`] folds observations in with exponential decay (older data counts less) in O(1) per
//!   observation, using *forward decay*: a record at time t gets weight e^{λ(t − t_ref)} and a snapshot divides
//!   by e^{λ(now − t_ref)}, so nothing is rescaled per request (only a rare rebase keeps numbers finite).
//! * [`Estimate`] is an immutable snapshot: effective sample counts, means, spreads and grid histograms per
//!   dimension. [`Estimate::blend`] mixes a set's own traffic with the model's global behaviour and a weak
//!   catalog [`Prior`], leaning on the set's own data as it accrues.
//!
//! Counting rule (the estimator, [`crate::engine::window::Window`] and the simulator all follow it): every
//! request, failed or not, counts for error rate, cost and latency (a failure still took time and may have
//! been billed); TTFT, throughput and eval scores count only when the request reported them.

use serde::{Deserialize, Serialize};

use super::histogram::Histogram;
use super::stats::{normal_quantile, proportion_std_err};
use crate::model_set::Dimension;

/// What one gateway request yields.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Observation {
    /// False when the provider call failed (counts toward error rate).
    pub ok: bool,
    /// Whole-request latency, ms.
    pub latency_ms: f64,
    /// Time to first token, ms, when streamed and successful.
    pub ttft_ms: Option<f64>,
    /// Output tokens per second, when known.
    pub throughput_tps: Option<f64>,
    /// USD charged for the request.
    pub cost_usd: f64,
    /// LLM-judge scores (0..1) by metric name, for the sampled requests that were evaluated.
    #[serde(default)]
    pub evals: Vec<(String, f64)>,
}

impl Observation {
    /// The value this observation contributes to `dimension`, following the module's counting rule.
    /// Error rate yields 1 for a failure and 0 for a success. Non-finite values count as absent.
    pub fn value(&self, dimension: &Dimension) -> Option<f64> {
        let v = match dimension {
            Dimension::Cost => Some(self.cost_usd),
            Dimension::Latency => Some(self.latency_ms),
            Dimension::Ttft => self.ttft_ms,
            Dimension::Throughput => self.throughput_tps,
            Dimension::ErrorRate => Some(if self.ok { 0.0 } else { 1.0 }),
            Dimension::Eval(name) => self.evals.iter().find(|(n, _)| n == name).map(|(_, s)| *s),
        };
        v.filter(|x| x.is_finite())
    }
}

/// Whether percentiles are meaningful for a dimension (error rate is a proportion: only its mean exists).
pub fn has_distribution(dimension: &Dimension) -> bool {
    !matches!(dimension, Dimension::ErrorRate)
}

/// Estimated behaviour of one model on one dimension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DimEstimate {
    pub dimension: Dimension,
    /// Effective (decayed) number of requests that reported this dimension.
    pub n_eff: f64,
    /// Mean per reporting request.
    pub mean: f64,
    /// Standard deviation per request.
    pub std_dev: f64,
    /// Distribution on the shared grid (absent for error rate); its total is proportional to `n_eff`.
    pub hist: Option<Histogram>,
}

impl DimEstimate {
    /// Standard error of `mean`; infinite without data. Error rate uses a proportion's error, kept
    /// away from zero so that "no failures seen yet" is not read as certainty.
    pub fn std_err(&self) -> f64 {
        if !(self.n_eff > 0.0) {
            return f64::INFINITY;
        }
        if matches!(self.dimension, Dimension::ErrorRate) {
            return proportion_std_err(self.mean, self.n_eff);
        }
        self.std_dev / self.n_eff.sqrt()
    }

    /// P(X ≤ y) from the histogram.
    pub fn cdf(&self, y: f64) -> Option<f64> {
        self.hist.as_ref().and_then(|h| h.cdf(y))
    }
}

/// Snapshot of one model's behaviour: what the planner, verdict and projection read.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Estimate {
    /// Effective (decayed) number of requests behind the estimate.
    pub n_eff: f64,
    /// One entry per dimension with data; error rate included.
    pub dims: Vec<DimEstimate>,
}

impl Estimate {
    /// The estimate for a dimension, if any data (or prior) covers it.
    pub fn dim(&self, dimension: &Dimension) -> Option<&DimEstimate> {
        self.dims.iter().find(|d| &d.dimension == dimension)
    }

    /// Share of requests that report `dimension` (1 for cost/latency/error rate; lower for TTFT or sampled
    /// evals). Needed because a mixture's mean TTFT is Σ wᵢpᵢμᵢ / Σ wᵢpᵢ, not Σ wᵢμᵢ.
    pub fn presence(&self, dimension: &Dimension) -> f64 {
        match (self.dim(dimension), self.n_eff > 0.0) {
            (Some(d), true) => (d.n_eff / self.n_eff).clamp(0.0, 1.0),
            (Some(_), false) => 1.0,
            (None, _) => 0.0,
        }
    }

    /// Pools estimates: each part's counts are multiplied by its factor, so the pooled mean is the
    /// count-weighted mean and the pooled spread includes the spread between parts.
    pub fn pool(parts: &[(&Estimate, f64)]) -> Estimate {
        let mut out = Estimate::default();
        for (e, f) in parts {
            if !(*f > 0.0) || !f.is_finite() {
                continue;
            }
            out.n_eff += e.n_eff * f;
            for d in &e.dims {
                if !(d.n_eff > 0.0) {
                    continue;
                }
                let n = d.n_eff * f;
                let second = d.std_dev * d.std_dev + d.mean * d.mean;
                let idx = match out.dims.iter().position(|o| o.dimension == d.dimension) {
                    Some(i) => i,
                    None => {
                        out.dims.push(DimEstimate {
                            dimension: d.dimension.clone(),
                            n_eff: 0.0,
                            mean: 0.0,
                            // Used as an accumulator of n·E[x²] until the end.
                            std_dev: 0.0,
                            hist: None,
                        });
                        out.dims.len() - 1
                    }
                };
                let o = &mut out.dims[idx];
                o.n_eff += n;
                o.mean += n * d.mean;
                o.std_dev += n * second;
                if let Some(h) = d.hist.as_ref().filter(|h| !h.is_empty()) {
                    o.hist.get_or_insert_with(Histogram::new).merge_scaled(h, n / h.total());
                }
            }
        }
        for o in &mut out.dims {
            let mean = o.mean / o.n_eff;
            let second = o.std_dev / o.n_eff;
            o.mean = mean;
            o.std_dev = (second - mean * mean).max(0.0).sqrt();
        }
        out
    }

    /// Blends a set's own (`local`) estimate with the model's global behaviour and a catalog prior.
    ///
    /// Global data is capped at `cfg.global_cap` effective requests, so as the set's own traffic grows past
    /// that, the blend leans on it (share nₗ / (nₗ + min(n_g, cap))): the set's prompts may differ from other
    /// users'. The prior keeps its own small weight so a model without any data still has a projection.
    pub fn blend(
        local: Option<&Estimate>,
        global: Option<&Estimate>,
        prior: Option<&Estimate>,
        cfg: &BlendConfig,
    ) -> Estimate {
        let mut parts: Vec<(&Estimate, f64)> = Vec::with_capacity(3);
        if let Some(l) = local {
            parts.push((l, 1.0));
        }
        if let Some(g) = global.filter(|g| g.n_eff > 0.0) {
            parts.push((g, (cfg.global_cap / g.n_eff).min(1.0)));
        }
        if let Some(p) = prior {
            parts.push((p, 1.0));
        }
        Estimate::pool(&parts)
    }
}

/// How much a model's global behaviour may weigh in a set's blended estimate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlendConfig {
    /// Cap on the effective requests taken from global data.
    pub global_cap: f64,
}

impl Default for BlendConfig {
    fn default() -> Self {
        BlendConfig { global_cap: 200.0 }
    }
}

/// A weak prior from the catalog (e.g. list price), so that a model has a projection before any traffic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prior {
    /// How many requests the prior is worth (1–5 is weak: real data overrides it quickly).
    pub weight: f64,
    /// Log-normal spread (σ of ln value) assumed around each typical value.
    pub spread: f64,
    pub cost_usd: Option<f64>,
    pub latency_ms: Option<f64>,
    pub ttft_ms: Option<f64>,
    pub throughput_tps: Option<f64>,
    pub error_rate: Option<f64>,
    #[serde(default)]
    pub evals: Vec<(String, f64)>,
}

impl Default for Prior {
    fn default() -> Self {
        Prior {
            weight: 2.0,
            spread: 0.6,
            cost_usd: None,
            latency_ms: None,
            ttft_ms: None,
            throughput_tps: None,
            error_rate: None,
            evals: Vec::new(),
        }
    }
}

impl Prior {
    /// The prior as an [`Estimate`] worth `weight` requests: log-normal shapes around the typical values.
    pub fn to_estimate(&self) -> Estimate {
        let n = if self.weight > 0.0 && self.weight.is_finite() {
            self.weight
        } else {
            1.0
        };
        let sigma = if self.spread >= 0.0 && self.spread.is_finite() {
            self.spread
        } else {
            0.6
        };
        let mut dims = Vec::new();
        let lognormal = |dimension: Dimension, mean: f64| -> Option<DimEstimate> {
            if !(mean >= 0.0) || !mean.is_finite() {
                return None;
            }
            let median = mean * (-sigma * sigma / 2.0).exp();
            let mut hist = Histogram::new();
            const POINTS: usize = 16;
            for i in 0..POINTS {
                let z = normal_quantile((i as f64 + 0.5) / POINTS as f64);
                hist.add(median * (sigma * z).exp(), n / POINTS as f64);
            }
            Some(DimEstimate {
                dimension,
                n_eff: n,
                mean,
                std_dev: mean * ((sigma * sigma).exp() - 1.0).sqrt(),
                hist: Some(hist),
            })
        };
        let numeric = [
            (Dimension::Cost, self.cost_usd),
            (Dimension::Latency, self.latency_ms),
            (Dimension::Ttft, self.ttft_ms),
            (Dimension::Throughput, self.throughput_tps),
        ];
        for (dim, v) in numeric {
            if let Some(d) = v.and_then(|m| lognormal(dim, m)) {
                dims.push(d);
            }
        }
        if let Some(r) = self.error_rate.filter(|r| (0.0..=1.0).contains(r)) {
            dims.push(DimEstimate {
                dimension: Dimension::ErrorRate,
                n_eff: n,
                mean: r,
                std_dev: (r * (1.0 - r)).sqrt(),
                hist: None,
            });
        }
        for (name, s) in &self.evals {
            if !(0.0..=1.0).contains(s) {
                continue;
            }
            let mut hist = Histogram::new();
            hist.add(*s, n);
            dims.push(DimEstimate {
                dimension: Dimension::Eval(name.clone()),
                n_eff: n,
                mean: *s,
                std_dev: 0.15,
                hist: Some(hist),
            });
        }
        Estimate { n_eff: n, dims }
    }
}

/// Running weighted sums for one dimension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Accumulator {
    dimension: Dimension,
    w: f64,
    wx: f64,
    wx2: f64,
    hist: Option<Histogram>,
}

impl Accumulator {
    fn new(dimension: Dimension) -> Self {
        let hist = has_distribution(&dimension).then(Histogram::new);
        Accumulator {
            dimension,
            w: 0.0,
            wx: 0.0,
            wx2: 0.0,
            hist,
        }
    }

    fn add(&mut self, x: f64, g: f64) {
        self.w += g;
        self.wx += g * x;
        self.wx2 += g * x * x;
        if let Some(h) = &mut self.hist {
            h.add(x, g);
        }
    }

    fn scale(&mut self, f: f64) {
        self.w *= f;
        self.wx *= f;
        self.wx2 *= f;
        if let Some(h) = &mut self.hist {
            h.scale(f);
        }
    }
}

/// How fast the router forgets: older behaviour halves in weight every half hour. Recent enough to follow
/// drift; long enough that sparse signals (evals sample a tenth of requests) average over thousands of
/// scores, since the planner's choice between a cheap and a good model moves with their estimation error.
pub const DEFAULT_HALF_LIFE_SECS: f64 = 30.0 * 60.0;

/// Incremental, exponentially decaying estimator of one model's behaviour (for one scope: a set, or global).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Estimator {
    /// Decay rate λ = ln 2 / half-life (0 = never forget).
    rate: f64,
    /// Reference time of the forward-decay weights.
    t_ref: f64,
    started: bool,
    total_w: f64,
    accs: Vec<Accumulator>,
}

/// Rebase when weights reach e^40 ≈ 2e17, far from f64 overflow yet rare (every 40/λ seconds).
const REBASE_EXPONENT: f64 = 40.0;

impl Estimator {
    /// An estimator whose data halves in weight every `half_life_secs` (non-positive or infinite: no decay).
    pub fn new(half_life_secs: f64) -> Self {
        let rate = if half_life_secs > 0.0 && half_life_secs.is_finite() {
            std::f64::consts::LN_2 / half_life_secs
        } else {
            0.0
        };
        let accs = [Dimension::Cost, Dimension::Latency, Dimension::ErrorRate]
            .into_iter()
            .map(Accumulator::new)
            .collect();
        Estimator {
            rate,
            t_ref: 0.0,
            started: false,
            total_w: 0.0,
            accs,
        }
    }

    fn rebase(&mut self, now: f64) {
        let f = (-self.rate * (now - self.t_ref)).exp();
        self.total_w *= f;
        for a in &mut self.accs {
            a.scale(f);
        }
        self.t_ref = now;
    }

    fn acc_mut(&mut self, dimension: &Dimension) -> &mut Accumulator {
        let idx = match self.accs.iter().position(|a| &a.dimension == dimension) {
            Some(i) => i,
            None => {
                self.accs.push(Accumulator::new(dimension.clone()));
                self.accs.len() - 1
            }
        };
        &mut self.accs[idx]
    }

    /// The forward-decay weight of a value observed at `now_secs` (rebasing when weights grow
    /// large); `None` for a time that cannot be weighted.
    fn weight_at(&mut self, now_secs: f64) -> Option<f64> {
        if !now_secs.is_finite() {
            return None;
        }
        if !self.started {
            self.started = true;
            self.t_ref = now_secs;
        }
        if self.rate * (now_secs - self.t_ref) > REBASE_EXPONENT {
            self.rebase(now_secs);
        }
        let g = (self.rate * (now_secs - self.t_ref)).exp();
        (g > 0.0 && g.is_finite()).then_some(g)
    }

    /// Folds one request record in, at time `now_secs` (any monotone clock; only differences matter).
    /// Records with a non-finite time are ignored.
    pub fn observe(&mut self, obs: &Observation, now_secs: f64) {
        let Some(g) = self.weight_at(now_secs) else {
            return;
        };
        self.total_w += g;
        for dim in [
            Dimension::Cost,
            Dimension::Latency,
            Dimension::ErrorRate,
            Dimension::Ttft,
            Dimension::Throughput,
        ] {
            if let Some(x) = obs.value(&dim) {
                self.acc_mut(&dim).add(x, g);
            }
        }
        for (name, score) in &obs.evals {
            if score.is_finite() {
                self.acc_mut(&Dimension::Eval(name.clone())).add(*score, g);
            }
        }
    }

    /// Folds in eval scores that arrive after their request was observed (an LLM judge takes
    /// seconds): they count for their metrics only, not as another request. Non-finite times
    /// and scores are ignored.
    pub fn observe_evals(&mut self, evals: &[(String, f64)], now_secs: f64) {
        let Some(g) = self.weight_at(now_secs) else {
            return;
        };
        for (name, score) in evals {
            if score.is_finite() {
                self.acc_mut(&Dimension::Eval(name.clone())).add(*score, g);
            }
        }
    }

    /// The decayed estimate as of `now_secs`.
    pub fn snapshot(&self, now_secs: f64) -> Estimate {
        let age = if now_secs.is_finite() {
            (now_secs - self.t_ref).max(0.0)
        } else {
            0.0
        };
        let s = (-self.rate * age).exp();
        let mut dims = Vec::with_capacity(self.accs.len());
        for a in &self.accs {
            if !(a.w > 0.0) {
                continue;
            }
            let mean = a.wx / a.w;
            let var = (a.wx2 / a.w - mean * mean).max(0.0);
            let hist = a.hist.as_ref().map(|h| {
                let mut h = h.clone();
                h.scale(s);
                h.trim(1e-7);
                h
            });
            dims.push(DimEstimate {
                dimension: a.dimension.clone(),
                n_eff: a.w * s,
                mean,
                std_dev: var.sqrt(),
                hist,
            });
        }
        Estimate {
            n_eff: self.total_w * s,
            dims,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(ok: bool, latency: f64) -> Observation {
        Observation {
            ok,
            latency_ms: latency,
            ttft_ms: ok.then_some(latency / 4.0),
            cost_usd: 0.001,
            ..Default::default()
        }
    }

    #[test]
    fn decays_by_half_life() {
        let mut e = Estimator::new(100.0);
        for i in 0..100 {
            e.observe(&obs(true, 100.0), i as f64 * 0.01);
        }
        let now = e.snapshot(1.0);
        let later = e.snapshot(101.0);
        assert!((later.n_eff / now.n_eff - 0.5).abs() < 1e-9);
        // New data at a later time outweighs the old.
        for i in 0..100 {
            e.observe(&obs(false, 300.0), 1000.0 + i as f64 * 0.01);
        }
        let s = e.snapshot(1001.0);
        let lat = s.dim(&Dimension::Latency).map(|d| d.mean).unwrap_or(0.0);
        assert!(lat > 299.0, "{lat}");
        let err = s.dim(&Dimension::ErrorRate).map(|d| d.mean).unwrap_or(0.0);
        assert!(err > 0.99);
        // TTFT only on successes: presence is low now.
        assert!(s.presence(&Dimension::Ttft) < 0.01);
    }

    #[test]
    fn late_eval_scores_count_for_their_metric_only() {
        let mut e = Estimator::new(0.0);
        for i in 0..10 {
            e.observe(&obs(true, 100.0), f64::from(i));
        }
        e.observe_evals(&[("answer_relevancy".into(), 0.6)], 20.0);
        e.observe_evals(&[("answer_relevancy".into(), 1.0), ("bad".into(), f64::NAN)], 21.0);
        let s = e.snapshot(21.0);
        let relevancy = s.dim(&Dimension::Eval("answer_relevancy".into())).expect("scores");
        assert!((relevancy.mean - 0.8).abs() < 1e-12);
        assert!((relevancy.n_eff - 2.0).abs() < 1e-12, "two scores, not ten requests");
        assert!((s.n_eff - 10.0).abs() < 1e-12, "scores are not requests");
        assert!(s.dim(&Dimension::Eval("bad".into())).is_none());
    }

    #[test]
    fn rebase_keeps_estimates() {
        let mut e = Estimator::new(1.0);
        for i in 0..500 {
            e.observe(&obs(true, 100.0 + (i % 10) as f64), i as f64);
        }
        let s = e.snapshot(499.0);
        let d = s.dim(&Dimension::Latency).map(|d| d.mean).unwrap_or(0.0);
        assert!((100.0..110.0).contains(&d) && s.n_eff.is_finite() && s.n_eff > 1.0);
    }

    #[test]
    fn blend_leans_on_local_data_as_it_grows() {
        let mut local = Estimator::new(0.0);
        let mut global = Estimator::new(0.0);
        for _ in 0..1000 {
            global.observe(&obs(true, 100.0), 0.0);
        }
        for _ in 0..20 {
            local.observe(&obs(true, 200.0), 0.0);
        }
        let prior = Prior {
            latency_ms: Some(150.0),
            ..Prior::default()
        }
        .to_estimate();
        let cfg = BlendConfig::default();
        let few = Estimate::blend(
            Some(&local.snapshot(0.0)),
            Some(&global.snapshot(0.0)),
            Some(&prior),
            &cfg,
        );
        for _ in 0..2000 {
            local.observe(&obs(true, 200.0), 0.0);
        }
        let many = Estimate::blend(
            Some(&local.snapshot(0.0)),
            Some(&global.snapshot(0.0)),
            Some(&prior),
            &cfg,
        );
        let m = |e: &Estimate| e.dim(&Dimension::Latency).map(|d| d.mean).unwrap_or(0.0);
        assert!(m(&few) < 120.0 && m(&many) > 190.0, "{} {}", m(&few), m(&many));
        let only_prior = Estimate::blend(None, None, Some(&prior), &cfg);
        assert!((m(&only_prior) - 150.0).abs() < 1e-9);
    }
}
