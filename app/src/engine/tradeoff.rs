//! The editor's trade-off curve: for the requirement being edited, the best objective the planner reaches
//! (e.g. the lowest mean cost per request) as a function of that requirement's target, every other
//! requirement unchanged. It answers "what does loosening p90 latency from 2 s to 3 s buy?" before the edit.
//!
//! Each point is one [`plan()`] with that one target replaced, and its objective is exactly the plan's
//! [`Plan::objective`](super::Plan::objective), so the curve at the current target agrees with the editor's
//! projection panel to the last bit. Because a sweep is a couple of dozen plans, the browser computes it
//! incrementally: [`tradeoff_targets`] once, then [`tradeoff_point`] for a few targets per animation frame,
//! so typing in the editor never waits for the whole curve; [`tradeoff`] is the same two steps at once.

use serde::{Deserialize, Serialize};

use super::plan::{checked_targets, plan, single_model_statistics, ModelInput, PlanError, PlanOptions};
use super::project::log_scaled;
use crate::model_set::{Comparator, Dimension, ModelSetSpec, Requirement};

/// The most targets a sweep spaces out (besides the current one): a curve 340 px wide shows no more.
pub const MAX_POINTS: usize = 200;

/// How far the sweep runs past the worst single model's value, as a share of the swept span (of its
/// logarithm on a log sweep): at the worst model's *point* value the requirement can still bind a little
/// on the planner's pessimistic estimates, and a few points beyond it show the curve levelling off.
pub const LOOSE_MARGIN: f64 = 0.1;

/// The best objective at one target of the requirement.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TradeoffPoint {
    pub target: f64,
    /// The plan's objective ([`Plan::objective`](super::Plan::objective)) with the requirement at `target`;
    /// for an infeasible point that of the least-violating mix, which a chart should not draw as reachable.
    pub objective: Option<f64>,
    /// Whether the plan meets every requirement at this target ([`Plan::feasible`](super::Plan::feasible)).
    pub feasible: bool,
}

/// The trade-off curve of one requirement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tradeoff {
    /// Index into the spec's requirements.
    pub requirement: usize,
    /// By ascending target; one of them is at `current_target`.
    pub points: Vec<TradeoffPoint>,
    /// The requirement's target in the spec.
    pub current_target: f64,
}

impl Tradeoff {
    /// The point at the spec's own target (what the projection panel shows).
    pub fn current(&self) -> Option<&TradeoffPoint> {
        self.points.iter().find(|p| p.target == self.current_target)
    }
}

fn requirement_at(spec: &ModelSetSpec, requirement: usize) -> Result<&Requirement, PlanError> {
    spec.requirements.get(requirement).ok_or(PlanError::NoSuchRequirement {
        requirement,
        count: spec.requirements.len(),
    })
}

/// The targets a trade-off sweep of requirement `requirement` plans at, ascending.
///
/// The span is where the target matters: from the best value any mix reaches (the best single model's value
/// of the statistic on point estimates, the verdict's `best_value`; no mix beats it, so tighter targets are
/// all "not achievable") to the worst single model's value, where the requirement stops binding because
/// every mix meets it, then [`LOOSE_MARGIN`] further so the curve visibly levels off. The span always
/// includes the current target, however far out it is. `points` targets (2 to [`MAX_POINTS`]) are spaced
/// evenly over it, in log(target) when [`log_scaled`] (latency, TTFT or cost spanning more than tenfold:
/// each step then changes the target by the same ratio, which is how these read) and linearly otherwise;
/// the current target is added unless a spaced target equals it. Targets stay at or above zero, and error
/// rates and eval scores at or below one.
///
/// When every model has the same value the span is that value ±50 % (0 to 1 at zero). When no model has data
/// on the dimension there is nothing to sweep and the only target is the current one.
pub fn tradeoff_targets(
    spec: &ModelSetSpec,
    models: &[ModelInput],
    requirement: usize,
    points: usize,
) -> Result<Vec<f64>, PlanError> {
    checked_targets(spec, models, None)?;
    let req = requirement_at(spec, requirement)?;
    let current = req.target;
    let values = single_model_statistics(models, req);
    if values.is_empty() {
        return Ok(vec![current]);
    }
    let (mut lo, mut hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &(_, v)| {
            (lo.min(v), hi.max(v))
        });
    if !(hi - lo > 1e-9 * hi.abs()) {
        (lo, hi) = if hi > 0.0 { (hi * 0.5, hi * 1.5) } else { (0.0, 1.0) };
    }
    // The loose end: past the worst model, on the side where the target no longer binds.
    let log = log_scaled(&req.dimension, lo.min(current), hi.max(current));
    let margin = if log {
        (hi / lo).powf(LOOSE_MARGIN)
    } else {
        (hi - lo) * LOOSE_MARGIN
    };
    match (req.comparator, log) {
        (Comparator::AtMost, true) => hi *= margin,
        (Comparator::AtMost, false) => hi += margin,
        (Comparator::AtLeast, true) => lo /= margin,
        (Comparator::AtLeast, false) => lo -= margin,
    }
    (lo, hi) = (lo.min(current).max(0.0), hi.max(current));
    if matches!(req.dimension, Dimension::ErrorRate | Dimension::Eval(_)) {
        hi = hi.min(1.0).max(lo);
    }
    let n = points.clamp(2, MAX_POINTS);
    let mut targets: Vec<f64> = (0..n)
        .map(|j| {
            let f = j as f64 / (n - 1) as f64;
            match j {
                0 => lo,
                j if j == n - 1 => hi,
                _ if log => lo * (hi / lo).powf(f),
                _ => lo + (hi - lo) * f,
            }
        })
        .collect();
    // A spaced target within rounding of the current one becomes it, so the curve passes through the
    // projection's own point rather than next to it.
    let close = 1e-9 * (hi - lo).max(current.abs());
    match targets.iter_mut().find(|t| (**t - current).abs() <= close) {
        Some(t) => *t = current,
        None => targets.push(current),
    }
    targets.sort_by(f64::total_cmp);
    targets.dedup();
    Ok(targets)
}

/// One point of the curve: the plan of `spec` with requirement `requirement`'s target set to `target`,
/// exactly as [`plan()`] gives it for that spec.
pub fn tradeoff_point(
    spec: &ModelSetSpec,
    models: &[ModelInput],
    opts: &PlanOptions,
    requirement: usize,
    target: f64,
) -> Result<TradeoffPoint, PlanError> {
    requirement_at(spec, requirement)?;
    // The targets override rather than a cloned spec: the planner reads targets from the override and
    // everything else from the spec, so this is the same plan without copying the spec per point.
    let mut targets: Vec<f64> = spec.requirements.iter().map(|r| r.target).collect();
    targets[requirement] = target;
    let p = plan(spec, models, Some(&targets), opts)?;
    Ok(TradeoffPoint {
        target,
        objective: p.objective,
        feasible: p.feasible,
    })
}

/// The whole curve: [`tradeoff_point`] at each of [`tradeoff_targets`].
pub fn tradeoff(
    spec: &ModelSetSpec,
    models: &[ModelInput],
    opts: &PlanOptions,
    requirement: usize,
    points: usize,
) -> Result<Tradeoff, PlanError> {
    let current_target = requirement_at(spec, requirement)?.target;
    let points = tradeoff_targets(spec, models, requirement, points)?
        .into_iter()
        .map(|t| tradeoff_point(spec, models, opts, requirement, t))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Tradeoff {
        requirement,
        points,
        current_target,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::estimate::Estimate;
    use crate::engine::plan::observed_model;
    use crate::engine::project::project;
    use crate::model_set::{Objective, Statistic};

    /// A model answering around `latency` ms (±15 %, evenly spread), each request at `cost`.
    fn model(id: &str, cost: f64, latency: f64) -> ModelInput {
        observed_model(
            id,
            cost,
            (0..400).map(|i| latency * (1.0 + ((i % 7) as f64 - 3.0) * 0.05)),
        )
    }

    /// A cheap slow model and an expensive fast one.
    fn cheap_and_fast() -> Vec<ModelInput> {
        vec![model("cheap", 0.001, 2000.0), model("fast", 0.01, 500.0)]
    }

    fn spec(statistic: Statistic, target: f64) -> ModelSetSpec {
        ModelSetSpec {
            models: vec!["cheap".into(), "fast".into()],
            requirements: vec![Requirement::new(
                Dimension::Latency,
                statistic,
                Comparator::AtMost,
                target,
            )],
            objective: Objective::Minimize(Dimension::Cost),
            ..Default::default()
        }
    }

    fn curve(spec: &ModelSetSpec, models: &[ModelInput], opts: &PlanOptions) -> Tradeoff {
        tradeoff(spec, models, opts, 0, 24).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn loosening_latency_never_raises_the_minimum_cost() {
        let models = cheap_and_fast();
        for statistic in [Statistic::Mean, Statistic::P90] {
            let t = curve(&spec(statistic, 1200.0), &models, &PlanOptions::default());
            assert!(t.points.len() >= 24, "{t:?}");
            assert!(t.points.windows(2).all(|w| w[0].target < w[1].target), "{t:?}");
            // Infeasible only at the tight end: a looser target keeps every mix that met a tighter one.
            let first_ok = t
                .points
                .iter()
                .position(|p| p.feasible)
                .expect("some target is achievable");
            assert!(t.points[first_ok..].iter().all(|p| p.feasible), "{statistic:?}: {t:?}");
            let costs: Vec<f64> = t.points[first_ok..]
                .iter()
                .map(|p| p.objective.expect("a cost"))
                .collect();
            for w in costs.windows(2) {
                assert!(w[1] <= w[0] * (1.0 + 1e-9), "{statistic:?}: {costs:?}");
            }
            // From mostly the fast model down to the cheap one alone.
            assert!(costs[0] > 0.005, "{statistic:?}: {costs:?}");
            let last = costs[costs.len() - 1];
            assert!((last - 0.001).abs() < 1e-9, "{statistic:?}: {costs:?}");
        }
    }

    #[test]
    fn every_point_is_the_plan_of_the_spec_with_that_target() {
        let models = cheap_and_fast();
        let opts = PlanOptions::default();
        let s = spec(Statistic::P90, 1200.0);
        let t = curve(&s, &models, &opts);
        // The current target's point is the projection panel's objective, bit for bit.
        let current = t.current().expect("the current target is swept");
        let planned = plan(&s, &models, None, &opts).expect("plan");
        assert_eq!(current.objective, planned.objective);
        assert_eq!(current.feasible, planned.feasible);
        let projected = project(&s, &models, &opts).expect("projection");
        assert_eq!(current.objective, projected.objective);
        // And any other point is the plan of the spec edited to its target.
        for p in t.points.iter().step_by(5) {
            let mut edited = s.clone();
            edited.requirements[0].target = p.target;
            let planned = plan(&edited, &models, None, &opts).expect("plan");
            assert_eq!(
                (p.objective, p.feasible),
                (planned.objective, planned.feasible),
                "{p:?}"
            );
        }
    }

    #[test]
    fn the_sweep_runs_from_the_best_model_past_the_worst() {
        let models = cheap_and_fast();
        let s = spec(Statistic::P90, 1200.0);
        let best_and_worst = single_model_statistics(&models, &s.requirements[0]);
        let (best, worst) = (best_and_worst[1].1, best_and_worst[0].1);
        assert!(best < 600.0 && worst > 1800.0, "{best_and_worst:?}");
        let targets = tradeoff_targets(&s, &models, 0, 24).expect("targets");
        assert_eq!(targets.len(), 25, "24 spaced and the current: {targets:?}");
        assert_eq!(targets[0], best);
        assert!(targets[24] > worst && targets[24] < worst * 1.2, "{targets:?}");
        assert!(targets.contains(&1200.0));
        // Under a tenfold span: evenly spaced.
        let step = targets[2] - targets[1];
        assert!((targets[24] - targets[23] - step).abs() < 1e-6 * step, "{targets:?}");

        // A current target far outside is still swept, and the span is then logarithmic.
        let far = tradeoff_targets(&spec(Statistic::P90, 60_000.0), &models, 0, 24).expect("targets");
        assert_eq!(far[far.len() - 1], 60_000.0);
        let ratio = far[2] / far[1];
        assert!((far[3] / far[2] - ratio).abs() < 1e-9, "{far:?}");
        // Two points were asked for at least.
        assert_eq!(tradeoff_targets(&s, &models, 0, 0).expect("targets").len(), 3);
    }

    #[test]
    fn the_tightest_target_is_judged_like_any_other() {
        let models = cheap_and_fast();
        // At the fast model's own point value the planner's pessimism (z = 1) cannot promise it ...
        let s = spec(Statistic::P90, 1200.0);
        let t = curve(&s, &models, &PlanOptions::default());
        let tight = t.points[0];
        assert!(!tight.feasible, "{tight:?}");
        let mut edited = s.clone();
        edited.requirements[0].target = tight.target;
        let planned = plan(&edited, &models, None, &PlanOptions::default()).expect("plan");
        assert!(planned.violations[0] > 0.0);
        // ... but on point estimates the fast model alone meets its own mean exactly.
        let exact = PlanOptions {
            z: 0.0,
            window_requests: 0.0,
            ..PlanOptions::default()
        };
        let t = curve(&spec(Statistic::Mean, 1200.0), &models, &exact);
        let tight = t.points[0];
        assert!(tight.feasible, "{tight:?}");
        assert!((tight.objective.expect("cost") - 0.01).abs() < 1e-9, "{tight:?}");
    }

    #[test]
    fn degenerate_inputs() {
        let models = cheap_and_fast();
        let opts = PlanOptions::default();
        let s = spec(Statistic::P90, 1200.0);
        let missing = PlanError::NoSuchRequirement {
            requirement: 1,
            count: 1,
        };
        assert_eq!(tradeoff(&s, &models, &opts, 1, 24), Err(missing.clone()));
        assert_eq!(tradeoff_targets(&s, &models, 1, 24), Err(missing.clone()));
        assert_eq!(tradeoff_point(&s, &models, &opts, 1, 900.0), Err(missing));
        assert_eq!(tradeoff(&s, &[], &opts, 0, 24), Err(PlanError::NoModels));
        assert_eq!(
            tradeoff(&spec(Statistic::P90, f64::NAN), &models, &opts, 0, 24),
            Err(PlanError::InvalidTarget { requirement: 0 })
        );

        // A model without data leaves the sweep's span alone and the curve still comes out.
        let blank = ModelInput {
            id: "new".into(),
            estimate: Estimate::default(),
            local_requests: 0.0,
            available: true,
        };
        let with_blank = vec![models[0].clone(), models[1].clone(), blank.clone()];
        assert_eq!(
            tradeoff_targets(&s, &with_blank, 0, 24),
            tradeoff_targets(&s, &models, 0, 24)
        );
        let t = curve(&s, &with_blank, &opts);
        assert_eq!(t.points.len(), 25);
        assert!(t.points.iter().any(|p| p.feasible), "{t:?}");

        // Nothing measured at all: the current target is the whole sweep.
        let t = curve(&s, &[blank], &opts);
        assert_eq!(t.points.len(), 1, "{t:?}");
        assert_eq!(t.points[0].target, 1200.0);
        assert_eq!(t.points[0].objective, None);

        // One model: its value ±50 %, the current target included.
        let t = tradeoff_targets(&s, &models[..1], 0, 5).expect("targets");
        let alone = single_model_statistics(&models[..1], &s.requirements[0])[0].1;
        assert_eq!(t[0], 1200.0f64.min(alone * 0.5));
        assert!(t[t.len() - 1] >= alone * 1.5, "{t:?}");
    }

    /// 20 models (cost, latency, TTFT, throughput, errors, sampled evals) and 6 requirements, built as
    /// `benches/engine.rs` builds its inputs.
    fn synthetic(n: usize) -> (ModelSetSpec, Vec<ModelInput>) {
        use crate::engine::alias::splitmix64;
        use crate::engine::estimate::{Estimator, Observation};
        fn uniform(x: &mut u64) -> f64 {
            *x = splitmix64(*x);
            (*x >> 11) as f64 / (1u64 << 53) as f64
        }
        fn spread(x: &mut u64) -> f64 {
            (0.5 + uniform(x)) * (0.5 + uniform(x))
        }
        let mut x = 42u64;
        let models = (0..n)
            .map(|i| {
                let cost = 1e-4 * (1.0 + 40.0 * uniform(&mut x));
                let latency = 300.0 + 3000.0 * uniform(&mut x);
                let err = 0.03 * uniform(&mut x);
                let mut e = Estimator::new(600.0);
                for k in 0..400 {
                    let ok = uniform(&mut x) >= err;
                    let obs = Observation {
                        ok,
                        latency_ms: latency * spread(&mut x),
                        ttft_ms: ok.then(|| latency * 0.2 * spread(&mut x)),
                        throughput_tps: ok.then(|| 60_000.0 / latency * spread(&mut x)),
                        cost_usd: cost * spread(&mut x),
                        evals: if ok && uniform(&mut x) < 0.1 {
                            vec![("quality".into(), 0.6 + 0.3 * uniform(&mut x))]
                        } else {
                            Vec::new()
                        },
                    };
                    e.observe(&obs, k as f64);
                }
                ModelInput {
                    id: format!("p/m{i}"),
                    estimate: e.snapshot(400.0),
                    local_requests: 400.0,
                    available: true,
                }
            })
            .collect::<Vec<_>>();
        let requirements = vec![
            Requirement::new(Dimension::Latency, Statistic::P90, Comparator::AtMost, 3500.0),
            Requirement::new(Dimension::Latency, Statistic::Mean, Comparator::AtMost, 2000.0),
            Requirement::new(Dimension::Ttft, Statistic::P50, Comparator::AtMost, 500.0),
            Requirement::new(Dimension::Throughput, Statistic::Mean, Comparator::AtLeast, 30.0),
            Requirement::new(Dimension::ErrorRate, Statistic::Mean, Comparator::AtMost, 0.02),
            Requirement::new(
                Dimension::Eval("quality".into()),
                Statistic::Mean,
                Comparator::AtLeast,
                0.7,
            ),
        ];
        let spec = ModelSetSpec {
            models: models.iter().map(|m| m.id.clone()).collect(),
            requirements,
            objective: Objective::Minimize(Dimension::Cost),
            ..Default::default()
        };
        (spec, models)
    }

    /// How long a 24-point curve takes for 20 models x 6 requirements (the editor's budget is a few points
    /// per animation frame). Run: `cargo test -p app --release --lib tradeoff -- --ignored --nocapture`.
    #[test]
    #[ignore = "a timing to read, not a check"]
    fn time_a_24_point_curve() {
        let (spec, models) = synthetic(20);
        let opts = PlanOptions::default();
        let runs = 20;
        for r in 0..spec.requirements.len() {
            let start = std::time::Instant::now();
            let mut feasible = 0;
            for _ in 0..runs {
                let t = tradeoff(&spec, &models, &opts, r, 24).unwrap_or_else(|e| panic!("{e}"));
                feasible = t.points.iter().filter(|p| p.feasible).count();
            }
            let total = start.elapsed() / runs;
            let targets = tradeoff_targets(&spec, &models, r, 24).map(|t| t.len()).unwrap_or(0);
            println!(
                "requirement {r}: {targets} plans in {:.2} ms ({:.0} µs per point), {feasible} feasible",
                total.as_secs_f64() * 1e3,
                total.as_secs_f64() * 1e6 / targets.max(1) as f64
            );
            assert!(targets >= 24);
        }
        let start = std::time::Instant::now();
        for _ in 0..runs {
            let _ = tradeoff_targets(&spec, &models, 0, 24);
        }
        println!(
            "tradeoff_targets alone: {:.0} µs",
            start.elapsed().as_secs_f64() * 1e6 / f64::from(runs)
        );
        // The distribution chart's data, once per edit as well.
        let weights = plan(&spec, &models, None, &opts).map(|p| p.weights).unwrap_or_default();
        let start = std::time::Instant::now();
        let mut bins = 0;
        for _ in 0..runs {
            bins = crate::engine::project::mixture_density(&models, &weights, &Dimension::Latency, 40).len();
        }
        println!(
            "mixture_density, 40 bins of latency over 20 models: {:.0} µs",
            start.elapsed().as_secs_f64() * 1e6 / f64::from(runs)
        );
        assert_eq!(bins, 40);
    }
}
