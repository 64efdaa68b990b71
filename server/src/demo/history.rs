//! A week of demo history, made by running what production runs over a simulated clock: the
//! real [`Routing`] picks each request's model (and the fallback's), each call's outcome is
//! drawn from the model's [`SimulationProfile`] by the simulator's own sampling
//! ([`Draw::sample`]), the records are folded by the real [`Rollups`], and the sets are
//! re-planned every few simulated minutes ([`REPLAN_MINUTES`]). Nothing is drawn by hand: the charts show what routing did.
//!
//! The story, relative to the start of the week (so the same on every seeding):
//! - traffic follows a daily cycle (quiet at night UTC, busy in the afternoon);
//! - day 3: [`OUTAGE_PROVIDER`] fails most requests for two hours (server errors, some
//!   timeouts); the breakers open, the fallback and the re-plans move traffic elsewhere;
//! - day 5: [`PRICE_CUT_MODEL`] gets cheaper (it cost [`PRICE_BEFORE_CUT`] times today's
//!   catalog price before), so cost per request drops and cost-minimising sets shift to it
//!   (Support Bot moves from gpt-4o-mini to it).
//!
//! Evals, for sets with metrics: each answered request is drawn with the set's sampling
//! probability; a drawn one gets the answer its model would have written ([`answer::text`],
//! at the model's quality, to one of the set's traffic prompts) and is scored on each metric
//! by the real metric code ([`metrics::score_named`]) with the simulated judge in process
//! ([`InstantJudge`]). Its scores reach routing a few seconds after the answer, as a live
//! worker's would, so the week routes by them; they and the judge's cost are folded into the
//! rollups, and the results of the last [`RECENT_HOURS`] hours are stored as the owner's
//! latest evaluated requests (without texts, as the default retention keeps none).
//!
//! Only rollups are stored (per hour for the week, per minute for the last
//! [`MINUTE_ROWS_HOURS`] hours), under the writer id [`WRITER`], with those eval results; no
//! request records. A seeded RNG makes the history the same for the same sets, catalog and
//! end time; the evals draw from a seeded RNG of their own, so that evaluating changes no
//! draw of the traffic's.

use app::catalog::{CatalogModel, SimulationProfile};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Poisson, StandardNormal};

use super::Target;
use crate::catalog::Catalog;
use crate::evals::judge::JudgeUsage;
use crate::evals::metrics::{self, Case, Failed, Scored};
use crate::hash_map::HashMap;
use crate::metrics::rollup::{minute_of, EvalOutcome, Rollups};
use crate::providers::simulated::answer::{self, Question};
use crate::providers::simulated::instant_judge::InstantJudge;
use crate::providers::simulated::Draw;
use crate::routing::{Outcome, Routing};
use crate::storage::{EvalResultRow, RequestRecord, SharedStorage, StorageResult};

/// The rollup writer id of the history: its rows never mix with a server's.
pub const WRITER: &str = "demo-history";
pub const DAYS: i64 = 7;
/// Per-minute rows are written for this many last hours (what the 1 h and 24 h charts read).
pub const MINUTE_ROWS_HOURS: i64 = 24;
/// Records of this many last hours are returned to warm the live routing.
const RECENT_HOURS: i64 = 2;

pub const OUTAGE_PROVIDER: &str = "groq";
/// Hours after the start of the week: day 3, early afternoon.
pub const OUTAGE_FROM_H: i64 = 2 * 24 + 13;
pub const OUTAGE_HOURS: i64 = 2;
/// Share of the provider's calls that fail during the outage; of those, one in
/// [`OUTAGE_TIMEOUT_EVERY`] hangs until the first-token timeout (the first one included) and
/// the rest answer 500. Counted rather than drawn: the breakers let only a handful of calls
/// through, and with a drawn quarter 7 failures held no timeout in one CI run (0.75^7 = 13 %),
/// so the story's two classes would depend on the end time.
const OUTAGE_FAILURES: f64 = 0.85;
const OUTAGE_TIMEOUT_EVERY: u64 = 4;

pub const PRICE_CUT_MODEL: &str = "mistral/mistral-small";
/// Hours after the start of the week: day 5, morning.
pub const PRICE_CUT_H: i64 = 4 * 24 + 9;
pub const PRICE_BEFORE_CUT: f64 = 3.0;

/// The gateway's default first-token timeout (`[gateway.timeouts]`): how long a hanging call
/// takes to fail.
const FIRST_TOKEN_TIMEOUT_MS: f64 = 60_000.0;
const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
/// How strongly the daily cycle swings around the mean (0 = flat).
const DAILY_SWING: f64 = 0.7;
/// σ of the log-normal spread of prompt lengths.
const PROMPT_JITTER: f64 = 0.5;
/// Simulated minutes between re-plans. Production re-plans every couple of seconds, a few
/// requests per set at demo rates; every 5 simulated minutes is about 10 requests per set,
/// and the week's 2,000 re-plans per set were most of the seeding time at every minute
/// (about 80% of it, 40 s in a debug build). Breakers still act on every request.
const REPLAN_MINUTES: i64 = 5;
const SEED: u64 = 0x5e79_0147;
/// The evals' own draws.
const EVAL_SEED: u64 = 0xe7a1_5eed;
/// How long after its answer a request's evals are scored: a live worker takes up a job
/// within a second and the judge answers its two calls in a few.
const JUDGED_AFTER_MS: i64 = 4_000;

/// What [`generate`] made.
#[derive(Debug, Default)]
pub struct Made {
    /// Provider calls simulated (retries included).
    pub requests: usize,
    pub minute_rows: usize,
    pub hour_rows: usize,
    /// Of the time taken, milliseconds spent storing rollups.
    pub write_ms: u64,
    /// The last [`RECENT_HOURS`] hours of records, oldest first.
    pub recent: Vec<RequestRecord>,
    /// Requests drawn for evals and scored.
    pub evals: usize,
    /// Of the time taken, milliseconds spent writing and scoring answers for the evals.
    pub eval_ms: u64,
    /// The eval results of the last [`RECENT_HOURS`] hours, as stored, oldest first.
    pub recent_evals: Vec<EvalResultRow>,
}

/// When the week starts for a history ending at `end_ms`.
pub fn start_of(end_ms: i64) -> i64 {
    minute_of(end_ms) - DAYS * 24 * HOUR_MS
}

/// Whether `provider` is down at `at_ms` in a history starting at `start_ms`.
pub fn in_outage(provider: &str, start_ms: i64, at_ms: i64) -> bool {
    let from = start_ms + OUTAGE_FROM_H * HOUR_MS;
    provider == OUTAGE_PROVIDER && (from..from + OUTAGE_HOURS * HOUR_MS).contains(&at_ms)
}

/// The factor on `model`'s catalog price at `at_ms`.
pub fn price_factor(model: &str, start_ms: i64, at_ms: i64) -> f64 {
    if model == PRICE_CUT_MODEL && at_ms < start_ms + PRICE_CUT_H * HOUR_MS {
        PRICE_BEFORE_CUT
    } else {
        1.0
    }
}

/// A set being simulated: its models as the catalog has them.
struct Simulated<'a> {
    target: &'a Target,
    models: Vec<&'a CatalogModel>,
}

/// Simulates `targets` over the [`DAYS`] days before `end_ms` and stores their rollups.
pub async fn generate(
    storage: &SharedStorage,
    catalog: &Catalog,
    account_id: i64,
    targets: &[Target],
    end_ms: i64,
) -> StorageResult<Made> {
    let sets: Vec<Simulated<'_>> = targets
        .iter()
        .map(|target| Simulated {
            target,
            models: target
                .set
                .spec
                .models
                .iter()
                .filter_map(|id| catalog.get(id.as_str()))
                .collect(),
        })
        .collect();
    let start = start_of(end_ms);
    let end = minute_of(end_ms);
    let mut sim = Simulation {
        routing: Routing::new(catalog),
        rng: StdRng::seed_from_u64(SEED),
        start,
        account_id,
        next_id: 0,
        outage_failures: 0,
    };
    let mut evaluator = match catalog.get(app::evals::JUDGE_MODEL) {
        Some(judge) => Some(Evaluator::new(judge.clone())),
        None => {
            tracing::info!(
                judge = app::evals::JUDGE_MODEL,
                "the demo history has no evals: its judge is not in the catalog"
            );
            None
        }
    };
    let mut evaluated: Vec<Evaluated> = Vec::new();
    let mut rollups = Rollups::new(WRITER.into())
        .without_stored_rows()
        .minutes_from(end - MINUTE_ROWS_HOURS * HOUR_MS);
    let mut made = Made::default();
    let recent_from = end - RECENT_HOURS * HOUR_MS;
    let mut hour: Vec<RequestRecord> = Vec::new();
    let mut arrivals: Vec<(i64, usize)> = Vec::new();
    let mut minute = start;
    while minute < end {
        arrivals.clear();
        let cycle = daily_cycle(minute);
        for (i, set) in sets.iter().enumerate() {
            let rate = set.target.traffic.per_minute * cycle;
            let n = Poisson::new(rate).map_or(0.0, |p| p.sample(&mut sim.rng)) as usize;
            for _ in 0..n {
                arrivals.push((minute + sim.rng.random_range(0..MINUTE_MS), i));
            }
        }
        arrivals.sort_unstable();
        for &(at, i) in &arrivals {
            let before = hour.len();
            sim.request(&sets[i], at, &mut hour);
            let Some(evaluator) = evaluator.as_mut() else {
                continue;
            };
            // The request's last record is its answer, when it was answered.
            let Some(record) = hour[before..].last_mut().filter(|r| r.error_class.is_none()) else {
                continue;
            };
            let evaluating = std::time::Instant::now();
            if let Some(e) = evaluator.evaluate(&sets[i], record).await {
                let scores: Vec<(String, f64)> = e
                    .results
                    .iter()
                    .filter_map(|r| Some((r.metric.clone(), r.score?)))
                    .collect();
                let judged_at = sim.engine_time(record.at + JUDGED_AFTER_MS);
                sim.routing
                    .report_evals_at(sets[i].target.set.id, &record.model_id, &scores, judged_at);
                evaluated.push(e);
            }
            made.eval_ms += evaluating.elapsed().as_millis() as u64;
        }
        minute += MINUTE_MS;
        if (minute - start) % (REPLAN_MINUTES * MINUTE_MS) == 0 {
            sim.routing.replan_at(sim.engine_time(minute));
        }
        if (minute - start) % HOUR_MS == 0 || minute >= end {
            // A request's records may end past the hour (the retry's); they are in the hour's
            // batch all the same: the rollups bucket each by its own time.
            let writing = std::time::Instant::now();
            rollups.add(storage, &hour).await?;
            let outcomes: Vec<EvalOutcome> = evaluated.iter().flat_map(|e| e.results.iter().map(outcome)).collect();
            rollups.add_evals(storage, &outcomes).await?;
            made.evals += evaluated.len();
            let recent_evals: Vec<EvalResultRow> = evaluated
                .drain(..)
                .flat_map(|e| e.results)
                .filter(|r| r.request_at >= recent_from)
                .collect();
            // Before the hour's rollups: the last hour's rows say the history is complete.
            storage.insert_eval_results(&recent_evals).await?;
            rollups.write(storage).await?;
            made.write_ms += writing.elapsed().as_millis() as u64;
            made.requests += hour.len();
            made.recent.extend(hour.drain(..).filter(|r| r.at >= recent_from));
            made.recent_evals.extend(recent_evals);
        }
    }
    let (minute_rows, hour_rows) = rollups.rows_written();
    made.minute_rows = minute_rows;
    made.hour_rows = hour_rows;
    made.recent.sort_by_key(|r| r.at);
    made.recent_evals.sort_by_key(|r| r.scored_at);
    Ok(made)
}

/// One request's evals: a result per metric of its set.
struct Evaluated {
    results: Vec<EvalResultRow>,
}

/// How the rollups count a result.
fn outcome(r: &EvalResultRow) -> EvalOutcome {
    EvalOutcome {
        set_id: r.set_id,
        model_id: r.model_id.clone(),
        request_at: r.request_at,
        metric: r.metric.clone(),
        score: r.score,
        cost_usd: r.cost_usd,
    }
}

/// The history's evals: the judge and the draws that are theirs.
struct Evaluator {
    judge: InstantJudge,
    rng: StdRng,
    /// G-Eval's steps per criteria, made once (as the server keeps them).
    steps: HashMap<String, Vec<String>>,
}

impl Evaluator {
    fn new(judge: CatalogModel) -> Evaluator {
        let mut rng = StdRng::seed_from_u64(EVAL_SEED);
        Evaluator {
            judge: InstantJudge::new(judge, rng.random()),
            rng,
            steps: HashMap::default(),
        }
    }

    /// Draws the answered `record` of a request to `set` for evals and, if drawn, scores it:
    /// the record says it was sampled and what the judge charged.
    async fn evaluate(&mut self, set: &Simulated<'_>, record: &mut RequestRecord) -> Option<Evaluated> {
        let settings = &set.target.set.spec.evals;
        if settings.metrics.is_empty() || !crate::evals::drawn(settings, self.rng.random()) {
            return None;
        }
        let model = set.models.iter().find(|m| m.id == record.model_id)?;
        let prompts = set.target.traffic.prompts;
        let prompt = match prompts.len() {
            0 => "",
            n => prompts[self.rng.random_range(0..n)],
        };
        let quality = model.simulation.unwrap_or_default().quality;
        let words = usize::try_from(record.completion_tokens).unwrap_or(1);
        let output = answer::text(&Question::new(prompt, prompt), words, quality, &mut self.rng);
        let case = Case {
            input: prompt.to_string(),
            output,
        };
        let scored_at = record.at + JUDGED_AFTER_MS;
        let mut results = Vec::with_capacity(settings.metrics.len());
        for metric in &settings.metrics {
            let (score, reason, error, usage) = match self.score(metric, settings, &case).await {
                Ok(Scored { score, reason, usage }) => (Some(score.clamp(0.0, 1.0)), reason, None, usage),
                // As the worker records a failure for good (the instant judge never fails in a
                // way worth another try).
                Err(Failed { error, usage }) => (
                    None,
                    format!("Not scored: {error}"),
                    Some(error.class().to_string()),
                    usage,
                ),
            };
            results.push(EvalResultRow {
                request_id: record.request_id.clone(),
                set_id: set.target.set.id,
                account_id: record.account_id,
                model_id: record.model_id.clone(),
                metric: metric.clone(),
                score,
                reason,
                error,
                judge_model: self.judge.name().to_string(),
                judge_calls: i64::from(usage.calls),
                prompt_tokens: i64::try_from(usage.prompt_tokens).unwrap_or(i64::MAX),
                completion_tokens: i64::try_from(usage.completion_tokens).unwrap_or(i64::MAX),
                cost_usd: usage.cost_usd,
                request_at: record.at,
                scored_at,
                // The operator's default retention keeps no judged texts.
                input: None,
                output: None,
            });
        }
        record.eval_sampled = true;
        record.eval_cost_usd = results.iter().map(|r| r.cost_usd).sum();
        Some(Evaluated { results })
    }

    /// One metric's score; G-Eval's steps are made on first use and charged to that eval, as
    /// the worker does.
    async fn score(
        &mut self,
        metric: &str,
        settings: &app::model_set::EvalSettings,
        case: &Case,
    ) -> Result<Scored, Failed> {
        if metric != app::evals::G_EVAL {
            return metrics::score_named(metric, settings, &[], case, &self.judge).await;
        }
        let criteria = settings.criteria.trim();
        let mut usage = JudgeUsage::default();
        if !self.steps.contains_key(criteria) {
            let (steps, made) = metrics::g_eval_steps(criteria, &self.judge).await?;
            usage = made;
            self.steps.insert(criteria.to_string(), steps);
        }
        let steps = self.steps.get(criteria).map_or(&[][..], Vec::as_slice);
        let scored = metrics::score_named(metric, settings, steps, case, &self.judge).await;
        metrics::with_earlier_usage(scored, usage)
    }
}

/// Traffic relative to the day's mean at `at_ms`: lowest around 03:00 UTC, highest around
/// 15:00.
fn daily_cycle(at_ms: i64) -> f64 {
    let hour = (at_ms.rem_euclid(24 * HOUR_MS)) as f64 / HOUR_MS as f64;
    1.0 + DAILY_SWING * (std::f64::consts::TAU * (hour - 9.0) / 24.0).sin()
}

struct Simulation {
    routing: Routing,
    rng: StdRng,
    start: i64,
    account_id: i64,
    next_id: u64,
    /// Calls failed by the outage so far, to spread its timeouts among them.
    outage_failures: u64,
}

impl Simulation {
    /// Engine time of `at_ms`: seconds since the start of the week.
    fn engine_time(&self, at_ms: i64) -> f64 {
        (at_ms - self.start) as f64 / 1000.0
    }

    /// One request to `set` arriving at `at`, as the gateway serves it: a pick, and on a
    /// failure one retry on another model; a record per provider call.
    fn request(&mut self, set: &Simulated<'_>, at: i64, out: &mut Vec<RequestRecord>) {
        let mut tried: Option<&str> = None;
        let mut t = at;
        for _ in 0..2 {
            let remaining: Vec<&CatalogModel> = set
                .models
                .iter()
                .copied()
                .filter(|m| Some(m.id.as_str()) != tried)
                .collect();
            let u = self.rng.random();
            let Some(model) = self
                .routing
                .pick_at(&set.target.set, &remaining, self.engine_time(t), u)
            else {
                return;
            };
            tried = Some(&model.id);
            let record = self.call(set, model, t);
            if let Some(outcome) = Outcome::of(&record) {
                self.routing.report_at(&outcome, self.engine_time(record.at));
            }
            let ok = record.error_class.is_none();
            t = record.at;
            out.push(record);
            if ok {
                return;
            }
        }
    }

    /// One provider call starting at `at`, drawn as the simulator draws it.
    fn call(&mut self, set: &Simulated<'_>, model: &CatalogModel, at: i64) -> RequestRecord {
        let traffic = &set.target.traffic;
        let base = model.simulation.unwrap_or_default();
        let profile = SimulationProfile {
            output_tokens: base.output_tokens * traffic.output_scale,
            ..base
        };
        let mut draw = Draw::sample(&profile, &mut self.rng);
        let mut timeout = draw.ttft_ms > FIRST_TOKEN_TIMEOUT_MS;
        if in_outage(&model.provider, self.start, at) && self.rng.random_bool(OUTAGE_FAILURES) {
            draw.fails = true;
            timeout = self.outage_failures.is_multiple_of(OUTAGE_TIMEOUT_EVERY);
            self.outage_failures += 1;
        }
        self.next_id += 1;
        let mut record = RequestRecord {
            // Unique across histories (a set added later gets one of its own): eval results
            // are stored by request id.
            request_id: format!("demo-{:x}-{:x}", self.start / MINUTE_MS, self.next_id),
            at,
            account_id: self.account_id,
            api_key_id: None,
            model_set_id: Some(set.target.set.id),
            model_id: model.id.clone(),
            status: 200,
            error_class: None,
            latency_ms: 0.0,
            ttft_ms: None,
            output_tokens_per_s: None,
            prompt_tokens: 0,
            completion_tokens: 0,
            cost_usd: 0.0,
            eval_sampled: false,
            eval_cost_usd: 0.0,
        };
        // Failures are billed nothing and measured until they failed, as the gateway does.
        if timeout {
            record.status = 504;
            record.error_class = Some("timeout".into());
            record.latency_ms = FIRST_TOKEN_TIMEOUT_MS;
        } else if draw.fails {
            record.status = 500;
            record.error_class = Some("upstream_5xx".into());
            record.latency_ms = draw.ttft_ms;
        } else {
            let z: f64 = self.rng.sample(StandardNormal);
            let prompt = (traffic.prompt_tokens * (PROMPT_JITTER * z).exp()).round().max(1.0);
            let completion = f64::from(draw.output_tokens);
            let factor = price_factor(&model.id, self.start, at);
            record.latency_ms = draw.latency_ms();
            record.ttft_ms = Some(draw.ttft_ms);
            record.output_tokens_per_s = Some(draw.tokens_per_s);
            record.prompt_tokens = prompt as i64;
            record.completion_tokens = i64::from(draw.output_tokens);
            record.cost_usd =
                factor * (prompt * model.input_price_per_mtok + completion * model.output_price_per_mtok) / 1e6;
        }
        record.at = at + record.latency_ms.round() as i64;
        record
    }
}
