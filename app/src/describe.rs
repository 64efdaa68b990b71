//! Model Set terms in words and numbers for people: dimension names, values with their units,
//! requirements as sentences, and the verdict's reasons as advice.

use crate::engine::{Exploration, Feasibility, Reason, Verdict, Why};
use crate::format;
use crate::model_set::{Comparator, Dimension, Objective, Requirement, Statistic};

pub fn dimension(d: &Dimension) -> String {
    match d {
        Dimension::Cost => "cost per request".into(),
        Dimension::Latency => "latency".into(),
        Dimension::Ttft => "time to first token".into(),
        Dimension::Throughput => "output tokens/s".into(),
        Dimension::ErrorRate => "error rate".into(),
        Dimension::Eval(metric) => format!("{} (eval)", crate::evals::words(metric)),
    }
}

pub fn statistic(s: Statistic) -> &'static str {
    match s {
        Statistic::Mean => "mean",
        Statistic::P50 => "p50",
        Statistic::P90 => "p90",
        Statistic::P99 => "p99",
    }
}

pub fn comparator(c: Comparator) -> &'static str {
    match c {
        Comparator::AtMost => "≤",
        Comparator::AtLeast => "≥",
    }
}

/// A value of the dimension with its unit: `412 ms`, `$0.00021`, `0.93 %`, `85 tok/s`.
pub fn value(d: &Dimension, v: f64) -> String {
    match d {
        Dimension::Cost => format::usd(v),
        Dimension::Latency | Dimension::Ttft => format::ms(v),
        Dimension::Throughput => format::tokens_per_s(v),
        Dimension::ErrorRate => format::percent(v),
        Dimension::Eval(_) => format::score(v),
    }
}

/// "p90 latency ≤ 3.0 s".
pub fn requirement(r: &Requirement) -> String {
    let stat = match (r.statistic, &r.dimension) {
        // An average of a rate or a cost reads better without "mean".
        (Statistic::Mean, Dimension::ErrorRate | Dimension::Cost | Dimension::Eval(_)) => String::new(),
        (s, _) => format!("{} ", statistic(s)),
    };
    format!(
        "{stat}{} {} {}",
        dimension(&r.dimension),
        comparator(r.comparator),
        value(&r.dimension, r.target)
    )
}

pub fn objective(o: &Objective) -> String {
    match o {
        Objective::Minimize(d) => format!("Minimise {}", dimension(d)),
        Objective::Maximize(d) => format!("Maximise {}", dimension(d)),
    }
}

pub fn feasibility(f: Feasibility) -> &'static str {
    match f {
        Feasibility::Yes => "Yes",
        Feasibility::Partial => "Partial",
        Feasibility::No => "No",
    }
}

/// The verdict's reasons as sentences a person can act on.
pub fn reasons(verdict: &Verdict, requirements: &[Requirement]) -> Vec<String> {
    let name = |i: usize| {
        requirements
            .get(i)
            .map(requirement)
            .unwrap_or_else(|| format!("requirement {}", i + 1))
    };
    let names = |list: &[usize]| {
        list.iter()
            .map(|&i| format!("“{}”", name(i)))
            .collect::<Vec<_>>()
            .join(" and ")
    };
    verdict
        .reasons
        .iter()
        .map(|reason| match reason {
            Reason::Unreachable {
                requirement,
                best_value,
                best_model,
            } => {
                let best = match (best_value, best_model, requirements.get(*requirement)) {
                    (Some(v), Some(m), Some(r)) => {
                        format!(" The best any model reaches is {} ({m}).", value(&r.dimension, *v))
                    }
                    _ => String::new(),
                };
                format!("No model meets “{}”.{best}", name(*requirement))
            }
            Reason::Conflict { requirements: list } => {
                format!("{} cannot all hold together; each can alone.", names(list))
            }
            Reason::BoundNeeded {
                requirement, target, ..
            } => match requirements.get(*requirement) {
                Some(r) => {
                    let mut nearer = r.clone();
                    nearer.target = *target;
                    format!("“{}” would be achievable.", self::requirement(&nearer))
                }
                None => String::new(),
            },
            Reason::BestEffort { misses } => {
                let list: Vec<String> = misses
                    .iter()
                    .filter_map(|m| {
                        let r = requirements.get(m.requirement)?;
                        Some(format!("{} where “{}” asks", value(&r.dimension, m.value), requirement(r)))
                    })
                    .collect();
                format!(
                    "Routed as it is, the set will get {}: the misses as even as its models allow.",
                    list.join(" and ")
                )
            }
            Reason::UncertainEstimates { requirements: list } => {
                format!(
                    "{} hold on current estimates, but not yet with confidence.",
                    names(list)
                )
            }
            Reason::ModelLacksData { model, n_eff, needed } => format!(
                "{model} has too little data ({n_eff:.0} of {needed:.0} requests): the set explores it to learn."
            ),
            Reason::NoData { requirement } => {
                format!("Nothing has measured “{}” yet.", name(*requirement))
            }
            Reason::Unmeasured { requirement, requests } => {
                let dimension = requirements.get(*requirement).map(|r| &r.dimension);
                let why = match dimension {
                    Some(Dimension::Ttft) => {
                        " Time to first token exists only for streamed answers: send \"stream\": true to have it measured."
                    }
                    _ => "",
                };
                format!(
                    "“{}” cannot be judged on this set's traffic: none of its last {requests} requests measured it.{why} \
                     Until they do, the router plans it on how the models behave elsewhere.",
                    name(*requirement)
                )
            }
        })
        .filter(|s| !s.is_empty())
        .collect()
}

/// Why a model has its routing weight, as one sentence for the set's page and the routing API.
/// `breaker_open`: the gateway is skipping the model after failures (the engine only sees it as
/// unavailable).
pub fn why(why: &Why, requirements: &[Requirement], objective: &Objective, breaker_open: bool) -> String {
    let name = |i: usize| {
        requirements
            .get(i)
            .map(requirement)
            .unwrap_or_else(|| format!("requirement {}", i + 1))
    };
    let goal = match objective {
        Objective::Minimize(d) | Objective::Maximize(d) => d,
    };
    match why {
        Why::Optimal => "In the best mix that meets the requirements.".into(),
        Why::BestEffort => "In the mix that misses the requirements least: no mix meets them all.".into(),
        Why::Even => "Spread evenly: no plan could be made yet (see the verdict).".into(),
        Why::Unavailable if breaker_open => "Paused: failing upstream; the gateway probes it again shortly.".into(),
        Why::Unavailable => "Not routed: not in the catalog.".into(),
        Why::Exploring { cause } => match cause {
            Exploration::FewRequests { seen, needed } => {
                format!("Exploring: {seen:.0} of {needed:.0} requests so far, to learn how it behaves.")
            }
            Exploration::NoData { requirement } => {
                format!("Exploring: nothing has measured it for “{}” yet.", name(*requirement))
            }
            Exploration::FewScores { metric, scores, needed } => format!(
                "Exploring: {scores:.0} of {needed:.0} {} scores so far.",
                crate::evals::words(metric)
            ),
            Exploration::Promising {
                objective: Some(now),
                possible: Some(possible),
            } => format!(
                "Exploring: if it is as good as its data so far allows, the mix could reach {} (now {}).",
                value(goal, *possible),
                value(goal, *now)
            ),
            Exploration::Promising { .. } => {
                "Exploring: if it is as good as its data so far allows, it could help meet the requirements.".into()
            }
        },
        Why::NotNeeded { objective: own, misses } => {
            if let Some(miss) = misses.first() {
                let value = requirements
                    .get(miss.requirement)
                    .map(|r| value(&r.dimension, miss.value))
                    .unwrap_or_default();
                let more = match misses.len() {
                    1 => String::new(),
                    n => format!(" and {} more", n - 1),
                };
                format!(
                    "Not routed: alone it misses “{}” ({value}){more}.",
                    name(miss.requirement)
                )
            } else {
                let own = own.map(|v| format!(" ({} alone)", value(goal, v))).unwrap_or_default();
                let better = match objective {
                    Objective::Minimize(Dimension::Cost) => "at a lower cost".to_string(),
                    Objective::Minimize(d) => format!("with a lower {}", dimension(d)),
                    Objective::Maximize(d) => format!("with a higher {}", dimension(d)),
                };
                format!("Not routed: the mix meets the requirements {better} without it{own}.")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_models_weight_reads_as_a_reason() {
        use crate::engine::Miss;
        let reqs = [Requirement::new(
            Dimension::Latency,
            Statistic::P90,
            Comparator::AtMost,
            3000.0,
        )];
        let cost = Objective::Minimize(Dimension::Cost);
        let out = Why::NotNeeded {
            objective: Some(0.0012),
            misses: vec![Miss {
                requirement: 0,
                value: 4100.0,
            }],
        };
        assert_eq!(
            why(&out, &reqs, &cost, false),
            "Not routed: alone it misses “p90 latency ≤ 3.0 s” (4.1 s)."
        );
        let dear = Why::NotNeeded {
            objective: Some(0.02),
            misses: Vec::new(),
        };
        assert_eq!(
            why(&dear, &reqs, &cost, false),
            "Not routed: the mix meets the requirements at a lower cost without it ($0.02 alone)."
        );
        let new = Why::Exploring {
            cause: Exploration::FewRequests {
                seen: 5.0,
                needed: 30.0,
            },
        };
        assert_eq!(
            why(&new, &reqs, &cost, false),
            "Exploring: 5 of 30 requests so far, to learn how it behaves."
        );
        assert!(why(&Why::Unavailable, &reqs, &cost, true).starts_with("Paused"));
    }

    #[test]
    fn requirements_read_as_sentences() {
        let r = Requirement::new(Dimension::Latency, Statistic::P90, Comparator::AtMost, 3000.0);
        assert_eq!(requirement(&r), "p90 latency ≤ 3.0 s");
        let r = Requirement::new(Dimension::ErrorRate, Statistic::Mean, Comparator::AtMost, 0.012);
        assert_eq!(requirement(&r), "error rate ≤ 1.2 %");
        let verdict = Verdict {
            feasibility: Feasibility::Partial,
            reasons: vec![Reason::BoundNeeded {
                requirement: 0,
                current: 3000.0,
                target: 3400.0,
            }],
        };
        let r = Requirement::new(Dimension::Latency, Statistic::P90, Comparator::AtMost, 3000.0);
        assert_eq!(
            reasons(&verdict, std::slice::from_ref(&r)),
            vec!["“p90 latency ≤ 3.4 s” would be achievable.".to_string()]
        );
        let errors = Requirement::new(Dimension::ErrorRate, Statistic::Mean, Comparator::AtMost, 0.012);
        let verdict = Verdict {
            feasibility: Feasibility::Partial,
            reasons: vec![Reason::BestEffort {
                misses: vec![
                    crate::engine::Miss {
                        requirement: 0,
                        value: 3150.0,
                    },
                    crate::engine::Miss {
                        requirement: 1,
                        value: 0.0135,
                    },
                ],
            }],
        };
        assert_eq!(
            reasons(&verdict, &[r, errors]),
            vec![
                "Routed as it is, the set will get 3.15 s where “p90 latency ≤ 3.0 s” asks and 1.4 % where \
                 “error rate ≤ 1.2 %” asks: the misses as even as its models allow."
                    .to_string()
            ]
        );
    }
}
