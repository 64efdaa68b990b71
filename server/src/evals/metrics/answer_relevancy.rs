//! Answer relevancy, as DeepEval's `AnswerRelevancyMetric`: the judge splits the answer into
//! statements, then says of each whether it addresses the input (`yes`, `no` or `idk`); the
//! score is the share of statements not judged `no` (`idk`, "ambiguous or supporting", counts
//! as relevant, as DeepEval's `_calculate_score` does without `penalize_ambiguous_claims`),
//! and an answer with no statements scores 1.
//!
//! DeepEval makes a third call for a prose reason; we compose the reason from the verdicts,
//! which says the same thing for two calls instead of three.

use app::evals::task::{block, tag, task_line, Statements, Task, Verdicts};

use super::ask::{ask_json, check_verdicts, drop_blank};
use super::{json_list, listed, Case, EvalError, Measured};
use crate::evals::judge::{Judge, JudgeUsage};

pub(super) async fn measure(case: &Case, judge: &dyn Judge, usage: &mut JudgeUsage) -> Result<Measured, EvalError> {
    let statements = ask_json::<Statements, _>(
        judge,
        Task::Statements,
        &statements_prompt(&case.output),
        false,
        usage,
        |s| {
            drop_blank(&mut s.statements);
            Ok(())
        },
    )
    .await?
    .value
    .statements;
    if statements.is_empty() {
        // DeepEval asks for no verdicts then, and scores 1: nothing in the answer is off-topic.
        return Ok(Measured {
            score: 1.0,
            reason: "The answer makes no statements, so none of it is off-topic.".into(),
        });
    }
    let verdicts = ask_json::<Verdicts, _>(
        judge,
        Task::RelevancyVerdicts,
        &verdicts_prompt(&case.input, &statements),
        false,
        usage,
        |v| check_verdicts(v, statements.len(), &["yes", "no", "idk"]),
    )
    .await?
    .value
    .verdicts;

    let off_topic: Vec<(&str, Option<&str>)> = statements
        .iter()
        .zip(&verdicts)
        .filter(|(_, v)| v.verdict == "no")
        .map(|(s, v)| (s.as_str(), v.reason.as_deref()))
        .collect();
    let ambiguous = verdicts.iter().filter(|v| v.verdict == "idk").count();
    let total = statements.len();
    let relevant = total - off_topic.len();
    let mut reason = if off_topic.is_empty() {
        format!("All {total} statements address the input")
    } else {
        format!("{relevant} of {total} statements address the input")
    };
    if ambiguous > 0 {
        reason.push_str(&format!(
            " ({ambiguous} of them only loosely, which counts as relevant, as in DeepEval)"
        ));
    }
    if !off_topic.is_empty() {
        reason.push_str(&format!("; off-topic: {}", listed(&off_topic)));
    }
    reason.push('.');
    Ok(Measured {
        score: relevant as f64 / total as f64,
        reason,
    })
}

fn statements_prompt(output: &str) -> String {
    format!(
        "{}Break the answer below into the separate statements it makes. A statement is one \
         claim, instruction or piece of information, short and understandable on its own. A \
         lone word or fragment is a statement only when it is not part of a fuller one. An \
         answer with nothing to say gives an empty list.\n\n\
         Reply with JSON only, in this shape:\n\
         {{\"statements\": [\"Paris is the capital of France.\", \"It lies on the Seine.\"]}}\n\n{}",
        task_line(Task::Statements),
        block(tag::ACTUAL_OUTPUT, output),
    )
}

fn verdicts_prompt(input: &str, statements: &[String]) -> String {
    format!(
        "{}The statements below come from an answer to the input. For each statement, decide \
         whether it helps address the input:\n\
         - \"yes\": it addresses the input;\n\
         - \"no\": it is off-topic for the input;\n\
         - \"idk\": unclear, or supporting detail that is not directly on point.\n\
         Give exactly one verdict per statement, in the same order, and a short \"reason\" only \
         for \"no\" and \"idk\".\n\n\
         Reply with JSON only, in this shape:\n\
         {{\"verdicts\": [{{\"verdict\": \"yes\"}}, {{\"verdict\": \"no\", \"reason\": \"It is about \
         the weather, not the question.\"}}]}}\n\n{}{}",
        task_line(Task::RelevancyVerdicts),
        block(tag::INPUT, input),
        block(tag::STATEMENTS, &json_list(statements)),
    )
}

#[cfg(test)]
mod tests {
    use app::evals::task::{read_block, task_of};

    use super::super::testing::{case, judge_error, reply, usage_of, Scripted};
    use super::super::{score, EvalError, MetricSpec};
    use super::*;

    const FOUR: &str = r#"{"statements": ["Paris is the capital of France.", "It has the Louvre.", "I like cheese.", "About 2 million people live there."]}"#;

    /// DeepEval's `_calculate_score`: relevant = verdicts not "no" → 4 statements with verdicts
    /// yes/idk/no/yes give 3/4 = 0.75.
    #[tokio::test]
    async fn four_statements_yes_idk_no_yes_score_three_quarters() {
        let judge = Scripted::new(vec![
            reply(FOUR),
            reply(
                r#"{"verdicts": [{"verdict": "yes"}, {"verdict": "idk", "reason": "Trivia."},
                {"verdict": "NO ", "reason": "About the writer's taste."}, {"verdict": "Yes"}]}"#,
            ),
        ]);
        let scored = score(&MetricSpec::AnswerRelevancy, &case(), &judge)
            .await
            .expect("scored");
        assert_eq!(scored.score, 0.75);
        assert_eq!(scored.usage, usage_of(2));
        assert!(
            scored.reason.starts_with("3 of 4 statements address the input"),
            "{}",
            scored.reason
        );
        assert!(scored.reason.contains("\"I like cheese.\" (About the writer's taste)"));
        assert!(scored
            .reason
            .contains("(1 of them only loosely, which counts as relevant"));

        // The prompts: the task lines, and the case and the list only in their blocks.
        let prompts = judge.prompts();
        assert_eq!(prompts.len(), 2);
        assert_eq!(task_of(&prompts[0].0), Some(Task::Statements));
        assert_eq!(
            read_block(&prompts[0].0, tag::ACTUAL_OUTPUT),
            Some(case().output.as_str())
        );
        assert_eq!(read_block(&prompts[0].0, tag::INPUT), None);
        assert_eq!(task_of(&prompts[1].0), Some(Task::RelevancyVerdicts));
        assert_eq!(read_block(&prompts[1].0, tag::INPUT), Some(case().input.as_str()));
        let listed: Vec<String> = serde_json::from_str(read_block(&prompts[1].0, tag::STATEMENTS).expect("statements"))
            .expect("a JSON array of strings");
        assert_eq!(listed.len(), 4);
        assert_eq!(listed[2], "I like cheese.");
        assert!(prompts.iter().all(|(_, logprobs)| !logprobs));
    }

    /// `idk` is relevant: two statements, idk and idk → 2/2 = 1 (DeepEval without
    /// `penalize_ambiguous_claims`).
    #[tokio::test]
    async fn idk_counts_as_relevant() {
        let judge = Scripted::new(vec![
            reply(r#"{"statements": ["a", "b"]}"#),
            reply(r#"{"verdicts": [{"verdict": "idk"}, {"verdict": "idk"}]}"#),
        ]);
        let scored = score(&MetricSpec::AnswerRelevancy, &case(), &judge)
            .await
            .expect("scored");
        assert_eq!(scored.score, 1.0);
        assert!(scored.reason.starts_with("All 2 statements"), "{}", scored.reason);
    }

    /// DeepEval: no statements → no verdict call, score 1.
    #[tokio::test]
    async fn no_statements_score_one_with_one_call() {
        let judge = Scripted::new(vec![reply(r#"{"statements": ["  "]}"#)]);
        let scored = score(&MetricSpec::AnswerRelevancy, &case(), &judge)
            .await
            .expect("scored");
        assert_eq!(scored.score, 1.0);
        assert_eq!(scored.usage, usage_of(1));
        assert_eq!(judge.prompts().len(), 1);
    }

    /// One statement of three off-topic → 2/3.
    #[tokio::test]
    async fn one_of_three_off_topic_scores_two_thirds() {
        let judge = Scripted::new(vec![
            reply(r#"{"statements": ["a", "b", "c"]}"#),
            reply(r#"{"verdicts": [{"verdict": "yes"}, {"verdict": "no"}, {"verdict": "yes"}]}"#),
        ]);
        let scored = score(&MetricSpec::AnswerRelevancy, &case(), &judge)
            .await
            .expect("scored");
        assert!((scored.score - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(scored.reason, "2 of 3 statements address the input; off-topic: \"b\".");
    }

    /// A verdict count that differs from the statement count is malformed: asked again once,
    /// and the second good answer scores with the usage of all three calls.
    #[tokio::test]
    async fn wrong_verdict_count_is_asked_again() {
        let judge = Scripted::new(vec![
            reply(r#"{"statements": ["a", "b"]}"#),
            reply(r#"{"verdicts": [{"verdict": "yes"}]}"#),
            reply(r#"{"verdicts": [{"verdict": "yes"}, {"verdict": "no"}]}"#),
        ]);
        let scored = score(&MetricSpec::AnswerRelevancy, &case(), &judge)
            .await
            .expect("scored");
        assert_eq!(scored.score, 0.5);
        assert_eq!(scored.usage, usage_of(3));
        let prompts = judge.prompts();
        // The retry still names its task first and carries the same blocks.
        assert_eq!(task_of(&prompts[2].0), Some(Task::RelevancyVerdicts));
        assert!(prompts[2].0.contains("1 verdicts for 2 items"));
        assert_eq!(
            read_block(&prompts[2].0, tag::STATEMENTS),
            read_block(&prompts[1].0, tag::STATEMENTS)
        );
        assert_eq!(read_block(&prompts[2].0, tag::INPUT), Some(case().input.as_str()));
    }

    /// A verdict outside yes/no/idk twice → Malformed, with the usage of the three calls made.
    #[tokio::test]
    async fn unknown_verdict_twice_is_malformed() {
        let judge = Scripted::new(vec![
            reply(r#"{"statements": ["a"]}"#),
            reply(r#"{"verdicts": [{"verdict": "maybe"}]}"#),
            reply(r#"{"verdicts": [{"verdict": "perhaps"}]}"#),
        ]);
        let failed = score(&MetricSpec::AnswerRelevancy, &case(), &judge)
            .await
            .expect_err("malformed");
        assert_eq!(failed.usage, usage_of(3));
        match &failed.error {
            EvalError::Malformed { task, detail } => {
                assert_eq!(*task, "relevancy_verdicts");
                assert!(detail.contains("perhaps"), "{detail}");
            }
            other => panic!("expected Malformed, got {other:?}"),
        }
        assert_eq!(failed.error.class(), "malformed");
    }

    /// A judge failure on the second step returns at once, with both calls' usage.
    #[tokio::test]
    async fn judge_error_on_verdicts_keeps_usage() {
        let judge = Scripted::new(vec![reply(r#"{"statements": ["a"]}"#), judge_error("upstream_5xx")]);
        let failed = score(&MetricSpec::AnswerRelevancy, &case(), &judge)
            .await
            .expect_err("judge");
        assert!(matches!(failed.error, EvalError::Judge(_)));
        assert_eq!(failed.error.class(), "judge_upstream_5xx");
        assert_eq!(failed.usage.calls, 2);
        assert_eq!(judge.prompts().len(), 2);
    }
}
