#![recursion_limit = "256"]
//! The browser entry: hydrates the server-rendered page with the same [`app::App`].

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}

/// The editor's engine work timed in the browser (`bench` feature only; scripts/bench-editor):
/// `runs` projections of `models` synthetic models against `requirements` requirements, then
/// `runs / 10` trade-off curves of the first requirement (`points` targets each). Returns the
/// milliseconds of each run as JSON: `{"projection": [...], "tradeoff": [...]}`.
#[cfg(feature = "bench")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn bench_engine(models: usize, requirements: usize, points: usize, runs: usize) -> String {
    use app::engine::{project, synthetic, tradeoff, PlanOptions};
    let Some(performance) = web_sys::window().and_then(|w| w.performance()) else {
        return r#"{"error":"no performance clock"}"#.to_string();
    };
    let inputs = synthetic::inputs(models);
    let spec = synthetic::spec(&inputs, requirements);
    let options = PlanOptions::default();
    let time = |f: &mut dyn FnMut() -> bool| {
        let start = performance.now();
        let ok = f();
        (performance.now() - start, ok)
    };
    let mut failures = 0;
    let projection: Vec<f64> = (0..runs)
        .map(|_| {
            let (ms, ok) = time(&mut || project(&spec, &inputs, &options).is_ok());
            failures += usize::from(!ok);
            ms
        })
        .collect();
    let curves: Vec<f64> = (0..(runs / 10).max(1))
        .map(|_| {
            let (ms, ok) =
                time(&mut || tradeoff(&spec, &inputs, &options, 0, points).is_ok_and(|t| t.points.len() >= points));
            failures += usize::from(!ok);
            ms
        })
        .collect();
    serde_json::json!({ "projection": projection, "tradeoff": curves, "failures": failures }).to_string()
}
