//! Turning a provider's reply into what the client receives and one [`RequestRecord`]:
//! usage (reported, or counted when the provider sends none), cost, latency, time to first
//! token and output speed. A stream's record is written when the stream ends for any
//! reason, client disconnects included, and bills what was sent. Times are taken when the
//! call ends; the rest (reading usage, counting content, reporting to the routing engine,
//! queueing the record) waits until the response has gone out, so the client never waits
//! for it.

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

fn cost(input_price_per_mtok: f64, output_price_per_mtok: f64, usage: Usage) -> f64 {
    (usage.prompt as f64 * input_price_per_mtok + usage.completion as f64 * output_price_per_mtok) / 1e6
}

fn ms(from: Instant, to: Instant) -> f64 {
    to.duration_since(from).as_secs_f64() * 1000.0
}

/// Runs `work` once the response being written has gone out. A task spawned from the
/// connection's task runs when that task yields, and hyper yields only after writing what the
/// body gave it; so reporting to the routing engine, queueing the record and the JSON reading
/// behind `usage` happen while the client is already reading. Outside a runtime (never on the
/// request path) it runs at once.
fn after_response(work: impl FnOnce() + Send + 'static) {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => drop(runtime.spawn(async move { work() })),
        Err(_) => work(),
    }
}

pub struct Meter {
    pub facts: RequestFacts,
    pub sink: MetricsSink,
    pub routing: Arc<Routing>,
}

impl Meter {
    /// One provider call that ends now. Its times are taken here; `usage` is worked out later
    /// (see [`after_response`]).
    fn write(
        &self,
        model: &CatalogModel,
        status: u16,
        class: Option<&'static str>,
        ttft: Option<Instant>,
        usage: impl FnOnce() -> Usage + Send + 'static,
    ) {
        let end = Instant::now();
        let facts = self.facts.clone();
        let (model_id, input_price, output_price) = (
            model.id.clone(),
            model.input_price_per_mtok,
            model.output_price_per_mtok,
        );
        let routing = self.routing.clone();
        let sink = self.sink.clone();
        after_response(move || {
            let usage = usage();
            let latency_ms = ms(facts.started, end);
            let ttft_ms = ttft.map(|t| ms(facts.started, t));
            let generating = ttft.map_or(latency_ms, |t| ms(t, end)) / 1000.0;
            let output_tokens_per_s =
                (usage.completion > 0 && generating > 0.0).then(|| usage.completion as f64 / generating);
            let record = RequestRecord {
                request_id: facts.request_id,
                at: now_ms(),
                account_id: facts.account_id,
                api_key_id: Some(facts.api_key_id),
                model_set_id: facts.set_id,
                model_id,
                status,
                error_class: class.map(str::to_string),
                latency_ms,
                ttft_ms,
                output_tokens_per_s,
                prompt_tokens: i64::try_from(usage.prompt).unwrap_or(i64::MAX),
                completion_tokens: i64::try_from(usage.completion).unwrap_or(i64::MAX),
                cost_usd: cost(input_price, output_price, usage),
            };
            if let Some(outcome) = Outcome::of(&record) {
                routing.report(&outcome);
            }
            sink.record(record);
        });
    }

    /// A provider call that failed before any byte reached the client.
    pub fn failure(&self, model: &CatalogModel, error: &ProviderError) {
        let status = match error {
            ProviderError::Upstream { status, .. } => *status,
            ProviderError::RateLimited { .. } => 429,
            ProviderError::Timeout => 504,
            ProviderError::Connect(_) | ProviderError::Protocol(_) => 502,
        };
        self.write(model, status, Some(error.class()), None, Usage::default);
    }

    /// A whole answer: usage from its `usage` object.
    pub fn whole(&self, model: &CatalogModel, body: &Bytes) {
        let body = body.clone();
        let prompt_estimate = self.facts.prompt_estimate;
        self.write(model, 200, None, None, move || {
            // Only `usage` is read; the rest of the answer is skipped, not built into a map.
            serde_json::from_slice::<WholeView>(&body)
                .ok()
                .and_then(|whole| whole.usage)
                .and_then(|u| {
                    Some(Usage {
                        prompt: u.prompt_tokens?,
                        completion: u.completion_tokens.unwrap_or(0),
                    })
                })
                .unwrap_or(Usage {
                    prompt: prompt_estimate,
                    completion: 0,
                })
        });
    }

    /// The SSE body for a started stream. `forward_usage`: whether the client asked for the
    /// usage chunk (the gateway always asks the provider, to bill precisely).
    pub fn stream(self, model: CatalogModel, upstream: ChunkStream, forward_usage: bool) -> Body {
        let mut state = StreamState {
            meter: self,
            model,
            first_token: Instant::now(),
            usage: None,
            content: LazyCount::default(),
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
    /// What was sent, for billing when the provider sends no usage.
    content: LazyCount,
    end: StreamEnd,
}

/// A stream's content characters, counted late. Counting parses each payload, and is needed
/// only when the provider sends no usage (the gateway always asks for it), so payloads wait
/// to be counted at the end of the stream, after the response has gone out. At most
/// [`LazyCount::HELD`] wait: a long stream counts them in batches and holds little.
#[derive(Default)]
struct LazyCount {
    held: Vec<Bytes>,
    chars: usize,
}

impl LazyCount {
    const HELD: usize = 64;

    fn hold(&mut self, payload: &Bytes) {
        if self.held.len() == Self::HELD {
            self.chars += self.held.drain(..).map(|p| content_chars(&p)).sum::<usize>();
        }
        self.held.push(payload.clone());
    }

    fn add(&mut self, chars: usize) {
        self.chars += chars;
    }

    fn total(&self) -> usize {
        self.chars + self.held.iter().map(|p| content_chars(p)).sum::<usize>()
    }
}

impl StreamState {
    /// How the stream ended; read when it is dropped.
    fn set_end(&mut self, end: StreamEnd) {
        self.end = end;
    }

    /// Notes usage and content; returns false for a usage-only chunk (no choices). Only a
    /// chunk that may carry usage is parsed now.
    fn observe(&mut self, payload: &Bytes) -> bool {
        if !may_carry_usage(payload) {
            if self.usage.is_none() {
                self.content.hold(payload);
            }
            return true;
        }
        // A typed, borrowing view: only the fields metering needs, no map per chunk.
        let Ok(chunk) = serde_json::from_slice::<ChunkView>(payload) else {
            return true;
        };
        if let Some(prompt) = chunk.usage.as_ref().and_then(|u| u.prompt_tokens) {
            self.usage = Some(Usage {
                prompt,
                completion: chunk.usage.as_ref().and_then(|u| u.completion_tokens).unwrap_or(0),
            });
            // Counting is no longer needed.
            self.content = LazyCount::default();
        }
        self.content.add(chunk.content_chars());
        !(chunk.choices.as_ref().is_some_and(Vec::is_empty) && chunk.usage.is_some())
    }
}

/// Whether a chunk may hold a `usage` object: an unescaped `"usage"` followed by `:` and `{`.
/// Content chunks (no such key, or `"usage":null`) fail this without being parsed. A false
/// positive costs one parse, and a quote inside a JSON string is always escaped, so a chunk
/// that does carry usage always passes.
fn may_carry_usage(payload: &[u8]) -> bool {
    const KEY: &[u8] = b"\"usage\"";
    memchr::memmem::find_iter(payload, KEY).any(|at| {
        payload[at + KEY.len()..]
            .trim_ascii_start()
            .strip_prefix(b":")
            .is_some_and(|value| value.trim_ascii_start().first() == Some(&b'{'))
    })
}

/// The characters of a chunk's delta content (0 if it is not a chunk).
fn content_chars(payload: &[u8]) -> usize {
    serde_json::from_slice::<ChunkView>(payload).map_or(0, |chunk| chunk.content_chars())
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

impl ChunkView<'_> {
    fn content_chars(&self) -> usize {
        self.choices
            .iter()
            .flatten()
            .filter_map(|choice| choice.delta.as_ref().and_then(|d| d.content.as_deref()))
            .map(str::len)
            .sum()
    }
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
        let (status, class) = match self.end {
            StreamEnd::Done => (200, None),
            StreamEnd::Failed(class) => (502, Some(class)),
            StreamEnd::Cancelled => (499, Some("cancelled")),
        };
        // The provider's usage when it sent one; otherwise what was counted on the way out.
        let reported = self.usage;
        let content = std::mem::take(&mut self.content);
        let prompt_estimate = self.meter.facts.prompt_estimate;
        self.meter
            .write(&self.model, status, class, Some(self.first_token), move || {
                reported.unwrap_or_else(|| Usage {
                    prompt: prompt_estimate,
                    completion: (content.total() as u64).div_ceil(4),
                })
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_chunks_that_may_carry_usage_are_parsed() {
        let usage = br#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}"#;
        let spaced = br#"{"choices": [], "usage" : { "prompt_tokens": 3 }}"#;
        let nested = br#"{"choices":[],"x_groq":{"usage":{"prompt_tokens":3}}}"#;
        for carrying in [&usage[..], spaced, nested] {
            assert!(may_carry_usage(carrying), "{}", String::from_utf8_lossy(carrying));
        }
        let null = br#"{"choices":[{"delta":{"content":"hi"}}],"usage":null}"#;
        let quoted = br#"{"choices":[{"delta":{"content":"say \"usage\": {1}"}}]}"#;
        let word = br#"{"choices":[{"delta":{"content":"usage"}}]}"#;
        for content in [&null[..], quoted, word] {
            assert!(!may_carry_usage(content), "{}", String::from_utf8_lossy(content));
        }
    }

    #[test]
    fn a_long_stream_is_counted_in_batches() {
        let payload = Bytes::from_static(br#"{"choices":[{"index":0,"delta":{"content":"abc"}}]}"#);
        let mut count = LazyCount::default();
        for _ in 0..200 {
            count.hold(&payload);
            assert!(count.held.len() <= LazyCount::HELD);
        }
        count.add(5);
        assert_eq!(count.total(), 200 * 3 + 5);
        assert_eq!(content_chars(b"not json"), 0);
    }
}
