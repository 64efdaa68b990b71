//! The seam between the gateway and the routing engine: [`Routing::pick`] chooses a model
//! for a request now, [`Routing::report`] hears how it went. The gateway knows nothing else.
//!
//! Behind the seam, the runtime around the pure `app::engine`:
//! - [`learned`]: what outcomes teach: decayed estimates per model (global) and per (set,
//!   model), each set's recent window and feedback, a circuit breaker per model.
//! - plans: every [`REPLAN_EVERY`] each active set is re-planned from fresh estimates and its
//!   weights published as an alias table, swapped in whole; a request draws in O(1) from the
//!   published table without touching the learned state.
//!
//! Engine time is seconds since this process started ([`Routing::now`]). The `*_at` methods
//! take it as a plain `f64` instead, so the same code can be driven over a simulated clock
//! (the demo's history, `demo::history`); the live methods are those with the time and the
//! random draw filled in, at no extra cost on the request path.

mod learned;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use app::catalog::CatalogModel;
use app::describe;
use app::engine::{
    self, AliasTable, Feasibility, ModelInput, Observation, Plan, PlanOptions, Projection, Reason, Verdict, Why,
};
use app::model_set::{ModelSet, ModelSetSpec};
use serde::Serialize;

use crate::catalog::Catalog;
use crate::hash_map::HashMap;
use crate::storage::{EvalResultRow, RequestRecord};
use learned::Learned;

/// How often active sets are re-planned.
pub const REPLAN_EVERY: Duration = Duration::from_secs(2);
/// A set nobody routed to for this long is forgotten (its learned data stays).
const IDLE_AFTER_SECS: u64 = 15 * 60;

/// What happened to one routed request, for the engine's estimates.
#[derive(Debug, Clone)]
pub struct Outcome<'a> {
    pub set_id: Option<i64>,
    pub model_id: &'a str,
    /// Whether the model served the request. Failures that are the request's fault (a 4xx)
    /// or the client's (it left) are not reported at all.
    pub ok: bool,
    pub latency_ms: f64,
    pub ttft_ms: Option<f64>,
    pub output_tokens_per_s: Option<f64>,
    pub cost_usd: f64,
}

impl<'a> Outcome<'a> {
    /// What a request record says about its model; `None` when the failure was not the
    /// model's doing (a 4xx is the request's fault, a cancel the client's).
    pub fn of(record: &'a RequestRecord) -> Option<Outcome<'a>> {
        let ok = record.error_class.is_none();
        if !ok && !learned::model_at_fault(record.error_class.as_deref()) {
            return None;
        }
        Some(Outcome {
            set_id: record.model_set_id,
            model_id: &record.model_id,
            ok,
            latency_ms: record.latency_ms,
            ttft_ms: record.ttft_ms,
            output_tokens_per_s: record.output_tokens_per_s,
            cost_usd: record.cost_usd,
        })
    }

    fn observation(&self) -> Observation {
        Observation {
            ok: self.ok,
            latency_ms: self.latency_ms,
            ttft_ms: self.ttft_ms,
            throughput_tps: self.output_tokens_per_s,
            cost_usd: self.cost_usd,
            evals: Vec::new(),
        }
    }
}

/// One set's published plan: what requests draw from until the next re-plan.
pub struct Published {
    pub revision: i64,
    pub spec: ModelSetSpec,
    pub inputs: Vec<ModelInput>,
    pub plan: Plan,
    table: Option<AliasTable>,
    /// The planner failed and traffic is spread evenly (warned once, until a plan succeeds).
    uniform: bool,
    pub planned_at_ms: i64,
}

struct ActiveSet {
    published: RwLock<Arc<Published>>,
    last_pick: AtomicU64,
}

pub struct Routing {
    started: Instant,
    options: PlanOptions,
    learned: Learned,
    sets: RwLock<HashMap<i64, Arc<ActiveSet>>>,
}

/// A set's routing as the management API shows it.
#[derive(Debug, Serialize)]
pub struct RoutingStatus {
    pub revision: i64,
    pub planned_at: i64,
    pub feasible: bool,
    pub weights: Vec<ModelShare>,
    /// The targets planned against: the set's, tightened by feedback while realised values run over.
    pub planned_targets: Vec<f64>,
    /// Realised statistics over the set's recent requests, one per requirement.
    pub realised: Vec<Option<f64>>,
    /// Requirements the set's own traffic does not measure (see [`Reason::Unmeasured`]): said,
    /// not skipped, since the realised value beside them stays empty.
    pub unmeasured: Vec<Unmeasured>,
    pub projection: Option<Projection>,
}

/// A requirement the set's traffic does not measure.
#[derive(Debug, Serialize)]
pub struct Unmeasured {
    pub requirement: usize,
    /// The set's recent requests, none of which measured it.
    pub requests: usize,
    pub explanation: String,
}

#[derive(Debug, Serialize)]
pub struct ModelShare {
    pub model: String,
    pub weight: f64,
    pub exploring: bool,
    /// `closed`, `open` (skipped until a probe) or `half_open`.
    pub breaker: &'static str,
    pub requests_seen: f64,
    /// Why it has this weight, typed ([`engine::Why`]) …
    pub why: Why,
    /// … and as a sentence for people.
    pub explanation: String,
}

impl Routing {
    pub fn new(catalog: &Catalog) -> Self {
        Routing {
            started: Instant::now(),
            learned: Learned::new(catalog),
            // A set whose requirements count rare events (an error rate near 1 %, a p99) is
            // judged, and its feedback steered, on a window long enough to see them.
            options: PlanOptions {
                adaptive_window: true,
                ..PlanOptions::default()
            },
            sets: RwLock::default(),
        }
    }

    /// Engine time: seconds since start.
    fn now(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Picks one of `candidates` (the set's models that can serve this request and were not
    /// tried yet) for a request to `set`, or the only candidate for a catalog model.
    #[inline]
    pub fn pick<'a>(&self, set: Option<&ModelSet>, candidates: &[&'a CatalogModel]) -> Option<&'a CatalogModel> {
        match set {
            Some(set) if candidates.len() > 1 => self.pick_at(set, candidates, self.now(), rand::random()),
            _ => candidates.first().copied(),
        }
    }

    /// [`Routing::pick`] for a set at engine time `now` (seconds), drawing with `u` (uniformly
    /// random bits).
    pub fn pick_at<'a>(
        &self,
        set: &ModelSet,
        candidates: &[&'a CatalogModel],
        now: f64,
        u: u64,
    ) -> Option<&'a CatalogModel> {
        if candidates.len() < 2 {
            return candidates.first().copied();
        }
        let published = self.published(set, now);
        // The plan's i-th model, if it may serve this request.
        let in_candidates = |i: usize| {
            let input = published.inputs.get(i)?;
            candidates.iter().copied().find(|m| m.id == input.id)
        };
        let drawn = published.table.as_ref().and_then(|table| {
            table.draw_where(u, |i| {
                published.plan.weights[i] > 0.0
                    && in_candidates(i).is_some()
                    && self.learned.allows(&published.inputs[i].id, now)
            })
        });
        let chosen = match drawn.and_then(in_candidates) {
            Some(model) => model,
            // Nothing planned can serve this request (capabilities, retries, open breakers):
            // any candidate whose breaker lets it through, else any candidate at all.
            None => candidates
                .iter()
                .copied()
                .find(|m| self.learned.allows(&m.id, now))
                .or_else(|| candidates.first().copied())?,
        };
        self.learned.sent(&chosen.id, now);
        Some(chosen)
    }

    /// Learns from one provider call.
    pub fn report(&self, outcome: &Outcome<'_>) {
        self.report_at(outcome, self.now());
    }

    /// [`Routing::report`] at engine time `now`.
    pub fn report_at(&self, outcome: &Outcome<'_>, now: f64) {
        self.learned.observe(outcome, now);
    }

    /// Learns a model's eval scores on one of the set's requests (`scores`: metric, score).
    pub fn report_evals(&self, set_id: i64, model_id: &str, scores: &[(String, f64)]) {
        self.report_evals_at(set_id, model_id, scores, self.now());
    }

    /// [`Routing::report_evals`] at engine time `now`.
    pub fn report_evals_at(&self, set_id: i64, model_id: &str, scores: &[(String, f64)], now: f64) {
        if !scores.is_empty() {
            self.learned.observe_evals(set_id, model_id, scores, now);
        }
    }

    /// Warms the estimates from stored records (e.g. after a restart), oldest first.
    pub fn seed(&self, records: &[RequestRecord], now_ms: i64) {
        let now = self.now();
        for r in records {
            if let Some(outcome) = Outcome::of(r) {
                self.learned.observe(&outcome, now + (r.at - now_ms) as f64 / 1000.0);
            }
        }
    }

    /// Warms the eval estimates from stored scores (e.g. after a restart), oldest first: each
    /// request's scores are learned together at the time they were scored, as the workers
    /// reported them. Failed evals (no score) teach nothing.
    pub fn seed_evals(&self, results: &[EvalResultRow], now_ms: i64) {
        let now = self.now();
        // A request's metrics are stored as rows of their own; one report per request keeps
        // the set's window of eval observations counting requests, as live reports do.
        let mut requests: Vec<(&EvalResultRow, Vec<(String, f64)>)> = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::default();
        for r in results {
            let Some(score) = r.score else {
                continue;
            };
            match index.get(r.request_id.as_str()) {
                Some(&i) => requests[i].1.push((r.metric.clone(), score)),
                None => {
                    index.insert(&r.request_id, requests.len());
                    requests.push((r, vec![(r.metric.clone(), score)]));
                }
            }
        }
        for (first, scores) in &requests {
            let at = now + (first.scored_at - now_ms) as f64 / 1000.0;
            self.learned.observe_evals(first.set_id, &first.model_id, scores, at);
        }
    }

    /// The set's published plan, planned now if the set is new here or was edited; marks the
    /// set as in use at `now`.
    fn published(&self, set: &ModelSet, now: f64) -> Arc<Published> {
        if let Some(active) = self.sets.read().unwrap_or_else(|p| p.into_inner()).get(&set.id) {
            let published = active.published.read().unwrap_or_else(|p| p.into_inner()).clone();
            if published.revision == set.revision {
                active.last_pick.store(now as u64, Ordering::Relaxed);
                return published;
            }
        }
        let published = Arc::new(self.plan(set.id, set.revision, &set.spec, now, false));
        let mut sets = self.sets.write().unwrap_or_else(|p| p.into_inner());
        let active = sets.entry(set.id).or_insert_with(|| {
            Arc::new(ActiveSet {
                published: RwLock::new(published.clone()),
                last_pick: AtomicU64::new(0),
            })
        });
        active.last_pick.store(now as u64, Ordering::Relaxed);
        *active.published.write().unwrap_or_else(|p| p.into_inner()) = published.clone();
        published
    }

    /// Plans the set; `was_uniform`: the previous plan had failed, so a failure again is
    /// not news (a set that cannot be planned, e.g. for want of eval scores, would otherwise
    /// warn at every re-plan).
    fn plan(&self, set_id: i64, revision: i64, spec: &ModelSetSpec, now: f64, was_uniform: bool) -> Published {
        let inputs = self.learned.inputs(set_id, spec, now);
        let targets = self.learned.feedback_targets(set_id, revision, spec);
        let (plan, uniform) = match engine::plan(spec, &inputs, Some(&targets), &self.options) {
            Ok(plan) => (plan, false),
            Err(e) => {
                if was_uniform {
                    tracing::debug!(set_id, error = %e, "still no plan for the set; routing uniformly");
                } else {
                    tracing::warn!(set_id, error = %e, "no plan for the set; routing uniformly");
                }
                (uniform_plan(&inputs, targets), true)
            }
        };
        let table = AliasTable::new(&plan.weights).ok();
        Published {
            revision,
            spec: spec.clone(),
            inputs,
            plan,
            table,
            uniform,
            planned_at_ms: crate::clock::now_ms(),
        }
    }

    /// Re-plans every active set from fresh estimates; forgets sets idle for long.
    pub fn replan(&self) {
        self.replan_at(self.now());
    }

    /// [`Routing::replan`] at engine time `now`.
    pub fn replan_at(&self, now: f64) {
        let active: Vec<(i64, Arc<ActiveSet>)> = {
            let mut sets = self.sets.write().unwrap_or_else(|p| p.into_inner());
            sets.retain(|_, a| now as u64 <= a.last_pick.load(Ordering::Relaxed) + IDLE_AFTER_SECS);
            sets.iter().map(|(id, a)| (*id, a.clone())).collect()
        };
        for (set_id, active) in active {
            let current = active.published.read().unwrap_or_else(|p| p.into_inner()).clone();
            let followed = (!current.uniform).then_some(&current.plan);
            let window = self.options.window_for(&current.spec.requirements) as usize;
            self.learned
                .update_feedback(set_id, current.revision, &current.spec, followed, window);
            let fresh = Arc::new(self.plan(set_id, current.revision, &current.spec, now, current.uniform));
            *active.published.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        }
    }

    /// Re-plans every [`REPLAN_EVERY`] until the server stops.
    pub async fn replan_forever(self: Arc<Self>) {
        let mut tick = tokio::time::interval(REPLAN_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let routing = self.clone();
            // Planning is CPU work (well under a millisecond per set): keep it off the
            // request threads' cooperative scheduling.
            if let Err(e) = tokio::task::spawn_blocking(move || routing.replan()).await {
                tracing::error!(error = %e, "re-planning failed");
            }
        }
    }

    /// The set's current weights, verdict and projection.
    pub fn status(&self, set: &ModelSet) -> RoutingStatus {
        let now = self.now();
        let published = self.published(set, now);
        self.status_of(set, &published, now)
    }

    /// The set's routing as its page shows it, without making the set active here (a page
    /// view is not traffic, and an active set is re-planned every [`REPLAN_EVERY`]): the
    /// published plan while the set is routed, else one planned for the look.
    pub fn view(&self, set: &ModelSet) -> RoutingStatus {
        let now = self.now();
        let published = self
            .active_plan(set)
            // A look at an unplannable set is not news: no warning (`was_uniform`).
            .unwrap_or_else(|| Arc::new(self.plan(set.id, set.revision, &set.spec, now, true)));
        self.status_of(set, &published, now)
    }

    /// Whether the set's requirements look achievable on what is known now (the registry's
    /// cards); like [`Routing::view`], it does not make the set active.
    pub fn verdict(&self, set: &ModelSet) -> Option<engine::Verdict> {
        let inputs = match self.active_plan(set) {
            Some(published) => published.inputs.clone(),
            None => self.learned.inputs(set.id, &set.spec, self.now()),
        };
        let mut verdict = engine::verdict(&set.spec, &inputs, &self.options)
            .map_err(|e| tracing::debug!(error = %e, "no verdict"))
            .ok()?;
        self.note_unmeasured(set.id, &set.spec, &mut verdict);
        Some(verdict)
    }

    /// Adds the requirements the set's own traffic does not measure to its verdict
    /// ([`learned::Learned::unmeasured`]): a Yes becomes Partial, as nothing shows they hold.
    fn note_unmeasured(&self, set_id: i64, spec: &ModelSetSpec, verdict: &mut Verdict) {
        let unmeasured = self.learned.unmeasured(set_id, spec);
        if unmeasured.is_empty() {
            return;
        }
        if verdict.feasibility == Feasibility::Yes {
            verdict.feasibility = Feasibility::Partial;
        }
        verdict.reasons.extend(
            unmeasured
                .into_iter()
                .map(|(requirement, requests)| Reason::Unmeasured { requirement, requests }),
        );
    }

    /// The published plan of the set's current revision, if the set is routed here.
    fn active_plan(&self, set: &ModelSet) -> Option<Arc<Published>> {
        let sets = self.sets.read().unwrap_or_else(|p| p.into_inner());
        let published = sets
            .get(&set.id)?
            .published
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        (published.revision == set.revision).then_some(published)
    }

    fn status_of(&self, set: &ModelSet, published: &Published, now: f64) -> RoutingStatus {
        let mut projection = engine::project(&published.spec, &published.inputs, &self.options)
            .map_err(|e| tracing::debug!(error = %e, "no projection"))
            .ok();
        if let Some(projection) = projection.as_mut() {
            self.note_unmeasured(set.id, &published.spec, &mut projection.verdict);
        }
        let spec = &published.spec;
        let why = if published.uniform {
            let even = |m: &ModelInput| if m.available { Why::Even } else { Why::Unavailable };
            published.inputs.iter().map(even).collect()
        } else {
            engine::explain(spec, &published.inputs, &published.plan, &self.options)
        };
        RoutingStatus {
            revision: published.revision,
            planned_at: published.planned_at_ms,
            feasible: published.plan.feasible,
            weights: published
                .inputs
                .iter()
                .zip(&published.plan.weights)
                .zip(why)
                .enumerate()
                .map(|(i, ((input, weight), why))| {
                    let breaker = self.learned.breaker_state(&input.id, now).label();
                    // Requests skip a model whose breaker is open, whatever the plan says.
                    let why = if breaker == "open" { Why::Unavailable } else { why };
                    ModelShare {
                        model: input.id.clone(),
                        weight: *weight,
                        exploring: published.plan.exploring.contains(&i),
                        breaker,
                        requests_seen: input.local_requests,
                        explanation: describe::why(&why, &spec.requirements, &spec.objective, breaker == "open"),
                        why,
                    }
                })
                .collect(),
            planned_targets: published.plan.targets.clone(),
            realised: self.learned.realised(set.id, &published.spec),
            unmeasured: self
                .learned
                .unmeasured(set.id, spec)
                .into_iter()
                .map(|(requirement, requests)| {
                    let note = Verdict {
                        feasibility: Feasibility::Partial,
                        reasons: vec![Reason::Unmeasured { requirement, requests }],
                    };
                    Unmeasured {
                        requirement,
                        requests,
                        explanation: describe::reasons(&note, &spec.requirements).join(" "),
                    }
                })
                .collect(),
            projection,
        }
    }

    /// A projection of a configuration being edited (not deployed): the models' global
    /// behaviour and catalog priors, plus `set`'s own traffic when editing an existing set.
    /// Returns the inputs too, so a browser can re-project locally as the requirements change.
    pub fn project_draft(
        &self,
        set: Option<&ModelSet>,
        spec: &ModelSetSpec,
    ) -> Result<(Projection, Vec<ModelInput>), engine::PlanError> {
        let inputs = self.draft_inputs(set, &spec.models);
        let projection = engine::project(spec, &inputs, &self.options)?;
        Ok((projection, inputs))
    }

    /// The engine's inputs for `models` as a draft sees them: their global behaviour and
    /// catalog priors, plus `set`'s own traffic when editing (or cloning) an existing set.
    pub fn draft_inputs(&self, set: Option<&ModelSet>, models: &[String]) -> Vec<ModelInput> {
        // No set has id -1: a new draft sees only global behaviour and priors.
        let set_id = set.map_or(-1, |s| s.id);
        let spec = ModelSetSpec {
            models: models.to_vec(),
            ..ModelSetSpec::default()
        };
        self.learned.inputs(set_id, &spec, self.now())
    }

    /// A projection of `spec` over inputs the caller supplies (aligned with `spec.models`).
    pub fn project_inputs(&self, spec: &ModelSetSpec, inputs: &[ModelInput]) -> Result<Projection, engine::PlanError> {
        engine::project(spec, inputs, &self.options)
    }

    /// The planner's options, which a browser needs to project as the server does.
    pub fn options(&self) -> &PlanOptions {
        &self.options
    }
}

/// When the LP cannot be set up at all (e.g. no model has any data and no prior), spread
/// traffic evenly so requests still flow and data accrues.
fn uniform_plan(inputs: &[ModelInput], targets: Vec<f64>) -> Plan {
    let available = inputs.iter().filter(|m| m.available).count().max(1) as f64;
    Plan {
        weights: inputs
            .iter()
            .map(|m| if m.available { 1.0 / available } else { 0.0 })
            .collect(),
        feasible: false,
        violations: vec![0.0; targets.len()],
        targets,
        exploring: Vec::new(),
        objective: None,
        promising: Vec::new(),
        potential: None,
        // Nothing was planned, so nothing binds: the feedback does not loosen on it.
        binding: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use app::model_set::{Comparator, Dimension, EvalSettings, Objective, Requirement, Statistic};

    use super::*;

    fn model(id: &str) -> CatalogModel {
        CatalogModel {
            id: id.into(),
            provider: "simulated".into(),
            upstream_name: id.into(),
            input_price_per_mtok: 1.0,
            output_price_per_mtok: 1.0,
            context_window: 8000,
            capabilities: Default::default(),
            simulated: true,
            simulation: None,
        }
    }

    fn relevancy() -> Dimension {
        Dimension::Eval("answer_relevancy".into())
    }

    fn result(request: usize, model: &str, metric: &str, score: Option<f64>, scored_at: i64) -> EvalResultRow {
        EvalResultRow {
            request_id: format!("r{request}"),
            set_id: 1,
            account_id: 1,
            model_id: model.into(),
            metric: metric.into(),
            score,
            reason: String::new(),
            error: None,
            judge_model: "judge".into(),
            judge_calls: 2,
            prompt_tokens: 0,
            completion_tokens: 0,
            cost_usd: 0.0,
            request_at: scored_at,
            scored_at,
            input: None,
            output: None,
        }
    }

    /// A set that needs eval scores cannot be planned until it has some; stored scores fed at
    /// start let it plan at once, towards the model that scored higher.
    #[test]
    fn stored_eval_scores_warm_the_routing() {
        let catalog = crate::catalog::index(&[model("m/good"), model("m/poor")]);
        let routing = Routing::new(&catalog);
        let set = ModelSet {
            id: 1,
            owner: "o".into(),
            slug: "s".into(),
            name: "s".into(),
            description: String::new(),
            categories: Vec::new(),
            tags: Vec::new(),
            spec: ModelSetSpec {
                models: vec!["m/good".into(), "m/poor".into()],
                requirements: vec![Requirement::new(relevancy(), Statistic::Mean, Comparator::AtLeast, 0.5)],
                objective: Objective::Maximize(relevancy()),
                evals: EvalSettings {
                    metrics: vec!["answer_relevancy".into()],
                    ..EvalSettings::default()
                },
            },
            revision: 1,
            created_at: 0,
            updated_at: 0,
            cloned_from: None,
        };
        assert!(routing.view(&set).realised[0].is_none(), "nothing scored yet");

        let now_ms = 10_000_000;
        let mut rows = Vec::new();
        for i in 0..40 {
            let (model, score) = if i % 2 == 0 { ("m/good", 0.95) } else { ("m/poor", 0.55) };
            let at = now_ms - 600_000 + i64::try_from(i).expect("small") * 1000;
            rows.push(result(i, model, "answer_relevancy", Some(score), at));
            rows.push(result(i, model, "toxicity", Some(0.0), at));
            rows.push(result(1000 + i, model, "answer_relevancy", None, at));
        }
        routing.seed_evals(&rows, now_ms);
        let view = routing.view(&set);
        let realised = view.realised[0].expect("realised from the stored scores");
        assert!((realised - 0.75).abs() < 1e-9, "{realised}");
        let weight = |id: &str| view.weights.iter().find(|w| w.model == id).map_or(0.0, |w| w.weight);
        assert!(weight("m/good") > weight("m/poor"), "{:?}", view.weights);
    }
}
