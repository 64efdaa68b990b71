//! The simulator: answers in OpenAI's format after a time to first token, at a token rate,
//! with a completion length and an error rate drawn from the model's [`SimulationProfile`].
//! - [`answer`]: the text, sentences about the request's last user message, on topic as
//!   often as the profile's `quality` says (or a JSON object in JSON mode).
//! - [`judge`]: a prompt that names a judge task (`app::evals::task`) is answered as that
//!   task asks, from the prompt's content alone, so that offline the simulator is the judge.
//!   [`instant_judge`]: the same judge as an in-process [`crate::evals::judge::Judge`] that
//!   does not sleep (the demo's history scores its evals with it).
//! - [`words`]: the one word rule both use (content words, sentences, hedges, opinions).

pub mod answer;
pub mod instant_judge;
pub mod judge;
pub mod words;

use std::time::Duration;

use app::catalog::{CatalogModel, SimulationProfile};
use app::evals::task;
use axum::body::Bytes;
use rand::Rng;
use rand_distr::StandardNormal;
use serde_json::{json, Map, Value};
use tokio::time::{sleep, sleep_until, Instant};

use super::{sse, unix_now, ChatRequest, ClientBody, Provider, ProviderError, Reply, Timeouts};

pub struct SimulatedProvider;

/// The random part of one simulated call, before any text: what the simulator serves and what
/// the demo history (`demo::history`) records, drawn the same way so both behave alike.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Draw {
    /// Time to first token, milliseconds.
    pub ttft_ms: f64,
    /// Output speed, tokens per second (at least 0.1).
    pub tokens_per_s: f64,
    /// Completion length, 1..=4096 tokens.
    pub output_tokens: u32,
    /// Whether the call fails (HTTP 500 after the time to first token).
    pub fails: bool,
}

impl Draw {
    /// Draws one call from `profile`: log-normal time, speed and length around its medians
    /// with σ = `jitter`, and a failure with probability `error_rate`. Pure given the RNG, so
    /// a seeded one reproduces a history.
    pub fn sample(profile: &SimulationProfile, rng: &mut impl Rng) -> Draw {
        let mut spread = |median: f64| {
            let z: f64 = rng.sample(StandardNormal);
            (median * (profile.jitter * z).exp()).max(0.0)
        };
        let ttft_ms = spread(profile.ttft_ms);
        let tokens_per_s = spread(profile.tokens_per_s).max(0.1);
        let output_tokens = spread(profile.output_tokens).round().clamp(1.0, 4096.0) as u32;
        let fails = rng.random_bool(profile.error_rate.clamp(0.0, 1.0));
        Draw {
            ttft_ms,
            tokens_per_s,
            output_tokens,
            fails,
        }
    }

    /// The whole call of a success: first token, then every token at the drawn speed.
    pub fn latency_ms(&self) -> f64 {
        self.ttft_ms + 1000.0 * f64::from(self.output_tokens) / self.tokens_per_s
    }
}

/// What the simulator reads of a request. The body is parsed here, on the simulator's path
/// only; the gateway itself keeps it as bytes.
#[derive(Debug, Default)]
struct Asked {
    /// The last user message's text: the question, or a judge's prompt.
    prompt: String,
    /// The text of every message: what an off-topic sentence must not mention.
    context: String,
    /// JSON mode (`response_format` of type `json_object` or `json_schema`).
    json: Option<answer::JsonFormat>,
    /// `top_logprobs` (0 when absent) when the request asked for `logprobs`.
    logprobs: Option<usize>,
}

impl Asked {
    fn read(body: &ClientBody) -> Asked {
        Asked::from_map(&body.to_map())
    }

    fn from_map(body: &Map<String, Value>) -> Asked {
        let messages = body
            .get("messages")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        let prompt = messages
            .iter()
            .rev()
            .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
            .map(message_text)
            .unwrap_or_default();
        let context = messages.iter().map(message_text).collect::<Vec<_>>().join("\n");
        let format = body.get("response_format");
        let json = match format.and_then(|f| f.get("type")).and_then(Value::as_str) {
            Some("json_object") => Some(answer::JsonFormat::Object),
            Some("json_schema") => Some(
                match format
                    .and_then(|f| f.pointer("/json_schema/schema"))
                    .filter(|s| s.is_object())
                {
                    Some(schema) => answer::JsonFormat::Schema(schema.clone()),
                    None => answer::JsonFormat::Object,
                },
            ),
            _ => None,
        };
        let logprobs = (body.get("logprobs").and_then(Value::as_bool) == Some(true)).then(|| {
            let top = body.get("top_logprobs").and_then(Value::as_u64).unwrap_or(0);
            // OpenAI's limit; a larger count would only list the same few alternatives.
            usize::try_from(top.min(20)).unwrap_or(0)
        });
        Asked {
            prompt,
            context,
            json,
            logprobs,
        }
    }
}

/// A message's text: a string content, or its text parts one a line.
fn message_text(message: &Value) -> String {
    match message.get("content") {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|part| part.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// The reply's content as it is streamed, a piece a chunk (and a token of the usage), with
/// OpenAI's `logprobs.content` entry for each piece when the request asked for them.
#[derive(Debug, Clone, PartialEq)]
struct Output {
    pieces: Vec<String>,
    logprobs: Option<Vec<Value>>,
}

impl Output {
    /// The reply to `asked` for a model of `profile` whose draw gave `output_tokens`. A judge
    /// prompt gets the task's JSON, split into tokens; anything else an answer of exactly
    /// `output_tokens` words (JSON mode: about as many), a word a piece.
    fn compose(profile: &SimulationProfile, output_tokens: u32, asked: &Asked, rng: &mut impl Rng) -> Output {
        let words = output_tokens as usize;
        let quality = profile.quality.clamp(0.0, 1.0);
        let (pieces, score) = if let Some(task) = task::task_of(&asked.prompt) {
            let judged = judge::reply(task, &asked.prompt, rng);
            (judge::tokens(&judged.text), judged.score)
        } else {
            let question = answer::Question::new(&asked.prompt, &asked.context);
            let text = match &asked.json {
                Some(format) => answer::json(&question, format, words, quality, rng),
                None => answer::text(&question, words, quality, rng),
            };
            // The texts have single spaces only, so the pieces put together are the text.
            let pieces = text
                .split(' ')
                .enumerate()
                .map(|(i, word)| if i == 0 { word.to_string() } else { format!(" {word}") })
                .collect();
            (pieces, None)
        };
        let logprobs = asked.logprobs.map(|top| logprobs(&pieces, score.as_ref(), top));
        Output { pieces, logprobs }
    }

    fn text(&self) -> String {
        self.pieces.concat()
    }

    /// The choice's `logprobs` for the whole reply: null unless asked for.
    fn logprobs_value(&self) -> Value {
        match &self.logprobs {
            Some(content) => json!({"content": content, "refusal": null}),
            None => Value::Null,
        }
    }
}

/// OpenAI's `logprobs.content`, one entry per piece (`token`, `logprob`, `bytes`,
/// `top_logprobs` cut to `top` entries), from [`judge::token_logprobs`].
fn logprobs(pieces: &[String], score: Option<&judge::ScoreTokens>, top: usize) -> Vec<Value> {
    let entry = |token: &str, logprob: f64| json!({"token": token, "logprob": logprob, "bytes": token.as_bytes()});
    judge::token_logprobs(pieces, score)
        .into_iter()
        .map(|t| {
            let mut value = entry(&t.token, t.logprob);
            value["top_logprobs"] = t.top.iter().take(top).map(|(t, l)| entry(t, *l)).collect();
            value
        })
        .collect()
}

/// Everything random about one simulated call, drawn before the first await.
struct Plan {
    ttft: Duration,
    per_token: Duration,
    fails: bool,
    output: Output,
}

impl Plan {
    fn draw(profile: &SimulationProfile, asked: &Asked) -> Plan {
        let mut rng = rand::rng();
        // The draw first, as the demo history makes it; the text from the same RNG after it.
        let draw = Draw::sample(profile, &mut rng);
        let output = Output::compose(profile, draw.output_tokens, asked, &mut rng);
        Plan {
            ttft: Duration::from_secs_f64(draw.ttft_ms / 1000.0),
            per_token: Duration::from_secs_f64(1.0 / draw.tokens_per_s),
            fails: draw.fails,
            output,
        }
    }
}

fn completion_id() -> String {
    let n: u64 = rand::rng().random();
    format!("chatcmpl-sim-{n:016x}")
}

#[async_trait::async_trait]
impl Provider for SimulatedProvider {
    async fn chat(
        &self,
        model: &CatalogModel,
        request: ChatRequest<'_>,
        timeouts: Timeouts,
    ) -> Result<Reply, ProviderError> {
        let plan = Plan::draw(&model.simulation.unwrap_or_default(), &Asked::read(request.body));
        let started = Instant::now();
        if plan.ttft > timeouts.first_token() {
            sleep(timeouts.first_token()).await;
            return Err(ProviderError::Timeout);
        }
        sleep(plan.ttft).await;
        if plan.fails {
            let body = json!({"error": {"message": "simulated upstream failure", "type": "server_error", "param": null, "code": null}});
            return Err(ProviderError::Upstream {
                status: 500,
                body: Bytes::from(body.to_string()),
            });
        }
        let id = completion_id();
        let created = unix_now();
        let name = model.upstream_name.clone();
        let prompt_tokens = request.body.prompt_estimate();
        // A piece a token: the drawn length for an answer, the reply's tokens for a judge.
        let output_tokens = u32::try_from(plan.output.pieces.len()).unwrap_or(u32::MAX);
        let usage = json!({
            "prompt_tokens": prompt_tokens,
            "completion_tokens": output_tokens,
            "total_tokens": prompt_tokens + u64::from(output_tokens),
        });

        if !request.stream {
            let generation = plan.per_token * output_tokens;
            if started.elapsed() + generation > timeouts.total() {
                sleep(timeouts.total().saturating_sub(started.elapsed())).await;
                return Err(ProviderError::Timeout);
            }
            sleep(generation).await;
            let body = json!({
                "id": id,
                "object": "chat.completion",
                "created": created,
                "model": name,
                "system_fingerprint": "setpoint-simulated",
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": plan.output.text()},
                    "logprobs": plan.output.logprobs_value(),
                    "finish_reason": "stop"
                }],
                "usage": usage,
            });
            return Ok(Reply::Whole(Bytes::from(body.to_string())));
        }

        let chunk = move |delta: Value, logprobs: Value, finish: Value| {
            Bytes::from(
                json!({
                    "id": id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": name,
                    "system_fingerprint": "setpoint-simulated",
                    "choices": [{"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}],
                })
                .to_string(),
            )
        };
        let Plan { per_token, output, .. } = plan;
        let stream = async_stream::stream! {
            let mut due = Instant::now();
            for (i, piece) in output.pieces.iter().enumerate() {
                if i > 0 {
                    due += per_token;
                    sleep_until(due).await;
                }
                let delta = if i == 0 { json!({"role": "assistant", "content": piece}) } else { json!({"content": piece}) };
                // A streamed reply carries its logprobs as OpenAI's do: each chunk those of its own tokens.
                let logprobs = match output.logprobs.as_ref().and_then(|all| all.get(i)) {
                    Some(entry) => json!({"content": [entry], "refusal": null}),
                    None => Value::Null,
                };
                yield Ok(sse::frame(&chunk(delta, logprobs, Value::Null)));
            }
            yield Ok(sse::frame(&chunk(json!({}), Value::Null, json!("stop"))));
            // Always the usage chunk, as the OpenAI provider always asks for it: the gateway
            // bills from it and passes it on only to a client that asked.
            let mut last: Value = serde_json::from_slice(&chunk(json!({}), Value::Null, Value::Null)).unwrap_or_default();
            last["choices"] = json!([]);
            last["usage"] = usage;
            yield Ok(sse::frame(last.to_string().as_bytes()));
        };
        Ok(Reply::Stream(Box::pin(stream)))
    }
}

#[cfg(test)]
mod tests {
    use app::evals::task::{block, tag, task_line, Statements, Task, Verdicts};
    use futures::StreamExt;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;

    const QUESTION: &str = "Which vector database handles billions of embeddings with low latency?";

    fn asked(body: Value) -> Asked {
        Asked::from_map(body.as_object().expect("a test body is an object"))
    }

    fn profile(quality: f64) -> SimulationProfile {
        SimulationProfile {
            quality,
            ..SimulationProfile::default()
        }
    }

    #[test]
    fn the_request_s_last_user_message_json_mode_and_logprobs_are_read() {
        let read = asked(json!({
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "first"},
                {"role": "assistant", "content": "ok"},
                {"role": "user", "content": [{"type": "text", "text": "Tell me"}, {"type": "image_url"}, {"type": "text", "text": "about tea."}]}
            ],
            "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
            "logprobs": true,
            "top_logprobs": 50
        }));
        assert_eq!(read.prompt, "Tell me\nabout tea.");
        assert_eq!(read.context, "Be brief.\nfirst\nok\nTell me\nabout tea.");
        assert_eq!(read.json, Some(answer::JsonFormat::Schema(json!({"type": "object"}))));
        assert_eq!(read.logprobs, Some(20));
        let plain = asked(
            json!({"messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "text"}, "logprobs": false}),
        );
        assert_eq!((plain.json, plain.logprobs), (None, None));
        assert_eq!(
            asked(json!({"response_format": {"type": "json_object"}})).json,
            Some(answer::JsonFormat::Object)
        );
    }

    #[test]
    fn an_answer_has_the_drawn_length_a_word_a_piece() {
        let read = asked(json!({"messages": [{"role": "user", "content": QUESTION}]}));
        let mut rng = StdRng::seed_from_u64(2);
        for tokens in [1, 2, 7, 180, 4096] {
            let output = Output::compose(&profile(0.9), tokens, &read, &mut rng);
            assert_eq!(output.pieces.len(), tokens as usize);
            assert!(output
                .pieces
                .iter()
                .skip(1)
                .all(|p| p.starts_with(' ') && !p[1..].contains(' ')));
            let text = output.text();
            assert!(
                text.ends_with('.') && text.starts_with(|c: char| c.is_uppercase()),
                "{text}"
            );
            assert_eq!(output.logprobs, None);
        }
    }

    /// Σ p·s / Σ p over the score token's alternatives, as G-Eval weighs them (alternatives
    /// under 1 % dropped).
    fn weighted_score(logprobs: &[Value], score: &str) -> f64 {
        let entry = logprobs.iter().find(|e| e["token"] == score).expect("the score token");
        let (mut sum, mut weight) = (0.0, 0.0);
        for alternative in entry["top_logprobs"].as_array().expect("top_logprobs") {
            let p = alternative["logprob"].as_f64().expect("a logprob").exp();
            let s: f64 = alternative["token"]
                .as_str()
                .and_then(|t| t.parse().ok())
                .expect("an integer");
            if p >= 0.01 {
                sum += p * s;
                weight += p;
            }
        }
        sum / weight
    }

    #[test]
    fn a_g_eval_score_s_logprobs_weigh_to_ten_times_the_share_on_topic() {
        let read_answer = asked(json!({"messages": [{"role": "user", "content": QUESTION}]}));
        let topic = words::Topic::of(QUESTION);
        let mut rng = StdRng::seed_from_u64(4);
        let mut checked = 0;
        for quality in [0.6, 0.75, 0.9, 1.0] {
            for _ in 0..50 {
                let answer = Output::compose(&profile(quality), 60, &read_answer, &mut rng).text();
                let sentences = words::sentences(&answer);
                let share = sentences.iter().filter(|s| topic.addressed_by(s)).count() as f64 / sentences.len() as f64;
                let prompt = format!(
                    "{}Score the answer.\n{}{}{}",
                    task_line(Task::GEvalScore),
                    block(tag::CRITERIA, "The answer addresses the question."),
                    block(tag::INPUT, QUESTION),
                    block(tag::ACTUAL_OUTPUT, &answer)
                );
                let judge = asked(json!({
                    "messages": [{"role": "user", "content": prompt}],
                    "logprobs": true, "top_logprobs": 5
                }));
                let output = Output::compose(&profile(0.8), 1, &judge, &mut rng);
                let Ok(reply) = serde_json::from_str::<app::evals::task::GEvalScore>(&output.text()) else {
                    continue; // the judge's rare prose
                };
                let logprobs = output.logprobs.as_deref().expect("logprobs were asked for");
                assert_eq!(logprobs.len(), output.pieces.len());
                let weighted = weighted_score(logprobs, &format!("{}", reply.score));
                assert!((weighted - 10.0 * share).abs() < 0.5, "{weighted} vs {share}");
                assert!((weighted - 10.0 * share).abs() < 1e-6, "exact with 5 alternatives");
                assert!((reply.score - 10.0 * share).abs() <= 0.5);
                checked += 1;
            }
        }
        assert!(checked > 190, "{checked}");
    }

    #[test]
    fn the_simulated_judge_scores_a_better_model_higher_from_the_answers_alone() {
        // Answer relevancy as the metric computes it: statements, then verdicts; relevant
        // is any verdict but "no".
        let read_answer = asked(json!({"messages": [{"role": "user", "content": QUESTION}]}));
        let mut rng = StdRng::seed_from_u64(8);
        let mut relevancy = |quality: f64| {
            let mut scores = Vec::new();
            for _ in 0..200 {
                let answer = Output::compose(&profile(quality), 120, &read_answer, &mut rng).text();
                let ask = |prompt: String, rng: &mut StdRng| {
                    Output::compose(
                        &profile(0.8),
                        1,
                        &asked(json!({"messages": [{"role": "user", "content": prompt}]})),
                        rng,
                    )
                    .text()
                };
                let statements = ask(
                    format!("{}{}", task_line(Task::Statements), block(tag::ACTUAL_OUTPUT, &answer)),
                    &mut rng,
                );
                let Ok(statements) = serde_json::from_str::<Statements>(&statements) else {
                    continue;
                };
                let list = serde_json::to_string(&statements.statements).expect("a list");
                let verdicts = ask(
                    format!(
                        "{}{}{}",
                        task_line(Task::RelevancyVerdicts),
                        block(tag::INPUT, QUESTION),
                        block(tag::STATEMENTS, &list)
                    ),
                    &mut rng,
                );
                let Ok(verdicts) = serde_json::from_str::<Verdicts>(&verdicts) else {
                    continue;
                };
                assert_eq!(verdicts.verdicts.len(), statements.statements.len());
                let relevant = verdicts.verdicts.iter().filter(|v| v.verdict != "no").count();
                scores.push(relevant as f64 / verdicts.verdicts.len() as f64);
            }
            scores.iter().sum::<f64>() / scores.len() as f64
        };
        let (high, low) = (relevancy(0.95), relevancy(0.65));
        eprintln!("answer relevancy through the judge: quality 0.95 → {high:.3}, 0.65 → {low:.3}");
        // Expected: hedges count as relevant (idk), so 0.05 + 0.95 × quality.
        assert!((high - (0.05 + 0.95 * 0.95)).abs() < 0.04, "{high}");
        assert!((low - (0.05 + 0.95 * 0.65)).abs() < 0.04, "{low}");
        assert!(high - low > 0.2);
    }

    fn body(json: &Value) -> ClientBody {
        let raw = json.to_string();
        let model = raw.find("\"sim\"").expect("the model is named sim");
        ClientBody::new(Bytes::from(raw.clone()), 1, model..model + 5, None, raw.len())
    }

    fn model(profile: SimulationProfile) -> CatalogModel {
        CatalogModel {
            id: "simulated/sim".into(),
            provider: "simulated".into(),
            upstream_name: "sim".into(),
            input_price_per_mtok: 1.0,
            output_price_per_mtok: 1.0,
            context_window: 8000,
            capabilities: Default::default(),
            simulated: true,
            simulation: Some(profile),
        }
    }

    const TIMEOUTS: Timeouts = Timeouts {
        connect_ms: 1000,
        first_token_ms: 5000,
        total_ms: 10_000,
    };

    #[tokio::test]
    async fn a_judge_call_is_answered_whole_or_streamed_with_its_tokens_and_logprobs() {
        let fast = SimulationProfile {
            ttft_ms: 1.0,
            tokens_per_s: 100_000.0,
            jitter: 0.0,
            ..SimulationProfile::default()
        };
        let prompt = format!(
            "{}{}{}",
            task_line(Task::GEvalScore),
            block(tag::INPUT, QUESTION),
            block(tag::ACTUAL_OUTPUT, "Vector databases index embeddings. Tea is nice.")
        );
        let request = json!({"model": "sim", "messages": [{"role": "user", "content": prompt}], "logprobs": true, "top_logprobs": 3});
        let body = body(&request);
        let model = model(fast);
        let mut tries = 0;
        let (content, usage, logprobs) = loop {
            let reply = SimulatedProvider
                .chat(
                    &model,
                    ChatRequest {
                        body: &body,
                        stream: false,
                    },
                    TIMEOUTS,
                )
                .await;
            let Ok(Reply::Whole(bytes)) = reply else {
                panic!("a whole answer")
            };
            let whole: Value = serde_json::from_slice(&bytes).expect("JSON");
            let content = whole["choices"][0]["message"]["content"]
                .as_str()
                .expect("content")
                .to_string();
            tries += 1;
            if content.starts_with('{') || tries > 5 {
                break (
                    content,
                    whole["usage"].clone(),
                    whole["choices"][0]["logprobs"]["content"].clone(),
                );
            }
        };
        assert!(content.starts_with("{\"score\": 5,"), "{content}");
        let logprobs = logprobs.as_array().expect("logprobs.content");
        assert_eq!(usage["completion_tokens"].as_u64(), Some(logprobs.len() as u64));
        assert!((weighted_score(logprobs, "5") - 5.0).abs() < 1e-6);
        assert_eq!(
            logprobs
                .iter()
                .map(|e| e["token"].as_str().unwrap_or(""))
                .collect::<String>(),
            content
        );

        let Ok(Reply::Stream(mut stream)) = SimulatedProvider
            .chat(
                &model,
                ChatRequest {
                    body: &body,
                    stream: true,
                },
                TIMEOUTS,
            )
            .await
        else {
            panic!("a stream")
        };
        let (mut text, mut entries, mut usage) = (String::new(), 0, Value::Null);
        while let Some(frame) = stream.next().await {
            let frame = frame.expect("no error");
            let payload: Value = serde_json::from_slice(
                frame
                    .strip_prefix(b"data: ")
                    .and_then(|f| f.strip_suffix(b"\n\n"))
                    .expect("one event"),
            )
            .expect("JSON");
            if let Some(piece) = payload["choices"][0]["delta"]["content"].as_str() {
                text.push_str(piece);
                let chunk_logprobs = payload["choices"][0]["logprobs"]["content"]
                    .as_array()
                    .expect("logprobs");
                assert_eq!(chunk_logprobs.len(), 1);
                assert_eq!(chunk_logprobs[0]["token"], piece);
                entries += 1;
            }
            if !payload["usage"].is_null() {
                usage = payload["usage"].clone();
            }
        }
        assert_eq!(usage["completion_tokens"].as_u64(), Some(entries));
        assert!(
            text.starts_with('{') || text.starts_with(|c: char| c.is_uppercase()),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_plain_answer_streams_a_word_a_chunk_and_bills_the_drawn_length() {
        let fast = SimulationProfile {
            ttft_ms: 1.0,
            tokens_per_s: 100_000.0,
            output_tokens: 40.0,
            jitter: 0.0,
            ..SimulationProfile::default()
        };
        let body = body(&json!({"model": "sim", "messages": [{"role": "user", "content": QUESTION}]}));
        let Ok(Reply::Stream(mut stream)) = SimulatedProvider
            .chat(
                &model(fast),
                ChatRequest {
                    body: &body,
                    stream: true,
                },
                TIMEOUTS,
            )
            .await
        else {
            panic!("a stream")
        };
        let mut pieces = Vec::new();
        let mut usage = Value::Null;
        while let Some(frame) = stream.next().await {
            let frame = frame.expect("no error");
            let payload: Value = serde_json::from_slice(&frame[6..frame.len() - 2]).expect("JSON");
            if let Some(piece) = payload["choices"][0]["delta"]["content"].as_str() {
                assert!(payload["choices"][0]["logprobs"].is_null());
                pieces.push(piece.to_string());
            }
            if !payload["usage"].is_null() {
                usage = payload["usage"].clone();
            }
        }
        assert_eq!(pieces.len(), 40);
        assert_eq!(usage["completion_tokens"], 40);
        let text = pieces.concat();
        assert_eq!(text.split(' ').count(), 40);
        assert!(text.ends_with('.'), "{text}");
    }
}
