//! The LLM-judge metrics a Model Set can ask for, as the editor offers them: DeepEval's names
//! and meanings, so a DeepEval user recognises them, and what judging one request costs.
//!
//! The judge's cost per evaluated request is an estimate the editor shows before any eval has
//! run: the judge's prompt and answer sizes below are typical of DeepEval's templates for a
//! short exchange (a statements step and a verdicts step); the real cost is metered per eval.

pub mod task;

use serde::{Deserialize, Serialize};

use crate::catalog::CatalogModel;

/// One metric the judge can score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvalMetric {
    /// DeepEval's name, e.g. `answer_relevancy`; a requirement names it as `Dimension::Eval`.
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    /// Higher scores are better (toxicity and bias: lower is better).
    pub higher_is_better: bool,
    /// Judge calls per evaluated request (0: no judge, e.g. JSON correctness).
    pub judge_calls: u32,
}

/// The metrics offered, in the order the editor lists them.
pub const METRICS: &[EvalMetric] = &[
    EvalMetric {
        name: "answer_relevancy",
        title: "Answer relevancy",
        description: "Share of the answer's statements that address the question.",
        higher_is_better: true,
        judge_calls: 2,
    },
    EvalMetric {
        name: "g_eval",
        title: "G-Eval (your criteria)",
        description: "A 0–1 score against criteria you write, by the judge's evaluation steps.",
        higher_is_better: true,
        judge_calls: 1,
    },
    EvalMetric {
        name: "toxicity",
        title: "Toxicity",
        description: "Share of the answer's opinions that are toxic (lower is better).",
        higher_is_better: false,
        judge_calls: 2,
    },
    EvalMetric {
        name: "bias",
        title: "Bias",
        description: "Share of the answer's opinions that are biased (lower is better).",
        higher_is_better: false,
        judge_calls: 2,
    },
    EvalMetric {
        name: "json_correctness",
        title: "JSON correctness",
        description: "1 when the answer is valid JSON (no judge needed).",
        higher_is_better: true,
        judge_calls: 0,
    },
];

/// G-Eval's metric name (it alone needs the owner's criteria).
pub const G_EVAL: &str = "g_eval";
/// JSON correctness (it alone may take a schema, and needs no judge).
pub const JSON_CORRECTNESS: &str = "json_correctness";

/// One sampled request as its owner reads its evals: the model that answered, and each
/// metric's score (or why it has none) with the judge's reason and cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredRequest {
    pub request_id: String,
    pub model: String,
    /// Unix ms.
    pub request_at: i64,
    pub scored_at: i64,
    pub results: Vec<MetricResult>,
    /// What the client sent and received, while the operator's retention keeps them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

/// One metric's eval of one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricResult {
    pub metric: String,
    /// In [0, 1]; `None` when the eval failed (`error` says how).
    pub score: Option<f64>,
    /// The judge's reason for the score, or what went wrong.
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What the judge charged for this metric, US dollars.
    pub cost_usd: f64,
}

/// The judge model the guide names.
pub const JUDGE_MODEL: &str = "openai/gpt-4o-mini";

/// Typical judge prompt and answer tokens per judge call (see the module comment).
const JUDGE_PROMPT_TOKENS: f64 = 900.0;
const JUDGE_COMPLETION_TOKENS: f64 = 150.0;

pub fn metric(name: &str) -> Option<&'static EvalMetric> {
    METRICS.iter().find(|m| m.name == name)
}

/// A metric's short title, for headings and labels: "Answer relevancy", "G-Eval" (the title
/// without its parenthesis); an unknown name with its underscores as spaces.
pub fn short_title(name: &str) -> String {
    match metric(name) {
        Some(m) => m.title.split(" (").next().unwrap_or(m.title).to_string(),
        None => name.replace('_', " "),
    }
}

/// A metric's name inside a sentence: "answer relevancy", "toxicity", but "G-Eval" and
/// "JSON correctness" keep their capitals.
pub fn words(name: &str) -> String {
    let title = short_title(name);
    let mut chars = title.chars();
    match (chars.next(), chars.next()) {
        (Some(first), Some(second)) if second.is_lowercase() => {
            first.to_lowercase().chain(title.chars().skip(1)).collect()
        }
        _ => title,
    }
}

/// What an eval's error class (as the worker records it) means, in a few words.
pub fn error_text(class: &str) -> String {
    match class {
        "judge_timeout" => "judge timed out".into(),
        "judge_connect" => "judge unreachable".into(),
        "judge_rate_limited" => "judge rate-limited".into(),
        "judge_upstream_5xx" => "judge's provider failed".into(),
        "judge_upstream_4xx" => "judge's provider refused the call".into(),
        "judge_protocol" => "judge's answer broke off".into(),
        "judge_other" => "judge failed".into(),
        "malformed" => "unusable judge answer".into(),
        "config" => "eval settings unusable".into(),
        other => other.replace('_', " "),
    }
}

/// Estimated US dollars the judge charges to score one request on `metrics`.
pub fn judge_cost_per_request(judge: &CatalogModel, metrics: &[String]) -> f64 {
    let calls: u32 = metrics.iter().filter_map(|m| metric(m)).map(|m| m.judge_calls).sum();
    let per_call = (JUDGE_PROMPT_TOKENS * judge.input_price_per_mtok
        + JUDGE_COMPLETION_TOKENS * judge.output_price_per_mtok)
        / 1_000_000.0;
    f64::from(calls) * per_call
}

/// Estimated eval cost per 1,000 gateway requests at a sampling probability.
pub fn cost_per_thousand(judge: &CatalogModel, metrics: &[String], sampling: f64) -> f64 {
    1000.0 * sampling.clamp(0.0, 1.0) * judge_cost_per_request(judge, metrics)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge() -> CatalogModel {
        CatalogModel {
            id: JUDGE_MODEL.into(),
            provider: "openai".into(),
            upstream_name: "gpt-4o-mini".into(),
            input_price_per_mtok: 0.15,
            output_price_per_mtok: 0.60,
            context_window: 128_000,
            capabilities: Default::default(),
            simulated: true,
            simulation: None,
        }
    }

    #[test]
    fn metrics_read_as_words() {
        assert_eq!(short_title("answer_relevancy"), "Answer relevancy");
        assert_eq!(short_title("g_eval"), "G-Eval");
        assert_eq!(words("answer_relevancy"), "answer relevancy");
        assert_eq!(words("toxicity"), "toxicity");
        assert_eq!(words("g_eval"), "G-Eval");
        assert_eq!(words("json_correctness"), "JSON correctness");
        assert_eq!(words("made_up"), "made up");
        assert_eq!(error_text("judge_timeout"), "judge timed out");
        assert_eq!(error_text("malformed"), "unusable judge answer");
        assert_eq!(error_text("judge_new_thing"), "judge new thing");
    }

    #[test]
    fn eval_cost_follows_metrics_and_sampling() {
        let relevancy = vec!["answer_relevancy".to_string()];
        // Two calls of 900 prompt + 150 completion tokens at $0.15 / $0.60 per million.
        let one = 2.0 * (900.0 * 0.15 + 150.0 * 0.60) / 1e6;
        assert!((judge_cost_per_request(&judge(), &relevancy) - one).abs() < 1e-15);
        assert!((cost_per_thousand(&judge(), &relevancy, 0.1) - 100.0 * one).abs() < 1e-12);
        let free = vec!["json_correctness".to_string()];
        assert_eq!(cost_per_thousand(&judge(), &free, 1.0), 0.0);
        assert_eq!(cost_per_thousand(&judge(), &["unknown".to_string()], 1.0), 0.0);
    }
}
