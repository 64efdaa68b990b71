//! Asking the judge for JSON: one prompt, the reply parsed and checked, and one more try when
//! the reply is unusable. Every call's usage is summed into the caller's, the failed and the
//! malformed ones too, since the provider billed them.

use std::borrow::Cow;

use app::evals::task::{task_of, Task, Verdicts};
use serde::de::DeserializeOwned;

use super::EvalError;
use crate::evals::judge::{Judge, JudgeUsage, TokenLogprob};

/// How much of a malformed reply's diagnosis travels into the retry prompt and the error.
const DETAIL_MAX_CHARS: usize = 200;

/// A usable answer, with the token logprobs the provider sent with it (G-Eval weights by them).
pub(super) struct Answer<T> {
    pub value: T,
    pub logprobs: Option<Vec<TokenLogprob>>,
}

/// Asks `prompt` (which names `task` on its first line) and parses the reply as `T`; `check`
/// validates the shape and may normalise it (e.g. lower-case verdicts), answering why not.
///
/// A malformed reply is asked again once, with a note saying what was wrong; a second
/// malformed reply is [`EvalError::Malformed`]. A judge failure returns at once: fallback to
/// another judge model is the provider layer's business, and a retry here would double it.
pub(super) async fn ask_json<T, F>(
    judge: &dyn Judge,
    task: Task,
    prompt: &str,
    logprobs: bool,
    usage: &mut JudgeUsage,
    check: F,
) -> Result<Answer<T>, EvalError>
where
    T: DeserializeOwned,
    F: Fn(&mut T) -> Result<(), String>,
{
    debug_assert_eq!(task_of(prompt), Some(task), "a judge prompt starts with its task line");
    let mut last_problem: Option<String> = None;
    for _attempt in 0..2 {
        let asked = match &last_problem {
            None => Cow::Borrowed(prompt),
            Some(problem) => Cow::Owned(with_retry_note(prompt, problem)),
        };
        let reply = match judge.ask(&asked, logprobs).await {
            Ok(reply) => reply,
            Err(error) => {
                // The failed call is a call even if the provider layer reported no usage.
                let mut spent = error.usage;
                spent.calls = spent.calls.max(1);
                usage.add(spent);
                return Err(EvalError::Judge(error));
            }
        };
        usage.add(reply.usage);
        let parsed = parse::<T>(&reply.text).and_then(|mut value| {
            check(&mut value)?;
            Ok(value)
        });
        match parsed {
            Ok(value) => {
                return Ok(Answer {
                    value,
                    logprobs: reply.logprobs,
                })
            }
            Err(problem) => last_problem = Some(shorten(&problem, DETAIL_MAX_CHARS)),
        }
    }
    Err(EvalError::Malformed {
        task: task.name(),
        detail: last_problem.unwrap_or_default(),
    })
}

/// The JSON object in a reply: from its first `{` to its last `}`, so that a Markdown fence
/// or a sentence around the object does not matter, and read again without trailing commas
/// if it does not parse (DeepEval's `trimAndLoadJson` does both; a retry costs a call).
pub(super) fn parse<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    let start = text.find('{').ok_or("no JSON object in the reply")?;
    let end = text
        .rfind('}')
        .filter(|&end| end > start)
        .ok_or("no JSON object in the reply")?;
    let object = &text[start..=end];
    serde_json::from_str(object)
        .or_else(|e| serde_json::from_str(&without_trailing_commas(object)).map_err(|_| e))
        .map_err(|e| format!("not the JSON asked for: {e}"))
}

/// `json` without the commas that directly close an array or object (`[1, 2,]`), leaving
/// strings alone.
fn without_trailing_commas(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for (i, c) in json.char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if c == ',' {
            let next = json[i + 1..].trim_start().chars().next();
            if matches!(next, Some(']' | '}')) {
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// Checks one verdict per item, each one of `allowed` once trimmed and lower-cased (the
/// normalised form is kept, so the metrics compare plain strings).
pub(super) fn check_verdicts(verdicts: &mut Verdicts, expected: usize, allowed: &[&str]) -> Result<(), String> {
    if verdicts.verdicts.len() != expected {
        return Err(format!(
            "{} verdicts for {expected} items (one verdict per item, in order)",
            verdicts.verdicts.len()
        ));
    }
    for (i, verdict) in verdicts.verdicts.iter_mut().enumerate() {
        let normalised = verdict.verdict.trim().to_lowercase();
        if !allowed.contains(&normalised.as_str()) {
            return Err(format!(
                "verdict {} is {:?}, not one of {}",
                i + 1,
                shorten(&verdict.verdict, 40),
                allowed.join(", ")
            ));
        }
        verdict.verdict = normalised;
    }
    Ok(())
}

/// Drops blank entries of a list the judge made (a blank statement cannot be judged).
pub(super) fn drop_blank(items: &mut Vec<String>) {
    items.retain(|item| !item.trim().is_empty());
}

/// The prompt with a note after its task line (the first line stays the task line, and the
/// case's blocks stay as they were, so the judge reads the same case).
fn with_retry_note(prompt: &str, problem: &str) -> String {
    let (first, rest) = prompt.split_once('\n').unwrap_or((prompt, ""));
    format!(
        "{first}\nYour previous reply could not be used ({problem}). Reply again with the JSON \
         object alone, in the shape shown below.\n{rest}"
    )
}

/// At most `max` characters on one line, with an ellipsis when cut.
pub(super) fn shorten(text: &str, max: usize) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(max) {
        None => one_line,
        Some((cut, _)) => format!("{}…", &one_line[..cut]),
    }
}
