//! Criterion benchmarks of the engine's hot paths:
//! * per-request decision: alias draw (and draw with breaker check) — target < 1 µs;
//! * re-plan of 50 models × 10 requirements — target < 1 ms;
//! * projection (plan + verdict + intervals) of 20 models — target well under 1 ms;
//! * folding one observation into an estimator.
//!
//! Run: `cargo bench --bench engine`.

use std::hint::black_box;

use app::engine::alias::splitmix64;
use app::engine::{plan, project, AliasTable, Breaker, BreakerConfig, Estimator, ModelInput, Observation, PlanOptions};
use app::model_set::{Comparator, Dimension, ModelSetSpec, Objective, Requirement, Statistic};
use criterion::{criterion_group, criterion_main, Criterion};

/// Deterministic pseudo-random uniform in [0, 1).
fn uniform(x: &mut u64) -> f64 {
    *x = splitmix64(*x);
    (*x >> 11) as f64 / (1u64 << 53) as f64
}

fn observation(x: &mut u64, cost: f64, latency: f64, err: f64) -> Observation {
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

fn inputs(n: usize) -> Vec<ModelInput> {
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

fn spec(models: &[ModelInput], n_req: usize) -> ModelSetSpec {
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

fn benches(c: &mut Criterion) {
    let weights: Vec<f64> = (0..20).map(|i| 1.0 + (i % 7) as f64).collect();
    let table = AliasTable::new(&weights).unwrap_or_else(|e| panic!("{e}"));
    let mut u = 1u64;
    c.bench_function("draw (alias, 20 models)", |b| {
        b.iter(|| {
            u = u.wrapping_add(0x9E37_79B9_7F4A_7C15);
            black_box(table.draw(black_box(u)))
        })
    });
    let breakers: Vec<Breaker> = (0..20).map(|_| Breaker::new(BreakerConfig::default())).collect();
    c.bench_function("draw_where (alias + breaker check, 20 models)", |b| {
        b.iter(|| {
            u = u.wrapping_add(0x9E37_79B9_7F4A_7C15);
            black_box(table.draw_where(black_box(u), |i| breakers[i].allows(100.0)))
        })
    });

    let opts = PlanOptions::default();
    let m50 = inputs(50);
    let s50 = spec(&m50, 10);
    c.bench_function("re-plan (50 models x 10 requirements)", |b| {
        b.iter(|| black_box(plan(black_box(&s50), black_box(&m50), None, &opts)))
    });

    let m20 = inputs(20);
    let s20 = spec(&m20, 5);
    c.bench_function("projection (20 models x 5 requirements)", |b| {
        b.iter(|| black_box(project(black_box(&s20), black_box(&m20), &opts)))
    });

    let mut est = Estimator::new(600.0);
    let mut x = 7u64;
    let obs: Vec<Observation> = (0..1024).map(|_| observation(&mut x, 0.001, 800.0, 0.01)).collect();
    let mut k = 0usize;
    c.bench_function("estimator observe", |b| {
        b.iter(|| {
            k = (k + 1) & 1023;
            est.observe(black_box(&obs[k]), k as f64 * 0.01);
        })
    });
}

criterion_group!(engine, benches);
criterion_main!(engine);
