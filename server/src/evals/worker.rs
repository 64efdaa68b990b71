//! The workers: each claims one due job at a time (a lease in the database, renewed while it
//! runs), scores its metrics with the judge, and finishes it in one transaction — results,
//! the judge's cost on the request's record, and the job deleted or rescheduled — only while
//! it still holds the lease. Then, and only then, the scores reach routing and the rollups,
//! so a job another worker took over (after this one stalled past its lease) is neither
//! stored nor counted twice.
//!
//! Failures: a judge that fails (timeout, 5xx, connection) leaves the metric for another try
//! after a backoff, up to `max_attempts` claims; answers that are not the JSON asked for
//! twice in a row, a bad configuration, or the last failed try are recorded as the metric's
//! error. A worker that crashes leaves its lease to run out; the job is then claimed again.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::model_set::EvalSettings;
use sha2::{Digest, Sha256};
use tokio::sync::{watch, Notify};

use super::judge_call::ProviderJudge;
use super::metrics::{self, Case, EvalError, Failed, Scored};
use super::EvalConfig;
use crate::clock::now_ms;
use crate::metrics::rollup::{EvalOutcome, Rollups};
use crate::routing::Routing;
use crate::storage::{EvalJob, EvalResultRow, JobNext, SharedStorage};

/// How often an idle worker looks for due jobs when nothing woke it (retries come due, and
/// other replicas queue jobs).
const POLL: Duration = Duration::from_secs(1);

/// What the workers share.
pub struct Shared {
    pub config: EvalConfig,
    pub storage: SharedStorage,
    pub judge: ProviderJudge,
    pub routing: Arc<Routing>,
    /// The evals' own rollup rows (a writer id of their own), written by [`flush_rollups`].
    pub rollups: tokio::sync::Mutex<Rollups>,
    /// G-Eval steps by criteria hash, as generated or read back.
    pub steps: Mutex<std::collections::HashMap<String, Vec<String>>>,
    pub wake: Arc<Notify>,
}

/// One worker, until `stop` turns true. A job in progress at the stop is left to its lease.
pub async fn run(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let token = format!("{:016x}", rand::random::<u64>());
    loop {
        if *stop.borrow() {
            return;
        }
        let now = now_ms();
        let lease = now + lease_ms(&shared.config);
        let claimed = match shared.storage.claim_eval_jobs(now, lease, &token, 1).await {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::warn!(error = %e, "claiming evals failed");
                Vec::new()
            }
        };
        let Some(job) = claimed.into_iter().next() else {
            tokio::select! {
                _ = shared.wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = stop.changed() => {}
            }
            continue;
        };
        tokio::select! {
            _ = run_job(&shared, &token, job) => {}
            _ = stop.changed() => return,
        }
    }
}

fn lease_ms(config: &EvalConfig) -> i64 {
    i64::try_from(config.lease_secs.saturating_mul(1000)).unwrap_or(i64::MAX / 2)
}

/// Scores the job while renewing its lease, then finishes it.
async fn run_job(shared: &Shared, token: &str, job: EvalJob) {
    let every = Duration::from_millis(u64::try_from(lease_ms(&shared.config) / 3).unwrap_or(1000).max(100));
    let renew = async {
        loop {
            tokio::time::sleep(every).await;
            let until = now_ms() + lease_ms(&shared.config);
            match shared.storage.renew_eval_lease(job.id, token, until).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(job = job.id, "an eval's lease was lost; another worker has it");
                    return;
                }
                Err(e) => tracing::warn!(error = %e, job = job.id, "renewing an eval's lease failed"),
            }
        }
    };
    let work = score_job(shared, &job);
    let outcome = tokio::select! {
        outcome = work => outcome,
        // A lost lease: stop paying the judge for a job another worker runs.
        _ = renew => return,
    };
    let (results, next) = outcome;
    match shared.storage.finish_eval_job(job.id, token, &results, &next).await {
        Ok(true) => counted(shared, &results).await,
        Ok(false) => tracing::warn!(job = job.id, "an eval finished after its lease was lost; not stored"),
        Err(e) => tracing::warn!(error = %e, job = job.id, "storing an eval failed; it runs again"),
    }
}

/// Routing learns the scores; the rollups count scores, failures and the judge's cost.
async fn counted(shared: &Shared, results: &[EvalResultRow]) {
    let Some(first) = results.first() else {
        return;
    };
    let scores: Vec<(String, f64)> = results
        .iter()
        .filter_map(|r| Some((r.metric.clone(), r.score?)))
        .collect();
    shared.routing.report_evals(first.set_id, &first.model_id, &scores);
    let outcomes: Vec<EvalOutcome> = results
        .iter()
        .map(|r| EvalOutcome {
            set_id: r.set_id,
            model_id: r.model_id.clone(),
            request_at: r.request_at,
            metric: r.metric.clone(),
            score: r.score,
            cost_usd: r.cost_usd,
        })
        .collect();
    let mut rollups = shared.rollups.lock().await;
    if let Err(e) = rollups.add_evals(&shared.storage, &outcomes).await {
        tracing::warn!(error = %e, "counting evals in the rollups failed; the results are stored");
    }
}

/// Writes the evals' rollups every second while they change; returns at `stop`, after a last
/// write.
pub async fn flush_rollups(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        let stopping = tokio::select! {
            _ = tick.tick() => false,
            _ = stop.changed() => true,
        };
        let mut rollups = shared.rollups.lock().await;
        if rollups.is_dirty() {
            if let Err(e) = rollups.write(&shared.storage).await {
                tracing::warn!(error = %e, "storing eval rollups failed; retrying");
            }
        }
        if stopping || *stop.borrow() {
            return;
        }
    }
}

/// Each metric's result, and what becomes of the job.
async fn score_job(shared: &Shared, job: &EvalJob) -> (Vec<EvalResultRow>, JobNext) {
    let settings: Result<EvalSettings, _> = serde_json::from_str(&job.job.settings);
    let case = Case {
        input: job.job.input.clone(),
        output: job.job.output.clone(),
    };
    let keep_texts = shared.config.keep_texts_hours > 0;
    let mut results = Vec::new();
    let mut again = Vec::new();
    let mut last_error = String::new();
    for metric in &job.job.metrics {
        let outcome = match &settings {
            Ok(settings) => score_metric(shared, metric, settings, &case).await,
            Err(e) => Err(Failed {
                error: EvalError::Config(format!("stored settings do not read: {e}")),
                usage: Default::default(),
            }),
        };
        let row = |score: Option<f64>, reason: String, error: Option<String>, usage: super::judge::JudgeUsage| {
            EvalResultRow {
                request_id: job.job.request_id.clone(),
                set_id: job.job.set_id,
                account_id: job.job.account_id,
                model_id: job.job.model_id.clone(),
                metric: metric.clone(),
                score,
                reason,
                error,
                judge_model: shared.judge.name().to_string(),
                judge_calls: i64::from(usage.calls),
                prompt_tokens: i64::try_from(usage.prompt_tokens).unwrap_or(i64::MAX),
                completion_tokens: i64::try_from(usage.completion_tokens).unwrap_or(i64::MAX),
                cost_usd: usage.cost_usd,
                request_at: job.job.request_at,
                scored_at: now_ms(),
                input: keep_texts.then(|| job.job.input.clone()),
                output: keep_texts.then(|| job.job.output.clone()),
            }
        };
        match outcome {
            Ok(Scored { score, reason, usage }) => results.push(row(Some(score.clamp(0.0, 1.0)), reason, None, usage)),
            Err(Failed { error, usage }) => {
                let retryable = matches!(error, EvalError::Judge(_));
                tracing::warn!(metric = %metric, class = error.class(), attempt = job.attempts, "an eval failed");
                if retryable && job.attempts < i64::from(shared.config.max_attempts) {
                    last_error = error.to_string();
                    again.push(metric.clone());
                } else {
                    let reason = format!("Not scored: {error}");
                    results.push(row(None, reason, Some(error.class().to_string()), usage));
                }
            }
        }
    }
    let next = if again.is_empty() {
        JobNext::Done
    } else {
        JobNext::Retry {
            metrics: again,
            run_after: now_ms() + backoff_ms(&shared.config, job.attempts),
            error: last_error,
        }
    };
    (results, next)
}

/// The wait before try `attempts + 1`: the configured first wait, doubled per try, at most an hour.
fn backoff_ms(config: &EvalConfig, attempts: i64) -> i64 {
    let first = i64::try_from(config.retry_after_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    first.saturating_mul(1_i64 << doublings).min(3_600_000)
}

async fn score_metric(shared: &Shared, metric: &str, settings: &EvalSettings, case: &Case) -> Result<Scored, Failed> {
    if metric != app::evals::G_EVAL {
        return metrics::score_named(metric, settings, &[], case, &shared.judge).await;
    }
    // G-Eval's steps are made once per criteria and kept; making them is charged to the eval
    // that needed them.
    let (steps, usage) = steps_for(shared, settings.criteria.trim()).await?;
    let scored = metrics::score_named(metric, settings, &steps, case, &shared.judge).await;
    metrics::with_earlier_usage(scored, usage)
}

/// G-Eval's steps for `criteria`: remembered, stored, or generated now (and stored), with
/// what generating them cost.
async fn steps_for(shared: &Shared, criteria: &str) -> Result<(Vec<String>, super::judge::JudgeUsage), Failed> {
    let hash = format!("{:x}", Sha256::digest(criteria.as_bytes()));
    let remembered = shared
        .steps
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&hash)
        .cloned();
    if let Some(steps) = remembered {
        return Ok((steps, Default::default()));
    }
    let stored = match shared.storage.g_eval_steps(&hash).await {
        Ok(stored) => stored.and_then(|text| serde_json::from_str::<Vec<String>>(&text).ok()),
        Err(e) => {
            tracing::warn!(error = %e, "reading G-Eval steps failed; generating them");
            None
        }
    };
    let (steps, usage) = match stored {
        Some(steps) => (steps, Default::default()),
        None => {
            let (steps, usage) = metrics::g_eval_steps(criteria, &shared.judge).await?;
            match serde_json::to_string(&steps) {
                Ok(text) => {
                    if let Err(e) = shared.storage.put_g_eval_steps(&hash, &text, now_ms()).await {
                        tracing::warn!(error = %e, "storing G-Eval steps failed");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "G-Eval steps do not serialise"),
            }
            (steps, usage)
        }
    };
    shared
        .steps
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(hash, steps.clone());
    Ok((steps, usage))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_by_doubling_up_to_an_hour() {
        let config = EvalConfig::default();
        let first = i64::try_from(config.retry_after_secs * 1000).expect("ms");
        assert_eq!(backoff_ms(&config, 1), first);
        assert_eq!(backoff_ms(&config, 2), 2 * first);
        assert_eq!(backoff_ms(&config, 4), 8 * first);
        assert_eq!(backoff_ms(&config, 60), 3_600_000);
    }
}
