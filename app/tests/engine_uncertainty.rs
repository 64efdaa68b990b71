//! Routing under uncertainty (issue 23): scenarios whose requirements need thousands of samples to
//! judge, over 20 seeds each (`ENGINE_SIM_SEEDS` overrides, e.g. "1-40" or "3,7").
//!
//! - **rare events**: an error-rate target of 1.2 % with models failing 0.5–2 %, a p90 latency
//!   target, and a premium model 35× the optimum's price;
//! - **unlucky start**: the same, with the model the optimum leans on failing its first requests;
//! - **infeasible until explored**: only a model whose first look was unlucky can bring the set
//!   under its error target, so the set looks infeasible until it is explored again.
//!
//! After [`UNCERTAINTY_SETTLE`] requests, in every seed:
//! - every window of 10,000 requests holds every requirement within max(2 %, 3 standard errors of
//!   the window's statistic) of its target;
//! - the true cost of the published mix, averaged over the re-plans, is within 5 % of the optimum
//!   on the true parameters, and within 3 % averaged over the seeds. Per seed, 3 % is not always
//!   met: an error rate near 1 % over 10,000 requests scatters by ±10 % of itself, so the
//!   controller aims 0.3 of the window's standard errors inside the target to keep every window
//!   within tolerance, and with the cost this sensitive to the error rate (a tenth of a point
//!   moves a fifth of the traffic between models) that margin alone costs 1–2 %. The 20-seed
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
    final_weights: Vec<f64>,
    verdict: Feasibility,
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
                        let cfg = uncertainty_config(seed);
                        let settle = cfg.warmup as f64 * cfg.dt;
                        let res = run(spec, models, Router::Planner, &cfg);
                        let mut windows = 0;
                        for c in res.checkpoints.iter().filter(|c| c.t >= settle) {
                            windows += 1;
                            for (r, v) in spec.requirements.iter().zip(&c.realised) {
                                let v = v.unwrap_or(f64::NAN);
                                let tolerance = window_tolerance(r, cfg.window, 0.45);
                                assert!(
                                    excess(r, v) <= tolerance,
                                    "{name}, seed {seed}: window ending t={:.0}s: {r:?} realised {v:.5} \
                                     (tolerance {:.1} %)",
                                    c.t,
                                    tolerance * 100.0
                                );
                            }
                        }
                        assert!(windows >= 10, "{name}, seed {seed}: only {windows} windows judged");
                        let ratios = objective_ratios(spec, models, &res, settle, cfg.eval_sampling);
                        assert!(!ratios.is_empty(), "{name}, seed {seed}: no re-plans judged");
                        let ratio = ratios.iter().sum::<f64>() / ratios.len() as f64;
                        let verdict = verdict(spec, &res.final_inputs, &cfg.opts)
                            .map(|v| v.feasibility)
                            .unwrap_or_else(|e| panic!("{name}, seed {seed}: verdict failed: {e}"));
                        Judged {
                            seed,
                            ratio,
                            final_weights: res.plans.last().map(|p| p.1.clone()).unwrap_or_default(),
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
    let cfg = uncertainty_config(0);
    // After the scenarios' outages (a model in one is unavailable).
    let truth = true_inputs(models, cfg.warmup as f64 * cfg.dt, cfg.eval_sampling);
    let on_truth = verdict(spec, &truth, &cfg.opts).map(|v| v.feasibility);
    assert_eq!(on_truth, Ok(Feasibility::Yes), "{name}: the truth is feasible");
    let mean = out.iter().map(|j| j.ratio).sum::<f64>() / out.len() as f64;
    for j in &out {
        eprintln!("{name}, seed {}: cost / optimum {:.3}", j.seed, j.ratio);
        assert!(
            j.ratio <= 1.05,
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
