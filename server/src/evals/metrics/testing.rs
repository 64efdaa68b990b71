//! A scripted judge for the metrics' tests: it answers fixed replies in order and records
//! each prompt with whether logprobs were asked for.

use std::collections::VecDeque;
use std::sync::Mutex;

use super::Case;
use crate::evals::judge::{Judge, JudgeError, JudgeReply, JudgeUsage, TokenLogprob};

pub(super) struct Scripted {
    replies: Mutex<VecDeque<Result<JudgeReply, JudgeError>>>,
    prompts: Mutex<Vec<(String, bool)>>,
}

impl Scripted {
    pub fn new(replies: Vec<Result<JudgeReply, JudgeError>>) -> Scripted {
        Scripted {
            replies: Mutex::new(replies.into()),
            prompts: Mutex::new(Vec::new()),
        }
    }

    /// The prompts asked so far, with their `logprobs` flag.
    pub fn prompts(&self) -> Vec<(String, bool)> {
        self.prompts.lock().expect("prompts").clone()
    }
}

#[async_trait::async_trait]
impl Judge for Scripted {
    async fn ask(&self, prompt: &str, logprobs: bool) -> Result<JudgeReply, JudgeError> {
        self.prompts
            .lock()
            .expect("prompts")
            .push((prompt.to_string(), logprobs));
        self.replies
            .lock()
            .expect("replies")
            .pop_front()
            .expect("the script has a reply for every call")
    }
}

/// One call's usage in these tests.
pub(super) fn call_usage() -> JudgeUsage {
    JudgeUsage {
        calls: 1,
        prompt_tokens: 100,
        completion_tokens: 20,
        cost_usd: 0.25,
    }
}

/// `n` calls' usage (the cost is a binary fraction, so sums compare exactly).
pub(super) fn usage_of(n: u32) -> JudgeUsage {
    let mut total = JudgeUsage::default();
    for _ in 0..n {
        total.add(call_usage());
    }
    total
}

pub(super) fn reply(text: &str) -> Result<JudgeReply, JudgeError> {
    Ok(JudgeReply {
        text: text.to_string(),
        logprobs: None,
        usage: call_usage(),
    })
}

pub(super) fn reply_with_logprobs(text: &str, logprobs: Vec<TokenLogprob>) -> Result<JudgeReply, JudgeError> {
    Ok(JudgeReply {
        text: text.to_string(),
        logprobs: Some(logprobs),
        usage: call_usage(),
    })
}

/// A provider failure that reports no call in its usage (the metric still counts one).
pub(super) fn judge_error(class: &str) -> Result<JudgeReply, JudgeError> {
    Err(JudgeError {
        class: class.to_string(),
        message: "the provider failed".into(),
        usage: JudgeUsage::default(),
    })
}

pub(super) fn case() -> Case {
    Case {
        input: "What is the capital of France?".into(),
        output: "Paris is the capital of France. It has the Louvre. I like cheese.".into(),
    }
}
