//! Simulator scenarios: the planner against models with known true behaviour (stationary, drift, outage,
//! a model added later), verdicts against the truth, and the baseline comparison report.
//!
//! Tolerances: after warm-up, every non-overlapping window of realised requests meets each requirement
//! within 2 % (relative to the target); the true objective of the published weights is within 3 % of the LP
//! solved on the true parameters.

mod engine_support;

use app::engine::{verdict, Feasibility, Reason};
use app::model_set::{Comparator, Dimension, ModelSetSpec, Objective, Requirement, Statistic};
use engine_support::*;

const TOL: f64 = 0.02;
const OBJ_TOL: f64 = 0.03;

fn assert_windows_meet(name: &str, spec: &ModelSetSpec, res: &SimResult, from_t: f64) {
    assert_windows_within(name, spec, res, from_t, TOL, TOL);
}

fn assert_windows_within(name: &str, spec: &ModelSetSpec, res: &SimResult, from_t: f64, tol: f64, quantile_tol: f64) {
    let mut checked = 0;
    for c in res.checkpoints.iter().filter(|c| c.t >= from_t) {
        for (r, v) in spec.requirements.iter().zip(&c.realised) {
            let v = v.unwrap_or(f64::NAN);
            let tol = if r.statistic == Statistic::Mean {
                tol
            } else {
                quantile_tol
            };
            assert!(
                excess(r, v) <= tol,
                "{name}: window ending t={:.0}s: {r:?} realised {v:.5}",
                c.t
            );
            checked += 1;
        }
    }
    assert!(
        checked >= spec.requirements.len() * 2,
        "{name}: only {checked} checks after t={from_t}"
    );
}

/// Mean over re-plans at t ≥ from_t of (true objective of the published mix / true optimum at that time).
fn objective_ratio(spec: &ModelSetSpec, models: &[TrueModel], res: &SimResult, from_t: f64, sampling: f64) -> f64 {
    let ratios = objective_ratios(spec, models, res, from_t, sampling);
    assert!(!ratios.is_empty(), "no re-plans after t={from_t}");
    ratios.iter().sum::<f64>() / ratios.len() as f64
}

/// The seeds a scenario runs: `defaults`, or the ones in `ENGINE_SIM_SEEDS` ("1-20" or "3,7,11") for a
/// sweep, e.g. `ENGINE_SIM_SEEDS=1-20 cargo test --release -p app --test engine_sim -- --nocapture`.
fn seeds(defaults: &[u64]) -> Vec<u64> {
    let Ok(spec) = std::env::var("ENGINE_SIM_SEEDS") else {
        return defaults.to_vec();
    };
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let range = part.split_once('-').map_or((part, part), |(a, b)| (a.trim(), b.trim()));
        match (range.0.parse::<u64>(), range.1.parse::<u64>()) {
            (Ok(a), Ok(b)) if a <= b => out.extend(a..=b),
            _ => panic!("ENGINE_SIM_SEEDS: cannot read {part:?}"),
        }
    }
    out
}

/// Runs the planner on `models` for `spec` once per seed, in parallel, and hands each run to `check`.
fn each_run(
    spec: &ModelSetSpec,
    models: &[TrueModel],
    defaults: &[u64],
    check: impl Fn(u64, &SimConfig, &SimResult) + Sync,
) {
    std::thread::scope(|s| {
        for seed in seeds(defaults) {
            let check = &check;
            s.spawn(move || {
                let cfg = SimConfig {
                    seed,
                    ..SimConfig::default()
                };
                let res = run(spec, models, Router::Planner, &cfg);
                check(seed, &cfg, &res);
            });
        }
    });
}

/// Three seeds by default, two of them the worst of a 20-seed sweep (seed 15: ratio 1.029, seed 6: 1.025):
/// estimation noise on the sampled eval scores is what moves the objective, and one lucky seed would hide it.
#[test]
fn stationary_feasible_set_meets_requirements_near_optimal_cost() {
    let models = fleet();
    let spec = feasible_spec(&models);
    each_run(&spec, &models, &[7, 6, 15], |seed, cfg, res| {
        let name = format!("stationary, seed {seed}");
        assert_windows_meet(&name, &spec, res, cfg.warmup as f64 * cfg.dt);
        let ratio = objective_ratio(&spec, &models, res, cfg.warmup as f64 * cfg.dt, cfg.eval_sampling);
        eprintln!("{name}: objective ratio {ratio:.4}");
        assert!((ratio - 1.0).abs() <= OBJ_TOL, "{name}: objective ratio {ratio:.4}");
        // The optimum really is a mix: the test would be trivial if one model met everything cheapest.
        let last = res
            .plans
            .last()
            .map(|p| p.1.iter().filter(|w| **w > 0.05).count())
            .unwrap_or(0);
        assert!(last >= 2, "{name}: {:?}", res.plans.last());
    });
}

#[test]
fn latency_drift_is_tracked() {
    let mut models = fleet();
    // At t = 600 s the cheap model becomes 1.6x slower.
    models[0].drift = Some((600.0, 1.6));
    let spec = feasible_spec(&models);
    each_run(&spec, &models, &[11], |seed, cfg, res| {
        // Allow 1.5 half-lives for the estimates to follow.
        let settled = 600.0 + 1.5 * cfg.half_life + cfg.window as f64 * cfg.dt;
        // After the drift the optimum puts ~13 % on the (now very slow) cheap model, so p90 sits where the
        // mixture density is low: the planner's window margin (PlanOptions::window_requests) keeps windows
        // within 2 %.
        let name = format!("drift, seed {seed}");
        assert_windows_meet(&name, &spec, res, settled);
        let ratio = objective_ratio(&spec, &models, res, settled, cfg.eval_sampling);
        eprintln!("{name}: objective ratio after the drift {ratio:.4}");
        assert!(
            (ratio - 1.0).abs() <= OBJ_TOL,
            "{name}: objective ratio after the drift {ratio:.4}"
        );
    });
    let cfg = SimConfig::default();
    let before = true_optimum(&spec, &models, 0.0, cfg.eval_sampling).unwrap_or(f64::NAN);
    let after = true_optimum(&spec, &models, 1000.0, cfg.eval_sampling).unwrap_or(f64::NAN);
    assert!(after > before * 1.01, "the drift must matter: {before} -> {after}");
}

#[test]
fn outage_is_routed_around_and_recovered() {
    let mut models = fleet();
    // The mid model (a large share of the optimal mix) fails every request for 200 s.
    let (from, to) = (700.0, 900.0);
    models[1].outage = Some((from, to));
    let spec = feasible_spec(&models);
    each_run(&spec, &models, &[5], |seed, cfg, res| {
        let share = |a: f64, b: f64| {
            let (lo, hi) = ((a / cfg.dt) as usize, (b / cfg.dt) as usize);
            let slice = &res.choices[lo..hi.min(res.choices.len())];
            slice.iter().filter(|&&c| c == 1).count() as f64 / slice.len().max(1) as f64
        };
        let name = format!("outage, seed {seed}");
        let before = share(from - 200.0, from);
        let during = share(from + 10.0, to);
        let after = share(to + 400.0, to + 800.0);
        assert!(before > 0.2, "{name}: mid carried traffic before: {before}");
        assert!(during < 0.01, "{name}: only probes during the outage: {during}");
        assert!(after > 0.2, "{name}: mid is used again after recovery: {after}");
        // Failures reached clients only until the breaker tripped.
        let (lo, hi) = ((from / cfg.dt) as usize, (to / cfg.dt) as usize);
        let failed_to_mid = res.choices[lo..hi].iter().filter(|&&c| c == 1).count();
        assert!(
            failed_to_mid < 60,
            "{name}: {failed_to_mid} requests sent to the failing model"
        );
        assert_windows_meet(&name, &spec, res, cfg.warmup as f64 * cfg.dt);
    });
}

#[test]
fn model_added_later_is_explored_and_adopted() {
    let mut models = fleet();
    let mut newbie = TrueModel::new("sim/newbie", 0.001, 700.0, 0.3, 0.01, 0.84);
    newbie.added_at = 800.0;
    models.push(newbie);
    let spec = feasible_spec(&models);
    each_run(&spec, &models, &[3], |seed, cfg, res| {
        let settled = 800.0 + cfg.half_life + cfg.window as f64 * cfg.dt;
        let name = format!("added, seed {seed}");
        assert_windows_meet(&name, &spec, res, cfg.warmup as f64 * cfg.dt);
        let ratio = objective_ratio(&spec, &models, res, settled, cfg.eval_sampling);
        eprintln!("{name}: objective ratio after the new model {ratio:.4}");
        assert!(
            (ratio - 1.0).abs() <= OBJ_TOL,
            "{name}: objective ratio after the new model {ratio:.4}"
        );
        let w_new = res.plans.last().map(|p| p.1[4]).unwrap_or(0.0);
        assert!(w_new > 0.3, "{name}: newbie weight {w_new}");
    });
    let cfg = SimConfig::default();
    let old_best = true_optimum(&spec, &models, 0.0, cfg.eval_sampling).unwrap_or(f64::NAN);
    let new_best = true_optimum(&spec, &models, 1000.0, cfg.eval_sampling).unwrap_or(f64::NAN);
    assert!(
        new_best < old_best * 0.9,
        "the new model must be worth adopting: {old_best} -> {new_best}"
    );
}

fn conflicting_spec(models: &[TrueModel]) -> ModelSetSpec {
    ModelSetSpec {
        models: models.iter().map(|m| m.id.clone()).collect(),
        requirements: vec![
            Requirement::new(Dimension::Cost, Statistic::Mean, Comparator::AtMost, 0.0015),
            Requirement::new(Dimension::Eval(EVAL.into()), Statistic::Mean, Comparator::AtLeast, 0.85),
            Requirement::new(Dimension::Latency, Statistic::P90, Comparator::AtMost, 2500.0),
        ],
        objective: Objective::Minimize(Dimension::Latency),
        ..Default::default()
    }
}

fn impossible_spec(models: &[TrueModel]) -> ModelSetSpec {
    let mut s = feasible_spec(models);
    s.requirements[2].target = 0.95;
    s
}

#[test]
fn verdicts_match_the_truth() {
    let models = fleet();
    let cfg = SimConfig {
        requests: 12_000,
        warmup: 4_000,
        ..SimConfig::default()
    };
    let truth = true_inputs(&models, 0.0, cfg.eval_sampling);
    let opts = cfg.opts.clone();
    for (name, spec, expected) in [
        ("feasible", feasible_spec(&models), Feasibility::Yes),
        ("conflict", conflicting_spec(&models), Feasibility::Partial),
        ("impossible", impossible_spec(&models), Feasibility::No),
    ] {
        let on_truth = verdict(&spec, &truth, &opts).map_err(|e| e.to_string());
        let result = run(&spec, &models, Router::Planner, &cfg);
        let learned = result.final_inputs.clone();
        let on_data = verdict(&spec, &learned, &opts).map_err(|e| e.to_string());
        let (Ok(on_truth), Ok(on_data)) = (on_truth, on_data) else {
            panic!("{name}: verdict failed")
        };
        assert_eq!(on_truth.feasibility, expected, "{name} on truth: {on_truth:?}");
        assert_eq!(
            on_data.feasibility, expected,
            "{name} on learned estimates: {on_data:?}"
        );
        match expected {
            Feasibility::Partial => {
                for v in [&on_truth, &on_data] {
                    let conflict = v.reasons.iter().find_map(|r| match r {
                        Reason::Conflict { requirements } => Some(requirements.clone()),
                        _ => None,
                    });
                    assert!(conflict.as_ref().is_some_and(|c| c.len() >= 2), "{name}: {v:?}");
                    // Every named bound really makes the set feasible on truth.
                    for r in &v.reasons {
                        if let Reason::BoundNeeded {
                            requirement, target, ..
                        } = r
                        {
                            let mut relaxed = spec.clone();
                            relaxed.requirements[*requirement].target = *target * 1.001;
                            let relaxed = verdict(&relaxed, &truth, &opts).map(|v| v.feasibility);
                            assert!(
                                matches!(relaxed, Ok(Feasibility::Yes | Feasibility::Partial)),
                                "{name}: bound {r:?} -> {relaxed:?}"
                            );
                        }
                    }
                    assert!(
                        v.reasons.iter().any(|r| matches!(r, Reason::BoundNeeded { .. })),
                        "{name}: {v:?}"
                    );
                }
                // What the verdict says routing will realise is what the router realised after
                // learning: each missed requirement's projected value against its mean over the
                // windows after the warm-up, within 3 % of the target (measured: 0.2 % and 0.1 %).
                let misses = on_data
                    .reasons
                    .iter()
                    .find_map(|r| match r {
                        Reason::BestEffort { misses } => Some(misses.clone()),
                        _ => None,
                    })
                    .unwrap_or_else(|| panic!("{name}: no best-effort values in {on_data:?}"));
                assert!(!misses.is_empty());
                for m in &misses {
                    let late: Vec<f64> = result
                        .checkpoints
                        .iter()
                        .filter(|c| c.request >= cfg.warmup)
                        .filter_map(|c| c.realised[m.requirement])
                        .collect();
                    let realised = late.iter().sum::<f64>() / late.len().max(1) as f64;
                    let target = spec.requirements[m.requirement].target;
                    assert!(
                        (m.value - realised).abs() <= 0.03 * target.abs(),
                        "{name}: requirement {} projected {} by the verdict, realised {realised}",
                        m.requirement,
                        m.value
                    );
                }
            }
            Feasibility::No => {
                for v in [&on_truth, &on_data] {
                    let best = v.reasons.iter().find_map(|r| match r {
                        Reason::Unreachable {
                            requirement: 2,
                            best_value,
                            best_model,
                        } => Some((best_value.unwrap_or(f64::NAN), best_model.clone())),
                        _ => None,
                    });
                    let (value, model) = best.unwrap_or((f64::NAN, None));
                    assert!((value - 0.92).abs() < 0.01, "{name}: best eval {value}");
                    assert_eq!(model.as_deref(), Some("sim/premium"));
                }
            }
            Feasibility::Yes => assert!(on_truth.reasons.is_empty() && on_data.reasons.is_empty()),
        }
    }
}
