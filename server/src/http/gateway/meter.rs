//! Turning a provider's reply into what the client receives and one [`RequestRecord`]:
//! usage (reported, or counted when the provider sends none), cost, latency, time to first
//! token and output speed. A stream's record is written when the stream ends for any
//! reason, client disconnects included, and bills what was sent.

use std::convert::Infallible;
use std::time::Instant;

use app::catalog::CatalogModel;
use axum::body::{Body, Bytes};
use futures::{FutureExt, StreamExt};

use crate::clock::now_ms;
use crate::metrics::MetricsSink;
use crate::providers::{ChunkStream, ProviderError};
use crate::routing::{Outcome, Routing};
use crate::storage::RequestRecord;
use std::sync::Arc;

/// Who asked, for which set: the fixed part of every record of one request.
#[derive(Clone)]
pub struct RequestFacts {
    pub request_id: String,
    pub account_id: i64,
    pub api_key_id: i64,
    pub set_id: Option<i64>,
    pub started: Instant,
    pub prompt_estimate: u64,
}

#[derive(Clone, Copy, Default)]
pub struct Usage {
    pub prompt: u64,
    pub completion: u64,
}

fn cost(model: &CatalogModel, usage: Usage) -> f64 {
    (usage.prompt as f64 * model.input_price_per_mtok + usage.completion as f64 * model.output_price_per_mtok) / 1e6
}

fn ms(from: Instant, to: Instant) -> f64 {
    to.duration_since(from).as_secs_f64() * 1000.0
}

pub struct Meter {
    pub facts: RequestFacts,
    pub sink: MetricsSink,
    pub routing: Arc<Routing>,
}

impl Meter {
    fn write(&self, model: &CatalogModel, status: u16, class: Option<&str>, usage: Usage, ttft: Option<Instant>) {
        let end = Instant::now();
        let latency_ms = ms(self.facts.started, end);
        let ttft_ms = ttft.map(|t| ms(self.facts.started, t));
        let generating = ttft.map_or(latency_ms, |t| ms(t, end)) / 1000.0;
        let output_tokens_per_s =
            (usage.completion > 0 && generating > 0.0).then(|| usage.completion as f64 / generating);
        let record = RequestRecord {
            request_id: self.facts.request_id.clone(),
            at: now_ms(),
            account_id: self.facts.account_id,
            api_key_id: Some(self.facts.api_key_id),
            model_set_id: self.facts.set_id,
            model_id: model.id.clone(),
            status,
            error_class: class.map(str::to_string),
            latency_ms,
            ttft_ms,
            output_tokens_per_s,
            prompt_tokens: i64::try_from(usage.prompt).unwrap_or(i64::MAX),
            completion_tokens: i64::try_from(usage.completion).unwrap_or(i64::MAX),
            cost_usd: cost(model, usage),
        };
        if let Some(outcome) = Outcome::of(&record) {
            self.routing.report(&outcome);
        }
        self.sink.record(record);
    }

    /// A provider call that failed before any byte reached the client.
    pub fn failure(&self, model: &CatalogModel, error: &ProviderError) {
        let status = match error {
            ProviderError::Upstream { status, .. } => *status,
            ProviderError::RateLimited { .. } => 429,
            ProviderError::Timeout => 504,
            ProviderError::Connect(_) | ProviderError::Protocol(_) => 502,
        };
        self.write(model, status, Some(error.class()), Usage::default(), None);
    }

    /// A whole answer: usage from its `usage` object.
    pub fn whole(&self, model: &CatalogModel, body: &Bytes) {
        // Only `usage` is read; the rest of the answer is skipped, not built into a map.
        let usage = serde_json::from_slice::<WholeView>(body)
            .ok()
            .and_then(|whole| whole.usage)
            .and_then(|u| {
                Some(Usage {
                    prompt: u.prompt_tokens?,
                    completion: u.completion_tokens.unwrap_or(0),
                })
            })
            .unwrap_or(Usage {
                prompt: self.facts.prompt_estimate,
                completion: 0,
            });
        self.write(model, 200, None, usage, None);
    }

    /// The SSE body for a started stream. `forward_usage`: whether the client asked for the
    /// usage chunk (the gateway always asks the provider, to bill precisely).
    pub fn stream(self, model: CatalogModel, upstream: ChunkStream, forward_usage: bool) -> Body {
        let mut state = StreamState {
            meter: self,
            model,
            first_token: Instant::now(),
            usage: None,
            counted_chars: 0,
            end: StreamEnd::Cancelled,
        };
        let frames = async_stream::stream! {
            let mut upstream = upstream;
            let mut next = upstream.next().await;
            loop {
                // This event and every one already received go out as one body frame: a burst
                // from the provider costs one write, not one per event. Nothing waits for more.
                let mut out: Vec<u8> = Vec::new();
                let ended = loop {
                    match next.take() {
                        None => break true,
                        Some(Ok(payload)) => {
                            if state.observe(&payload) || forward_usage {
                                push_event(&mut out, &payload);
                            }
                        }
                        Some(Err(e)) => {
                            // Bytes already went out: the status line is sent, so the error
                            // travels as a final event and the stream ends without [DONE].
                            let event = serde_json::json!({"error": {
                                "message": format!("The provider failed mid-stream: {e}"),
                                "type": "server_error", "param": null, "code": e.class(),
                            }});
                            state.set_end(StreamEnd::Failed(e.class()));
                            push_event(&mut out, event.to_string().as_bytes());
                            yield Ok::<Bytes, Infallible>(Bytes::from(out));
                            return;
                        }
                    }
                    match upstream.next().now_or_never() {
                        Some(item) => next = item,
                        None => break false,
                    }
                };
                if ended {
                    state.set_end(StreamEnd::Done);
                    out.extend_from_slice(b"data: [DONE]\n\n");
                    yield Ok(Bytes::from(out));
                    return;
                }
                if !out.is_empty() {
                    yield Ok(Bytes::from(out));
                }
                next = upstream.next().await;
            }
        };
        Body::from_stream(frames)
    }
}

fn push_event(out: &mut Vec<u8>, payload: &[u8]) {
    out.reserve(payload.len() + 8);
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\n\n");
}

enum StreamEnd {
    Done,
    Failed(&'static str),
    /// The client went away (or the server stopped) before the end.
    Cancelled,
}

struct StreamState {
    meter: Meter,
    model: CatalogModel,
    first_token: Instant,
    usage: Option<Usage>,
    counted_chars: usize,
    end: StreamEnd,
}

impl StreamState {
    /// How the stream ended; read when it is dropped.
    fn set_end(&mut self, end: StreamEnd) {
        self.end = end;
    }

    /// Notes usage and content; returns false for a usage-only chunk (no choices).
    fn observe(&mut self, payload: &[u8]) -> bool {
        // A typed, borrowing view: only the fields metering needs, no map per chunk.
        let Ok(chunk) = serde_json::from_slice::<ChunkView>(payload) else {
            return true;
        };
        if let Some(prompt) = chunk.usage.as_ref().and_then(|u| u.prompt_tokens) {
            self.usage = Some(Usage {
                prompt,
                completion: chunk.usage.as_ref().and_then(|u| u.completion_tokens).unwrap_or(0),
            });
        }
        for choice in chunk.choices.iter().flatten() {
            if let Some(text) = choice.delta.as_ref().and_then(|d| d.content.as_deref()) {
                self.counted_chars += text.len();
            }
        }
        !(chunk.choices.as_ref().is_some_and(Vec::is_empty) && chunk.usage.is_some())
    }
}

/// The part of a whole answer that metering reads.
#[derive(serde::Deserialize)]
struct WholeView {
    #[serde(default)]
    usage: Option<UsageView>,
}

/// The parts of a streamed chunk that metering reads; everything else is skipped unparsed.
#[derive(serde::Deserialize)]
struct ChunkView<'a> {
    #[serde(default, borrow)]
    choices: Option<Vec<ChoiceView<'a>>>,
    #[serde(default)]
    usage: Option<UsageView>,
}

#[derive(serde::Deserialize)]
struct ChoiceView<'a> {
    #[serde(default, borrow)]
    delta: Option<DeltaView<'a>>,
}

#[derive(serde::Deserialize)]
struct DeltaView<'a> {
    #[serde(default, borrow)]
    content: Option<std::borrow::Cow<'a, str>>,
}

#[derive(serde::Deserialize)]
struct UsageView {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
}

impl Drop for StreamState {
    fn drop(&mut self) {
        // The provider's usage when it sent one; otherwise what was counted on the way out.
        let usage = self.usage.unwrap_or(Usage {
            prompt: self.meter.facts.prompt_estimate,
            completion: (self.counted_chars as u64).div_ceil(4),
        });
        let (status, class) = match self.end {
            StreamEnd::Done => (200, None),
            StreamEnd::Failed(class) => (502, Some(class)),
            StreamEnd::Cancelled => (499, Some("cancelled")),
        };
        self.meter
            .write(&self.model, status, class, usage, Some(self.first_token));
    }
}
