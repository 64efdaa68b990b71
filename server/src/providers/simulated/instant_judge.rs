//! The simulated judge without the provider around it: a [`Judge`] that answers through
//! [`judge::reply`] at once, with the usage the simulated provider would report for the same
//! call and the cost at the judge model's catalog prices. The demo's history scores its
//! week of sampled answers with it through the real metric code (`evals::metrics`): the same
//! prompts, replies and arithmetic as the server's judge on the simulator, minus the sleeps
//! and the HTTP body round trip, which a week of evals cannot afford at seeding.

use std::sync::Mutex;

use app::catalog::CatalogModel;
use app::evals::task;
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::judge;
use crate::evals::judge::{Judge, JudgeError, JudgeReply, JudgeUsage};

pub struct InstantJudge {
    /// The catalog model it stands for: its id is named in results, its prices charged.
    model: CatalogModel,
    /// Seeded, so a seeded history judges the same on every seeding; a lock because the
    /// trait asks through `&self` (it is held for one reply, never across an await).
    rng: Mutex<StdRng>,
}

impl InstantJudge {
    pub fn new(model: CatalogModel, seed: u64) -> InstantJudge {
        InstantJudge {
            model,
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
        }
    }

    /// The catalog id of the judge model.
    pub fn name(&self) -> &str {
        &self.model.id
    }
}

#[async_trait::async_trait]
impl Judge for InstantJudge {
    async fn ask(&self, prompt: &str, logprobs: bool) -> Result<JudgeReply, JudgeError> {
        // The simulator answers a prompt without a task line as a question; the metrics never
        // send one, so here it is the caller's mistake, reported as the request's.
        let Some(task) = task::task_of(prompt) else {
            return Err(JudgeError {
                class: "request".into(),
                message: "not a judge prompt: no task line".into(),
                usage: JudgeUsage::default(),
            });
        };
        let judged = {
            let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
            judge::reply(task, prompt, &mut *rng)
        };
        let pieces = judge::tokens(&judged.text);
        // As the simulated provider counts a call: the prompt (the one user message's text) at
        // four bytes a token, at least one, and a token per piece of the reply.
        let prompt_tokens = (prompt.len() as u64).div_ceil(4).max(1);
        let completion_tokens = pieces.len() as u64;
        Ok(JudgeReply {
            logprobs: logprobs.then(|| judge::token_logprobs(&pieces, judged.score.as_ref())),
            text: judged.text,
            usage: JudgeUsage::of_call(&self.model, prompt_tokens, completion_tokens),
        })
    }
}

#[cfg(test)]
mod tests {
    use app::evals::task::{block, tag, task_line, Task};
    use rand::Rng;

    use super::*;
    use crate::evals::metrics::{self, Case, MetricSpec};
    use crate::providers::simulated::answer::{self, Question};

    fn judge_model() -> CatalogModel {
        CatalogModel {
            id: app::evals::JUDGE_MODEL.into(),
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

    const QUESTION: &str = "Explain the difference between a mutex and a semaphore.";

    #[tokio::test]
    async fn usage_is_counted_as_the_simulated_provider_counts_it() {
        let judge = InstantJudge::new(judge_model(), 1);
        let prompt = format!(
            "{}{}{}",
            task_line(Task::GEvalScore),
            block(tag::INPUT, QUESTION),
            block(tag::ACTUAL_OUTPUT, "A mutex guards one owner. Tea is nice.")
        );
        let reply = judge.ask(&prompt, true).await.expect("a reply");
        let tokens = judge::tokens(&reply.text);
        assert_eq!(reply.usage.calls, 1);
        assert_eq!(reply.usage.prompt_tokens, (prompt.len() as u64).div_ceil(4));
        assert_eq!(reply.usage.completion_tokens, tokens.len() as u64);
        let cost = (reply.usage.prompt_tokens as f64 * 0.15 + reply.usage.completion_tokens as f64 * 0.60) / 1e6;
        assert!((reply.usage.cost_usd - cost).abs() < 1e-15);
        let logprobs = reply.logprobs.expect("asked for");
        assert_eq!(logprobs.len(), tokens.len());
        assert!(
            logprobs.iter().any(|t| t.top.len() > 1),
            "the score token's alternatives"
        );
        assert!(judge.ask("no task line here", false).await.is_err());
    }

    /// Through the real metric: a better model's answers score higher, from their content.
    #[tokio::test]
    async fn answer_relevancy_follows_the_answers_quality() {
        let judge = InstantJudge::new(judge_model(), 2);
        let mut rng = StdRng::seed_from_u64(3);
        let question = Question::new(QUESTION, QUESTION);
        let mean = |quality: f64, rng: &mut StdRng| {
            let answers: Vec<String> = (0..60)
                .map(|_| answer::text(&question, rng.random_range(150..300), quality, rng))
                .collect();
            let judge = &judge;
            async move {
                let mut sum = 0.0;
                for output in answers {
                    let case = Case {
                        input: QUESTION.into(),
                        output,
                    };
                    let scored = metrics::score(&MetricSpec::AnswerRelevancy, &case, judge).await;
                    let scored = scored.expect("scored");
                    assert!(scored.usage.calls >= 2 && scored.usage.cost_usd > 0.0);
                    sum += scored.score;
                }
                sum / 60.0
            }
        };
        let high = mean(0.96, &mut rng).await;
        let low = mean(0.7, &mut rng).await;
        assert!(high - low > 0.15, "{high} vs {low}");
    }

    /// G-Eval through the real metric: the steps, then a score weighed by the score token's
    /// alternatives, which only a judge that returns logprobs gives exactly.
    #[tokio::test]
    async fn g_eval_reads_the_score_token_s_alternatives() {
        let judge = InstantJudge::new(judge_model(), 4);
        let criteria = "The answer addresses the question.";
        let (steps, usage) = metrics::g_eval_steps(criteria, &judge).await.expect("steps");
        assert_eq!((steps.len(), usage.calls), (3, 1));
        let case = Case {
            input: QUESTION.into(),
            output: "A mutex has one owner. A semaphore counts permits. Tea is nice.".into(),
        };
        let spec = MetricSpec::GEval {
            criteria,
            steps: &steps,
        };
        let scored = metrics::score(&spec, &case, &judge).await.expect("scored");
        // Two of three sentences share a word with the question: 6.67 of 10, exactly through
        // the weights (the rounded token alone would say 0.7).
        assert!((scored.score - 2.0 / 3.0).abs() < 1e-6, "{}", scored.score);
    }
}
