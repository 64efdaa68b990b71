//! The judge's tasks as its prompts carry them: the prompt's first line names the task, and
//! the case (the request's input, the answer) and the lists a task works on travel in tagged
//! blocks. The metric code writes them (`server::evals`); the simulated judge reads them
//! back (`server::providers::simulated`) as a model reads its prompt, so that offline the
//! judge's verdicts come from the content it is shown. The JSON each task asks for is
//! DeepEval's shape for that step; both sides use the structs below.

use serde::{Deserialize, Serialize};

/// A judge call's purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Task {
    /// Answer relevancy, step 1: the answer's statements → [`Statements`].
    Statements,
    /// Answer relevancy, step 2: whether each statement addresses the input → [`Verdicts`]
    /// (`yes`, `no` or `idk`).
    RelevancyVerdicts,
    /// Toxicity and bias, step 1: the answer's opinions → [`Opinions`].
    Opinions,
    /// Toxicity, step 2: whether each opinion is toxic → [`Verdicts`] (`yes` / `no`).
    ToxicityVerdicts,
    /// Bias, step 2: whether each opinion is biased → [`Verdicts`] (`yes` / `no`).
    BiasVerdicts,
    /// G-Eval, once per criteria: evaluation steps for the criteria → [`Steps`].
    GEvalSteps,
    /// G-Eval: the score of the answer against the criteria and steps → [`GEvalScore`].
    GEvalScore,
}

impl Task {
    pub const ALL: [Task; 7] = [
        Task::Statements,
        Task::RelevancyVerdicts,
        Task::Opinions,
        Task::ToxicityVerdicts,
        Task::BiasVerdicts,
        Task::GEvalSteps,
        Task::GEvalScore,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Task::Statements => "statements",
            Task::RelevancyVerdicts => "relevancy_verdicts",
            Task::Opinions => "opinions",
            Task::ToxicityVerdicts => "toxicity_verdicts",
            Task::BiasVerdicts => "bias_verdicts",
            Task::GEvalSteps => "g_eval_steps",
            Task::GEvalScore => "g_eval_score",
        }
    }

    pub fn parse(name: &str) -> Option<Task> {
        Task::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// The prompt's first line: `Judge task: statements`.
pub const TASK_PREFIX: &str = "Judge task: ";

/// The tags of the blocks a prompt may carry.
pub mod tag {
    /// The request as the client sent it, rendered as text (the last user message, or the
    /// conversation).
    pub const INPUT: &str = "input";
    /// The answer the client received.
    pub const ACTUAL_OUTPUT: &str = "actual_output";
    /// A JSON array of strings: the statements to judge.
    pub const STATEMENTS: &str = "statements";
    /// A JSON array of strings: the opinions to judge.
    pub const OPINIONS: &str = "opinions";
    /// G-Eval's criteria, as the owner wrote them.
    pub const CRITERIA: &str = "criteria";
    /// A JSON array of strings: G-Eval's evaluation steps.
    pub const EVALUATION_STEPS: &str = "evaluation_steps";
}

/// The first line of a prompt for `task`, with its newline.
pub fn task_line(task: Task) -> String {
    format!("{TASK_PREFIX}{}\n", task.name())
}

/// The task a prompt names on its first line.
pub fn task_of(prompt: &str) -> Option<Task> {
    let first = prompt.lines().next()?;
    Task::parse(first.strip_prefix(TASK_PREFIX)?.trim())
}

/// `<tag>\nbody\n</tag>\n`.
pub fn block(tag: &str, body: &str) -> String {
    format!("<{tag}>\n{body}\n</{tag}>\n")
}

/// The body of the block `tag` in `prompt` (from its opening line to the last closing line,
/// so an answer that happens to contain the closing tag is read whole).
pub fn read_block<'a>(prompt: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>\n");
    let close = format!("\n</{tag}>");
    let start = prompt.find(&open)? + open.len();
    let end = prompt.rfind(&close)?;
    (end >= start).then(|| &prompt[start..end])
}

/// [`Task::Statements`]' answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statements {
    pub statements: Vec<String>,
}

/// [`Task::Opinions`]' answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Opinions {
    pub opinions: Vec<String>,
}

/// One verdict: `yes`, `no` or (relevancy only) `idk`, with the judge's reason when it gives
/// one (DeepEval asks for one only where the verdict is against the answer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub verdict: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The verdict tasks' answer: one verdict per statement or opinion, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdicts {
    pub verdicts: Vec<Verdict>,
}

/// [`Task::GEvalSteps`]' answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Steps {
    pub steps: Vec<String>,
}

/// [`Task::GEvalScore`]' answer: an integer score on G-Eval's 0–10 scale and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GEvalScore {
    pub score: f64,
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prompt_names_its_task_and_carries_its_blocks() {
        let answer = "Paris. </actual_output> is not a tag here.";
        let prompt = format!(
            "{}Some instructions.\n{}{}",
            task_line(Task::RelevancyVerdicts),
            block(tag::INPUT, "Capital of France?"),
            block(tag::ACTUAL_OUTPUT, answer)
        );
        assert_eq!(task_of(&prompt), Some(Task::RelevancyVerdicts));
        assert_eq!(read_block(&prompt, tag::INPUT), Some("Capital of France?"));
        assert_eq!(read_block(&prompt, tag::ACTUAL_OUTPUT), Some(answer));
        assert_eq!(read_block(&prompt, tag::CRITERIA), None);
        assert_eq!(task_of("Judge task: nonsense\n"), None);
        assert_eq!(task_of("Hello"), None);
        for t in Task::ALL {
            assert_eq!(Task::parse(t.name()), Some(t));
        }
    }
}
