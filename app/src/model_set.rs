//! Model Sets as data: candidate models plus the behaviour their owner asks for.
//!
//! The routing engine (a later piece of work) reads [`ModelSetSpec`]; storage keeps it
//! as one JSON document so that adding a dimension needs no migration.

use serde::{Deserialize, Serialize};

/// A behaviour dimension the gateway measures for every request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "metric")]
pub enum Dimension {
    /// US dollars per request.
    Cost,
    /// Whole-request latency, milliseconds.
    Latency,
    /// Time to first token, milliseconds.
    Ttft,
    /// Output tokens per second.
    Throughput,
    /// Share of requests that failed, 0..1.
    ErrorRate,
    /// An LLM-judge eval score, 0..1, named by its metric.
    Eval(String),
}

/// Which statistic of a dimension a requirement constrains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Statistic {
    Mean,
    P50,
    P90,
    P99,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Comparator {
    #[serde(rename = "<=")]
    AtMost,
    #[serde(rename = ">=")]
    AtLeast,
}

/// "The set's `statistic` of `dimension` must be `comparator` `target`".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Requirement {
    pub dimension: Dimension,
    pub statistic: Statistic,
    pub comparator: Comparator,
    pub target: f64,
}

/// What to optimise once every requirement holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "goal", content = "dimension")]
pub enum Objective {
    Minimize(Dimension),
    Maximize(Dimension),
}

impl Default for Objective {
    fn default() -> Self {
        Objective::Minimize(Dimension::Cost)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalSettings {
    /// Judge metrics to run, e.g. "answer_relevancy".
    #[serde(default)]
    pub metrics: Vec<String>,
    /// Probability that a request is evaluated.
    #[serde(default = "default_sampling")]
    pub sampling: f64,
}

fn default_sampling() -> f64 {
    0.1
}

impl Default for EvalSettings {
    fn default() -> Self {
        EvalSettings {
            metrics: Vec::new(),
            sampling: default_sampling(),
        }
    }
}

/// The editable configuration of a set.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ModelSetSpec {
    /// Catalog ids (`provider/model`).
    pub models: Vec<String>,
    #[serde(default)]
    pub requirements: Vec<Requirement>,
    #[serde(default)]
    pub objective: Objective,
    #[serde(default)]
    pub evals: EvalSettings,
}

/// A deployed set, addressed as `@owner/slug`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSet {
    pub id: i64,
    pub owner: String,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub categories: Vec<String>,
    pub tags: Vec<String>,
    pub spec: ModelSetSpec,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ModelSet {
    /// The name applications put in `"model"`.
    pub fn address(&self) -> String {
        format!("@{}/{}", self.owner, self.slug)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_round_trips_through_json() {
        let spec = ModelSetSpec {
            models: vec!["openai/gpt-4o-mini".into()],
            requirements: vec![Requirement {
                dimension: Dimension::Latency,
                statistic: Statistic::P90,
                comparator: Comparator::AtMost,
                target: 1500.0,
            }],
            objective: Objective::Maximize(Dimension::Eval("answer_relevancy".into())),
            evals: EvalSettings::default(),
        };
        let json = serde_json::to_string(&spec).expect("serialize");
        assert!(json.contains(r#""comparator":"<=""#), "{json}");
        let back: ModelSetSpec = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, spec);
    }

    #[test]
    fn eval_sampling_defaults_to_one_in_ten() {
        let spec: ModelSetSpec = serde_json::from_str(r#"{"models":[]}"#).expect("parse");
        assert_eq!(spec.evals.sampling, 0.1);
        assert_eq!(spec.objective, Objective::Minimize(Dimension::Cost));
    }
}
