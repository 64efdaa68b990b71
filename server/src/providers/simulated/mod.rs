//! The simulator: answers in OpenAI's format after a time to first token, at a token rate,
//! with a completion length and an error rate drawn from the model's [`SimulationProfile`].
//! - [`answer`]: the text, sentences about the request's last user message, on topic as
//!   often as the profile's `quality` says (or a JSON object in JSON mode).
//! - [`words`]: the one word rule both use (content words, sentences, hedges, opinions).

pub mod answer;
pub mod words;

use std::time::Duration;

use app::catalog::{CatalogModel, SimulationProfile};
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

/// The log probability of a token nothing else competed with (OpenAI reports a value just
/// below zero for these).
const SURE_LOGPROB: f64 = -1e-4;

impl Output {
    /// The reply to `asked` for a model of `profile` whose draw gave `output_tokens`: an
    /// answer of exactly `output_tokens` words (JSON mode: about as many), a word a piece.
    fn compose(profile: &SimulationProfile, output_tokens: u32, asked: &Asked, rng: &mut impl Rng) -> Output {
        let words = output_tokens as usize;
        let quality = profile.quality.clamp(0.0, 1.0);
        let question = answer::Question::new(&asked.prompt, &asked.context);
        let text = match &asked.json {
            Some(format) => answer::json(&question, format, words, quality, rng),
            None => answer::text(&question, words, quality, rng),
        };
        // The texts have single spaces only, so the pieces put together are the text.
        let pieces: Vec<String> = text
            .split(' ')
            .enumerate()
            .map(|(i, word)| if i == 0 { word.to_string() } else { format!(" {word}") })
            .collect();
        let logprobs = asked.logprobs.map(|top| logprobs(&pieces, top));
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
/// `top_logprobs` cut to `top` entries), every piece certain.
fn logprobs(pieces: &[String], top: usize) -> Vec<Value> {
    let entry = |token: &str, logprob: f64| json!({"token": token, "logprob": logprob, "bytes": token.as_bytes()});
    pieces
        .iter()
        .map(|piece| {
            let mut value = entry(piece, SURE_LOGPROB);
            value["top_logprobs"] = std::iter::repeat_n(entry(piece, SURE_LOGPROB), top.min(1)).collect();
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
        // A piece a token: the drawn length (about it, in JSON mode).
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
