//! Baseline comparison: the planner against cheapest-first and fastest-first routing on the simulator's
//! scenarios. Prints a Markdown report (and writes it to `$ENGINE_REPORT` when set):
//!
//! `ENGINE_REPORT=/work/scratch/engine-report-tables.md cargo test --test engine_report -- --nocapture`

mod engine_support;

use std::fmt::Write as _;

use app::model_set::{Comparator, ModelSetSpec, Statistic};
use engine_support::*;

struct Row {
    router: Router,
    /// Per requirement: (mean realised, worst realised, windows violated by more than 2 %).
    reqs: Vec<(f64, f64, usize)>,
    windows: usize,
    objective: f64,
    expected_ratio: f64,
}

fn summarise(spec: &ModelSetSpec, models: &[TrueModel], res: &SimResult, from_t: f64, router: Router, s: f64) -> Row {
    let cps: Vec<&Checkpoint> = res.checkpoints.iter().filter(|c| c.t >= from_t).collect();
    let reqs = spec
        .requirements
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let vals: Vec<f64> = cps.iter().filter_map(|c| c.realised[i]).collect();
            let mean = vals.iter().sum::<f64>() / vals.len().max(1) as f64;
            let worst = vals.iter().copied().fold(f64::NAN, |a, v| {
                if a.is_nan() || excess(r, v) > excess(r, a) {
                    v
                } else {
                    a
                }
            });
            let bad = vals.iter().filter(|v| excess(r, **v) > 0.02).count();
            (mean, worst, bad)
        })
        .collect();
    let objs: Vec<f64> = cps.iter().filter_map(|c| c.objective).collect();
    let ratios = objective_ratios(spec, models, res, from_t, s);
    Row {
        router,
        reqs,
        windows: cps.len(),
        objective: objs.iter().sum::<f64>() / objs.len().max(1) as f64,
        expected_ratio: ratios.iter().sum::<f64>() / ratios.len().max(1) as f64,
    }
}

fn label(r: &app::model_set::Requirement) -> String {
    let stat = match r.statistic {
        Statistic::Mean => "mean",
        Statistic::P50 => "p50",
        Statistic::P90 => "p90",
        Statistic::P99 => "p99",
    };
    let cmp = match r.comparator {
        Comparator::AtMost => "≤",
        Comparator::AtLeast => "≥",
    };
    format!("{stat} {:?} {cmp} {}", r.dimension, r.target).replace("Eval(\"answer_relevancy\")", "eval")
}

#[test]
fn planner_beats_baselines_report() {
    let cfg = SimConfig::default();
    let warm = cfg.warmup as f64 * cfg.dt;
    let mut scenarios: Vec<(&str, Vec<TrueModel>, f64)> = Vec::new();
    scenarios.push(("stationary", fleet(), warm));
    let mut drift = fleet();
    drift[0].drift = Some((600.0, 1.6));
    scenarios.push(("drift (cheap model 1.6x slower at t=600s)", drift, warm));
    let mut outage = fleet();
    outage[1].outage = Some((700.0, 900.0));
    scenarios.push(("outage (mid fails 700-900s)", outage, warm));
    let mut added = fleet();
    let mut newbie = TrueModel::new("sim/newbie", 0.001, 700.0, 0.3, 0.01, 0.84);
    newbie.added_at = 800.0;
    added.push(newbie);
    scenarios.push(("model added at t=800s", added, warm));

    let mut out = String::new();
    let _ = writeln!(
        out,
        "Simulator: {} requests at {} req/s, windows of {} requests after {} warm-up requests; 4 models \
         (cheap/slow, mid, premium, fast). Objective: minimise mean cost. A window is a violation when it misses \
         a requirement by more than 2 %. `E[obj]/opt` is the true mean cost of the published weights divided by \
         the LP optimum on the true parameters (averaged over re-plans after warm-up).\n",
        cfg.requests,
        1.0 / cfg.dt,
        cfg.window,
        cfg.warmup
    );
    let mut planner_violations = 0;
    let mut cheapest_violations = 0;
    let mut planner_cost = 0.0;
    let mut fastest_cost = 0.0;
    for (name, models, from_t) in &scenarios {
        let spec = feasible_spec(models);
        let _ = writeln!(out, "### {name}\n");
        let mut header = "| router |".to_string();
        for r in &spec.requirements {
            let _ = write!(header, " {} (mean / worst / viol.) |", label(r));
        }
        let _ = writeln!(out, "{header} windows | mean cost USD | E[obj]/opt |");
        let _ = writeln!(out, "|{}", "---|".repeat(spec.requirements.len() + 4));
        for router in [Router::Planner, Router::CheapestFirst, Router::FastestFirst] {
            let res = run(&spec, models, router, &cfg);
            let row = summarise(&spec, models, &res, *from_t, router, cfg.eval_sampling);
            let mut line = format!("| {:?} |", row.router);
            for (m, w, b) in &row.reqs {
                let _ = write!(line, " {m:.4} / {w:.4} / {b} |");
            }
            let _ = writeln!(
                out,
                "{line} {} | {:.6} | {:.3} |",
                row.windows, row.objective, row.expected_ratio
            );
            let viol: usize = row.reqs.iter().map(|r| r.2).sum();
            match router {
                Router::Planner => {
                    planner_violations += viol;
                    planner_cost += row.objective;
                }
                Router::CheapestFirst => cheapest_violations += viol,
                Router::FastestFirst => fastest_cost += row.objective,
            }
            if router == Router::Planner {
                let series: Vec<String> = res
                    .checkpoints
                    .iter()
                    .map(|c| {
                        let v: Vec<String> = c
                            .realised
                            .iter()
                            .map(|v| format!("{:.4}", v.unwrap_or(f64::NAN)))
                            .collect();
                        format!("t={:.0}s [{}]", c.t, v.join(", "))
                    })
                    .collect();
                println!("{name} planner windows: {}", series.join("; "));
            }
        }
        let _ = writeln!(out);
    }
    println!("{out}");
    if let Ok(path) = std::env::var("ENGINE_REPORT") {
        let _ = std::fs::write(path, &out);
    }
    assert!(
        cheapest_violations > 0,
        "cheapest-first should break the latency/eval requirements"
    );
    assert!(
        planner_violations <= cheapest_violations,
        "{planner_violations} vs {cheapest_violations}"
    );
    assert!(
        planner_cost < fastest_cost,
        "planner {planner_cost} vs fastest-first {fastest_cost}"
    );
}
