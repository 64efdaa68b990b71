//! Feasibility verdict with typed reasons, for the editor ("Achievable: Yes / Partial / No") and the API.
//!
//! * **No**: some requirement cannot be met even by the best single model on *optimistic* estimates (one
//!   requirement alone is always best met by a single model, since it is linear in the weights). Names it and
//!   the best value reachable.
//! * **Yes**: all requirements hold together on *pessimistic* estimates, and no model carrying weight lacks data.
//! * **Partial**: everything else. Names the conflicting requirements with the bound each would need, the
//!   requirements that hold only on point/optimistic estimates, and the models lacking data.

use serde::{Deserialize, Serialize};

use super::explain::Miss;
use super::plan::{
    bounds, build_rows, checked_targets, is_quantile, mixture_statistic, objective_coefs, relative_scale,
    single_model_statistics, solve_lp, solve_lp_minimax, ConfidentRows, LpFail, ModelInput, PlanError, PlanOptions,
    Stance,
};
use crate::model_set::{Comparator, ModelSetSpec};

/// The three answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feasibility {
    Yes,
    Partial,
    No,
}

/// Why a verdict is not a plain Yes. Requirement and model references are indices into the spec's lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum Reason {
    /// Not even the best single model meets this requirement.
    Unreachable {
        requirement: usize,
        best_value: Option<f64>,
        best_model: Option<String>,
    },
    /// These requirements cannot all hold together (each can alone).
    Conflict { requirements: Vec<usize> },
    /// Changing this requirement's target to `target` (from `current`) makes the whole set feasible
    /// (on point estimates), all else unchanged.
    BoundNeeded {
        requirement: usize,
        current: f64,
        target: f64,
    },
    /// These requirements hold on point estimates but not with confidence (not enough data).
    UncertainEstimates { requirements: Vec<usize> },
    /// No mix meets every requirement, so the router sends the best-effort mix (the least largest
    /// relative miss, as [`super::plan::plan`] commits to it); these are the requirements it misses, each with the
    /// value that mix is projected to realise (point estimates): what the set will actually get.
    BestEffort { misses: Vec<Miss> },
    /// A model has fewer effective requests than the planner wants before trusting it.
    ModelLacksData { model: String, n_eff: f64, needed: f64 },
    /// No model has data on this requirement's dimension.
    NoData { requirement: usize },
    /// The set's own traffic does not measure this requirement's dimension: none of its last
    /// `requests` requests reported it (time to first token exists only for streamed answers).
    /// The engine cannot see this from its inputs; the router adds it from the set's window.
    Unmeasured { requirement: usize, requests: usize },
}

/// Feasibility and its reasons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub feasibility: Feasibility,
    pub reasons: Vec<Reason>,
}

fn better(cmp: Comparator, a: f64, b: f64) -> bool {
    match cmp {
        Comparator::AtMost => a < b,
        Comparator::AtLeast => a > b,
    }
}

/// Judges whether `spec` is achievable with `models` (requirements at the spec's targets).
pub fn verdict(spec: &ModelSetSpec, models: &[ModelInput], opts: &PlanOptions) -> Result<Verdict, PlanError> {
    let targets = checked_targets(spec, models, None)?;
    let reqs = &spec.requirements;
    let mut reasons = Vec::new();
    let avail: Vec<usize> = (0..models.len()).filter(|&i| models[i].available).collect();

    // Each requirement alone, against the best single model.
    let optimistic = build_rows(reqs, &targets, models, Stance::Optimistic, opts.z);
    let mut unreachable = false;
    let mut no_data = false;
    for (r, req) in reqs.iter().enumerate() {
        // Data the requirement's statistic can be computed from: a histogram for a percentile.
        let has_data = avail.iter().any(|&i| {
            models[i]
                .estimate
                .dim(&req.dimension)
                .is_some_and(|d| d.n_eff > 0.0 && (!is_quantile(req) || d.hist.as_ref().is_some_and(|h| !h.is_empty())))
        });
        if !has_data {
            no_data = true;
            reasons.push(Reason::NoData { requirement: r });
            continue;
        }
        let reachable = match &optimistic.rows[r] {
            None => true,
            Some(row) => avail.iter().any(|&i| row[i] >= 0.0),
        };
        if reachable {
            continue;
        }
        // Only an unreachable requirement needs the best single model's value (a scan per model).
        let best = single_model_statistics(models, req)
            .into_iter()
            .fold(None, |best: Option<(f64, usize)>, (i, v)| {
                if best.is_none_or(|(b, _)| better(req.comparator, v, b)) {
                    Some((v, i))
                } else {
                    best
                }
            });
        unreachable = true;
        reasons.push(Reason::Unreachable {
            requirement: r,
            best_value: best.map(|b| b.0),
            best_model: best.map(|b| models[b.1].id.clone()),
        });
    }
    if unreachable {
        reasons.retain(|r| matches!(r, Reason::Unreachable { .. }));
        return Ok(Verdict {
            feasibility: Feasibility::No,
            reasons,
        });
    }

    let lacking: Vec<usize> = avail
        .iter()
        .copied()
        .filter(|&i| !(models[i].estimate.n_eff >= opts.explore_min_samples))
        .collect();
    let (obj, maximize) = objective_coefs(models, &spec.objective);
    let pess = ConfidentRows::new(reqs, &targets, models, opts.z);
    let (b, _) = bounds(models, opts, &pess.unknown, false, &[]);
    let lacking_reasons = |which: &[usize]| -> Vec<Reason> {
        which
            .iter()
            .map(|&i| Reason::ModelLacksData {
                model: models[i].id.clone(),
                n_eff: models[i].estimate.n_eff,
                needed: opts.explore_min_samples,
            })
            .collect()
    };
    let solver_err = |e: LpFail| match e {
        LpFail::Infeasible => PlanError::Solver("slack LP reported infeasible".into()),
        LpFail::Other(s) => PlanError::Solver(s),
    };
    // Feasibility is decided on the linear bound, as in the planner (its refinement only lowers the cost).
    match solve_lp(&pess.linear(), &obj, maximize, &b, false) {
        Ok(sol) => {
            let weighted_lacking: Vec<usize> = lacking.iter().copied().filter(|&i| sol.weights[i] > 0.01).collect();
            if weighted_lacking.is_empty() && !no_data {
                return Ok(Verdict {
                    feasibility: Feasibility::Yes,
                    reasons: Vec::new(),
                });
            }
            reasons.extend(lacking_reasons(&weighted_lacking));
            return Ok(Verdict {
                feasibility: Feasibility::Partial,
                reasons,
            });
        }
        Err(LpFail::Infeasible) => {}
        Err(e) => return Err(solver_err(e)),
    }

    let point = build_rows(reqs, &targets, models, Stance::Point, opts.z);
    let (pb, _) = bounds(models, opts, &point.unknown, false, &[]);
    match solve_lp(&point.rows, &obj, maximize, &pb, false) {
        Ok(_) => {
            let slack = solve_lp(&pess.linear(), &obj, maximize, &b, true).map_err(solver_err)?;
            let v: Vec<usize> = (0..reqs.len()).filter(|&r| slack.slacks[r] > 1e-9).collect();
            reasons.push(Reason::UncertainEstimates { requirements: v });
        }
        Err(LpFail::Infeasible) => {
            let slack = solve_lp(&point.rows, &obj, maximize, &pb, true).map_err(solver_err)?;
            let v: Vec<usize> = (0..reqs.len()).filter(|&r| slack.slacks[r] > 1e-9).collect();
            for &r in &v {
                // Best this requirement can do while all others hold: its value there is a bound that works.
                let Some(row) = point.rows[r].as_ref() else { continue };
                let mut others = point.rows.clone();
                others[r] = None;
                if let Ok(sol) = solve_lp(&others, row, true, &pb, false) {
                    if let Some(t) = mixture_statistic(models, &sol.weights, &reqs[r]) {
                        reasons.push(Reason::BoundNeeded {
                            requirement: r,
                            current: reqs[r].target,
                            target: t,
                        });
                    }
                }
            }
            reasons.insert(0, Reason::Conflict { requirements: v });
            // What routing will realise: the planner's own best-effort mix (as `plan` commits to
            // it, before exploration floors), not a bound found by loosening one requirement
            // alone: the router spreads the miss over all of them.
            let scales: Vec<f64> = reqs.iter().zip(&targets).map(|(r, &t)| relative_scale(r, t)).collect();
            let best = solve_lp_minimax(&pess.relative(&scales), &obj, maximize, &b).map_err(solver_err)?;
            let misses: Vec<Miss> = reqs
                .iter()
                .enumerate()
                .filter_map(|(r, req)| {
                    let value = mixture_statistic(models, &best.weights, req)?;
                    better(req.comparator, req.target, value).then_some(Miss { requirement: r, value })
                })
                .collect();
            if !misses.is_empty() {
                reasons.push(Reason::BestEffort { misses });
            }
        }
        Err(e) => return Err(solver_err(e)),
    }
    reasons.extend(lacking_reasons(&lacking));
    Ok(Verdict {
        feasibility: Feasibility::Partial,
        reasons,
    })
}

/// How good a verdict is, for comparing two.
fn level(f: Feasibility) -> u8 {
    match f {
        Feasibility::No => 0,
        Feasibility::Partial => 1,
        Feasibility::Yes => 2,
    }
}

/// The nearest target for requirement `r` at which the verdict is as good as loosening that
/// requirement alone can make it (Yes, unless something else holds it back), all else
/// unchanged: what the editor offers as "… would be achievable". `None` when the verdict is
/// Yes already or loosening does not improve it.
///
/// Loosens the target geometrically (×1.25 per step, up to ×800) until the verdict stops
/// improving, then bisects on a log scale between the last worse target and the first
/// good one: about 40 verdicts in all.
pub fn nearest_achievable(
    spec: &ModelSetSpec,
    models: &[ModelInput],
    opts: &PlanOptions,
    r: usize,
) -> Result<Option<f64>, PlanError> {
    let Some(req) = spec.requirements.get(r) else {
        return Err(PlanError::NoSuchRequirement {
            requirement: r,
            count: spec.requirements.len(),
        });
    };
    let comparator = req.comparator;
    let current = req.target;
    let mut trial = spec.clone();
    let mut judge = |target: f64| -> Result<u8, PlanError> {
        trial.requirements[r].target = target;
        Ok(level(verdict(&trial, models, opts)?.feasibility))
    };
    let mut best = judge(current)?;
    if best == 2 {
        return Ok(None);
    }
    // A zero target cannot be scaled: start from a small positive one.
    let mut bad = if current > 0.0 { current } else { 1e-9 };
    let loosen = |t: f64| match comparator {
        Comparator::AtMost => t * 1.25,
        Comparator::AtLeast => t / 1.25,
    };
    let mut good = None;
    let mut t = bad;
    for _ in 0..30 {
        t = loosen(t);
        let l = judge(t)?;
        if l > best {
            best = l;
            good = Some(t);
            if l == 2 {
                break;
            }
        } else if good.is_none() {
            bad = t;
        }
    }
    let Some(mut good) = good else { return Ok(None) };
    for _ in 0..12 {
        let mid = (bad * good).sqrt();
        if judge(mid)? >= best {
            good = mid;
        } else {
            bad = mid;
        }
    }
    Ok(Some(good))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::plan::observed_model;
    use crate::model_set::{Dimension, Requirement, Statistic};

    #[test]
    fn the_nearest_achievable_target_turns_the_verdict() {
        let fast = observed_model("fast", 0.01, (0..400).map(|i| 400.0 + f64::from(i)));
        let slow = observed_model("slow", 0.001, (0..400).map(|i| 2000.0 + 2.0 * f64::from(i)));
        let models = [fast, slow];
        let opts = PlanOptions::default();
        let mut spec = ModelSetSpec {
            models: vec!["fast".into(), "slow".into()],
            requirements: vec![Requirement::new(
                Dimension::Latency,
                Statistic::P90,
                Comparator::AtMost,
                100.0,
            )],
            ..ModelSetSpec::default()
        };
        assert_eq!(
            verdict(&spec, &models, &opts).expect("verdict").feasibility,
            Feasibility::No
        );
        let t = nearest_achievable(&spec, &models, &opts, 0)
            .expect("search")
            .expect("a target");
        // The fast model's p90 is about 760 ms: the bound lands just above it.
        assert!(t > 700.0 && t < 900.0, "{t}");
        spec.requirements[0].target = t;
        assert_eq!(
            verdict(&spec, &models, &opts).expect("verdict").feasibility,
            Feasibility::Yes
        );
        spec.requirements[0].target = t * 0.97;
        assert_ne!(
            verdict(&spec, &models, &opts).expect("verdict").feasibility,
            Feasibility::Yes
        );
        // Already achievable: nothing to suggest.
        spec.requirements[0].target = 5000.0;
        assert_eq!(nearest_achievable(&spec, &models, &opts, 0), Ok(None));
        assert!(nearest_achievable(&spec, &models, &opts, 3).is_err());
    }
}
