//! The simulator: answers in OpenAI's format after a time to first token, at a token rate,
//! with a completion length and an error rate drawn from the model's [`SimulationProfile`].

use std::time::Duration;

use app::catalog::{CatalogModel, SimulationProfile};
use axum::body::Bytes;
use rand::Rng;
use rand_distr::StandardNormal;
use serde_json::{json, Value};
use tokio::time::{sleep, sleep_until, Instant};

use super::{sse, unix_now, ChatRequest, Provider, ProviderError, Reply, Timeouts};

pub struct SimulatedProvider;

const WORDS: &[&str] = &[
    "the",
    "set",
    "routes",
    "each",
    "request",
    "to",
    "a",
    "model",
    "that",
    "keeps",
    "its",
    "average",
    "behaviour",
    "within",
    "target",
    "while",
    "cost",
    "stays",
    "low",
    "and",
    "answers",
    "arrive",
    "quickly",
    "enough",
    "for",
    "most",
    "people",
    "who",
    "care",
    "about",
    "latency",
    "quality",
    "or",
    "price",
];

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

/// Everything random about one simulated call, drawn before the first await.
struct Plan {
    ttft: Duration,
    per_token: Duration,
    output_tokens: u32,
    fails: bool,
    words: Vec<&'static str>,
}

impl Plan {
    fn draw(profile: &SimulationProfile) -> Plan {
        let mut rng = rand::rng();
        let draw = Draw::sample(profile, &mut rng);
        let words = (0..draw.output_tokens)
            .map(|_| WORDS[rng.random_range(0..WORDS.len())])
            .collect();
        Plan {
            ttft: Duration::from_secs_f64(draw.ttft_ms / 1000.0),
            per_token: Duration::from_secs_f64(1.0 / draw.tokens_per_s),
            output_tokens: draw.output_tokens,
            fails: draw.fails,
            words,
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
        let plan = Plan::draw(&model.simulation.unwrap_or_default());
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
        let usage = json!({
            "prompt_tokens": prompt_tokens,
            "completion_tokens": plan.output_tokens,
            "total_tokens": prompt_tokens + u64::from(plan.output_tokens),
        });

        if !request.stream {
            let generation = plan.per_token * plan.output_tokens;
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
                    "message": {"role": "assistant", "content": plan.words.join(" ")},
                    "logprobs": null,
                    "finish_reason": "stop"
                }],
                "usage": usage,
            });
            return Ok(Reply::Whole(Bytes::from(body.to_string())));
        }

        let chunk = move |delta: Value, finish: Value| {
            Bytes::from(
                json!({
                    "id": id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": name,
                    "system_fingerprint": "setpoint-simulated",
                    "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
                })
                .to_string(),
            )
        };
        let Plan { per_token, words, .. } = plan;
        let stream = async_stream::stream! {
            let mut due = Instant::now();
            for (i, word) in words.iter().enumerate() {
                if i > 0 {
                    due += per_token;
                    sleep_until(due).await;
                }
                let text = if i == 0 { (*word).to_string() } else { format!(" {word}") };
                let delta = if i == 0 { json!({"role": "assistant", "content": text}) } else { json!({"content": text}) };
                yield Ok(sse::frame(&chunk(delta, Value::Null)));
            }
            yield Ok(sse::frame(&chunk(json!({}), json!("stop"))));
            // Always the usage chunk, as the OpenAI provider always asks for it: the gateway
            // bills from it and passes it on only to a client that asked.
            let mut last: Value = serde_json::from_slice(&chunk(json!({}), Value::Null)).unwrap_or_default();
            last["choices"] = json!([]);
            last["usage"] = usage;
            yield Ok(sse::frame(last.to_string().as_bytes()));
        };
        Ok(Reply::Stream(Box::pin(stream)))
    }
}
