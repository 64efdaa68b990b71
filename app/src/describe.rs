//! Model Set terms in words and numbers for people: dimension names, values with their units,
//! requirements as sentences, and the verdict's reasons as advice.

use crate::engine::{Feasibility, Reason, Verdict};
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
        })
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
            reasons(&verdict, &[r]),
            vec!["“p90 latency ≤ 3.4 s” would be achievable.".to_string()]
        );
    }
}
