//! Property tests: plans satisfy their own constraints, mixture quantiles match Monte-Carlo sampling,
//! alias draws match their weights (chi-square), and the grid keeps values within 1 %.

use app::engine::alias::splitmix64;
use app::engine::plan::{coefficient, confident_margin, ModelInput, PlanOptions, Stance};
use app::engine::{histogram, plan, AliasTable, Histogram, Prior};
use app::model_set::{Comparator, Dimension, ModelSetSpec, Objective, Requirement, Statistic};
use proptest::prelude::*;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

fn normal(rng: &mut SmallRng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(1e-300);
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn model_strategy() -> impl Strategy<Value = (f64, f64, f64, f64)> {
    // cost, latency, error rate, n
    (1e-4..1e-2f64, 100.0..5000.0f64, 0.0..0.2f64, 1.0..2000.0f64)
}

fn req_strategy() -> impl Strategy<Value = Requirement> {
    let dim = prop_oneof![
        Just(Dimension::Cost),
        Just(Dimension::Latency),
        Just(Dimension::ErrorRate)
    ];
    let stat = prop_oneof![
        Just(Statistic::Mean),
        Just(Statistic::P50),
        Just(Statistic::P90),
        Just(Statistic::P99)
    ];
    let cmp = prop_oneof![Just(Comparator::AtMost), Just(Comparator::AtLeast)];
    (dim, stat, cmp, 0.0..1.0f64).prop_map(|(dimension, statistic, comparator, x)| {
        let target = match dimension {
            Dimension::Cost => 1e-4 + x * 1e-2,
            Dimension::Latency => 100.0 + x * 6000.0,
            _ => x * 0.2,
        };
        Requirement {
            dimension,
            statistic,
            comparator,
            target,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn plan_satisfies_its_own_constraints(
        models in prop::collection::vec(model_strategy(), 1..8),
        reqs in prop::collection::vec(req_strategy(), 0..5),
        explored in 0usize..3,
    ) {
        let inputs: Vec<ModelInput> = models
            .iter()
            .enumerate()
            .map(|(i, &(cost, lat, err, n))| ModelInput {
                id: format!("m{i}"),
                estimate: Prior {
                    weight: n,
                    cost_usd: Some(cost),
                    latency_ms: Some(lat),
                    error_rate: Some(err),
                    ..Prior::default()
                }
                .to_estimate(),
                local_requests: if i < explored { 0.0 } else { n },
                available: true,
            })
            .collect();
        let spec = ModelSetSpec { requirements: reqs.clone(), objective: Objective::Minimize(Dimension::Cost), ..Default::default() };
        let opts = PlanOptions::default();
        let p = plan(&spec, &inputs, None, &opts);
        prop_assert!(p.is_ok(), "{:?}", p);
        let Ok(p) = p else { return Ok(()) };
        prop_assert!((p.weights.iter().sum::<f64>() - 1.0).abs() < 1e-6);
        prop_assert!(p.weights.iter().all(|w| *w >= 0.0));
        for &i in &p.exploring {
            prop_assert!(p.weights[i] >= opts.explore_floor.min(opts.explore_total_cap / p.exploring.len() as f64) - 1e-7);
        }
        if p.feasible {
            for r in &reqs {
                // The committed constraint: the mix meets the target with z of its own standard errors to spare …
                let margin = confident_margin(&inputs, &p.weights, r, r.target, opts.z);
                prop_assert!(margin.is_none_or(|m| m >= -1e-6), "{r:?}: margin {margin:?} weights {:?}", p.weights);
                // … which implies it on point estimates.
                let coefs: Vec<f64> = inputs.iter().map(|m| coefficient(&m.estimate, r, r.target, Stance::Point, 0.0).unwrap_or(0.0)).collect();
                let scale = coefs.iter().fold(0.0f64, |a, c| a.max(c.abs())).max(1e-300);
                let lhs: f64 = coefs.iter().zip(&p.weights).map(|(c, w)| c * w).sum();
                prop_assert!(lhs / scale >= -1e-6, "{r:?}: {lhs} (scale {scale}) weights {:?}", p.weights);
            }
        }
    }

    #[test]
    fn mixture_quantile_matches_monte_carlo(
        comps in prop::collection::vec((50.0..5000.0f64, 0.1..1.0f64, 0.05..1.0f64), 1..4),
        seed in any::<u64>(),
    ) {
        let mut rng = SmallRng::seed_from_u64(seed);
        // Per-model histograms from their true distributions (as an estimator would build them).
        let hists: Vec<Histogram> = comps
            .iter()
            .map(|&(median, sigma, _)| {
                let mut h = Histogram::new();
                for _ in 0..20_000 {
                    h.add(median * (sigma * normal(&mut rng)).exp(), 1.0);
                }
                h
            })
            .collect();
        let wsum: f64 = comps.iter().map(|c| c.2).sum();
        // Monte Carlo: draw a model by weight, then a value from its true distribution.
        let mut samples: Vec<f64> = (0..40_000)
            .map(|_| {
                let mut u = rng.random::<f64>() * wsum;
                let mut k = comps.len() - 1;
                for (i, c) in comps.iter().enumerate() {
                    if u < c.2 { k = i; break; }
                    u -= c.2;
                }
                comps[k].0 * (comps[k].1 * normal(&mut rng)).exp()
            })
            .collect();
        samples.sort_by(|a, b| a.total_cmp(b));
        let parts: Vec<(&Histogram, f64)> = hists.iter().zip(&comps).map(|(h, c)| (h, c.2)).collect();
        for q in [0.5, 0.9, 0.99] {
            let est = histogram::mixture_quantile(&parts, q).unwrap_or(f64::NAN);
            // Compared on the probability scale: where the mixture has little density a quantile's value
            // scatters widely between samples, its probability does not. Monte Carlo's CDF just below
            // and just above the grid's quantile (±1 %, the grid's resolution) must bracket q, up to
            // 4 standard errors of both samples (40,000 draws here, 20,000 per histogram).
            let below = samples.partition_point(|&x| x < est / 1.01) as f64 / samples.len() as f64;
            let above = samples.partition_point(|&x| x <= est * 1.01) as f64 / samples.len() as f64;
            let tol = 4.0 * (q * (1.0 - q)).sqrt() * (1.0 / 40_000f64.sqrt() + 1.0 / 20_000f64.sqrt());
            prop_assert!(
                below - tol <= q && q <= above + tol,
                "q={q}: grid quantile {est}; Monte Carlo CDF {below:.4}..{above:.4} (tolerance {tol:.4})"
            );
            let f = histogram::mixture_cdf(&parts, est).unwrap_or(f64::NAN);
            prop_assert!((f - q).abs() < 1e-9, "mixture CDF at its own quantile: {f}");
        }
    }

    #[test]
    fn alias_draw_frequencies_match_weights(
        weights in prop::collection::vec(prop_oneof![1 => Just(0.0), 4 => 0.01..10.0f64], 1..30),
        seed in any::<u64>(),
    ) {
        prop_assume!(weights.iter().any(|w| *w > 0.0));
        let table = AliasTable::new(&weights);
        prop_assert!(table.is_ok());
        let Ok(table) = table else { return Ok(()) };
        const N: usize = 50_000;
        let mut counts = vec![0usize; weights.len()];
        let mut x = seed;
        for _ in 0..N {
            x = splitmix64(x);
            counts[table.draw(x)] += 1;
        }
        let total: f64 = weights.iter().sum();
        let mut chi2 = 0.0;
        let mut df = 0usize;
        for (w, c) in weights.iter().zip(&counts) {
            if *w == 0.0 {
                prop_assert_eq!(*c, 0, "a zero-weight outcome was drawn");
                continue;
            }
            let e = N as f64 * w / total;
            chi2 += (*c as f64 - e).powi(2) / e;
            df += 1;
        }
        let df = (df.max(2) - 1) as f64;
        // Wilson–Hilferty critical value at p ≈ 1e-6 (z = 4.75): rare enough not to flake.
        let k = 2.0 / (9.0 * df);
        let crit = df * (1.0 - k + 4.75 * k.sqrt()).powi(3);
        prop_assert!(chi2 < crit, "chi2 {chi2} >= {crit} (df {df})");
    }

    #[test]
    fn grid_keeps_values_within_one_percent(v in 1e-8..1e6f64, p in 0.0..1.0f64) {
        let mut h = Histogram::new();
        h.add(v, 3.0);
        let q = h.quantile(p).unwrap_or(f64::NAN);
        prop_assert!((q / v - 1.0).abs() <= 0.0201, "{v} -> {q}");
        let f = h.cdf(q).unwrap_or(f64::NAN);
        prop_assert!((f - p).abs() < 1e-9);
    }
}
