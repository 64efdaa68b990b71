//! Evals: DeepEval's LLM-judge metrics on a sampled share of a set's requests, off the
//! request path.
//! - [`judge`]: the judge as the metrics see it (one prompt in, an answer and its cost out).

pub mod judge;
