//! Turning a provider's reply into what the client receives and one [`RequestRecord`]:
//! usage (reported, or counted when the provider sends none), cost, latency, time to first
//! token and output speed. A stream's record is written when the stream ends for any
//! reason, client disconnects included, and bills what was sent. Times are taken when the
//! call ends; the rest (reading usage, counting content, reporting to the routing engine,
//! queueing the record) waits until the response has gone out, so the client never waits
//! for it.

use std::convert::Infallible;
use std::sync::LazyLock;
use std::time::Instant;

use app::catalog::CatalogModel;
use axum::body::{Body, Bytes};
use futures::StreamExt;

use crate::clock::now_ms;
use crate::evals::queue::{Answer, Captured, EvalSink};
use crate::metrics::MetricsSink;
use crate::providers::{sse, EventStream, ProviderError};
use crate::routing::{Outcome, Routing};
use crate::storage::RequestRecord;
use std::sync::Arc;

/// Who asked, for which set: the fixed part of every record of one request.
#[derive(Clone)]
pub struct RequestFacts {
    pub request_id: String,
    pub account_id: i64,
    /// `None` for the set page's "Try it", which runs on the browser's session.
    pub api_key_id: Option<i64>,
    pub set_id: Option<i64>,
    /// When the call being metered started: the request's start for the first call, the retry's
    /// for a retry. A record is one model's call, and its latency is what routing learns of that
    /// model, so a retry's record must not carry the failed call's time.
    pub started: Instant,
    pub prompt_estimate: u64,
    /// Set when the request was drawn for evals: its answer goes to the eval queue.
    pub eval: Option<EvalDraw>,
}

/// A request drawn for evals: what its eval job needs besides the answer.
#[derive(Clone)]
pub struct EvalDraw {
    pub settings: Arc<app::model_set::EvalSettings>,
    /// The client's body, as it arrived.
    pub request: Bytes,
    pub sink: EvalSink,
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

#[derive(Clone)]
pub struct Meter {
    pub facts: RequestFacts,
    pub sink: MetricsSink,
    pub routing: Arc<Routing>,
}

/// The model a record is of, and its prices: all of the catalog entry a record needs.
struct Billed {
    model_id: String,
    input_price_per_mtok: f64,
    output_price_per_mtok: f64,
}

impl Billed {
    fn of(model: &CatalogModel) -> Self {
        Billed {
            model_id: model.id.clone(),
            input_price_per_mtok: model.input_price_per_mtok,
            output_price_per_mtok: model.output_price_per_mtok,
        }
    }
}

impl Meter {
    /// One provider call that ended at `end`. `usage` is worked out later (see
    /// [`after_response`]). Takes the meter: the call's last record moves the request's facts
    /// into it rather than copying them.
    /// `answer`: what the client received, for a request drawn for evals (`None` otherwise,
    /// and for a failure).
    #[allow(clippy::too_many_arguments)]
    fn write(
        self,
        billed: Billed,
        status: u16,
        class: Option<&'static str>,
        ttft: Option<Instant>,
        end: Instant,
        usage: impl FnOnce() -> Usage + Send + 'static,
        answer: Option<Answer>,
    ) {
        let Meter { facts, sink, routing } = self;
        let Billed {
            model_id,
            input_price_per_mtok: input_price,
            output_price_per_mtok: output_price,
        } = billed;
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
                api_key_id: facts.api_key_id,
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
                eval_sampled: false,
                eval_cost_usd: 0.0,
            };
            if let Some(outcome) = Outcome::of(&record) {
                routing.report(&outcome);
            }
            // The decision is recorded on the answered record; only an answer is judged.
            let answered = record.error_class.is_none();
            if let (Some(draw), Some(answer), Some(set_id), true) = (facts.eval, answer, facts.set_id, answered) {
                let mut record = record;
                record.eval_sampled = true;
                draw.sink.enqueue(Captured {
                    request_id: record.request_id.clone(),
                    set_id,
                    account_id: record.account_id,
                    model_id: record.model_id.clone(),
                    request_at: record.at,
                    settings: draw.settings,
                    request: draw.request,
                    answer,
                });
                sink.record(record);
                return;
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
        // Not the request's last record: a retry may follow.
        self.clone().write(
            Billed::of(model),
            status,
            Some(error.class()),
            None,
            Instant::now(),
            Usage::default,
            None,
        );
    }

    /// A whole answer: usage from its `usage` object.
    pub fn whole(self, model: &CatalogModel, body: &Bytes) {
        let body = body.clone();
        let prompt_estimate = self.facts.prompt_estimate;
        let answer = self.facts.eval.is_some().then(|| Answer::Whole(body.clone()));
        let usage = move || {
            whole_usage(&body)
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
        };
        self.write(Billed::of(model), 200, None, None, Instant::now(), usage, answer);
    }

    /// The SSE body for a started stream: the provider's events as they come, then `[DONE]`.
    /// `forward_usage`: whether the client asked for the usage chunk (the gateway always asks
    /// the provider, to bill precisely). `summary`: whether an `event: setpoint` with the
    /// model, latency and cost ([`app::chat::Served`]) goes before `[DONE]` (the set page's
    /// "Try it"; `/v1` never sends it).
    pub fn stream(self, model: &CatalogModel, upstream: EventStream, forward_usage: bool, summary: bool) -> Body {
        let kept = self.facts.eval.is_some().then(Vec::new);
        let mut state = StreamState {
            kept,
            meter: Some((self, Billed::of(model))),
            first_token: Instant::now(),
            seen: Seen::default(),
            end: StreamEnd::Cancelled,
            ended: None,
        };
        let frames = async_stream::stream! {
            let mut upstream = upstream;
            loop {
                match upstream.next().await {
                    Some(Ok(events)) => {
                        if let Some(kept) = &mut state.kept {
                            kept.push(events.clone());
                        }
                        let out = state.seen.observe(events, forward_usage);
                        if !out.is_empty() {
                            yield Ok::<Bytes, Infallible>(out);
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
                        yield Ok(sse::frame(event.to_string().as_bytes()));
                        return;
                    }
                    None => {
                        state.set_end(StreamEnd::Done);
                        if summary {
                            if let Some(event) = state.summary() {
                                yield Ok(event);
                            }
                        }
                        yield Ok(Bytes::from_static(b"data: [DONE]\n\n"));
                        return;
                    }
                }
            }
        };
        Body::from_stream(frames)
    }
}

enum StreamEnd {
    Done,
    Failed(&'static str),
    /// The client went away (or the server stopped) before the end.
    Cancelled,
}

struct StreamState {
    /// The events as they came, for a request drawn for evals.
    kept: Option<Vec<Bytes>>,
    /// Taken when the stream's record is written, as it is dropped.
    meter: Option<(Meter, Billed)>,
    first_token: Instant,
    seen: Seen,
    end: StreamEnd,
    /// When the answer ended, if a summary already told the client: the record then says the
    /// same latency. Otherwise the end is when the stream is dropped.
    ended: Option<Instant>,
}

/// What a stream has told so far.
#[derive(Default)]
struct Seen {
    usage: Option<Usage>,
    /// What was sent, for billing when the provider sends no usage.
    content: LazyCount,
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

    fn hold(&mut self, events: &Bytes) {
        if self.held.len() == Self::HELD {
            self.chars += self.held.drain(..).map(|run| content_chars(&run)).sum::<usize>();
        }
        self.held.push(events.clone());
    }

    fn total(&self) -> usize {
        self.chars + self.held.iter().map(content_chars).sum::<usize>()
    }
}

impl StreamState {
    /// How the stream ended; read when it is dropped.
    fn set_end(&mut self, end: StreamEnd) {
        self.end = end;
    }

    /// The `event: setpoint` of a stream that has just ended: the model, the latency and the
    /// cost that its record will store. Counts the content now if the provider sent no usage
    /// (only a summary's stream pays for that before the response ends), and keeps the usage
    /// and the end time so that the record says the same.
    fn summary(&mut self) -> Option<Bytes> {
        let (meter, billed) = self.meter.as_ref()?;
        let end = Instant::now();
        let usage = billed_usage(self.seen.usage, &self.seen.content, meter.facts.prompt_estimate);
        let served = app::chat::Served {
            model: billed.model_id.clone(),
            latency_ms: ms(meter.facts.started, end),
            cost_usd: cost(billed.input_price_per_mtok, billed.output_price_per_mtok, usage),
            prompt_tokens: usage.prompt,
            completion_tokens: usage.completion,
            request_id: meter.facts.request_id.clone(),
        };
        let payload = match serde_json::to_vec(&served) {
            Ok(payload) => payload,
            Err(e) => {
                tracing::error!(error = %e, "could not write a stream's summary");
                return None;
            }
        };
        self.seen.usage = Some(usage);
        self.seen.content = LazyCount::default();
        self.ended = Some(end);
        let mut event = Vec::with_capacity(payload.len() + 32);
        event.extend_from_slice(b"event: ");
        event.extend_from_slice(app::chat::SUMMARY_EVENT.as_bytes());
        event.push(b'\n');
        event.extend_from_slice(&sse::frame(&payload));
        Some(Bytes::from(event))
    }
}

/// What a stream is billed for: the provider's usage when it sent one; otherwise the prompt
/// as estimated and the completion counted from what was sent (about four characters a token).
fn billed_usage(reported: Option<Usage>, content: &LazyCount, prompt_estimate: u64) -> Usage {
    reported.unwrap_or_else(|| Usage {
        prompt: prompt_estimate,
        completion: (content.total() as u64).div_ceil(4),
    })
}

impl Seen {
    /// Notes usage and content in a run of events, and returns what goes to the client: the
    /// run as it came, unless it holds a usage-only chunk the client did not ask for. Only the
    /// events that may carry usage are read now, each found from its `usage` key, so content
    /// events are not even split apart.
    fn observe(&mut self, events: Bytes, forward_usage: bool) -> Bytes {
        let mut cut: Vec<std::ops::Range<usize>> = Vec::new();
        let mut from = 0;
        while let Some(at) = usage_key_at(&events[from..]) {
            let (range, payload) = sse::event_at(&events, from + at);
            from = range.end;
            let Some(chunk) = payload.map(|payload| usage_chunk(&payload, !forward_usage)) else {
                continue;
            };
            if let Some(prompt) = chunk.usage.as_ref().and_then(|u| u.prompt_tokens) {
                self.usage = Some(Usage {
                    prompt,
                    completion: chunk.usage.as_ref().and_then(|u| u.completion_tokens).unwrap_or(0),
                });
            }
            if chunk.usage_only {
                cut.push(range);
            }
        }
        if self.usage.is_some() {
            // Counting is no longer needed.
            self.content = LazyCount::default();
        } else {
            self.content.hold(&events);
        }
        match cut.as_slice() {
            [] => events,
            // The usual place of the usage chunk: last, so what stays is a slice.
            [last] if last.end == events.len() => events.slice(..last.start),
            _ => {
                let mut kept = Vec::with_capacity(events.len());
                let mut from = 0;
                for range in &cut {
                    kept.extend_from_slice(&events[from..range.start]);
                    from = range.end;
                }
                kept.extend_from_slice(&events[from..]);
                Bytes::from(kept)
            }
        }
    }
}

/// What metering reads in a chunk that may carry usage.
struct UsageChunk {
    usage: Option<UsageView>,
    /// A usage object and an empty `choices`: the chunk a client gets only when it asks.
    /// Told only when asked (`tell_usage_only`); false otherwise.
    usage_only: bool,
}

/// Reads a chunk's usage and, when `tell_usage_only`, whether it is usage-only. The usual
/// usage chunk (`"choices":[]`, `usage` last) is read without parsing the rest, as a whole
/// answer's is (see [`usage_near_the_end`]); any other is parsed.
fn usage_chunk(payload: &[u8], tell_usage_only: bool) -> UsageChunk {
    if let Some(usage) = usage_near_the_end(payload) {
        let usage_only = if tell_usage_only {
            choices_empty(payload)
        } else {
            Some(false)
        };
        if let Some(usage_only) = usage_only {
            return UsageChunk {
                usage: Some(usage),
                usage_only,
            };
        }
    }
    match serde_json::from_slice::<ChunkView>(payload) {
        Ok(chunk) => UsageChunk {
            usage_only: tell_usage_only && chunk.choices.as_ref().is_some_and(Vec::is_empty) && chunk.usage.is_some(),
            usage: chunk.usage,
        },
        Err(_) => UsageChunk {
            usage: None,
            usage_only: false,
        },
    }
}

/// Whether a chunk's `choices` is an empty array, when one scan can tell: with no `"choices"`
/// key it is not (there are none), with exactly one it is that key's value; with more than
/// one, nested ones among them, `None`, and the chunk is parsed. (A lone nested
/// `"choices": []` in a chunk without top-level choices reads as empty: such a chunk carries
/// no content either way.)
fn choices_empty(payload: &[u8]) -> Option<bool> {
    static FINDER: LazyLock<memchr::memmem::Finder<'static>> =
        LazyLock::new(|| memchr::memmem::Finder::new(CHOICES_KEY));
    let mut values = FINDER
        .find_iter(payload)
        .filter_map(|at| value_after_key(&payload[at + CHOICES_KEY.len()..]));
    match (values.next(), values.next()) {
        (None, _) => Some(false),
        (Some(value), None) => Some(
            value
                .strip_prefix(b"[")
                .is_some_and(|rest| rest.trim_ascii_start().starts_with(b"]")),
        ),
        _ => None,
    }
}

/// The keys metering looks for, quotes included: a quote inside a JSON string is always
/// escaped, so these bytes only ever start a key (or a string value such as `"usage"`, which
/// no `:` follows).
const USAGE_KEY: &[u8] = b"\"usage\"";
const CHOICES_KEY: &[u8] = b"\"choices\"";

/// The value after a key (`after` starts just past its closing quote), when a `:` follows.
fn value_after_key(after: &[u8]) -> Option<&[u8]> {
    Some(after.trim_ascii_start().strip_prefix(b":")?.trim_ascii_start())
}

/// The value after a `"usage"` key, when it is an object.
fn object_after_key(after: &[u8]) -> Option<&[u8]> {
    value_after_key(after).filter(|value| value.first() == Some(&b'{'))
}

/// Where the first `usage` key whose value is an object starts: an unescaped `"usage"`
/// followed by `:` and `{`. Content chunks (no such key, or `"usage":null`) have none and are
/// not parsed. A false find costs one parse, and a chunk that does carry usage is always found.
fn usage_key_at(payload: &[u8]) -> Option<usize> {
    // Built once: building a searcher costs more than searching a chunk.
    static FINDER: LazyLock<memchr::memmem::Finder<'static>> = LazyLock::new(|| memchr::memmem::Finder::new(USAGE_KEY));
    FINDER
        .find_iter(payload)
        .find(|&at| object_after_key(&payload[at + USAGE_KEY.len()..]).is_some())
}

/// The top-level `usage` object of a whole answer. OpenAI-compatible APIs put it after the
/// choices, near the end, so it is looked for from the end and only it, and the members after
/// it, are parsed: parsing the whole answer to skip its content cost as much as the rest of
/// metering for a one-line answer, and grows with the answer. When the last `usage` found is
/// not the top-level one (or there is none), the whole answer is parsed.
fn whole_usage(body: &[u8]) -> Option<UsageView> {
    usage_near_the_end(body).or_else(|| {
        serde_json::from_slice::<WholeView>(body)
            .ok()
            .and_then(|whole| whole.usage)
    })
}

/// The last `"usage": {…}` of `body`, if it is a member of the top-level object: then what
/// follows it is the top-level object's remaining members and its closing `}`, which, read
/// from the comma on as an object of its own, parse as exactly one object. After a nested
/// `usage`, the closing brackets of each enclosing level would be left over, and this fails.
fn usage_near_the_end(body: &[u8]) -> Option<UsageView> {
    static FINDER: LazyLock<memchr::memmem::FinderRev<'static>> =
        LazyLock::new(|| memchr::memmem::FinderRev::new(USAGE_KEY));
    let at = FINDER.rfind(body)?;
    let value = object_after_key(&body[at + USAGE_KEY.len()..])?;
    let mut values = serde_json::Deserializer::from_slice(value).into_iter::<UsageView>();
    let usage = values.next()?.ok()?;
    let rest = value[values.byte_offset()..].trim_ascii();
    let top_level = match rest {
        b"}" => true,
        [b',', members @ ..] => {
            let mut tail = Vec::with_capacity(rest.len());
            tail.push(b'{');
            tail.extend_from_slice(members);
            serde_json::from_slice::<serde::de::IgnoredAny>(&tail).is_ok()
        }
        _ => false,
    };
    top_level.then_some(usage)
}

/// The characters of delta content in a run of events (0 for what is not a chunk).
fn content_chars(events: &Bytes) -> usize {
    sse::payloads(events)
        .filter_map(|payload| {
            serde_json::from_slice::<ChunkView>(&payload)
                .ok()
                .map(|c| c.content_chars())
        })
        .sum()
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
        let Some((meter, billed)) = self.meter.take() else {
            return;
        };
        // The provider's usage when it sent one; otherwise what was counted on the way out.
        let reported = self.seen.usage;
        let content = std::mem::take(&mut self.seen.content);
        let prompt_estimate = meter.facts.prompt_estimate;
        let end = self.ended.unwrap_or_else(Instant::now);
        let answer = self.kept.take().map(Answer::Events);
        let usage = move || billed_usage(reported, &content, prompt_estimate);
        meter.write(billed, status, class, Some(self.first_token), end, usage, answer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_chunks_that_may_carry_usage_are_read() {
        let usage = br#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}"#;
        let spaced = br#"{"choices": [], "usage" : { "prompt_tokens": 3 }}"#;
        let nested = br#"{"choices":[],"x_groq":{"usage":{"prompt_tokens":3}}}"#;
        for carrying in [&usage[..], spaced, nested] {
            assert!(
                usage_key_at(carrying).is_some(),
                "{}",
                String::from_utf8_lossy(carrying)
            );
        }
        let null = br#"{"choices":[{"delta":{"content":"hi"}}],"usage":null}"#;
        let quoted = br#"{"choices":[{"delta":{"content":"say \"usage\": {1}"}}]}"#;
        let word = br#"{"choices":[{"delta":{"content":"usage"}}]}"#;
        for content in [&null[..], quoted, word] {
            assert!(usage_key_at(content).is_none(), "{}", String::from_utf8_lossy(content));
        }
    }

    #[test]
    fn a_whole_answer_s_usage_is_its_top_level_one() {
        let read = |body: &str| whole_usage(body.as_bytes()).map(|u| (u.prompt_tokens, u.completion_tokens));
        let fast = |body: &str| usage_near_the_end(body.as_bytes()).is_some();
        let last = r#"{"choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":7,"completion_tokens":3}}"#;
        // OpenAI's order: usage, then further members.
        let followed = r#"{"choices":[], "usage": {"prompt_tokens":7,"completion_tokens":3},
            "service_tier":"default","system_fingerprint":"fp_1","x":{"a":[1,{"b":null}]} }"#;
        for body in [last, followed] {
            assert_eq!(read(body), Some((Some(7), Some(3))), "{body}");
            assert!(fast(body), "found from the end: {body}");
        }
        // A nested `usage` after the top-level one is not taken for it.
        let nested_after =
            r#"{"usage":{"prompt_tokens":7,"completion_tokens":3},"x_groq":{"usage":{"prompt_tokens":1}}}"#;
        let nested_in_array =
            r#"{"usage":{"prompt_tokens":7,"completion_tokens":3},"choices":[{"usage":{"prompt_tokens":1}}]}"#;
        for body in [nested_after, nested_in_array] {
            assert!(!fast(body), "{body}");
            assert_eq!(read(body), Some((Some(7), Some(3))), "{body}");
        }
        // Only a nested one, none, null, a word in the content, not JSON: no usage.
        let only_nested = r#"{"choices":[],"x_groq":{"usage":{"prompt_tokens":1}}}"#;
        let quoted = r#"{"choices":[{"message":{"content":"say \"usage\": {\"prompt_tokens\": 1}"}}]}"#;
        for body in [
            only_nested,
            r#"{"choices":[]}"#,
            r#"{"usage":null}"#,
            quoted,
            "not json",
        ] {
            assert_eq!(read(body), None, "{body}");
        }
    }

    #[test]
    fn a_long_stream_is_counted_in_batches() {
        let run =
            Bytes::from_static(b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"abc\"}}]}\n\n: ping\n\n");
        let mut count = LazyCount::default();
        for _ in 0..200 {
            count.hold(&run);
            assert!(count.held.len() <= LazyCount::HELD);
        }
        assert_eq!(count.total(), 200 * 3);
        assert_eq!(content_chars(&Bytes::from_static(b"data: not json\n\n")), 0);
    }

    fn event(json: serde_json::Value) -> String {
        format!("data: {json}\n\n")
    }

    #[test]
    fn runs_pass_as_they_came_unless_usage_goes_unasked() {
        let content =
            event(serde_json::json!({"choices": [{"index": 0, "delta": {"content": "Hello"}}], "usage": null}));
        let usage = event(serde_json::json!({"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3}}));
        let run = Bytes::from(format!("{content}{usage}"));

        let mut seen = Seen::default();
        let out = seen.observe(Bytes::from(content.clone()), false);
        assert_eq!(out, content.as_bytes(), "a content run goes on as it came");
        assert_eq!((seen.usage.is_none(), seen.content.total()), (true, 5));

        let mut seen = Seen::default();
        let out = seen.observe(run.clone(), false);
        assert_eq!(out, content.as_bytes(), "the usage chunk is left out");
        let usage_seen = seen.usage.map(|u| (u.prompt, u.completion));
        assert_eq!(usage_seen, Some((7, 3)));

        let mut seen = Seen::default();
        let amid = Bytes::from(format!("{content}{usage}{content}"));
        let out = seen.observe(amid, false);
        assert_eq!(out, format!("{content}{content}").as_bytes(), "wherever it stands");
        assert!(
            seen.usage.is_some() && seen.content.total() == 0,
            "usage wins over counting"
        );

        let mut seen = Seen::default();
        let out = seen.observe(run.clone(), true);
        assert_eq!(out, run, "asked for, it stays, and the run is not copied");
        assert_eq!(out.as_ptr(), run.as_ptr());
    }

    #[test]
    fn usage_is_read_wherever_it_stands_in_a_chunk() {
        // Chunks written as text: `json!` would sort their keys.
        let observe = |chunks: &[&str]| {
            let run: String = chunks.iter().map(|chunk| format!("data: {chunk}\n\n")).collect();
            let mut seen = Seen::default();
            let out = seen.observe(Bytes::from(run), false);
            let usage = seen.usage.map(|u| (u.prompt, u.completion));
            (String::from_utf8(out.to_vec()).expect("utf8"), usage)
        };
        let content = r#"{"choices":[{"index":0,"delta":{"content":"Hi"}}]}"#;
        let content_event = format!("data: {content}\n\n");

        // Usage before further members, or spaced out: still read, still cut.
        let first = r#"{"usage":{"prompt_tokens":7,"completion_tokens":3},"choices":[],"system_fingerprint":"fp"}"#;
        let spaced = r#"{"choices" : [ ], "usage" : {"prompt_tokens": 7, "completion_tokens": 3} }"#;
        for usage_only in [first, spaced] {
            assert_eq!(
                observe(&[content, usage_only]),
                (content_event.clone(), Some((7, 3))),
                "{usage_only}"
            );
        }
        // Usage on the last content chunk (some providers): read, and the chunk stays.
        let with_content =
            r#"{"choices":[{"index":0,"delta":{"content":"!"}}],"usage":{"prompt_tokens":7,"completion_tokens":3}}"#;
        assert_eq!(
            observe(&[content, with_content]),
            (format!("{content_event}data: {with_content}\n\n"), Some((7, 3)))
        );
        // A nested `choices` beside the top-level one: the chunk is parsed, and the top level
        // decides.
        let nested = r#"{"choices":[],"x":{"choices":[1]},"usage":{"prompt_tokens":7,"completion_tokens":3}}"#;
        assert_eq!(observe(&[nested]), (String::new(), Some((7, 3))));
        // Each usage chunk of a run is read; the last wins.
        let later = r#"{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":4}}"#;
        assert_eq!(observe(&[first, content, later]), (content_event, Some((9, 4))));
        // A usage object without `prompt_tokens` is not usage: the content is counted instead.
        let partial = r#"{"choices":[{"index":0,"delta":{"content":"abcd"}}],"usage":{"total_tokens":1}}"#;
        let mut seen = Seen::default();
        seen.observe(Bytes::from(format!("data: {partial}\n\n")), false);
        assert_eq!((seen.usage.is_none(), seen.content.total()), (true, 4));
    }

    #[test]
    fn an_empty_choices_is_told_by_one_scan_when_it_can_be() {
        assert_eq!(choices_empty(br#"{"choices":[],"usage":{}}"#), Some(true));
        assert_eq!(choices_empty(br#"{"choices" : [ ] }"#), Some(true));
        assert_eq!(choices_empty(br#"{"choices":[{"delta":{}}]}"#), Some(false));
        assert_eq!(
            choices_empty(br#"{"usage":{},"x":"choices"}"#),
            Some(false),
            "a value, not a key"
        );
        assert_eq!(choices_empty(br#"{"choices":[],"x":{"choices":[]}}"#), None);
    }
}
