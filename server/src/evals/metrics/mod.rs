//! The LLM-judge metrics, in Rust, after DeepEval's published algorithms (its
//! `deepeval/metrics/*` sources): the same steps, the same JSON shapes from the judge and the
//! same arithmetic on them, with prompts of our own that follow the task-and-blocks contract
//! of [`app::evals::task`].
//!
//! - [`score`] scores one [`Case`] on one [`MetricSpec`]; [`g_eval_steps`] makes G-Eval's
//!   evaluation steps once per criteria.
//! - `ask`: the ask-parse-check helper with its single retry on a malformed reply.
//! - One file per metric: `answer_relevancy`, `toxicity` and `bias` (their shared
//!   opinions-then-verdicts flow in `opinions`), `g_eval`, `json_correctness`.
//!
//! The reasons are composed here from the judge's verdicts instead of DeepEval's extra
//! "reason" call: two judge calls per case instead of three for answer relevancy, toxicity
//! and bias (the editor's cost estimate, `app::evals::METRICS`, counts two).
//!
//! DeepEval sources followed: `answer_relevancy/answer_relevancy.py` (`_calculate_score`),
//! `toxicity/toxicity.py` and `bias/bias.py` (`_calculate_score`), `g_eval/g_eval.py` (the
//! normalisation of the score) with `g_eval/utils.py` (`calculate_weighted_summed_score`,
//! `get_score_range`, `normalize_score`), `json_correctness/json_correctness.py`, and
//! `metrics/utils.py` (`trimAndLoadJson`) for reading the judge's JSON; their `template.py`
//! and `schema.py` for what each step asks and the JSON shapes.

mod answer_relevancy;
mod ask;
mod bias;
mod g_eval;
mod json_correctness;
mod opinions;
#[cfg(test)]
mod testing;
mod toxicity;

pub use g_eval::g_eval_steps;

use app::model_set::EvalSettings;

use crate::evals::judge::{Judge, JudgeError, JudgeUsage};

/// What an eval judges: what the client sent (rendered as text) and the answer it received.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub input: String,
    pub output: String,
}

/// A metric's score for one case.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// In [0, 1]. Toxicity and bias: lower is better; the others: higher is better.
    pub score: f64,
    /// Why, in a sentence or two.
    pub reason: String,
    /// The judge calls it took (zero for JSON correctness).
    pub usage: JudgeUsage,
}

/// A case that could not be scored.
#[derive(Debug, Clone, PartialEq)]
pub struct Failed {
    pub error: EvalError,
    /// What the calls made before failing cost.
    pub usage: JudgeUsage,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// The judge's provider failed (after the provider layer's own fallback).
    #[error(transparent)]
    Judge(#[from] JudgeError),
    /// The judge answered unusable JSON twice in a row for `task`.
    #[error("the judge's {task} answer was unusable twice: {detail}")]
    Malformed { task: &'static str, detail: String },
    /// The metric cannot run as configured (an invalid JSON Schema, empty G-Eval criteria…).
    #[error("{0}")]
    Config(String),
}

impl EvalError {
    /// A short class for the eval's record: `judge_` and the provider's failure class
    /// (`judge_timeout`, `judge_upstream_5xx`, …), `malformed` or `config`.
    pub fn class(&self) -> &'static str {
        match self {
            // The provider classes of `ProviderError::class`; the judge's error carries them
            // as a string, and a record's class is static.
            EvalError::Judge(e) => match e.class.as_str() {
                "connect" => "judge_connect",
                "timeout" => "judge_timeout",
                "rate_limited" => "judge_rate_limited",
                "upstream_5xx" => "judge_upstream_5xx",
                "upstream_4xx" => "judge_upstream_4xx",
                "protocol" => "judge_protocol",
                _ => "judge_other",
            },
            EvalError::Malformed { .. } => "malformed",
            EvalError::Config(_) => "config",
        }
    }
}

/// A metric with what it needs beyond the case.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MetricSpec<'a> {
    AnswerRelevancy,
    Toxicity,
    Bias,
    /// `steps`: from [`g_eval_steps`] for these criteria.
    GEval {
        criteria: &'a str,
        steps: &'a [String],
    },
    /// `schema`: a JSON Schema the answer must satisfy, if the owner gave one.
    JsonCorrectness {
        schema: Option<&'a serde_json::Value>,
    },
}

impl MetricSpec<'_> {
    /// DeepEval's name, as `app::evals::METRICS` lists it.
    pub fn name(&self) -> &'static str {
        match self {
            MetricSpec::AnswerRelevancy => "answer_relevancy",
            MetricSpec::Toxicity => "toxicity",
            MetricSpec::Bias => "bias",
            MetricSpec::GEval { .. } => app::evals::G_EVAL,
            MetricSpec::JsonCorrectness { .. } => app::evals::JSON_CORRECTNESS,
        }
    }
}

/// A metric's outcome before the usage is attached.
struct Measured {
    score: f64,
    reason: String,
}

/// `result` with `earlier` calls counted in its usage (G-Eval's steps, made for this eval).
pub fn with_earlier_usage(result: Result<Scored, Failed>, earlier: JudgeUsage) -> Result<Scored, Failed> {
    let mut usage = earlier;
    match result {
        Ok(mut scored) => {
            usage.add(scored.usage);
            scored.usage = usage;
            Ok(scored)
        }
        Err(mut failed) => {
            usage.add(failed.usage);
            failed.usage = usage;
            Err(failed)
        }
    }
}

/// Scores `case` on `metric`.
pub async fn score(metric: &MetricSpec<'_>, case: &Case, judge: &dyn Judge) -> Result<Scored, Failed> {
    let mut usage = JudgeUsage::default();
    let outcome = match *metric {
        MetricSpec::AnswerRelevancy => answer_relevancy::measure(case, judge, &mut usage).await,
        MetricSpec::Toxicity => opinions::measure(&toxicity::TOXICITY, case, judge, &mut usage).await,
        MetricSpec::Bias => opinions::measure(&bias::BIAS, case, judge, &mut usage).await,
        MetricSpec::GEval { criteria, steps } => g_eval::measure(criteria, steps, case, judge, &mut usage).await,
        MetricSpec::JsonCorrectness { schema } => json_correctness::measure(&case.output, schema),
    };
    match outcome {
        Ok(Measured { score, reason }) => {
            debug_assert!((0.0..=1.0).contains(&score), "{} scored {score}", metric.name());
            Ok(Scored { score, reason, usage })
        }
        Err(error) => Err(Failed { error, usage }),
    }
}

/// Scores `case` on the metric `name` (as a set's `EvalSettings::metrics` names it) with what
/// the settings give it: the JSON Schema, and G-Eval's criteria with `steps`, the steps made
/// for them by [`g_eval_steps`] (the caller keeps those; other metrics ignore `steps`).
pub async fn score_named(
    name: &str,
    settings: &EvalSettings,
    steps: &[String],
    case: &Case,
    judge: &dyn Judge,
) -> Result<Scored, Failed> {
    let config = |message: String| Failed {
        error: EvalError::Config(message),
        usage: JudgeUsage::default(),
    };
    match name {
        "answer_relevancy" => score(&MetricSpec::AnswerRelevancy, case, judge).await,
        "toxicity" => score(&MetricSpec::Toxicity, case, judge).await,
        "bias" => score(&MetricSpec::Bias, case, judge).await,
        app::evals::JSON_CORRECTNESS => {
            let schema = match settings.json_schema.trim() {
                "" => None,
                text => Some(serde_json::from_str(text).map_err(|e| config(format!("the JSON Schema: {e}")))?),
            };
            let spec = MetricSpec::JsonCorrectness {
                schema: schema.as_ref(),
            };
            score(&spec, case, judge).await
        }
        app::evals::G_EVAL => {
            let spec = MetricSpec::GEval {
                criteria: settings.criteria.trim(),
                steps,
            };
            score(&spec, case, judge).await
        }
        other => Err(config(format!("unknown metric {other:?}"))),
    }
}

/// A list as the blocks carry it: a JSON array of strings.
fn json_list(items: &[String]) -> String {
    // Serialising strings cannot fail; the fallback keeps the code free of unwraps.
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

/// `"text"`, cut to a length a reason can carry.
fn quoted(text: &str) -> String {
    format!("\"{}\"", ask::shorten(text, 100))
}

/// `"a" (why); "b"` for the first few items a reason names, and how many more there were.
fn listed(items: &[(&str, Option<&str>)]) -> String {
    const NAMED: usize = 3;
    let mut parts: Vec<String> = items
        .iter()
        .take(NAMED)
        .map(
            |(text, why)| match why.map(|w| w.trim().trim_end_matches('.')).filter(|w| !w.is_empty()) {
                Some(why) => format!("{} ({})", quoted(text), ask::shorten(why, 160)),
                None => quoted(text),
            },
        )
        .collect();
    if items.len() > NAMED {
        parts.push(format!("and {} more", items.len() - NAMED));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use app::evals::task::{Statements, Verdict, Verdicts};

    use super::ask::{check_verdicts, parse};
    use super::testing::{case, judge_error, reply, usage_of, Scripted};
    use super::*;

    #[test]
    fn names_are_the_products_metrics() {
        let schema = serde_json::json!({});
        let specs = [
            MetricSpec::AnswerRelevancy,
            MetricSpec::GEval {
                criteria: "c",
                steps: &[],
            },
            MetricSpec::Toxicity,
            MetricSpec::Bias,
            MetricSpec::JsonCorrectness { schema: Some(&schema) },
        ];
        let names: Vec<&str> = specs.iter().map(MetricSpec::name).collect();
        let offered: Vec<&str> = app::evals::METRICS.iter().map(|m| m.name).collect();
        assert_eq!(names, offered);
    }

    #[test]
    fn error_classes() {
        let judge = |class: &str| {
            EvalError::Judge(JudgeError {
                class: class.into(),
                message: String::new(),
                usage: JudgeUsage::default(),
            })
        };
        assert_eq!(judge("timeout").class(), "judge_timeout");
        assert_eq!(judge("rate_limited").class(), "judge_rate_limited");
        assert_eq!(judge("upstream_4xx").class(), "judge_upstream_4xx");
        assert_eq!(judge("something new").class(), "judge_other");
        let malformed = EvalError::Malformed {
            task: "statements",
            detail: "x".into(),
        };
        assert_eq!(malformed.class(), "malformed");
        assert_eq!(EvalError::Config("x".into()).class(), "config");
    }

    /// A fence and prose around the object do not matter: the outermost `{…}` is read.
    #[test]
    fn json_is_found_in_fences_and_prose() {
        let text = "Sure! Here is the JSON:\n```json\n{\"statements\": [\"a {b}\", \"c\"]}\n```\nHope it helps.";
        let parsed: Statements = parse(text).expect("parsed");
        assert_eq!(parsed.statements, ["a {b}", "c"]);
        // A trailing comma is forgiven, as DeepEval's `trimAndLoadJson` does; one inside a
        // string is kept.
        let parsed: Statements = parse("{\"statements\": [\"a, ]\", \"b \\\" ,}\",],\n}").expect("parsed");
        assert_eq!(parsed.statements, ["a, ]", "b \" ,}"]);
        assert!(parse::<Statements>("no JSON here").is_err());
        assert!(parse::<Statements>("} {").is_err());
        assert!(parse::<Statements>("{\"opinions\": []}").is_err());
    }

    #[test]
    fn verdicts_are_normalised_and_counted() {
        let verdict = |v: &str| Verdict {
            verdict: v.into(),
            reason: None,
        };
        let mut verdicts = Verdicts {
            verdicts: vec![verdict(" YES"), verdict("Idk\n")],
        };
        check_verdicts(&mut verdicts, 2, &["yes", "no", "idk"]).expect("valid");
        assert_eq!(verdicts.verdicts[0].verdict, "yes");
        assert_eq!(verdicts.verdicts[1].verdict, "idk");
        assert!(check_verdicts(&mut verdicts, 3, &["yes", "no", "idk"]).is_err());
        assert!(check_verdicts(&mut verdicts, 2, &["yes", "no"]).is_err());
    }

    /// Malformed once, then good: scored, with the usage of both calls on that step.
    #[tokio::test]
    async fn malformed_once_then_good_is_scored() {
        let judge = Scripted::new(vec![reply("The statements are: a, b."), reply(r#"{"statements": []}"#)]);
        let scored = score(&MetricSpec::AnswerRelevancy, &case(), &judge)
            .await
            .expect("scored");
        assert_eq!(scored.score, 1.0);
        assert_eq!(scored.usage, usage_of(2));
        let prompts = judge.prompts();
        assert!(prompts[1]
            .0
            .contains("Your previous reply could not be used (no JSON object in the reply)"));
    }

    /// Malformed twice: `Malformed`, with both calls' usage, and no third call.
    #[tokio::test]
    async fn malformed_twice_fails() {
        let judge = Scripted::new(vec![reply("{\"statements\": \"a\"}"), reply("{not json}")]);
        let failed = score(&MetricSpec::Toxicity, &case(), &judge)
            .await
            .expect_err("malformed");
        assert!(
            matches!(&failed.error, EvalError::Malformed { task: "opinions", .. }),
            "{:?}",
            failed.error
        );
        assert_eq!(failed.usage, usage_of(2));
        assert_eq!(judge.prompts().len(), 2);
    }

    /// A judge failure on the first call: at once, counted as one call.
    #[tokio::test]
    async fn judge_error_is_returned_with_usage() {
        let judge = Scripted::new(vec![judge_error("timeout")]);
        let failed = score(&MetricSpec::Bias, &case(), &judge).await.expect_err("judge");
        assert_eq!(failed.error.class(), "judge_timeout");
        assert_eq!(failed.usage.calls, 1);
        assert_eq!(judge.prompts().len(), 1);
    }

    /// The worker runs evals on spawned tasks.
    #[test]
    fn scoring_is_send() {
        fn send<T: Send>(_: &T) {}
        let judge = Scripted::new(vec![]);
        let case = case();
        let future = score(&MetricSpec::AnswerRelevancy, &case, &judge);
        send(&future);
        let steps = g_eval_steps("c", &judge);
        send(&steps);
    }
}
