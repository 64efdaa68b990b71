//! G-Eval, as DeepEval's `GEval`: the judge turns the owner's criteria into a few evaluation
//! steps (once per criteria: [`g_eval_steps`]), then scores each answer 0–10 by the criteria
//! and steps. When the provider returns token logprobs, the score is the probability-weighted
//! mean of the integer scores the judge considered at the score's place (DeepEval's
//! `calculate_weighted_summed_score`), which turns a coarse integer into a finer one.
//!
//! The scale is DeepEval's default, 0 to 10 (`get_score_range` without a rubric), and the
//! score is normalised as DeepEval does it, `(score − 0) / 10`, clamped to [0, 1] (its
//! `normalize_score`). The product's wording "1–10" is loose: we follow DeepEval, so a 0 means
//! "does not meet the criteria at all" and maps to 0.

use app::evals::task::{block, tag, task_line, GEvalScore, Steps, Task};

use super::ask::{ask_json, drop_blank};
use super::{json_list, Case, EvalError, Failed, Measured};
use crate::evals::judge::{Judge, JudgeUsage, TokenLogprob};

/// DeepEval's scale without a rubric.
const SCORE_MIN: f64 = 0.0;
const SCORE_MAX: f64 = 10.0;

/// DeepEval drops alternatives below 1% probability (`logprob < ln 0.01`) from the weighting.
const MIN_PROBABILITY: f64 = 0.01;

/// G-Eval's evaluation steps for `criteria` (one judge call; the caller keeps them per
/// criteria).
pub async fn g_eval_steps(criteria: &str, judge: &dyn Judge) -> Result<(Vec<String>, JudgeUsage), Failed> {
    let mut usage = JudgeUsage::default();
    match steps(criteria, judge, &mut usage).await {
        Ok(steps) => Ok((steps, usage)),
        Err(error) => Err(Failed { error, usage }),
    }
}

async fn steps(criteria: &str, judge: &dyn Judge, usage: &mut JudgeUsage) -> Result<Vec<String>, EvalError> {
    let criteria = criteria_of(criteria)?;
    let answer = ask_json::<Steps, _>(judge, Task::GEvalSteps, &steps_prompt(criteria), false, usage, |s| {
        drop_blank(&mut s.steps);
        if s.steps.is_empty() {
            return Err("no evaluation steps".into());
        }
        Ok(())
    })
    .await?;
    Ok(answer.value.steps.into_iter().map(|s| s.trim().to_string()).collect())
}

pub(super) async fn measure(
    criteria: &str,
    steps: &[String],
    case: &Case,
    judge: &dyn Judge,
    usage: &mut JudgeUsage,
) -> Result<Measured, EvalError> {
    let criteria = criteria_of(criteria)?;
    if steps.iter().all(|s| s.trim().is_empty()) {
        return Err(EvalError::Config(
            "G-Eval needs evaluation steps for its criteria".into(),
        ));
    }
    let answer = ask_json::<GEvalScore, _>(
        judge,
        Task::GEvalScore,
        &score_prompt(criteria, steps, case),
        true,
        usage,
        |s| {
            if s.score.is_finite() && (SCORE_MIN..=SCORE_MAX).contains(&s.score) {
                Ok(())
            } else {
                Err(format!("score {} is outside 0–10", s.score))
            }
        },
    )
    .await?;
    let GEvalScore { score: raw, reason } = answer.value;
    let score = answer
        .logprobs
        .as_deref()
        .and_then(|tokens| weighted_score(raw, tokens))
        .unwrap_or(raw);
    let reason = match reason.trim() {
        "" => "The judge gave no reason.".to_string(),
        reason => reason.to_string(),
    };
    Ok(Measured {
        score: ((score - SCORE_MIN) / (SCORE_MAX - SCORE_MIN)).clamp(0.0, 1.0),
        reason,
    })
}

fn criteria_of(criteria: &str) -> Result<&str, EvalError> {
    match criteria.trim() {
        "" => Err(EvalError::Config("G-Eval needs criteria".into())),
        criteria => Ok(criteria),
    }
}

/// DeepEval's `calculate_weighted_summed_score`: the token that is the score, its top
/// alternatives with at least 1% probability whose text is a decimal integer, and the mean of
/// those integers weighted by their probabilities (normalised by the probabilities' sum, as
/// the top list is not the whole distribution). `None` (DeepEval: the raw score) when the
/// score is not an integer, its token is not found, or no alternative is left.
///
/// Two differences, both for robustness: the score's token is first looked for where the
/// JSON's `"score"` value starts (DeepEval takes the last token equal to the score, which a
/// number in the reason could be, depending on the key order), and alternatives outside the
/// 0–10 scale are left out (DeepEval keeps them and clamps the normalised score). Token texts
/// are compared trimmed, since some tokenizers attach a space to the digit.
pub(super) fn weighted_score(raw: f64, tokens: &[TokenLogprob]) -> Option<f64> {
    if raw.fract() != 0.0 {
        return None;
    }
    let target = format!("{raw:.0}");
    let token = score_token(tokens, &target)?;
    let min_logprob = MIN_PROBABILITY.ln();
    let (mut weighted, mut total) = (0.0, 0.0);
    for (text, logprob) in &token.top {
        if logprob.is_nan() || *logprob < min_logprob {
            continue;
        }
        let Some(value) = scale_value(text) else {
            continue;
        };
        let probability = logprob.exp();
        weighted += value * probability;
        total += probability;
    }
    (total > 0.0).then(|| weighted / total)
}

/// An alternative's score: ASCII digits (DeepEval's `isdecimal`) within the scale.
fn scale_value(token: &str) -> Option<f64> {
    let digits = token.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value = f64::from(digits.parse::<u32>().ok()?);
    (SCORE_MIN..=SCORE_MAX).contains(&value).then_some(value)
}

/// The output token that is the score: the one where the `"score"` value starts when that
/// token is the score, else (DeepEval) the last token equal to it.
fn score_token<'a>(tokens: &'a [TokenLogprob], target: &str) -> Option<&'a TokenLogprob> {
    let text: String = tokens.iter().map(|t| t.token.as_str()).collect();
    if let Some(at) = score_value_offset(&text) {
        let mut end = 0;
        for token in tokens {
            end += token.token.len();
            if at < end {
                if token.token.trim() == target {
                    return Some(token);
                }
                break;
            }
        }
    }
    tokens.iter().rev().find(|t| t.token.trim() == target)
}

/// Where the value of the last `"score":` key starts in `text`. An escaped `\"score\"` inside
/// the reason cannot match, as its closing quote is preceded by a backslash.
fn score_value_offset(text: &str) -> Option<usize> {
    const KEY: &str = "\"score\"";
    let mut before = text.len();
    while let Some(at) = text[..before].rfind(KEY) {
        if let Some(value) = text[at + KEY.len()..].trim_start().strip_prefix(':') {
            return Some(text.len() - value.trim_start().len());
        }
        before = at;
    }
    None
}

fn steps_prompt(criteria: &str) -> String {
    format!(
        "{}Below are criteria for judging an AI's answer (the actual output) to an input. \
         Write 3 or 4 concise evaluation steps that a grader can follow to check the answer \
         against the input by these criteria, one sentence each, making clear how the input \
         and the answer relate.\n\n\
         Reply with JSON only, in this shape:\n\
         {{\"steps\": [\"Check whether the answer responds to what the input asks.\", \"Check that \
         each fact in the answer is correct.\"]}}\n\n{}",
        task_line(Task::GEvalSteps),
        block(tag::CRITERIA, criteria),
    )
}

fn score_prompt(criteria: &str, steps: &[String], case: &Case) -> String {
    let steps: Vec<String> = steps
        .iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    format!(
        "{}Grade the answer (the actual output) to the input by the criteria, following the \
         evaluation steps in order. Give an integer score from 0 to 10: 10 when the answer \
         fully meets the criteria, 0 when it does not meet them at all.\n\n\
         Reply with JSON only, the reason first and then the score, in this shape:\n\
         {{\"reason\": \"It answers the question but skips the second part.\", \"score\": 6}}\n\n{}{}{}{}",
        task_line(Task::GEvalScore),
        block(tag::CRITERIA, criteria),
        block(tag::EVALUATION_STEPS, &json_list(&steps)),
        block(tag::INPUT, &case.input),
        block(tag::ACTUAL_OUTPUT, &case.output),
    )
}

#[cfg(test)]
mod tests {
    use app::evals::task::{read_block, task_of};

    use super::super::testing::{case, judge_error, reply, reply_with_logprobs, usage_of, Scripted};
    use super::super::{score, MetricSpec};
    use super::*;

    const CRITERIA: &str = "The answer is correct and concise.";

    fn steps() -> Vec<String> {
        vec!["Check the facts.".into(), "Check the length.".into()]
    }

    fn token(text: &str, top: &[(&str, f64)]) -> TokenLogprob {
        TokenLogprob {
            token: text.into(),
            logprob: top.first().map_or(0.0, |t| t.1),
            top: top.iter().map(|(t, p)| (t.to_string(), *p)).collect(),
        }
    }

    /// The reply `{"reason": "Meets 8 of 10 points.", "score": 8}` as tokens, the reason's
    /// "8" with its own alternatives so that taking it instead of the score's would show.
    fn tokens(score_top: &[(&str, f64)]) -> Vec<TokenLogprob> {
        let plain = |t: &str| token(t, &[(t, 0.0)]);
        vec![
            plain("{\""),
            plain("reason"),
            plain("\":"),
            plain(" \""),
            plain("Meets"),
            token(" 8", &[(" 8", (0.5f64).ln()), ("2", (0.5f64).ln())]),
            plain(" of"),
            plain(" "),
            plain("10"),
            plain(" points"),
            plain(".\","),
            plain(" \""),
            plain("score"),
            plain("\":"),
            plain(" "),
            token("8", score_top),
            plain("}"),
        ]
    }

    #[test]
    fn weighted_score_follows_deepeval() {
        // "8" at 60%, "7" at 30%, "9" at 5%; a quote at 4% is not a number, "6" at 0.5% is
        // under DeepEval's 1% floor, "11" at 2% is off the 0–10 scale (our filter):
        // (8·0.6 + 7·0.3 + 9·0.05) / (0.6 + 0.3 + 0.05) = 7.35 / 0.95 = 7.7368…
        let top = [
            ("8", 0.6f64.ln()),
            ("7", 0.3f64.ln()),
            ("9", 0.05f64.ln()),
            ("\"", 0.04f64.ln()),
            ("6", 0.005f64.ln()),
            ("11", 0.02f64.ln()),
        ];
        let expected = 7.35 / 0.95;
        let got = weighted_score(8.0, &tokens(&top)).expect("weighted");
        assert!((got - expected).abs() < 1e-12, "{got} vs {expected}");
        // Same alternatives spelled twice (" 7" and "7") add up, as DeepEval's dict does:
        // (8·0.6 + 7·(0.2 + 0.1)) / 0.9 = 6.9 / 0.9.
        let top = [("8", 0.6f64.ln()), ("7", 0.2f64.ln()), (" 7", 0.1f64.ln())];
        let got = weighted_score(8.0, &tokens(&top)).expect("weighted");
        assert!((got - 6.9 / 0.9).abs() < 1e-12);
        // No token equal to the score, a non-integer score, or nothing left after the filter:
        // the raw score stands.
        assert_eq!(weighted_score(5.0, &tokens(&top)), None);
        assert_eq!(weighted_score(7.5, &tokens(&top)), None);
        assert_eq!(weighted_score(8.0, &tokens(&[("8", 0.001f64.ln())])), None);
        // Without a `"score"` key the last token equal to the score is taken (DeepEval).
        let bare = vec![token("8", &[("8", 0.5f64.ln()), ("2", 0.5f64.ln())]), token("8", &top)];
        assert!((weighted_score(8.0, &bare).expect("weighted") - 6.9 / 0.9).abs() < 1e-12);
    }

    /// Score 8 with the alternatives above: 7.7368…/10 = 0.77368…
    #[tokio::test]
    async fn score_is_weighted_by_logprobs() {
        let text = r#"{"reason": "Meets 8 of 10 points.", "score": 8}"#;
        let top = [
            ("8", 0.6f64.ln()),
            ("7", 0.3f64.ln()),
            ("9", 0.05f64.ln()),
            ("6", 0.005f64.ln()),
        ];
        let judge = Scripted::new(vec![reply_with_logprobs(text, tokens(&top))]);
        let steps = steps();
        let spec = MetricSpec::GEval {
            criteria: CRITERIA,
            steps: &steps,
        };
        let scored = score(&spec, &case(), &judge).await.expect("scored");
        assert!((scored.score - 7.35 / 0.95 / 10.0).abs() < 1e-12, "{}", scored.score);
        assert_eq!(scored.reason, "Meets 8 of 10 points.");
        assert_eq!(scored.usage, usage_of(1));

        let prompts = judge.prompts();
        let (prompt, logprobs) = &prompts[0];
        assert!(*logprobs, "G-Eval asks for logprobs");
        assert_eq!(task_of(prompt), Some(Task::GEvalScore));
        assert_eq!(read_block(prompt, tag::CRITERIA), Some(CRITERIA));
        let listed: Vec<String> =
            serde_json::from_str(read_block(prompt, tag::EVALUATION_STEPS).expect("steps")).expect("array");
        assert_eq!(listed, steps);
        assert_eq!(read_block(prompt, tag::INPUT), Some(case().input.as_str()));
        assert_eq!(read_block(prompt, tag::ACTUAL_OUTPUT), Some(case().output.as_str()));
    }

    /// Without logprobs the integer stands: 7 → 0.7; 0 → 0 and 10 → 1 (DeepEval's 0–10).
    #[tokio::test]
    async fn score_without_logprobs_is_the_integer() {
        let steps = steps();
        let spec = MetricSpec::GEval {
            criteria: CRITERIA,
            steps: &steps,
        };
        for (text, expected) in [
            (r#"{"reason": "Mostly right.", "score": 7}"#, 0.7),
            (r#"{"reason": "Wrong.", "score": 0}"#, 0.0),
            (r#"{"score": 10, "reason": "Perfect."}"#, 1.0),
        ] {
            let judge = Scripted::new(vec![reply(text)]);
            let scored = score(&spec, &case(), &judge).await.expect("scored");
            assert_eq!(scored.score, expected, "{text}");
        }
    }

    /// A score off the scale is malformed: asked again, and a good answer then scores.
    #[tokio::test]
    async fn score_off_the_scale_is_asked_again() {
        let steps = steps();
        let spec = MetricSpec::GEval {
            criteria: CRITERIA,
            steps: &steps,
        };
        let judge = Scripted::new(vec![
            reply(r#"{"reason": "Great.", "score": 85}"#),
            reply(r#"{"reason": "Great.", "score": 9}"#),
        ]);
        let scored = score(&spec, &case(), &judge).await.expect("scored");
        assert_eq!(scored.score, 0.9);
        assert_eq!(scored.usage, usage_of(2));
        let prompts = judge.prompts();
        assert!(prompts[1].0.contains("score 85 is outside 0–10"));
        assert!(prompts[1].1, "the retry asks for logprobs too");
    }

    #[tokio::test]
    async fn empty_criteria_or_steps_are_config_errors_without_a_call() {
        let judge = Scripted::new(vec![]);
        let steps = steps();
        for spec in [
            MetricSpec::GEval {
                criteria: "  ",
                steps: &steps,
            },
            MetricSpec::GEval {
                criteria: CRITERIA,
                steps: &[],
            },
            MetricSpec::GEval {
                criteria: CRITERIA,
                steps: &[" ".to_string()],
            },
        ] {
            let failed = score(&spec, &case(), &judge).await.expect_err("config");
            assert!(matches!(failed.error, EvalError::Config(_)), "{:?}", failed.error);
            assert_eq!(failed.error.class(), "config");
            assert_eq!(failed.usage, JudgeUsage::default());
        }
        let failed = g_eval_steps("", &judge).await.expect_err("config");
        assert!(matches!(failed.error, EvalError::Config(_)));
        assert!(judge.prompts().is_empty());
    }

    #[tokio::test]
    async fn steps_come_from_the_criteria() {
        let judge = Scripted::new(vec![reply(
            "Sure! ```json\n{\"steps\": [\" Check the facts. \", \"\", \"Check the length.\"]}\n```",
        )]);
        let (got, usage) = g_eval_steps(CRITERIA, &judge).await.expect("steps");
        assert_eq!(got, steps());
        assert_eq!(usage, usage_of(1));
        let prompts = judge.prompts();
        assert_eq!(task_of(&prompts[0].0), Some(Task::GEvalSteps));
        assert_eq!(read_block(&prompts[0].0, tag::CRITERIA), Some(CRITERIA));
        assert_eq!(read_block(&prompts[0].0, tag::INPUT), None);
        assert!(!prompts[0].1);
    }

    #[tokio::test]
    async fn steps_malformed_twice_or_judge_failure() {
        let judge = Scripted::new(vec![reply(r#"{"steps": []}"#), reply("I cannot help with that.")]);
        let failed = g_eval_steps(CRITERIA, &judge).await.expect_err("malformed");
        assert_eq!(
            failed.error,
            EvalError::Malformed {
                task: "g_eval_steps",
                detail: "no JSON object in the reply".into()
            }
        );
        assert_eq!(failed.usage, usage_of(2));

        let judge = Scripted::new(vec![judge_error("timeout")]);
        let failed = g_eval_steps(CRITERIA, &judge).await.expect_err("judge");
        assert_eq!(failed.error.class(), "judge_timeout");
        assert_eq!(failed.usage.calls, 1);
        assert_eq!(judge.prompts().len(), 1, "a judge failure is not retried here");
    }
}
