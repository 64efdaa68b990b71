//! What the routing runtime learns from outcomes: estimates, windows, feedback, breakers.
//!
//! Reports (one per provider call) update it under one short lock; re-planning reads it
//! every few seconds; requests only ask the breakers (a read lock).

use std::sync::{Mutex, MutexGuard, RwLock};

use app::engine::{
    Breaker, BreakerConfig, BreakerState, Estimate, Estimator, Feedback, FeedbackConfig, ModelInput, Observation, Plan,
    Prior, Realised, Window, DEFAULT_HALF_LIFE_SECS,
};
use app::model_set::{Dimension, ModelSetSpec, Requirement};

use super::Outcome;
use crate::catalog::Catalog;
use crate::hash_map::HashMap;

/// Requests per set whose realised statistics drive the feedback.
const WINDOW: usize = 2_000;
/// Eval scores per set whose realised means drive the feedback on eval requirements: the scores
/// of about as many requests as [`WINDOW`] at the default sampling of a tenth.
const EVAL_WINDOW: usize = 200;
/// Requests in a set's window, none of which measured a requirement's dimension, before the
/// requirement is reported as one its traffic cannot measure (see [`Learned::unmeasured`]).
const UNMEASURED_AFTER: usize = 30;
/// A typical request, for the catalog prior's cost: prompt and completion tokens.
const TYPICAL_PROMPT_TOKENS: f64 = 500.0;
const TYPICAL_COMPLETION_TOKENS: f64 = 250.0;

/// Whether a failure says something about the model (rather than the request or the client).
pub(super) fn model_at_fault(class: Option<&str>) -> bool {
    !matches!(class, Some("upstream_4xx") | Some("cancelled"))
}

/// A breaker as routing sees it now (an open breaker past its cool-down is half open).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerView {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerView {
    pub fn label(self) -> &'static str {
        match self {
            BreakerView::Closed => "closed",
            BreakerView::Open => "open",
            BreakerView::HalfOpen => "half_open",
        }
    }
}

pub struct Learned {
    priors: HashMap<String, Estimate>,
    inner: Mutex<Inner>,
    breakers: RwLock<HashMap<String, Breaker>>,
}

#[derive(Default)]
struct Inner {
    global: HashMap<String, Estimator>,
    /// Per set, per model: the set's own traffic to it.
    local: HashMap<i64, HashMap<String, Local>>,
    sets: HashMap<i64, SetLearning>,
}

struct Local {
    estimator: Estimator,
    /// Requests the set sent to the model (not decayed): drives exploration.
    requests: f64,
}

/// Updates `map[key]`, made by `new` if missing. Maps are keyed by the model's id, which
/// a report borrows: the key is copied only for a model seen for the first time (`entry`
/// would copy it on every report).
fn update<V>(map: &mut HashMap<String, V>, key: &str, new: impl FnOnce() -> V, change: impl FnOnce(&mut V)) {
    match map.get_mut(key) {
        Some(value) => change(value),
        None => change(map.entry(key.to_owned()).or_insert_with(new)),
    }
}

struct SetLearning {
    window: Window,
    /// The set's latest eval scores, apart: they arrive late and for a share of requests, so
    /// they would otherwise push requests out of `window`.
    evals: Window,
    /// The revision the feedback was built for: an edit may change the requirements.
    revision: i64,
    feedback: Feedback,
}

impl SetLearning {
    /// Each requirement's realised value: eval requirements from the eval scores, the rest
    /// from the requests.
    fn realised(&self, requirements: &[Requirement]) -> Vec<Option<f64>> {
        self.measured(requirements)
            .into_iter()
            .map(|m| m.map(|m| m.value))
            .collect()
    }

    /// Each requirement's realised value from its window (eval scores from theirs).
    fn measured(&self, requirements: &[Requirement]) -> Vec<Option<Realised>> {
        let requests = self.window.measured(requirements);
        let evals = self.evals.measured(requirements);
        requirements
            .iter()
            .zip(requests.into_iter().zip(evals))
            .map(|(r, (request, eval))| match r.dimension {
                Dimension::Eval(_) => eval,
                _ => request,
            })
            .collect()
    }

    fn new() -> Self {
        SetLearning {
            window: Window::new(WINDOW),
            evals: Window::new(EVAL_WINDOW),
            revision: i64::MIN,
            feedback: Feedback::new(0, FeedbackConfig::default()),
        }
    }
}

impl Learned {
    pub fn new(catalog: &Catalog) -> Self {
        let priors = catalog
            .values()
            .map(|model| (model.id.clone(), prior(model).to_estimate()))
            .collect();
        Learned {
            priors,
            inner: Mutex::default(),
            breakers: RwLock::default(),
        }
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        // Every update below leaves the maps consistent at each step; a panic elsewhere while
        // holding the lock does not make the data unusable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn observe(&self, outcome: &Outcome<'_>, now: f64) {
        let obs = outcome.observation();
        {
            let mut inner = self.inner();
            let inner = &mut *inner;
            let new_estimator = || Estimator::new(DEFAULT_HALF_LIFE_SECS);
            update(&mut inner.global, outcome.model_id, new_estimator, |e| {
                e.observe(&obs, now)
            });
            if let Some(set_id) = outcome.set_id {
                let new_local = || Local {
                    estimator: new_estimator(),
                    requests: 0.0,
                };
                update(
                    inner.local.entry(set_id).or_default(),
                    outcome.model_id,
                    new_local,
                    |local| {
                        local.estimator.observe(&obs, now);
                        local.requests += 1.0;
                    },
                );
                inner
                    .sets
                    .entry(set_id)
                    .or_insert_with(SetLearning::new)
                    .window
                    .push(obs);
            }
        }
        let mut breakers = self.breakers.write().unwrap_or_else(|p| p.into_inner());
        let new_breaker = || Breaker::new(BreakerConfig::default());
        update(&mut breakers, outcome.model_id, new_breaker, |b| {
            b.on_result(outcome.ok, now)
        });
    }

    /// Learns eval scores of a model's answer to one of the set's requests: for the model's
    /// estimates (the set's own and across sets) and the set's realised values. Scores are
    /// not requests: no request count or breaker moves.
    pub fn observe_evals(&self, set_id: i64, model_id: &str, scores: &[(String, f64)], now: f64) {
        let mut inner = self.inner();
        let inner = &mut *inner;
        let new_estimator = || Estimator::new(DEFAULT_HALF_LIFE_SECS);
        update(&mut inner.global, model_id, new_estimator, |e| {
            e.observe_evals(scores, now)
        });
        let new_local = || Local {
            estimator: new_estimator(),
            requests: 0.0,
        };
        update(inner.local.entry(set_id).or_default(), model_id, new_local, |local| {
            local.estimator.observe_evals(scores, now)
        });
        inner
            .sets
            .entry(set_id)
            .or_insert_with(SetLearning::new)
            .evals
            .push(Observation {
                ok: true,
                evals: scores.to_vec(),
                ..Observation::default()
            });
    }

    /// May a request go to `model` now (its breaker is not open)?
    pub fn allows(&self, model: &str, now: f64) -> bool {
        let breakers = self.breakers.read().unwrap_or_else(|p| p.into_inner());
        breakers.get(model).is_none_or(|b| b.allows(now))
    }

    /// A request was sent to `model`: a breaker past its cool-down lets this one through as
    /// its probe and holds the rest until the probe's outcome.
    pub fn sent(&self, model: &str, now: f64) {
        let closed = {
            let breakers = self.breakers.read().unwrap_or_else(|p| p.into_inner());
            breakers.get(model).is_none_or(|b| b.state() == BreakerState::Closed)
        };
        if !closed {
            let mut breakers = self.breakers.write().unwrap_or_else(|p| p.into_inner());
            if let Some(b) = breakers.get_mut(model) {
                b.on_send(now);
            }
        }
    }

    pub fn breaker_state(&self, model: &str, now: f64) -> BreakerView {
        let breakers = self.breakers.read().unwrap_or_else(|p| p.into_inner());
        match breakers.get(model).map(Breaker::state) {
            None | Some(BreakerState::Closed) => BreakerView::Closed,
            Some(BreakerState::Open { until }) if now < until => BreakerView::Open,
            Some(_) => BreakerView::HalfOpen,
        }
    }

    /// The planner's view of each of the set's models: its own traffic blended with the
    /// model's global behaviour and the catalog prior.
    pub fn inputs(&self, set_id: i64, spec: &ModelSetSpec, now: f64) -> Vec<ModelInput> {
        let inner = self.inner();
        spec.models
            .iter()
            .map(|id| {
                let own = inner.local.get(&set_id).and_then(|models| models.get(id));
                let local = own.map(|own| own.estimator.snapshot(now));
                let global = inner.global.get(id).map(|e| e.snapshot(now));
                let estimate = Estimate::blend(
                    local.as_ref(),
                    global.as_ref(),
                    self.priors.get(id),
                    &Default::default(),
                );
                ModelInput {
                    id: id.clone(),
                    estimate,
                    local_requests: own.map_or(0.0, |own| own.requests),
                    available: self.priors.contains_key(id) && self.breaker_state(id, now) != BreakerView::Open,
                }
            })
            .collect()
    }

    /// Targets tightened by the set's feedback (the spec's own until feedback exists).
    pub fn feedback_targets(&self, set_id: i64, revision: i64, spec: &ModelSetSpec) -> Vec<f64> {
        let inner = self.inner();
        match inner.sets.get(&set_id) {
            Some(s) if s.revision == revision && s.feedback.tighten.len() == spec.requirements.len() => {
                s.feedback.targets(&spec.requirements)
            }
            _ => spec.requirements.iter().map(|r| r.target).collect(),
        }
    }

    /// Moves the set's feedback one step from its realised window; `plan`: the plan routing
    /// followed (`None` when it spread traffic evenly for want of one); `window`: the requests
    /// the set is judged on ([`app::engine::PlanOptions::window_for`]; at least [`WINDOW`]).
    pub fn update_feedback(&self, set_id: i64, revision: i64, spec: &ModelSetSpec, plan: Option<&Plan>, window: usize) {
        let mut inner = self.inner();
        let set = inner.sets.entry(set_id).or_insert_with(SetLearning::new);
        set.window.set_capacity(window.max(WINDOW));
        if set.revision != revision || set.feedback.tighten.len() != spec.requirements.len() {
            set.revision = revision;
            set.feedback = Feedback::new(spec.requirements.len(), FeedbackConfig::default());
        }
        let realised = set.measured(&spec.requirements);
        set.feedback.update(&spec.requirements, &realised, plan);
    }

    /// The requirements the set's own traffic does not measure, with the requests in its window:
    /// at least [`UNMEASURED_AFTER`] recent requests and not one of them reported the dimension
    /// (time to first token is measured only on streamed answers). Eval requirements are left to
    /// the eval window, which fills only as the judge scores. The planner keeps planning such a
    /// requirement on the models' estimates from other traffic and their priors; the feedback,
    /// having no realised value, leaves its target alone.
    pub fn unmeasured(&self, set_id: i64, spec: &ModelSetSpec) -> Vec<(usize, usize)> {
        let inner = self.inner();
        let Some(set) = inner.sets.get(&set_id) else {
            return Vec::new();
        };
        let requests = set.window.len();
        if requests < UNMEASURED_AFTER {
            return Vec::new();
        }
        spec.requirements
            .iter()
            .enumerate()
            .filter(|(_, r)| !matches!(r.dimension, Dimension::Eval(_)) && set.window.count(&r.dimension) == 0)
            .map(|(i, _)| (i, requests))
            .collect()
    }

    pub fn realised(&self, set_id: i64, spec: &ModelSetSpec) -> Vec<Option<f64>> {
        let inner = self.inner();
        match inner.sets.get(&set_id) {
            Some(s) => s.realised(&spec.requirements),
            None => vec![None; spec.requirements.len()],
        }
    }
}

/// A weak prior from the catalog: the price of a typical request; for simulated models the
/// behaviour their profile declares. Real models get no latency prior: they are explored.
fn prior(model: &app::catalog::CatalogModel) -> Prior {
    let cost = (TYPICAL_PROMPT_TOKENS * model.input_price_per_mtok
        + TYPICAL_COMPLETION_TOKENS * model.output_price_per_mtok)
        / 1e6;
    let mut prior = Prior {
        cost_usd: Some(cost),
        ..Prior::default()
    };
    if let (true, Some(sim)) = (model.simulated, model.simulation) {
        prior.ttft_ms = Some(sim.ttft_ms);
        prior.throughput_tps = Some(sim.tokens_per_s);
        prior.latency_ms = Some(sim.ttft_ms + 1000.0 * sim.output_tokens / sim.tokens_per_s.max(1e-9));
        prior.error_rate = Some(sim.error_rate);
    }
    prior
}
