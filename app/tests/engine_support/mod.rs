//! Simulator of models with known true behaviour, driving the engine through thousands of requests.
//!
//! Truth follows the engine's counting rule: every request (failed or not) has a cost and a latency drawn
//! from the model's distributions; TTFT, throughput and eval scores exist only for successes (evals only
//! for the sampled share). Because truth is analytic (log-normal / uniform), [`TrueModel::true_estimate`]
//! gives the exact per-model behaviour on the grid, and the LP on it is the "true optimum".
#![allow(dead_code)]

use app::engine::plan::{mix_objective, ModelInput, PlanOptions};
use app::engine::stats::normal_cdf;
use app::engine::{
    grid, plan, AliasTable, BlendConfig, Breaker, BreakerConfig, BreakerState, DimEstimate, Estimate, Estimator,
    Feedback, FeedbackConfig, Histogram, Observation, Prior, Window, DEFAULT_HALF_LIFE_SECS,
};
use app::model_set::{Comparator, Dimension, ModelSetSpec, Objective, Requirement, Statistic};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

pub const EVAL: &str = "answer_relevancy";
/// "Huge" effective count for truth: pessimism vanishes.
const TRUTH_N: f64 = 1e9;

#[derive(Debug, Clone, Copy)]
pub struct LogNormal {
    pub median: f64,
    pub sigma: f64,
}

impl LogNormal {
    pub fn new(median: f64, sigma: f64) -> Self {
        LogNormal { median, sigma }
    }
    pub fn mean(&self) -> f64 {
        self.median * (self.sigma * self.sigma / 2.0).exp()
    }
    pub fn sample(&self, rng: &mut SmallRng) -> f64 {
        self.median * (self.sigma * std_normal(rng)).exp()
    }
    pub fn cdf(&self, x: f64) -> f64 {
        if x <= 0.0 {
            return 0.0;
        }
        normal_cdf((x / self.median).ln() / self.sigma)
    }
    /// The distribution as a grid histogram of total `n` (bucket masses from the exact CDF).
    pub fn histogram(&self, n: f64) -> Histogram {
        let mut h = Histogram::new();
        let lo = grid::bucket_of(self.median * (-8.0 * self.sigma).exp());
        let hi = grid::bucket_of(self.median * (8.0 * self.sigma).exp());
        for k in lo..=hi {
            let mass = self.cdf(grid::upper_edge(k)) - self.cdf(grid::lower_edge(k));
            h.add_to_bucket(k, mass * n);
        }
        h
    }
}

pub fn std_normal(rng: &mut SmallRng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(1e-300);
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// True behaviour of a model at one moment.
#[derive(Debug, Clone, Copy)]
pub struct Behaviour {
    pub cost: LogNormal,
    pub latency: LogNormal,
    pub ttft: LogNormal,
    pub throughput: LogNormal,
    pub error_rate: f64,
    /// Eval scores are uniform on eval ± 0.1.
    pub eval: f64,
}

#[derive(Debug, Clone)]
pub struct TrueModel {
    pub id: String,
    pub base: Behaviour,
    /// Available from this time on (a model added later).
    pub added_at: f64,
    /// From `.0` on, latency and TTFT medians are multiplied by `.1`.
    pub drift: Option<(f64, f64)>,
    /// Every request fails during [from, to).
    pub outage: Option<(f64, f64)>,
    /// From `.0` on, the error rate is `.1` (a step in what the model does).
    pub error_step: Option<(f64, f64)>,
}

impl TrueModel {
    pub fn new(id: &str, cost: f64, latency_median: f64, latency_sigma: f64, error_rate: f64, eval: f64) -> Self {
        TrueModel {
            id: id.into(),
            base: Behaviour {
                cost: LogNormal::new(cost, 0.3),
                latency: LogNormal::new(latency_median, latency_sigma),
                ttft: LogNormal::new(latency_median * 0.2, latency_sigma),
                throughput: LogNormal::new(60_000.0 / latency_median, 0.3),
                error_rate,
                eval,
            },
            added_at: 0.0,
            drift: None,
            outage: None,
            error_step: None,
        }
    }

    pub fn at(&self, t: f64) -> Behaviour {
        let mut b = self.base;
        if let Some((at, f)) = self.drift {
            if t >= at {
                b.latency.median *= f;
                b.ttft.median *= f;
            }
        }
        if let Some((at, rate)) = self.error_step {
            if t >= at {
                b.error_rate = rate;
            }
        }
        if self.in_outage(t) {
            b.error_rate = 1.0;
        }
        b
    }

    pub fn in_outage(&self, t: f64) -> bool {
        self.outage.is_some_and(|(a, b)| t >= a && t < b)
    }

    pub fn available(&self, t: f64) -> bool {
        t >= self.added_at
    }

    pub fn sample(&self, t: f64, rng: &mut SmallRng, eval_sampling: f64) -> Observation {
        let b = self.at(t);
        let ok = rng.random::<f64>() >= b.error_rate;
        let evaluated = ok && rng.random::<f64>() < eval_sampling;
        Observation {
            ok,
            latency_ms: b.latency.sample(rng),
            ttft_ms: ok.then(|| b.ttft.sample(rng)),
            throughput_tps: ok.then(|| b.throughput.sample(rng)),
            cost_usd: b.cost.sample(rng),
            evals: if evaluated {
                vec![(
                    EVAL.to_string(),
                    (b.eval + (rng.random::<f64>() - 0.5) * 0.2).clamp(0.0, 1.0),
                )]
            } else {
                Vec::new()
            },
        }
    }

    /// The exact behaviour at `t` as an estimate with a huge sample count. Memoised per behaviour: the
    /// scenarios ask for it at every re-plan, and building the exact histograms is what costs.
    pub fn true_estimate(&self, t: f64, eval_sampling: f64) -> Estimate {
        thread_local! {
            static MEMO: std::cell::RefCell<std::collections::HashMap<String, Estimate>> = Default::default();
        }
        let b = self.at(t);
        let key = format!("{b:?}/{eval_sampling}");
        if let Some(e) = MEMO.with(|m| m.borrow().get(&key).cloned()) {
            return e;
        }
        let e = Self::exact(b, eval_sampling);
        MEMO.with(|m| m.borrow_mut().insert(key, e.clone()));
        e
    }

    fn exact(b: Behaviour, eval_sampling: f64) -> Estimate {
        let ok = 1.0 - b.error_rate;
        let ln = |dim: Dimension, d: LogNormal, n: f64| DimEstimate {
            dimension: dim,
            n_eff: n,
            mean: d.mean(),
            std_dev: d.mean() * ((d.sigma * d.sigma).exp() - 1.0).sqrt(),
            hist: Some(d.histogram(n)),
        };
        let mut eval_hist = Histogram::new();
        let (lo, hi) = (b.eval - 0.1, b.eval + 0.1);
        for k in grid::bucket_of(lo)..=grid::bucket_of(hi) {
            let a = grid::lower_edge(k).max(lo);
            let c = grid::upper_edge(k).min(hi);
            if c > a {
                eval_hist.add_to_bucket(k, (c - a) / 0.2 * TRUTH_N * ok * eval_sampling);
            }
        }
        let mut dims = vec![
            ln(Dimension::Cost, b.cost, TRUTH_N),
            ln(Dimension::Latency, b.latency, TRUTH_N),
            DimEstimate {
                dimension: Dimension::ErrorRate,
                n_eff: TRUTH_N,
                mean: b.error_rate,
                std_dev: (b.error_rate * (1.0 - b.error_rate)).sqrt(),
                hist: None,
            },
        ];
        if ok > 0.0 {
            dims.push(ln(Dimension::Ttft, b.ttft, TRUTH_N * ok));
            dims.push(ln(Dimension::Throughput, b.throughput, TRUTH_N * ok));
            dims.push(DimEstimate {
                dimension: Dimension::Eval(EVAL.into()),
                n_eff: TRUTH_N * ok * eval_sampling,
                mean: b.eval,
                std_dev: 0.2 / 12f64.sqrt(),
                hist: Some(eval_hist),
            });
        }
        Estimate { n_eff: TRUTH_N, dims }
    }

    /// What a catalog knows before traffic: the list price, and rough latency and eval figures.
    pub fn prior(&self) -> Prior {
        let b = self.base;
        Prior {
            cost_usd: Some(b.cost.mean()),
            latency_ms: Some(b.latency.mean() * 1.3),
            ttft_ms: Some(b.ttft.mean() * 1.3),
            throughput_tps: Some(b.throughput.mean()),
            error_rate: Some(0.02),
            evals: vec![(EVAL.into(), (b.eval - 0.05).max(0.0))],
            ..Prior::default()
        }
    }
}

/// Inputs made of the exact truth at `t` (models not yet added or in an outage are unavailable).
pub fn true_inputs(models: &[TrueModel], t: f64, eval_sampling: f64) -> Vec<ModelInput> {
    models
        .iter()
        .map(|m| ModelInput {
            id: m.id.clone(),
            estimate: m.true_estimate(t, eval_sampling),
            local_requests: f64::INFINITY,
            available: m.available(t) && !m.in_outage(t),
        })
        .collect()
}

/// Options for planning on truth: no pessimism, no exploration.
pub fn truth_options() -> PlanOptions {
    PlanOptions {
        z: 0.0,
        // The optimum the tests compare against is the plain LP on the truth.
        window_requests: 0.0,
        ..PlanOptions::default()
    }
}

/// Objective of the LP solved on the true parameters at `t`, `None` if the truth is infeasible.
pub fn true_optimum(spec: &ModelSetSpec, models: &[TrueModel], t: f64, eval_sampling: f64) -> Option<f64> {
    let inputs = true_inputs(models, t, eval_sampling);
    let p = plan(spec, &inputs, None, &truth_options()).ok()?;
    if p.feasible {
        p.objective
    } else {
        None
    }
}

/// Per re-plan at t ≥ `from_t`: the true objective of the published mix over the true optimum then.
pub fn objective_ratios(
    spec: &ModelSetSpec,
    models: &[TrueModel],
    res: &SimResult,
    from_t: f64,
    sampling: f64,
) -> Vec<f64> {
    res.expected_objective
        .iter()
        .filter(|(t, _)| *t >= from_t)
        .filter_map(|(t, o)| true_optimum(spec, models, *t, sampling).map(|best| o / best))
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Router {
    /// The engine: LP plan + feedback + exploration + breaker.
    Planner,
    /// Everything to the model with the lowest estimated mean cost.
    CheapestFirst,
    /// Everything to the model with the lowest estimated mean latency.
    FastestFirst,
}

#[derive(Debug, Clone)]
pub struct SimConfig {
    pub requests: usize,
    /// Seconds between requests.
    pub dt: f64,
    pub replan_every: usize,
    /// Sliding window (requests) for checkpoints and feedback.
    pub window: usize,
    /// Requests before checkpoints count.
    pub warmup: usize,
    /// Global (other users') requests per model per re-plan.
    pub background: usize,
    pub half_life: f64,
    pub eval_sampling: f64,
    pub seed: u64,
    pub opts: PlanOptions,
    pub feedback: FeedbackConfig,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            requests: 120_000,
            dt: 0.05,
            replan_every: 200,
            window: 4_000,
            warmup: 8_000,
            background: 4,
            half_life: DEFAULT_HALF_LIFE_SECS,
            eval_sampling: 0.1,
            seed: 7,
            // Percentiles are judged on windows of 4,000 requests here.
            opts: PlanOptions {
                window_requests: 4_000.0,
                ..PlanOptions::default()
            },
            feedback: FeedbackConfig::default(),
        }
    }
}

/// Realised statistics of one non-overlapping window.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// Index of the window's last request.
    pub request: usize,
    pub t: f64,
    /// Per requirement.
    pub realised: Vec<Option<f64>>,
    /// Realised objective dimension mean.
    pub objective: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct SimResult {
    pub checkpoints: Vec<Checkpoint>,
    /// (time, weights published) per re-plan.
    pub plans: Vec<(f64, Vec<f64>)>,
    /// (time, planned targets) per re-plan: the feedback's output.
    pub targets: Vec<(f64, Vec<f64>)>,
    /// (time, true objective of the published weights) per re-plan.
    pub expected_objective: Vec<(f64, f64)>,
    /// Requests served per model, per checkpoint window.
    pub served: Vec<Vec<usize>>,
    /// Model index chosen per request (`usize::MAX` when none could be).
    pub choices: Vec<usize>,
    /// Blended inputs at the end of the run.
    pub final_inputs: Vec<ModelInput>,
    pub infeasible_plans: usize,
}

fn objective_dim(spec: &ModelSetSpec) -> Dimension {
    match &spec.objective {
        Objective::Minimize(d) | Objective::Maximize(d) => d.clone(),
    }
}

pub fn run(spec: &ModelSetSpec, models: &[TrueModel], router: Router, cfg: &SimConfig) -> SimResult {
    let n = models.len();
    let mut rng = SmallRng::seed_from_u64(cfg.seed);
    let mut local: Vec<Estimator> = (0..n).map(|_| Estimator::new(cfg.half_life)).collect();
    let mut global: Vec<Estimator> = (0..n).map(|_| Estimator::new(cfg.half_life)).collect();
    let priors: Vec<Estimate> = models.iter().map(|m| m.prior().to_estimate()).collect();
    let mut breakers: Vec<Breaker> = (0..n).map(|_| Breaker::new(BreakerConfig::default())).collect();
    let mut window = Window::new(cfg.window);
    let mut feedback = Feedback::new(spec.requirements.len(), cfg.feedback.clone());
    let mut sent = vec![0usize; n];
    let mut served_now = vec![0usize; n];
    let blend_cfg = BlendConfig::default();
    let mut table: Option<AliasTable> = None;
    let mut last_avail: Vec<bool> = Vec::new();
    let mut last_plan: Option<app::engine::Plan> = None;
    let mut res = SimResult {
        checkpoints: Vec::new(),
        plans: Vec::new(),
        targets: Vec::new(),
        expected_objective: Vec::new(),
        served: Vec::new(),
        choices: Vec::with_capacity(cfg.requests),
        final_inputs: Vec::new(),
        infeasible_plans: 0,
    };
    let obj_dim = objective_dim(spec);
    let inputs_at = |t: f64, local: &[Estimator], global: &[Estimator], sent: &[usize], breakers: &[Breaker]| {
        (0..n)
            .map(|i| {
                let l = local[i].snapshot(t);
                let g = global[i].snapshot(t);
                ModelInput {
                    id: models[i].id.clone(),
                    estimate: Estimate::blend(Some(&l), Some(&g), Some(&priors[i]), &blend_cfg),
                    local_requests: sent[i] as f64,
                    available: models[i].available(t) && !matches!(breakers[i].state(), BreakerState::Open { .. }),
                }
            })
            .collect::<Vec<_>>()
    };
    for r in 0..cfg.requests {
        let t = r as f64 * cfg.dt;
        let avail: Vec<bool> = (0..n)
            .map(|i| models[i].available(t) && !matches!(breakers[i].state(), BreakerState::Open { .. }))
            .collect();
        if r % cfg.replan_every == 0 || avail != last_avail || table.is_none() {
            if r % cfg.replan_every == 0 {
                for i in 0..n {
                    if models[i].available(t) {
                        for _ in 0..cfg.background {
                            let o = models[i].sample(t, &mut rng, cfg.eval_sampling);
                            global[i].observe(&o, t);
                        }
                    }
                }
                if window.len() >= cfg.window / 2 {
                    feedback.update(
                        &spec.requirements,
                        &window.measured(&spec.requirements),
                        last_plan.as_ref(),
                    );
                }
            }
            let inputs = inputs_at(t, &local, &global, &sent, &breakers);
            let weights = match router {
                Router::Planner => {
                    let targets = feedback.targets(&spec.requirements);
                    match plan(spec, &inputs, Some(&targets), &cfg.opts) {
                        Ok(p) => {
                            if !p.feasible {
                                res.infeasible_plans += 1;
                            }
                            if r % cfg.replan_every == 0 {
                                res.targets.push((t, p.targets.clone()));
                            }
                            let weights = p.weights.clone();
                            last_plan = Some(p);
                            Some(weights)
                        }
                        Err(_) => None,
                    }
                }
                Router::CheapestFirst | Router::FastestFirst => {
                    let dim = if router == Router::CheapestFirst {
                        Dimension::Cost
                    } else {
                        Dimension::Latency
                    };
                    let best = (0..n)
                        .filter(|&i| inputs[i].available)
                        .filter_map(|i| inputs[i].estimate.dim(&dim).map(|d| (d.mean, i)))
                        .min_by(|a, b| a.0.total_cmp(&b.0));
                    best.map(|(_, i)| (0..n).map(|j| if j == i { 1.0 } else { 0.0 }).collect())
                }
            };
            if let Some(w) = weights {
                if r % cfg.replan_every == 0 {
                    let truth = true_inputs(models, t, cfg.eval_sampling);
                    if let Some(o) = mix_objective(&truth, &w, &spec.objective) {
                        res.expected_objective.push((t, o));
                    }
                }
                table = AliasTable::new(&w).ok();
                res.plans.push((t, w));
            }
            last_avail = avail;
        }
        // A breaker whose cool-down has passed gets this request as its probe.
        let probe = (0..n).find(|&i| models[i].available(t) && breakers[i].wants_probe(t));
        let choice = probe.or_else(|| {
            let u: u64 = rng.random();
            table
                .as_ref()
                .and_then(|tb| tb.draw_where(u, |i| models[i].available(t) && breakers[i].allows(t)))
        });
        res.choices.push(choice.unwrap_or(usize::MAX));
        let Some(i) = choice else { continue };
        breakers[i].on_send(t);
        let obs = models[i].sample(t, &mut rng, cfg.eval_sampling);
        breakers[i].on_result(obs.ok, t);
        local[i].observe(&obs, t);
        global[i].observe(&obs, t);
        sent[i] += 1;
        served_now[i] += 1;
        window.push(obs);
        if (r + 1) % cfg.window == 0 {
            if r + 1 > cfg.warmup {
                res.checkpoints.push(Checkpoint {
                    request: r,
                    t,
                    realised: window.realised(&spec.requirements),
                    objective: window.mean(&obj_dim),
                });
            }
            res.served.push(std::mem::replace(&mut served_now, vec![0; n]));
        }
    }
    let t_end = cfg.requests as f64 * cfg.dt;
    res.final_inputs = inputs_at(t_end, &local, &global, &sent, &breakers);
    res
}

/// Relative excess of a realised value over its target (> 0 = violated).
pub fn excess(req: &Requirement, v: f64) -> f64 {
    match req.comparator {
        Comparator::AtMost => (v - req.target) / req.target.abs(),
        Comparator::AtLeast => (req.target - v) / req.target.abs(),
    }
}

/// Four models with different strengths: cheap-but-slow, balanced, premium, fast.
pub fn fleet() -> Vec<TrueModel> {
    vec![
        TrueModel::new("sim/cheap", 0.0005, 1800.0, 0.5, 0.02, 0.70),
        TrueModel::new("sim/mid", 0.002, 900.0, 0.4, 0.01, 0.82),
        TrueModel::new("sim/premium", 0.008, 1400.0, 0.4, 0.005, 0.92),
        TrueModel::new("sim/fast", 0.004, 450.0, 0.3, 0.01, 0.78),
    ]
}

/// Minimise cost subject to mean and p90 latency, mean eval and error rate.
pub fn feasible_spec(models: &[TrueModel]) -> ModelSetSpec {
    ModelSetSpec {
        models: models.iter().map(|m| m.id.clone()).collect(),
        requirements: vec![
            Requirement::new(Dimension::Latency, Statistic::Mean, Comparator::AtMost, 1300.0),
            Requirement::new(Dimension::Latency, Statistic::P90, Comparator::AtMost, 2200.0),
            Requirement::new(Dimension::Eval(EVAL.into()), Statistic::Mean, Comparator::AtLeast, 0.80),
            Requirement::new(Dimension::ErrorRate, Statistic::Mean, Comparator::AtMost, 0.03),
        ],
        objective: Objective::Minimize(Dimension::Cost),
        ..Default::default()
    }
}

/// Issue 23's scenario: a fast, cheap model failing 2 % of requests; a slower one failing 1 %
/// (mixed with the first about 20 / 80, both targets hold at the lowest cost); a premium model at
/// about 35× the optimum's price; and a mid-priced slow one that misses the latency target alone.
/// An error rate near 1 % takes thousands of requests to measure.
pub fn rare_events() -> (ModelSetSpec, Vec<TrueModel>) {
    let models = vec![
        TrueModel::new("sim/fast-cheap", 0.0003, 900.0, 0.5, 0.02, 0.8),
        TrueModel::new("sim/steady", 0.0006, 1500.0, 0.45, 0.01, 0.8),
        TrueModel::new("sim/premium", 0.02, 1200.0, 0.3, 0.005, 0.9),
        TrueModel::new("sim/slow", 0.0009, 2600.0, 0.4, 0.008, 0.8),
    ];
    let spec = ModelSetSpec {
        models: models.iter().map(|m| m.id.clone()).collect(),
        requirements: vec![
            Requirement::new(Dimension::ErrorRate, Statistic::Mean, Comparator::AtMost, 0.012),
            Requirement::new(Dimension::Latency, Statistic::P90, Comparator::AtMost, 3000.0),
        ],
        objective: Objective::Minimize(Dimension::Cost),
        ..Default::default()
    };
    (spec, models)
}

/// The same models with the steady one unlucky in its first look: it fails every request in
/// the first 0.6 s (an outage), about 1 in 25 of the first requests it gets, so its first look
/// says it fails more than twice as often as it does.
pub fn unlucky_start() -> (ModelSetSpec, Vec<TrueModel>) {
    let (spec, mut models) = rare_events();
    models[1].outage = Some((0.0, 0.6));
    (spec, models)
}

/// A set that is infeasible without a model that looks bad at first: only "careful" (0.4 %
/// errors) can bring the mix under 1 %, and its first few seconds fail (an outage), so its first
/// look says it fails several times as often as it does.
pub fn infeasible_until_explored() -> (ModelSetSpec, Vec<TrueModel>) {
    let mut models = vec![
        TrueModel::new("sim/cheap", 0.0003, 900.0, 0.5, 0.02, 0.8),
        TrueModel::new("sim/careful", 0.0008, 1500.0, 0.45, 0.004, 0.8),
        TrueModel::new("sim/dear", 0.01, 1200.0, 0.3, 0.015, 0.9),
    ];
    models[1].outage = Some((0.0, 5.0));
    let spec = ModelSetSpec {
        models: models.iter().map(|m| m.id.clone()).collect(),
        requirements: vec![
            Requirement::new(Dimension::ErrorRate, Statistic::Mean, Comparator::AtMost, 0.01),
            Requirement::new(Dimension::Latency, Statistic::P90, Comparator::AtMost, 3000.0),
        ],
        objective: Objective::Minimize(Dimension::Cost),
        ..Default::default()
    };
    (spec, models)
}

/// The tolerance a window of `n` requests gets on `req`: 2 % of the target, or three standard
/// errors of the window's statistic when that is wider (an error rate near 1 % over a few
/// thousand requests scatters by far more than 2 %). `sigma`: the log-normal shape of the
/// latencies near a percentile's target, to size its scatter.
pub fn window_tolerance(req: &Requirement, n: usize, sigma: f64) -> f64 {
    let n = n.max(1) as f64;
    let q = app::engine::plan::quantile_level(req.statistic);
    let se = match (&req.dimension, q) {
        (Dimension::ErrorRate, _) => (req.target * (1.0 - req.target) / n).sqrt() / req.target,
        // A quantile's scatter is √(q(1−q)/n) in probability, which for a log-normal of shape
        // σ is σ·√(q(1−q)/n)/φ(Φ⁻¹(q)) relative to the value.
        (_, Some(q)) => {
            let z = app::engine::stats::normal_quantile(q);
            let density = (-z * z / 2.0).exp() / (std::f64::consts::TAU).sqrt();
            sigma * (q * (1.0 - q) / n).sqrt() / density
        }
        _ => 0.0,
    };
    (3.0 * se).max(0.02)
}

/// The cheapest (best) single model meeting every requirement on the truth at `t`, if any.
pub fn best_single(spec: &ModelSetSpec, models: &[TrueModel], t: f64, sampling: f64) -> Option<f64> {
    let truth = true_inputs(models, t, sampling);
    (0..models.len())
        .filter_map(|i| {
            let w: Vec<f64> = (0..models.len()).map(|j| if i == j { 1.0 } else { 0.0 }).collect();
            let meets = spec.requirements.iter().all(|r| {
                app::engine::plan::mixture_statistic(&truth, &w, r).is_some_and(|v| match r.comparator {
                    Comparator::AtMost => v <= r.target,
                    Comparator::AtLeast => v >= r.target,
                })
            });
            meets.then(|| mix_objective(&truth, &w, &spec.objective)).flatten()
        })
        .min_by(|a, b| a.total_cmp(b))
}

/// Requests before an uncertainty scenario's windows are judged: telling a 1 % error rate from a
/// 2 % one takes thousands of requests of each model, and placing the mix within a few percent
/// of the optimum takes tens of thousands (see `app/tests/engine_uncertainty.rs`).
pub const UNCERTAINTY_SETTLE: usize = 100_000;

/// The simulator's settings for the uncertainty scenarios: the window the router judges `spec`
/// on ([`PlanOptions::window_for`] with `adaptive_window`: 16,667 requests for an error-rate
/// target of 1.2 %, 20,000 for 1 %; an error rate near 1 % over 4,000 scatters by 14 % of
/// itself, so every window within three of its standard errors and the cost within 3 % of the
/// optimum would pull against each other), 300,000 requests, judged after [`UNCERTAINTY_SETTLE`].
pub fn uncertainty_config(seed: u64, spec: &ModelSetSpec) -> SimConfig {
    let base = SimConfig::default();
    let opts = PlanOptions {
        window_requests: 2_000.0,
        adaptive_window: true,
        ..base.opts.clone()
    };
    let window = opts.window_for(&spec.requirements);
    SimConfig {
        seed,
        requests: 300_000,
        window: window as usize,
        warmup: UNCERTAINTY_SETTLE,
        opts,
        ..base
    }
}

/// When [`error_step`]'s step happens (engine seconds).
pub const STEP_AT: f64 = 5_000.0;

/// Rare events with a step: from [`STEP_AT`] the fast, cheap model fails 2.6 % of requests
/// instead of 2 %, so the mix the set settled on runs about 10 % over its error target until
/// routing moves (the optimum's share of that model falls from about 20 % to 12.5 %). The
/// estimates follow with their half-life (30 min); the window sees it within one window.
pub fn error_step() -> (ModelSetSpec, Vec<TrueModel>) {
    let (spec, mut models) = rare_events();
    models[0].error_step = Some((STEP_AT, 0.026));
    (spec, models)
}

/// Largest change of any model's weight from one re-plan to the next, among re-plans from `from_t`.
pub fn largest_move(res: &SimResult, from_t: f64) -> f64 {
    res.plans
        .windows(2)
        .filter(|p| p[0].0 >= from_t)
        .map(|p| {
            p[0].1
                .iter()
                .zip(&p[1].1)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max)
        })
        .fold(0.0, f64::max)
}
