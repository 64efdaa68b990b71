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
//! Only rollups are stored (per hour for the week, per minute for the last
//! [`MINUTE_ROWS_HOURS`] hours), under the writer id [`WRITER`]; no request records.
//! A seeded RNG makes the history the same for the same sets, catalog and end time.

use app::catalog::{CatalogModel, SimulationProfile};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Poisson, StandardNormal};

use super::Target;
use crate::catalog::Catalog;
use crate::metrics::rollup::{minute_of, Rollups};
use crate::providers::simulated::Draw;
use crate::routing::{Outcome, Routing};
use crate::storage::{RequestRecord, SharedStorage, StorageResult};

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
/// Share of the provider's calls that fail during the outage; of those, this share hang
/// until the first-token timeout and the rest answer 500.
const OUTAGE_FAILURES: f64 = 0.85;
const OUTAGE_TIMEOUT_SHARE: f64 = 0.25;

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
    };
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
            sim.request(&sets[i], at, &mut hour);
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
            rollups.write(storage).await?;
            made.write_ms += writing.elapsed().as_millis() as u64;
            made.requests += hour.len();
            made.recent.extend(hour.drain(..).filter(|r| r.at >= recent_from));
        }
    }
    let (minute_rows, hour_rows) = rollups.rows_written();
    made.minute_rows = minute_rows;
    made.hour_rows = hour_rows;
    made.recent.sort_by_key(|r| r.at);
    Ok(made)
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
            timeout = self.rng.random_bool(OUTAGE_TIMEOUT_SHARE);
        }
        self.next_id += 1;
        let mut record = RequestRecord {
            request_id: format!("demo-{:x}", self.next_id),
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
