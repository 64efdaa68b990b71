//! Issue 23's measurement, not a test: the routing engine on the simulator's clock against the
//! scenarios that routing under uncertainty is about, over many seeds, with the figures the issue
//! judges by. It asserts nothing; it prints, per scenario, how often windows missed their targets
//! (beyond max(2 %, 3 standard errors of the window's statistic)), the true objective of the
//! published mix against the optimum on the true parameters and against the best single model
//! that meets the targets, and the planner's weights at the end.
//!
//! `cargo run --release -p app --example uncertainty [-- SEEDS]`   (SEEDS: "1-20", the default, or "3,7")

#[path = "../tests/engine_support/mod.rs"]
mod engine_support;

use app::model_set::{Comparator, Dimension, ModelSetSpec, Objective, Requirement, Statistic};
use engine_support::*;

/// The scenario: a fast, cheap model failing 2 % of requests; a slower one failing 1 %
/// (mixed with the first about 20 / 80, both targets hold at the lowest cost); a premium model at
/// about 40× the optimum's price; and a mid-priced slow one that misses the latency target alone.
fn rare_events() -> (ModelSetSpec, Vec<TrueModel>) {
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

/// The same models with the steady one unlucky in its first look. The simulator has no knob for
/// "fails twice its true rate over its first requests", so the steady model fails every request
/// in the first 0.6 s (an outage), which makes its first look worse than its truth.
fn unlucky_start() -> (ModelSetSpec, Vec<TrueModel>) {
    let (spec, mut models) = rare_events();
    // 15 s of failures at 20 req/s: about 1 in 25 of the first requests it gets.
    models[1].outage = Some((0.0, 0.6));
    (spec, models)
}

/// The tolerance a window's realised value gets: 2 % of the target, or three standard errors of
/// the window's statistic when that is wider (an error rate near 1 % over a few thousand
/// requests scatters by more than 2 %).
fn tolerance(req: &Requirement, n: usize) -> f64 {
    let n = n.max(1) as f64;
    let se = match (&req.dimension, req.statistic) {
        (Dimension::ErrorRate, _) => (req.target * (1.0 - req.target) / n).sqrt(),
        // A p90's scatter: √(q(1−q)/n) in probability, which for a log-normal of shape σ is
        // σ·√(q(1−q)/n)/φ(z₀.₉) relative to the value (φ(1.2816) = 0.1755; σ = 0.45, the
        // scenario's models' spread): an approximation, good enough to size a tolerance.
        (_, Statistic::P90) => 0.45 * (0.09 / n).sqrt() / 0.1755 * req.target,
        _ => 0.0,
    } / req.target.abs();
    (3.0 * se).max(0.02)
}

/// The cheapest single model meeting every requirement on the truth, if any.
fn best_single(spec: &ModelSetSpec, models: &[TrueModel], t: f64) -> Option<f64> {
    let truth = true_inputs(models, t, 0.1);
    (0..models.len())
        .filter_map(|i| {
            let w: Vec<f64> = (0..models.len()).map(|j| if i == j { 1.0 } else { 0.0 }).collect();
            let meets = spec.requirements.iter().all(|r| {
                app::engine::plan::mixture_statistic(&truth, &w, r).is_some_and(|v| match r.comparator {
                    Comparator::AtMost => v <= r.target,
                    Comparator::AtLeast => v >= r.target,
                })
            });
            meets
                .then(|| app::engine::plan::mix_objective(&truth, &w, &spec.objective))
                .flatten()
        })
        .min_by(|a, b| a.total_cmp(b))
}

fn seeds() -> Vec<u64> {
    let arg = std::env::args().nth(1).unwrap_or_else(|| "1-20".into());
    let mut out = Vec::new();
    for part in arg.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        match (a.trim().parse::<u64>(), b.trim().parse::<u64>()) {
            (Ok(a), Ok(b)) if a <= b => out.extend(a..=b),
            _ => panic!("seeds: cannot read {part:?}"),
        }
    }
    out
}

struct Outcome {
    seed: u64,
    /// Per requirement: windows beyond tolerance, of all checked.
    missed: Vec<usize>,
    windows: usize,
    /// Mean over re-plans after settling: true objective / true optimum.
    ratio: f64,
    /// The same against the best single model meeting the targets.
    single_ratio: Option<f64>,
    final_weights: Vec<f64>,
}

fn main() {
    let cfg = SimConfig::default();
    let settle = cfg.warmup as f64 * cfg.dt;
    for (name, (spec, models)) in [("rare events", rare_events()), ("unlucky start", unlucky_start())] {
        let outcomes: Vec<Outcome> = std::thread::scope(|s| {
            let handles: Vec<_> = seeds()
                .into_iter()
                .map(|seed| {
                    let (spec, models, base) = (&spec, &models, &cfg);
                    s.spawn(move || {
                        let cfg = SimConfig { seed, ..base.clone() };
                        let res = run(spec, models, Router::Planner, &cfg);
                        let mut missed = vec![0; spec.requirements.len()];
                        let mut windows = 0;
                        for c in res.checkpoints.iter().filter(|c| c.t >= settle) {
                            windows += 1;
                            for (i, (r, v)) in spec.requirements.iter().zip(&c.realised).enumerate() {
                                let v = v.unwrap_or(f64::NAN);
                                // NaN (no value) counts as missed.
                                let held = excess(r, v) <= tolerance(r, cfg.window);
                                if !held {
                                    missed[i] += 1;
                                }
                            }
                        }
                        let ratios = objective_ratios(spec, models, &res, settle, cfg.eval_sampling);
                        let ratio = ratios.iter().sum::<f64>() / ratios.len().max(1) as f64;
                        let single = best_single(spec, models, settle);
                        let mean_obj = res
                            .expected_objective
                            .iter()
                            .filter(|(t, _)| *t >= settle)
                            .map(|(_, o)| *o)
                            .collect::<Vec<_>>();
                        let mean_obj = mean_obj.iter().sum::<f64>() / mean_obj.len().max(1) as f64;
                        Outcome {
                            seed,
                            missed,
                            windows,
                            ratio,
                            single_ratio: single.map(|s| mean_obj / s),
                            final_weights: res.plans.last().map(|p| p.1.clone()).unwrap_or_default(),
                        }
                    })
                })
                .collect();
            handles.into_iter().filter_map(|h| h.join().ok()).collect()
        });
        let optimum = true_optimum(&spec, &models, settle, cfg.eval_sampling);
        println!(
            "\n## {name}: {} seeds, {} requests each, windows of {} after {} to settle; true optimum {:?} USD/request",
            outcomes.len(),
            cfg.requests,
            cfg.window,
            cfg.warmup,
            optimum
        );
        println!("| seed | windows | missed: error rate / p90 latency | E[cost]/optimum | E[cost]/best single | final weights |");
        println!("|---|---|---|---|---|---|");
        for o in &outcomes {
            let weights: Vec<String> = o.final_weights.iter().map(|w| format!("{:.3}", w)).collect();
            println!(
                "| {} | {} | {} | {:.3} | {} | {} |",
                o.seed,
                o.windows,
                o.missed.iter().map(|m| m.to_string()).collect::<Vec<_>>().join(" / "),
                o.ratio,
                o.single_ratio.map_or("–".into(), |r| format!("{r:.3}")),
                weights.join(", ")
            );
        }
        let runs_missing = outcomes.iter().filter(|o| o.missed.iter().any(|m| *m > 0)).count();
        let worst = outcomes.iter().map(|o| o.ratio).fold(0.0f64, f64::max);
        let within = outcomes.iter().filter(|o| o.ratio <= 1.03).count();
        println!(
            "summary: {runs_missing} of {} runs missed a target in some window after settling; cost within 3 % of the optimum in {within}; worst ratio {worst:.3}",
            outcomes.len()
        );
    }
}
