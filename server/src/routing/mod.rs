//! The seam between the gateway and the routing engine: [`Routing::pick`] chooses a model
//! for a request now, [`Routing::report`] hears how it went. The gateway knows nothing else.
//!
//! Until the planner lands (issue 5) a stand-in policy sits behind the seam: uniform over
//! the candidates the gateway passes (the set's models that can serve the request).

use app::catalog::CatalogModel;
use rand::Rng;

/// What happened to one routed request, for the engine's estimates.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub set_id: Option<i64>,
    pub model_id: String,
    pub ok: bool,
    pub latency_ms: f64,
}

#[derive(Debug, Default)]
pub struct Routing;

impl Routing {
    pub fn new() -> Self {
        Routing
    }

    /// Picks one of `candidates` (never empty when called) for a request of `set_id`.
    pub fn pick<'a>(&self, _set_id: Option<i64>, candidates: &[&'a CatalogModel]) -> Option<&'a CatalogModel> {
        if candidates.is_empty() {
            return None;
        }
        Some(candidates[rand::rng().random_range(0..candidates.len())])
    }

    /// The stand-in learns nothing; the planner will.
    pub fn report(&self, _outcome: &Outcome) {}
}
