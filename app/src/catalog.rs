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
}
