//! Routing under uncertainty (issue 23): scenarios whose requirements need thousands of samples to
//! judge, over 20 seeds each (`ENGINE_SIM_SEEDS` overrides, e.g. "1-40" or "3,7").
//!
//! - **rare events**: an error-rate target of 1.2 % with models failing 0.5–2 %, a p90 latency
//!   target, and a premium model 35× the optimum's price;
//! - **unlucky start**: the same, with the model the optimum leans on failing its first requests;
//! - **infeasible until explored**: only a model whose first look was unlucky can bring the set
//!   under its error target, so the set looks infeasible until it is explored again.
//!
//! - **error step**: rare events where the fast model's error rate steps from 2 % to 2.6 %
//!   mid-run, the controller's step response.
//!
//! After [`UNCERTAINTY_SETTLE`] requests, in every seed:
//! - every window (the one the router judges the set on, `PlanOptions::window_for`: 16,667
//!   requests for an error-rate target of 1.2 %, 20,000 for 1 %) holds every requirement within max(2 %, 3 standard errors of
//!   the window's statistic) of its target, but for what chance allows: a window of a mix whose
//!   long-run error rate sits exactly at the target exceeds three standard errors once in 740,
//!   and the controller aims 0.3 of them inside (once in 2,000; 0.5 inside costs another 1.5 %
//!   of the optimum), so over a scenario's 200–240 windows at most one may lie beyond three standard
//!   errors and none beyond four;
//! - the true cost of the published mix, averaged over the re-plans, is within 6 % of the optimum
//!   on the true parameters, and within 3 % averaged over the seeds. Per seed, 3 % is not always
//!   met (16–20 seeds of 20 per scenario): an error rate near 1 % over 16,667 requests scatters by
//!   ±7 % of itself, so the controller aims 0.3 of the window's standard errors inside the target
//!   to keep every window within tolerance, and with the cost this sensitive to the error rate (in
//!   "infeasible until explored" a tenth of a point of error rate is 5 % of the cost) that margin
//!   and the controller's own noise cost 0–4 %. The 20-seed
//!   sweep's figures are in issue 23's note (`cargo run --release -p app --example uncertainty`);
//! - the verdict on what the router learned is the verdict on the truth (Yes);
//! - the model written off by its first look carries traffic in the end.

mod engine_support;

use app::engine::{verdict, Feasibility};
use app::model_set::ModelSetSpec;
use engine_support::*;

/// Seeds 1–20, or the ones in `ENGINE_SIM_SEEDS`.
fn seeds() -> Vec<u64> {
    let Ok(spec) = std::env::var("ENGINE_SIM_SEEDS") else {
        return (1..=20).collect();
    };
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        match (a.trim().parse::<u64>(), b.trim().parse::<u64>()) {
            (Ok(a), Ok(b)) if a <= b => out.extend(a..=b),
            _ => panic!("ENGINE_SIM_SEEDS: cannot read {part:?}"),
        }
    }
    out
}

struct Judged {
    seed: u64,
    ratio: f64,
    /// Mean weights over the run's last quarter.
    final_weights: Vec<f64>,
    verdict: Feasibility,
    /// Windows beyond max(2 %, 3 standard errors), as (window end, requirement, relative excess).
    beyond: Vec<(f64, usize, f64)>,
    /// Largest change of a model's weight from one re-plan to the next after settling.
    largest_move: f64,
}

/// Runs `spec` over every seed (two at a time: the machine's cores) and judges each run's windows.
fn judge(name: &str, spec: &ModelSetSpec, models: &[TrueModel]) -> Vec<Judged> {
    let seeds = seeds();
    let mut out = Vec::new();
    for chunk in seeds.chunks(2) {
        std::thread::scope(|s| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|&seed| {
                    s.spawn(move || {
                        let cfg = uncertainty_config(seed, spec);
                        let settle = cfg.warmup as f64 * cfg.dt;
                        let res = run(spec, models, Router::Planner, &cfg);
                        let mut windows = 0;
                        let mut beyond = Vec::new();
                        for c in res.checkpoints.iter().filter(|c| c.t >= settle) {
                            windows += 1;
                            for (i, (r, v)) in spec.requirements.iter().zip(&c.realised).enumerate() {
                                let v = v.unwrap_or(f64::NAN);
                                let tolerance = window_tolerance(r, cfg.window, 0.45);
                                // Three standard errors (or 2 %) are the tolerance; four are never
                                // reached by chance in a sweep this size.
                                let hard = (tolerance * 4.0 / 3.0).max(0.02);
                                assert!(
                                    excess(r, v) <= hard,
                                    "{name}, seed {seed}: window ending t={:.0}s: {r:?} realised {v:.5} \
                                     (tolerance {:.1} %)",
                                    c.t,
                                    tolerance * 100.0
                                );
                                if excess(r, v) > tolerance {
                                    beyond.push((c.t, i, excess(r, v)));
                                }
                            }
                        }
                        assert!(windows >= 10, "{name}, seed {seed}: only {windows} windows judged");
                        let ratios = objective_ratios(spec, models, &res, settle, cfg.eval_sampling);
                        assert!(!ratios.is_empty(), "{name}, seed {seed}: no re-plans judged");
                        let ratio = ratios.iter().sum::<f64>() / ratios.len() as f64;
                        let verdict = verdict(spec, &res.final_inputs, &cfg.opts)
                            .map(|v| v.feasibility)
                            .unwrap_or_else(|e| panic!("{name}, seed {seed}: verdict failed: {e}"));
                        let largest_move = largest_move(&res, settle);
                        Judged {
                            beyond,
                            largest_move,
                            seed,
                            ratio,
                            // The mean over the last quarter's re-plans (five windows): one plan,
                            // or one window's worth, is noisy.
                            final_weights: {
                                let end = 0.75 * cfg.requests as f64 * cfg.dt;
                                let late: Vec<&Vec<f64>> =
                                    res.plans.iter().filter(|p| p.0 >= end).map(|p| &p.1).collect();
                                (0..models.len())
                                    .map(|i| late.iter().map(|w| w[i]).sum::<f64>() / late.len().max(1) as f64)
                                    .collect()
                            },
                            verdict,
                        }
                    })
                })
                .collect();
            for h in handles {
                match h.join() {
                    Ok(j) => out.push(j),
                    Err(e) => std::panic::resume_unwind(e),
                }
            }
        });
    }
    let cfg = uncertainty_config(0, spec);
    // After the scenarios' outages (a model in one is unavailable).
    let truth = true_inputs(models, cfg.warmup as f64 * cfg.dt, cfg.eval_sampling);
    let on_truth = verdict(spec, &truth, &cfg.opts).map(|v| v.feasibility);
    assert_eq!(on_truth, Ok(Feasibility::Yes), "{name}: the truth is feasible");
    let mean = out.iter().map(|j| j.ratio).sum::<f64>() / out.len() as f64;
    let beyond: Vec<(u64, &(f64, usize, f64))> =
        out.iter().flat_map(|j| j.beyond.iter().map(|b| (j.seed, b))).collect();
    assert!(
        beyond.len() <= out.len().div_ceil(20),
        "{name}: windows beyond three standard errors (seed, (t, requirement, excess)): {beyond:?}"
    );
    for j in &out {
        eprintln!(
            "{name}, seed {}: cost / optimum {:.3}, largest weight move per re-plan {:.3}",
            j.seed, j.ratio, j.largest_move
        );
        // No swinging between models from one re-plan to the next: exploration fades in and
        // out, and the controller moves the targets by a fraction of a window's noise.
        assert!(
            j.largest_move <= 0.2,
            "{name}, seed {}: a weight moved by {:.3} in one re-plan",
            j.seed,
            j.largest_move
        );
        assert!(
            j.ratio <= 1.06,
            "{name}, seed {}: cost / optimum {:.3}",
            j.seed,
            j.ratio
        );
        assert!(
            j.ratio >= 0.95,
            "{name}, seed {}: below the optimum by {:.3}: targets overrun?",
            j.seed,
            j.ratio
        );
        assert_eq!(
            j.verdict,
            Feasibility::Yes,
            "{name}, seed {}: verdict on learned estimates",
            j.seed
        );
    }
    eprintln!("{name}: mean cost / optimum over {} seeds {mean:.4}", out.len());
    assert!(mean <= 1.03, "{name}: mean cost / optimum over the seeds {mean:.4}");
    out
}

#[test]
fn rare_events_meet_their_targets_near_the_optimal_cost() {
    let (spec, models) = rare_events();
    for j in judge("rare events", &spec, &models) {
        // The premium model (35× the optimum's price) is not in the end's mix.
        assert!(j.final_weights[2] < 0.01, "seed {}: {:?}", j.seed, j.final_weights);
    }
}

#[test]
fn a_model_unlucky_in_its_first_look_comes_back() {
    let (spec, models) = unlucky_start();
    for j in judge("unlucky start", &spec, &models) {
        // "steady" carries most of the optimum (about 80 %).
        assert!(j.final_weights[1] > 0.5, "seed {}: {:?}", j.seed, j.final_weights);
    }
}

#[test]
fn a_set_infeasible_without_a_model_that_looked_bad_is_made_feasible() {
    let (spec, models) = infeasible_until_explored();
    for j in judge("infeasible until explored", &spec, &models) {
        // Only "careful" brings the error rate under 1 %: about 60 % of the optimum.
        assert!(j.final_weights[1] > 0.4, "seed {}: {:?}", j.seed, j.final_weights);
    }
}

#[test]
fn a_step_in_a_model_s_error_rate_settles() {
    let (spec, models) = error_step();
    for j in judge("error step", &spec, &models) {
        // The optimum's share of the fast model falls from about 20 % to 12.5 %; the cost
        // bound above keeps the mix from overshooting into the dear models.
        assert!(j.final_weights[0] <= 0.17, "seed {}: {:?}", j.seed, j.final_weights);
    }
}
