//! The judge as the metrics see it: one prompt in, one answer out, with what it cost. The
//! server's judge calls a catalog model through the provider layer (`evals::worker`); the
//! metrics' tests answer from fixed outputs.

/// Judge calls and what they charged, summed over an eval's calls.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct JudgeUsage {
    pub calls: u32,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// US dollars at the judge's catalog prices.
    pub cost_usd: f64,
}

impl JudgeUsage {
    /// One call of `tokens` (prompt, completion) to `model`, at its catalog prices.
    pub fn of_call(model: &app::catalog::CatalogModel, prompt_tokens: u64, completion_tokens: u64) -> JudgeUsage {
        JudgeUsage {
            calls: 1,
            prompt_tokens,
            completion_tokens,
            cost_usd: (prompt_tokens as f64 * model.input_price_per_mtok
                + completion_tokens as f64 * model.output_price_per_mtok)
                / 1e6,
        }
    }

    pub fn add(&mut self, other: JudgeUsage) {
        self.calls += other.calls;
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.cost_usd += other.cost_usd;
    }
}

/// One output token with the most likely alternatives the provider reported for its place
/// (OpenAI's `logprobs.content[i]`: `token`, `logprob`, `top_logprobs`).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenLogprob {
    pub token: String,
    pub logprob: f64,
    /// (token, natural-log probability), most likely first.
    pub top: Vec<(String, f64)>,
}

/// The judge's answer to one prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct JudgeReply {
    /// The message content.
    pub text: String,
    /// Per output token, when asked for and the provider returns them.
    pub logprobs: Option<Vec<TokenLogprob>>,
    /// This call alone (`calls` = 1).
    pub usage: JudgeUsage,
}

/// Why a judge call gave no answer: the provider's failure class (`timeout`, `upstream_5xx`,
/// …) and a short message. Never holds the prompt.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the judge failed ({class}): {message}")]
pub struct JudgeError {
    pub class: String,
    pub message: String,
    /// What the failed call still charged (a provider may bill a call that timed out late).
    pub usage: JudgeUsage,
}

/// Asks the judge model one prompt (as a single user message, temperature 0).
#[async_trait::async_trait]
pub trait Judge: Send + Sync {
    /// `logprobs`: ask for each output token's top alternatives (G-Eval weights its score
    /// by them); a provider that has none answers without.
    async fn ask(&self, prompt: &str, logprobs: bool) -> Result<JudgeReply, JudgeError>;
}
