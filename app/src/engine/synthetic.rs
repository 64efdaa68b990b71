//! Synthetic model inputs and specs for benchmarks: the criterion benchmarks natively and the
//! editor's benchmark in the browser (WASM) measure the engine on the same configurations.
//! Deterministic (a fixed seed), so runs compare.

use super::alias::splitmix64;
use super::{Estimator, ModelInput, Observation};
use crate::model_set::{Comparator, Dimension, ModelSetSpec, Objective, Requirement, Statistic};

/// Deterministic pseudo-random uniform in [0, 1).
pub fn uniform(x: &mut u64) -> f64 {
    *x = splitmix64(*x);
    (*x >> 11) as f64 / (1u64 << 53) as f64
}

pub fn observation(x: &mut u64, cost: f64, latency: f64, err: f64) -> Observation {
    let spread = |x: &mut u64| (0.5 + uniform(x)) * (0.5 + uniform(x));
    let ok = uniform(x) >= err;
    Observation {
        ok,
        latency_ms: latency * spread(x),
        ttft_ms: ok.then(|| latency * 0.2 * spread(x)),
        throughput_tps: ok.then(|| 60_000.0 / latency * spread(x)),
        cost_usd: cost * spread(x),
        evals: if ok && uniform(x) < 0.1 {
            vec![("quality".into(), 0.6 + 0.3 * uniform(x))]
        } else {
            Vec::new()
        },
    }
}

/// `n` models, each with 400 observed requests of its own cost, latency and error rate.
pub fn inputs(n: usize) -> Vec<ModelInput> {
    let mut x = 42u64;
    (0..n)
        .map(|i| {
            let cost = 1e-4 * (1.0 + 40.0 * uniform(&mut x));
            let latency = 300.0 + 3000.0 * uniform(&mut x);
            let err = 0.03 * uniform(&mut x);
            let mut e = Estimator::new(600.0);
            for k in 0..400 {
                e.observe(&observation(&mut x, cost, latency, err), k as f64);
            }
            ModelInput {
                id: format!("p/m{i}"),
                estimate: e.snapshot(400.0),
                local_requests: 400.0,
                available: true,
            }
        })
        .collect()
}

/// A spec over `models` with the first `n_req` of ten typical requirements, minimising cost.
pub fn spec(models: &[ModelInput], n_req: usize) -> ModelSetSpec {
    let all = [
        (Dimension::Latency, Statistic::Mean, Comparator::AtMost, 2000.0),
        (Dimension::Latency, Statistic::P90, Comparator::AtMost, 3500.0),
        (Dimension::Latency, Statistic::P99, Comparator::AtMost, 6000.0),
        (Dimension::Ttft, Statistic::P50, Comparator::AtMost, 500.0),
        (Dimension::Ttft, Statistic::P90, Comparator::AtMost, 900.0),
        (Dimension::Throughput, Statistic::Mean, Comparator::AtLeast, 30.0),
        (Dimension::Throughput, Statistic::P50, Comparator::AtLeast, 25.0),
        (Dimension::ErrorRate, Statistic::Mean, Comparator::AtMost, 0.02),
        (
            Dimension::Eval("quality".into()),
            Statistic::Mean,
            Comparator::AtLeast,
            0.7,
        ),
        (Dimension::Cost, Statistic::P90, Comparator::AtMost, 0.004),
    ];
    ModelSetSpec {
        models: models.iter().map(|m| m.id.clone()).collect(),
        requirements: all
            .into_iter()
            .take(n_req)
            .map(|(dimension, statistic, comparator, target)| Requirement {
                dimension,
                statistic,
                comparator,
                target,
            })
            .collect(),
        objective: Objective::Minimize(Dimension::Cost),
        ..Default::default()
    }
}
