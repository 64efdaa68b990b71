//! Criterion benchmarks of the engine's hot paths:
//! * per-request decision: alias draw (and draw with breaker check) — target < 1 µs;
//! * re-plan of 50 models × 10 requirements — target < 1 ms — and of a typical set (4 × 2);
//! * projection (plan + verdict + intervals) of 20 models — target well under 1 ms;
//! * folding one observation into an estimator.
//!
//! Run: `cargo bench --bench engine`.

use std::hint::black_box;

use app::engine::synthetic::{inputs, observation, spec};
use app::engine::{plan, project, AliasTable, Breaker, BreakerConfig, Estimator, Observation, PlanOptions};
use criterion::{criterion_group, criterion_main, Criterion};

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

    // A set the size most are (four models, two requirements), with thousands of requests of
    // each: where exploring has settled, the re-plan that runs every 2 s for every active set.
    let m4 = inputs(4);
    let s4 = spec(&m4, 2);
    c.bench_function("re-plan (4 models x 2 requirements)", |b| {
        b.iter(|| black_box(plan(black_box(&s4), black_box(&m4), None, &opts)))
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
