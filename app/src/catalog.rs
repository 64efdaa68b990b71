//! The model catalog: every model the gateway can route to, with its price and abilities.

use serde::{Deserialize, Serialize};

/// What a model can do beyond plain chat; requests needing more are routed elsewhere.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    #[serde(default)]
    pub tools: bool,
    #[serde(default)]
    pub vision: bool,
    #[serde(default)]
    pub json_output: bool,
}

/// One catalog entry. `id` is `provider/model`, the name clients use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogModel {
    pub id: String,
    /// The configured provider this model is served by (a key of `[providers]`).
    pub provider: String,
    /// The model's name at the provider.
    pub upstream_name: String,
    /// US dollars per million prompt tokens.
    pub input_price_per_mtok: f64,
    /// US dollars per million completion tokens.
    pub output_price_per_mtok: f64,
    pub context_window: u32,
    #[serde(default)]
    pub capabilities: Capabilities,
    /// Served by the in-process simulator: shown as such everywhere it appears.
    #[serde(default)]
    pub simulated: bool,
    /// How the simulator behaves for this model when it serves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulation: Option<SimulationProfile>,
}

/// The simulator's behaviour for one model. Times, speed and length are drawn from
/// log-normal distributions around the given medians.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulationProfile {
    /// Median time to first token, milliseconds.
    pub ttft_ms: f64,
    /// Median output speed, tokens per second.
    pub tokens_per_s: f64,
    /// Median completion length, tokens.
    pub output_tokens: f64,
    /// Probability that a request fails (HTTP 500 before any byte).
    #[serde(default)]
    pub error_rate: f64,
    /// σ of the log-normal spread of time, speed and length (0 = always the median).
    #[serde(default = "default_jitter")]
    pub jitter: f64,
    /// How good the model's answers are, 0..=1: the share of an answer's sentences that
    /// address the question (the others drift off topic; a few hedges come on top,
    /// whatever the quality). In JSON mode, the probability that the answer is valid JSON.
    /// The simulated judge reads only what the answers say, so this shows in the evals
    /// through their own metric code.
    #[serde(default = "default_quality")]
    pub quality: f64,
}

fn default_jitter() -> f64 {
    0.25
}

fn default_quality() -> f64 {
    0.8
}

impl Default for SimulationProfile {
    fn default() -> Self {
        SimulationProfile {
            ttft_ms: 400.0,
            tokens_per_s: 60.0,
            output_tokens: 60.0,
            error_rate: 0.0,
            jitter: default_jitter(),
            quality: default_quality(),
        }
    }
}
