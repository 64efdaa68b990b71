//! The routing engine: pure (no I/O, no clock, no RNG — time and random numbers are parameters), so the
//! server's router, the browser's live projection (wasm32) and the simulator tests run the same code.
//!
//! Per request the engine picks one model so that, over time, a set's averages and percentiles meet its
//! requirements while its objective is optimised.
//!
//! | module | job |
//! | --- | --- |
//! | [`grid`], [`histogram`] | one shared log-bucket grid (±1 %); histograms whose mixture CDF is the weighted sum |
//! | [`estimate`] | request records → decayed per-model estimates; blending set-local, global and prior |
//! | [`plan`] | LP over mixture weights on pessimistic estimates; first-look floors and exploration that follows an optimistic LP; least-violation fallback |
//! | [`feedback`] | per-requirement integral controller on the planning targets: tightens while realised values run over, gives slack back where it binds |
//! | [`verdict`] | Yes / Partial / No with typed reasons |
//! | [`explain`] | why each model has its planned weight (optimal, exploring and why, left out and why) |
//! | [`project`] | the editor's projection: weights, mean and p50/p90/p99 with intervals, checks, verdict; a mix's density |
//! | [`tradeoff`] | the editor's trade-off curve: best objective per target of one requirement, point by point |
//! | [`alias`] | O(1) weighted draws from published weights (caller supplies the random `u64`) |
//! | [`breaker`] | circuit breaker state machine per model |
//! | [`window`] | realised sliding-window statistics |
//! | [`stats`] | normal CDF / quantile helpers |
//! | [`synthetic`] | deterministic model inputs and specs for the benchmarks (native and WASM) |
//!
//! Server loop sketch: per (set, model) keep an [`Estimator`] for the set's own traffic, per model one for
//! global traffic, a [`Breaker`] per model and a [`Window`] + [`Feedback`] per set. Every few seconds:
//! `Estimate::blend` → [`ModelInput`]s → `feedback.update(window.measured(..), plan.binding)` → [`plan()`] with
//! `feedback.targets(..)` → [`AliasTable::new`] of the weights, published atomically. Per request:
//! `table.draw_where(random_u64, |i| breakers[i].allows(now))`, then `observe` the outcome everywhere.

// `!(x > 0.0)` is used on purpose throughout: it is true for NaN as well, which is how degenerate inputs are
// rejected without a separate `is_nan` check at every site.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

pub mod alias;
pub mod breaker;
pub mod estimate;
pub mod explain;
pub mod feedback;
pub mod grid;
pub mod histogram;
pub mod plan;
pub mod project;
pub mod stats;
pub mod synthetic;
pub mod tradeoff;
pub mod verdict;
pub mod window;

pub use alias::{AliasError, AliasTable};
pub use breaker::{Breaker, BreakerConfig, BreakerState};
pub use estimate::{BlendConfig, DimEstimate, Estimate, Estimator, Observation, Prior, DEFAULT_HALF_LIFE_SECS};
pub use explain::{explain, Exploration, Miss, Why};
pub use feedback::{Feedback, FeedbackConfig};
pub use histogram::Histogram;
pub use plan::{plan, ModelInput, Plan, PlanError, PlanOptions, Stance};
pub use project::{
    log_scaled, mixture_density, project, CheckStatus, DensityBin, DimensionProjection, Interval, ModelWeight,
    Projection, RequirementCheck,
};
pub use tradeoff::{tradeoff, tradeoff_point, tradeoff_targets, Tradeoff, TradeoffPoint};
pub use verdict::{nearest_achievable, verdict, Feasibility, Reason, Verdict};
pub use window::{Realised, Window};
