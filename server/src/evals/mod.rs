//! Evals: DeepEval's LLM-judge metrics on a sampled share of a set's requests, off the
//! request path.
//! - [`judge`]: the judge as the metrics see it (one prompt in, an answer and its cost out).
//! - [`metrics`]: DeepEval's metrics in Rust: a case and a metric in, a 0–1 score with its
//!   reason and the judge's cost out.

pub mod judge;
pub mod metrics;
