//! Why each model has its planned weight, in terms a person can check against the set's page:
//! the optimum uses it; it is explored, and why; it is left out, and why (the mix does better
//! without it, naming the requirements it misses alone; or the planner cannot use it); or no mix
//! meets every requirement and it is in the one whose largest relative miss is least.
//!
//! The exploration causes mirror [`super::plan`]'s floors in the order the planner checks them:
//! too few of the set's own requests, no data on a required dimension, too few scores of a
//! required eval. A circuit breaker is runtime state the engine does not see; the server reports
//! it beside the reason (a model whose breaker is open is planned as unavailable).

use serde::{Deserialize, Serialize};

use super::plan::{is_quantile, mixture_statistic, ModelInput, Plan, PlanOptions};
use crate::model_set::{Comparator, Dimension, ModelSetSpec, Objective};

/// Why a model is explored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "cause")]
pub enum Exploration {
    /// The set has sent it `seen` requests; the planner wants `needed` before trusting it.
    FewRequests { seen: f64, needed: f64 },
    /// Nothing has measured this requirement's dimension for it yet.
    NoData { requirement: usize },
    /// The judge has scored `scores` of its answers on `metric`; the planner wants `needed`.
    FewScores { metric: String, scores: f64, needed: f64 },
    /// Past its first look, it could still change the decision: with every model as good as its
    /// data allows, the plan would use it more and reach `possible` (the objective; the plan now
    /// has `objective`). Both `None` when the set misses its targets: then the promise is
    /// meeting them.
    Promising {
        objective: Option<f64>,
        possible: Option<f64>,
    },
}

/// A requirement missed, with the value reached (point estimate): by a model on its own (in
/// [`Why::NotNeeded`]), or by the best-effort mix (in [`super::Reason::BestEffort`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Miss {
    pub requirement: usize,
    pub value: f64,
}

/// Why a model has its planned weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Why {
    /// The mix that best serves the objective while meeting the requirements uses it.
    Optimal,
    /// It carries (at least) an exploration floor so the set learns how it behaves.
    Exploring { cause: Exploration },
    /// The planner cannot use it: not in the catalog, or its circuit breaker is open.
    Unavailable,
    /// Left out: the mix meets the requirements with a better objective without it. `objective`
    /// is the model's own value of the objective's dimension; `misses` are the requirements it
    /// misses alone (so a model better on the objective is left out because of these).
    NotNeeded { objective: Option<f64>, misses: Vec<Miss> },
    /// No mix meets every requirement: it carries weight in the mix whose largest relative miss is least.
    BestEffort,
    /// No plan could be made (see the verdict): traffic is spread evenly over the available
    /// models. The engine never says this of a plan; the router does when it had to spread.
    Even,
}

/// Weights below this are zero for explanations (the solver leaves dust).
const ZERO: f64 = 1e-6;

/// Why each of `models` has its weight in `plan` (same order), planned from `spec` with `opts`.
pub fn explain(spec: &ModelSetSpec, models: &[ModelInput], plan: &Plan, opts: &PlanOptions) -> Vec<Why> {
    models
        .iter()
        .enumerate()
        .map(|(i, model)| {
            let weight = plan.weights.get(i).copied().unwrap_or(0.0);
            if !model.available {
                return Why::Unavailable;
            }
            if plan.exploring.contains(&i) {
                return Why::Exploring {
                    cause: exploration(spec, model, opts),
                };
            }
            if plan.promising.contains(&i) {
                return Why::Exploring {
                    cause: Exploration::Promising {
                        objective: plan.potential.and(plan.objective),
                        possible: plan.potential,
                    },
                };
            }
            if weight > ZERO {
                return if plan.feasible { Why::Optimal } else { Why::BestEffort };
            }
            Why::NotNeeded {
                objective: own_objective(models, i, &spec.objective),
                misses: misses(spec, models, i),
            }
        })
        .collect()
}

/// The planner's reason for a floor (see `plan::bounds` and `plan::thin_evals`).
fn exploration(spec: &ModelSetSpec, model: &ModelInput, opts: &PlanOptions) -> Exploration {
    if !(model.local_requests >= opts.explore_min_samples) {
        return Exploration::FewRequests {
            seen: model.local_requests.max(0.0),
            needed: opts.explore_min_samples,
        };
    }
    let has_data = |d: &Dimension| model.estimate.dim(d).is_some_and(|d| d.n_eff > 0.0);
    if let Some(r) = spec.requirements.iter().position(|r| !has_data(&r.dimension)) {
        return Exploration::NoData { requirement: r };
    }
    let objective = match &spec.objective {
        Objective::Minimize(d) | Objective::Maximize(d) => d,
    };
    let thin = spec
        .requirements
        .iter()
        .map(|r| &r.dimension)
        .chain(std::iter::once(objective))
        .find_map(|d| match d {
            Dimension::Eval(metric) => {
                let scores = model.estimate.dim(d).map_or(0.0, |d| d.n_eff);
                (!(scores >= opts.explore_min_scores)).then(|| (metric.clone(), scores))
            }
            _ => None,
        });
    match thin {
        Some((metric, scores)) => Exploration::FewScores {
            metric,
            scores,
            needed: opts.explore_min_scores,
        },
        // The planner explored it for a reason the estimates no longer show (they moved since
        // the plan): report the request count, the floor's first cause.
        None => Exploration::FewRequests {
            seen: model.local_requests,
            needed: opts.explore_min_samples,
        },
    }
}

fn alone(models: &[ModelInput], i: usize) -> Vec<f64> {
    let mut w = vec![0.0; models.len()];
    w[i] = 1.0;
    w
}

fn own_objective(models: &[ModelInput], i: usize, objective: &Objective) -> Option<f64> {
    super::plan::mix_objective(models, &alone(models, i), objective)
}

/// The spec's requirements model `i` misses alone, on point estimates.
fn misses(spec: &ModelSetSpec, models: &[ModelInput], i: usize) -> Vec<Miss> {
    let w = alone(models, i);
    spec.requirements
        .iter()
        .enumerate()
        .filter_map(|(r, req)| {
            // A percentile needs a distribution; without one the model is not judged on it.
            if is_quantile(req) && models[i].estimate.dim(&req.dimension).is_none_or(|d| d.hist.is_none()) {
                return None;
            }
            let value = mixture_statistic(models, &w, req).filter(|v| v.is_finite())?;
            let missed = match req.comparator {
                Comparator::AtMost => value > req.target,
                Comparator::AtLeast => value < req.target,
            };
            missed.then_some(Miss { requirement: r, value })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::plan::{observed_model, plan};
    use crate::model_set::{Requirement, Statistic};

    fn spec(models: &[&ModelInput], requirements: Vec<Requirement>) -> ModelSetSpec {
        ModelSetSpec {
            models: models.iter().map(|m| m.id.clone()).collect(),
            requirements,
            objective: Objective::Minimize(Dimension::Cost),
            ..ModelSetSpec::default()
        }
    }

    #[test]
    fn names_the_optimum_the_explored_and_what_the_left_out_miss() {
        // Cheap but slow, dear but fast, dearer and fast, and one the set has barely tried.
        let slow = observed_model("slow", 0.001, (0..200).map(|i| 4_000.0 + f64::from(i % 10) * 10.0));
        let fast = observed_model("fast", 0.004, (0..200).map(|i| 800.0 + f64::from(i % 10) * 10.0));
        let dear = observed_model("dear", 0.02, (0..200).map(|i| 700.0 + f64::from(i % 10) * 10.0));
        let new = observed_model("new", 0.002, (0..5).map(|_| 900.0));
        let models = vec![slow, fast, dear, new];
        let s = spec(
            &models.iter().collect::<Vec<_>>(),
            vec![Requirement::new(
                Dimension::Latency,
                Statistic::P90,
                Comparator::AtMost,
                3_000.0,
            )],
        );
        let opts = PlanOptions::default();
        let p = plan(&s, &models, None, &opts).expect("plan");
        let why = explain(&s, &models, &p, &opts);
        assert_eq!(
            why[3],
            Why::Exploring {
                cause: Exploration::FewRequests {
                    seen: 5.0,
                    needed: 30.0
                }
            }
        );
        assert!(
            why.iter().filter(|w| **w == Why::Optimal).count() >= 1,
            "the optimum uses some model: {why:?}"
        );
        // The dear model meets the latency target alone: it is out on cost, missing nothing.
        match &why[2] {
            Why::NotNeeded { objective, misses } => {
                assert!(misses.is_empty(), "{misses:?}");
                assert!((objective.expect("cost") - 0.02).abs() < 1e-9);
            }
            other => panic!("the dear model: {other:?}"),
        }
        // The slow model is cheapest: whatever share it has, its latency alone misses the p90 target.
        if let Why::NotNeeded { misses, .. } = &why[0] {
            assert_eq!(misses.len(), 1);
            assert_eq!(misses[0].requirement, 0);
            assert!(misses[0].value > 3_000.0, "{misses:?}");
        }
    }

    #[test]
    fn an_unavailable_model_and_a_best_effort_mix_say_so() {
        let a = observed_model("a", 0.001, (0..100).map(|_| 2_000.0));
        let mut b = observed_model("b", 0.002, (0..100).map(|_| 2_500.0));
        b.available = false;
        let models = vec![a, b];
        // Nothing answers within a second: infeasible, best effort.
        let s = spec(
            &models.iter().collect::<Vec<_>>(),
            vec![Requirement::new(
                Dimension::Latency,
                Statistic::Mean,
                Comparator::AtMost,
                1_000.0,
            )],
        );
        let opts = PlanOptions::default();
        let p = plan(&s, &models, None, &opts).expect("plan");
        assert!(!p.feasible);
        assert_eq!(explain(&s, &models, &p, &opts), vec![Why::BestEffort, Why::Unavailable]);
    }
}
