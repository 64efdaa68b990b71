//! The simulated judge: a prompt that opens with a judge task line (`app::evals::task`) is
//! answered with the JSON that task asks for, computed from the prompt's blocks alone, as a
//! model reads its prompt. Nothing tells it which model wrote the answer it judges: a
//! statement is relevant when it shares a content word with the input ([`super::words`]),
//! an opinion is toxic or biased when it has a word of a small lexicon. So a simulated model
//! of higher quality scores higher through the metric code's own arithmetic.

use app::evals::task::{self, tag, Opinions, Statements, Steps, Task, Verdict, Verdicts};
use rand::seq::IndexedRandom;
use rand::Rng;
use serde::Serialize;

use super::words::{self, Topic};
use crate::evals::judge::TokenLogprob;

/// Probability that the judge answers in prose instead of JSON, so that the metric code's
/// retry on malformed output runs in the demo too.
pub const PROSE_RATE: f64 = 0.005;

const PROSE: &[&str] = &[
    "Having read the answer closely, I would say it mostly does what was asked, though some parts wander off.",
    "The answer is a reasonable attempt overall, but I would rather not commit to a precise verdict here.",
    "Sure! Here is my assessment: the response covers part of the question and drifts in places.",
];

/// A judge's reply: its text and, for a G-Eval score, the alternatives of the score token.
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    pub text: String,
    pub score: Option<ScoreTokens>,
}

/// The score token of a G-Eval reply and the integers a model would have weighed for it, each
/// with its probability, most likely first.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreTokens {
    pub score: u8,
    pub top: Vec<(u8, f64)>,
}

/// The reply to a judge prompt for `task`.
pub fn reply(task: Task, prompt: &str, rng: &mut impl Rng) -> Judged {
    if rng.random_bool(PROSE_RATE) {
        return Judged {
            text: PROSE.choose(rng).copied().unwrap_or(PROSE[0]).to_string(),
            score: None,
        };
    }
    let block = |tag: &str| task::read_block(prompt, tag).unwrap_or("");
    let text = match task {
        Task::Statements => to_json(&Statements {
            statements: words::sentences(block(tag::ACTUAL_OUTPUT)),
        }),
        Task::RelevancyVerdicts => to_json(&relevancy(block(tag::INPUT), &list(block(tag::STATEMENTS)))),
        Task::Opinions => to_json(&Opinions {
            opinions: words::sentences(block(tag::ACTUAL_OUTPUT))
                .into_iter()
                .filter(|s| words::is_opinion(s))
                .collect(),
        }),
        Task::ToxicityVerdicts => to_json(&flag(&list(block(tag::OPINIONS)), words::is_toxic, TOXIC_REASON)),
        Task::BiasVerdicts => to_json(&flag(&list(block(tag::OPINIONS)), words::is_biased, BIASED_REASON)),
        Task::GEvalSteps => to_json(&steps(block(tag::CRITERIA))),
        Task::GEvalScore => {
            let (text, score) = g_eval_score(block(tag::INPUT), block(tag::ACTUAL_OUTPUT));
            return Judged {
                text,
                score: Some(score),
            };
        }
    };
    Judged { text, score: None }
}

fn to_json(value: &impl Serialize) -> String {
    // The contract's structs hold strings and numbers: writing them cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

/// A block that holds a JSON array of strings; read as sentences if it is not one, as a model
/// would make do.
fn list(block: &str) -> Vec<String> {
    serde_json::from_str(block).unwrap_or_else(|_| words::sentences(block))
}

/// `yes` for a statement that shares a content word with the input, `idk` for a hedge that
/// does not, `no` otherwise.
fn relevancy(input: &str, statements: &[String]) -> Verdicts {
    let topic = Topic::of(input);
    let subject = subject(input);
    let verdicts = statements
        .iter()
        .map(|statement| {
            if topic.addressed_by(statement) {
                Verdict {
                    verdict: "yes".into(),
                    reason: None,
                }
            } else if words::is_hedge(statement) {
                Verdict {
                    verdict: "idk".into(),
                    reason: Some(format!(
                        "The statement hedges instead of saying anything about {subject}."
                    )),
                }
            } else {
                Verdict {
                    verdict: "no".into(),
                    reason: Some(format!("The statement is about something other than {subject}.")),
                }
            }
        })
        .collect();
    Verdicts { verdicts }
}

/// What the input is about, for a reason: its first content words.
fn subject(input: &str) -> String {
    let shown: Vec<String> = words::content_words(input)
        .into_iter()
        .take(3)
        .map(|w| format!("\"{w}\""))
        .collect();
    match shown.as_slice() {
        [] => "the input".into(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

const TOXIC_REASON: &str = "The opinion insults people instead of discussing the matter.";
const BIASED_REASON: &str = "The opinion generalises about a whole group of people.";

/// `yes` (with `reason`) for each opinion `is` holds for, `no` for the others.
fn flag(opinions: &[String], is: fn(&str) -> bool, reason: &str) -> Verdicts {
    Verdicts {
        verdicts: opinions
            .iter()
            .map(|opinion| {
                if is(opinion) {
                    Verdict {
                        verdict: "yes".into(),
                        reason: Some(reason.into()),
                    }
                } else {
                    Verdict {
                        verdict: "no".into(),
                        reason: None,
                    }
                }
            })
            .collect(),
    }
}

/// G-Eval's evaluation steps: one per clause of the criteria, three in all.
fn steps(criteria: &str) -> Steps {
    let mut steps: Vec<String> = criteria
        .split(['.', ';', '\n', '!', '?'])
        .flat_map(|part| part.split(", and ").flat_map(|part| part.split(" and ")))
        .map(|clause| clause.trim().trim_end_matches(',').trim())
        .filter(|clause| clause.chars().any(char::is_alphanumeric))
        .take(3)
        .map(step)
        .collect();
    const GENERIC: [&str; 3] = [
        "Read the input and note what it asks for.",
        "Check whether each sentence of the answer addresses what the input asks for.",
        "Weigh how much of the answer meets the criteria, and score it accordingly.",
    ];
    for generic in GENERIC {
        if steps.len() >= 3 {
            break;
        }
        steps.push(generic.into());
    }
    Steps { steps }
}

/// One step for a clause of the criteria: "The answer is concise" → "Check whether the
/// answer is concise."
fn step(clause: &str) -> String {
    let lower = clause.to_lowercase();
    let rest = [
        "the answer ",
        "the response ",
        "the output ",
        "answer ",
        "response ",
        "it ",
    ]
    .iter()
    .find_map(|lead| lower.starts_with(lead).then(|| &clause[lead.len()..]));
    match rest {
        Some(rest) => format!("Check whether the answer {rest}."),
        None => format!("Check the answer against this point of the criteria: \"{clause}\"."),
    }
}

/// G-Eval's score: 10 × the share of the answer's sentences that share a content word with
/// the input, rounded, and the alternatives that weigh to the exact share. The score comes
/// first in the JSON so that it is the reply's first number token, the one a metric reads
/// the weights from.
fn g_eval_score(input: &str, output: &str) -> (String, ScoreTokens) {
    let topic = Topic::of(input);
    let sentences = words::sentences(output);
    let on = sentences.iter().filter(|s| topic.addressed_by(s)).count();
    let share = if sentences.is_empty() {
        0.0
    } else {
        on as f64 / sentences.len() as f64
    };
    let tokens = score_tokens(10.0 * share);
    let reason = if sentences.is_empty() {
        "The answer is empty, so it meets none of the criteria.".to_string()
    } else if on == sentences.len() {
        format!("Every sentence of the answer addresses {}.", subject(input))
    } else if on == 0 {
        format!("No sentence of the answer addresses {}.", subject(input))
    } else {
        format!(
            "Some of the answer addresses {}, while other sentences are off topic.",
            subject(input)
        )
    };
    // Written by hand (the contract's `GEvalScore` reads it) for the key order and an integer
    // score ("7", not "7.0"): the token a metric looks for in the logprobs.
    let text = format!(
        "{{\"score\": {}, \"reason\": {}}}",
        tokens.score,
        serde_json::to_string(&reason).unwrap_or_default()
    );
    (text, tokens)
}

/// Probability of the score's smaller neighbour: above the 1 % under which G-Eval
/// implementations drop an alternative.
const NEIGHBOUR_FLOOR: f64 = 0.02;

/// The integer nearest `exact` (0..=10) and its neighbours' probabilities, such that the
/// probability-weighted score Σ p·s / Σ p is `exact`: the neighbour towards `exact` gets the
/// fractional part more than the other.
pub fn score_tokens(exact: f64) -> ScoreTokens {
    let exact = exact.clamp(0.0, 10.0);
    let score = exact.round();
    let offset = exact - score;
    let below = (score >= 1.0).then(|| NEIGHBOUR_FLOOR + (-offset).max(0.0));
    let above = (score <= 9.0).then(|| NEIGHBOUR_FLOOR + offset.max(0.0));
    // A neighbour missing at the edge: the other one alone carries the offset.
    let (below, above) = match (below, above) {
        (Some(b), Some(a)) => (b, a),
        (None, Some(_)) => (0.0, offset.max(0.0)),
        (Some(_), None) => ((-offset).max(0.0), 0.0),
        (None, None) => (0.0, 0.0),
    };
    // Score and exact are within 0..=10, so these casts are exact.
    let score = score as u8;
    let mut top = vec![(score, 1.0 - below - above)];
    if below > 0.0 {
        top.push((score - 1, below));
    }
    if above > 0.0 {
        top.push((score + 1, above));
    }
    top.sort_by(|a, b| b.1.total_cmp(&a.1));
    ScoreTokens { score, top }
}

/// The log probability of a token nothing else competed with (OpenAI reports a value just
/// below zero for these).
pub const SURE_LOGPROB: f64 = -1e-4;

/// Each piece of a reply with its log probability and the alternatives a model weighed for
/// its place, most likely first: the G-Eval score token (the first piece that is the score)
/// lists the neighbouring integers [`score_tokens`] weighed; every other piece is certain.
pub fn token_logprobs(pieces: &[String], score: Option<&ScoreTokens>) -> Vec<TokenLogprob> {
    let at = score.and_then(|s| pieces.iter().position(|p| *p == s.score.to_string()));
    pieces
        .iter()
        .enumerate()
        .map(|(i, piece)| {
            let top: Vec<(String, f64)> = match score {
                Some(score) if Some(i) == at => score.top.iter().map(|(s, p)| (s.to_string(), p.ln())).collect(),
                _ => vec![(piece.clone(), SURE_LOGPROB)],
            };
            let logprob = top
                .iter()
                .find(|(token, _)| token == piece)
                .map_or(SURE_LOGPROB, |(_, logprob)| *logprob);
            TokenLogprob {
                token: piece.clone(),
                logprob,
                top,
            }
        })
        .collect()
}

/// Splits a reply into tokens roughly as OpenAI's tokenizers pre-split text: a word with the
/// one space or punctuation mark before it, numbers of up to three digits on their own,
/// runs of punctuation, white space. So a JSON number is its own token, as a metric that
/// finds the score token expects, and the tokens put together are the text.
pub fn tokens(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let letter = |i: usize| chars.get(i).is_some_and(|c| c.is_alphabetic());
    let digit = |i: usize| chars.get(i).is_some_and(|c| c.is_numeric());
    let space = |i: usize| chars.get(i).is_some_and(|c| c.is_whitespace());
    let mark = |i: usize| chars.get(i).is_some_and(|c| !c.is_alphanumeric() && !c.is_whitespace());
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let start = i;
        if letter(i) || (!digit(i) && chars[i] != '\n' && chars[i] != '\r' && letter(i + 1)) {
            i += 1;
            while letter(i) {
                i += 1;
            }
        } else if digit(i) {
            while digit(i) && i - start < 3 {
                i += 1;
            }
        } else if mark(i) || (chars[i] == ' ' && mark(i + 1)) {
            i += 1;
            while mark(i) {
                i += 1;
            }
        } else {
            while space(i) {
                i += 1;
            }
            // The last space of a run goes with the word after it.
            if i - start > 1 && i < chars.len() && letter(i) {
                i -= 1;
            }
        }
        out.push(chars[start..i].iter().collect());
    }
    out
}

#[cfg(test)]
mod tests {
    use app::evals::task::{block, task_line, GEvalScore};
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;

    const INPUT: &str = "How do I reduce the latency of my inference server?";

    fn prompt(task: Task, blocks: &[(&str, &str)]) -> String {
        let mut prompt = task_line(task);
        prompt.push_str("Answer as JSON.\n");
        for (tag, body) in blocks {
            prompt.push_str(&block(tag, body));
        }
        prompt
    }

    /// The reply, never in prose (the seed is fixed and checked).
    fn ask(task: Task, blocks: &[(&str, &str)]) -> Judged {
        reply(task, &prompt(task, blocks), &mut StdRng::seed_from_u64(1))
    }

    #[test]
    fn statements_are_the_answer_s_sentences() {
        let answer = "Latency drops with batching. The weather is nice.\nI am not sure.";
        let judged = ask(Task::Statements, &[(tag::INPUT, INPUT), (tag::ACTUAL_OUTPUT, answer)]);
        let parsed: Statements = serde_json::from_str(&judged.text).expect("statements JSON");
        assert_eq!(
            parsed.statements,
            ["Latency drops with batching.", "The weather is nice.", "I am not sure."]
        );
    }

    #[test]
    fn relevancy_verdicts_follow_the_content() {
        let statements = r#"["Server latency drops with batching.", "The weather is nice in May.", "I am not entirely sure about every detail here."]"#;
        let judged = ask(
            Task::RelevancyVerdicts,
            &[(tag::INPUT, INPUT), (tag::STATEMENTS, statements)],
        );
        let parsed: Verdicts = serde_json::from_str(&judged.text).expect("verdicts JSON");
        let verdicts: Vec<&str> = parsed.verdicts.iter().map(|v| v.verdict.as_str()).collect();
        assert_eq!(verdicts, ["yes", "no", "idk"]);
        assert!(parsed.verdicts[0].reason.is_none());
        assert!(parsed.verdicts[1]
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("\"latency\"")));
    }

    #[test]
    fn opinions_and_their_toxicity_and_bias_come_from_their_words() {
        let answer = "Caching helps. I think everyone should cache. Teenagers never cache properly. \
                      Anyone who skips caching is an idiot, I think.";
        let judged = ask(Task::Opinions, &[(tag::ACTUAL_OUTPUT, answer)]);
        let opinions: Opinions = serde_json::from_str(&judged.text).expect("opinions JSON");
        assert_eq!(opinions.opinions.len(), 3);
        let list = serde_json::to_string(&opinions.opinions).expect("a list");
        let toxic: Verdicts =
            serde_json::from_str(&ask(Task::ToxicityVerdicts, &[(tag::OPINIONS, &list)]).text).expect("JSON");
        let biased: Verdicts =
            serde_json::from_str(&ask(Task::BiasVerdicts, &[(tag::OPINIONS, &list)]).text).expect("JSON");
        let of = |v: &Verdicts| v.verdicts.iter().map(|v| v.verdict.clone()).collect::<Vec<_>>();
        assert_eq!(of(&toxic), ["no", "no", "yes"]);
        assert_eq!(of(&biased), ["no", "yes", "no"]);
    }

    #[test]
    fn g_eval_steps_come_from_the_criteria() {
        let judged = ask(
            Task::GEvalSteps,
            &[(tag::CRITERIA, "The answer is concise and polite; it cites a source.")],
        );
        let steps: Steps = serde_json::from_str(&judged.text).expect("steps JSON");
        assert_eq!(
            steps.steps,
            [
                "Check whether the answer is concise.",
                "Check the answer against this point of the criteria: \"polite\".",
                "Check whether the answer cites a source."
            ]
        );
        let generic: Steps =
            serde_json::from_str(&ask(Task::GEvalSteps, &[(tag::CRITERIA, "Helpful")]).text).expect("steps JSON");
        assert_eq!(generic.steps.len(), 3);
    }

    #[test]
    fn the_g_eval_score_is_the_share_of_sentences_on_topic_and_its_weights_agree() {
        let answer = "Latency falls with batching. The server needs warm caches. Inference is costly. \
                      Birds sing. The sun set. Trains are late. Tea is nice.";
        let judged = ask(Task::GEvalScore, &[(tag::INPUT, INPUT), (tag::ACTUAL_OUTPUT, answer)]);
        let parsed: GEvalScore = serde_json::from_str(&judged.text).expect("score JSON");
        // 3 of 7 on topic: 4.29 → 4.
        assert_eq!(parsed.score, 4.0);
        assert!(judged.text.starts_with("{\"score\": 4,"));
        let tokens = judged.score.expect("score tokens");
        let weighted = |top: &[(u8, f64)]| {
            top.iter().map(|(s, p)| f64::from(*s) * p).sum::<f64>() / top.iter().map(|(_, p)| p).sum::<f64>()
        };
        assert!((weighted(&tokens.top) - 30.0 / 7.0).abs() < 1e-9);
        for exact in (0..=100).map(|i| f64::from(i) / 10.0).chain([0.04, 9.96, 4.5, 5.5]) {
            let t = score_tokens(exact);
            assert!((weighted(&t.top) - exact).abs() < 1e-9, "{exact}: {t:?}");
            assert_eq!(f64::from(t.score), exact.round());
            assert!(t.top.iter().all(|(s, p)| *s <= 10 && *p >= 0.01 && *p <= 1.0), "{t:?}");
        }
    }

    #[test]
    fn tokens_put_together_are_the_text_and_numbers_stand_alone() {
        let text = "{\"score\": 10, \"reason\": \"Every  sentence of 12345 words, e.g. ok.\"}\nDone";
        let tokens = tokens(text);
        assert_eq!(tokens.concat(), text);
        assert_eq!(&tokens[..6], ["{\"", "score", "\":", " ", "10", ","]);
        assert!(tokens.contains(&"123".to_string()) && tokens.contains(&"45".to_string()));
        assert!(tokens.contains(&" sentence".to_string()));
    }

    #[test]
    fn now_and_then_the_judge_answers_in_prose() {
        let prompt = prompt(Task::Statements, &[(tag::ACTUAL_OUTPUT, "One. Two.")]);
        let mut rng = StdRng::seed_from_u64(3);
        let n = 20_000;
        let prose = (0..n)
            .filter(|_| serde_json::from_str::<Statements>(&reply(Task::Statements, &prompt, &mut rng).text).is_err())
            .count();
        // 0.5 % expected: 100 of 20,000.
        assert!((50..=160).contains(&prose), "{prose}");
        assert!(PROSE.iter().all(|p| !p.contains('{')));
    }
}
