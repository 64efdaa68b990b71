//! Evals: DeepEval's LLM-judge metrics on a sampled share of a set's requests, off the
//! request path and durable.
//! - [`judge`]: the judge as the metrics see it (one prompt in, an answer and its cost out);
//!   [`judge_call`]: the server's judge, a catalog model called through the providers.
//! - [`metrics`]: the metrics, following DeepEval's algorithms and score semantics.
//! - [`queue`]: sampled answers into `eval_jobs` rows; [`worker`]: the workers that score
//!   them, charge the judge's cost and feed routing and the rollups.
//!
//! A request to a set with metrics is drawn with the set's probability ([`drawn`]) when the
//! gateway picks its model; an answered request drawn is queued with what the client sent
//! and received.

pub mod judge;
pub mod judge_call;
pub mod metrics;
pub mod queue;
pub mod worker;

use std::sync::Arc;
use std::time::Duration;

use app::model_set::EvalSettings;
use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::catalog::Catalog;
use crate::clock::now_ms;
use crate::metrics::rollup::Rollups;
use crate::providers::Providers;
use crate::routing::Routing;
use crate::storage::{EvalResultRow, SharedStorage};
use app::evals::{MetricResult, ScoredRequest};
use queue::EvalSink;

/// The operator's settings (`[evals]` in the configuration).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvalConfig {
    /// false: nothing is sampled or judged.
    pub enabled: bool,
    /// The judge: a catalog model id.
    pub judge: String,
    /// Judges tried in order when the judge fails in a way another model may not.
    pub fallback_judges: Vec<String>,
    /// Evals judged at once by this server.
    pub workers: usize,
    /// Claims of one job before a judge failure is recorded as the eval's error.
    pub max_attempts: u32,
    /// A worker's hold on a job, renewed while it runs: a crashed server's jobs are taken
    /// up again this long after its last renewal.
    pub lease_secs: u64,
    /// The wait before a failed eval's second try, doubled for each further one.
    pub retry_after_secs: u64,
    /// One judge call's limit, milliseconds.
    pub judge_timeout_ms: u64,
    /// How long judged prompts and answers are kept beside their scores for the owner to
    /// read; 0 deletes them once scored.
    pub keep_texts_hours: u64,
}

impl Default for EvalConfig {
    fn default() -> Self {
        EvalConfig {
            enabled: true,
            judge: app::evals::JUDGE_MODEL.to_string(),
            fallback_judges: Vec::new(),
            workers: 4,
            max_attempts: 4,
            lease_secs: 60,
            retry_after_secs: 10,
            judge_timeout_ms: 60_000,
            keep_texts_hours: 0,
        }
    }
}

/// Whether a request is drawn for evals, given a uniform draw `u` in [0, 1): with the
/// settings' probability, when they name a metric.
pub fn drawn(settings: &EvalSettings, u: f64) -> bool {
    !settings.metrics.is_empty() && u < settings.sampling
}

/// The running evals: the sink the gateway queues into, and the tasks behind it.
pub struct Evals {
    pub sink: EvalSink,
    stop: watch::Sender<bool>,
    enqueuer: Option<JoinHandle<()>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Evals {
    /// Evals switched off: the gateway queues nothing.
    pub fn off() -> Evals {
        let (stop, _) = watch::channel(false);
        Evals {
            sink: EvalSink::closed(),
            stop,
            enqueuer: None,
            tasks: Vec::new(),
        }
    }

    /// Starts the enqueuer, the workers, the rollup writer and the housekeeping. A judge that
    /// is not in the catalog is left out (warned): with none, evals that need a judge are
    /// recorded as errors and the others (JSON correctness) still run.
    pub fn start(
        config: EvalConfig,
        storage: SharedStorage,
        catalog: &Catalog,
        providers: Arc<Providers>,
        routing: Arc<Routing>,
    ) -> Evals {
        if !config.enabled {
            return Evals::off();
        }
        let models: Vec<_> = std::iter::once(&config.judge)
            .chain(&config.fallback_judges)
            .filter_map(|id| {
                let model = catalog.get(id).cloned();
                if model.is_none() {
                    tracing::warn!(judge = %id, "evals: the judge is not in the catalog; it is left out");
                }
                model
            })
            .collect();
        let wake = Arc::new(Notify::new());
        let (sink, enqueuer) = queue::start(storage.clone(), wake.clone());
        let (stop, stopped) = watch::channel(false);
        let writer = format!("evals-{:012x}", rand::random::<u64>() >> 16);
        let shared = Arc::new(worker::Shared {
            judge: judge_call::ProviderJudge {
                models,
                providers,
                timeout_ms: config.judge_timeout_ms,
            },
            config: config.clone(),
            storage: storage.clone(),
            routing,
            rollups: tokio::sync::Mutex::new(Rollups::new(writer)),
            steps: Default::default(),
            wake,
        });
        let mut tasks: Vec<JoinHandle<()>> = (0..config.workers.max(1))
            .map(|_| tokio::spawn(worker::run(shared.clone(), stopped.clone())))
            .collect();
        tasks.push(tokio::spawn(worker::flush_rollups(shared.clone(), stopped.clone())));
        tasks.push(tokio::spawn(housekeeping(shared, stopped)));
        Evals {
            sink,
            stop,
            enqueuer: Some(enqueuer),
            tasks,
        }
    }

    /// Stops: what the gateway queued is stored first (the caller has dropped every sink
    /// but this one), then the workers stop; a job being judged is left to its lease and runs
    /// again after the restart.
    pub async fn finished(self) {
        let Evals {
            sink,
            stop,
            enqueuer,
            tasks,
        } = self;
        drop(sink);
        if let Some(enqueuer) = enqueuer {
            let _ = enqueuer.await;
        }
        let _ = stop.send(true);
        for task in tasks {
            let _ = task.await;
        }
    }
}

/// Every minute: tells the operator about a queue that waits or fails, and forgets judged
/// texts past their retention.
async fn housekeeping(shared: Arc<worker::Shared>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let now = now_ms();
        match shared.storage.eval_queue_stats(now, now - 3_600_000).await {
            Ok(stats) if stats.waiting + stats.running > 0 || stats.failed_since > 0 => {
                let oldest_s = stats.oldest_request_at.map_or(0, |at| (now - at) / 1000);
                tracing::info!(
                    waiting = stats.waiting,
                    running = stats.running,
                    retrying = stats.retrying,
                    oldest_s,
                    failed_last_hour = stats.failed_since,
                    "eval queue"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "reading the eval queue failed"),
        }
        if shared.config.keep_texts_hours > 0 {
            let hours = i64::try_from(shared.config.keep_texts_hours).unwrap_or(i64::MAX / 3_600_000);
            if let Err(e) = shared.storage.forget_eval_texts(now - hours * 3_600_000).await {
                tracing::warn!(error = %e, "forgetting judged texts failed");
            }
        }
    }
}

/// Results (newest first) grouped per request, the first `limit` requests.
pub fn scored_requests(rows: Vec<EvalResultRow>, limit: usize) -> Vec<ScoredRequest> {
    let mut out: Vec<ScoredRequest> = Vec::new();
    for r in rows {
        let result = MetricResult {
            metric: r.metric,
            score: r.score,
            reason: r.reason,
            error: r.error,
            cost_usd: r.cost_usd,
        };
        let known = out.iter().position(|s| s.request_id == r.request_id);
        match known {
            Some(i) => {
                let request = &mut out[i];
                request.results.push(result);
                request.scored_at = request.scored_at.max(r.scored_at);
            }
            None if out.len() < limit => out.push(ScoredRequest {
                request_id: r.request_id,
                model: r.model_id,
                request_at: r.request_at,
                scored_at: r.scored_at,
                results: vec![result],
                input: r.input,
                output: r.output,
            }),
            None => {}
        }
    }
    for request in &mut out {
        request.results.sort_by(|a, b| a.metric.cmp(&b.metric));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn sampling_holds_its_probability_within_the_binomial_bound() {
        let settings = EvalSettings {
            metrics: vec!["answer_relevancy".into()],
            sampling: 0.1,
            ..EvalSettings::default()
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(42);
        let n = 10_000;
        let count = (0..n).filter(|_| drawn(&settings, rng.random::<f64>())).count() as f64;
        // 4 standard deviations of Binomial(10,000, 0.1): 4 × 30.
        assert!((count - 1000.0).abs() <= 120.0, "{count} of {n}");
        let none = EvalSettings {
            metrics: Vec::new(),
            ..settings.clone()
        };
        assert!(!drawn_any(&none));
        assert!(!drawn(
            &EvalSettings {
                sampling: 0.0,
                ..settings
            },
            0.0
        ));
    }

    fn drawn_any(settings: &EvalSettings) -> bool {
        (0..100).any(|i| drawn(settings, f64::from(i) / 100.0))
    }
}
