//! The set page's "Try it": what the server tells at the end of a try stream, and the
//! browser's reading of that stream. Pure (no I/O), so the server and the WASM bundle share
//! the types and the parser is tested on the host.
//!
//! A try answer is the gateway's own SSE stream (OpenAI chunks as `data:` events, then
//! `data: [DONE]`), with one more event just before `[DONE]`:
//!
//! ```text
//! event: setpoint
//! data: {"model":"groq/llama-3.1-8b-instant","latency_ms":842.1,"cost_usd":0.000021,…}
//! ```
//!
//! A named event, because an SSE reader that only handles unnamed (`message`) events, as
//! OpenAI's clients do, skips it; and an event rather than a header, because latency and cost
//! are known only once the answer has ended.

use serde::{Deserialize, Serialize};

/// The name of the summary event.
pub const SUMMARY_EVENT: &str = "setpoint";

/// What served one try, and what it cost: the same numbers the request's record stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Served {
    /// The catalog id of the model that answered (`groq/llama-3.1-8b-instant`).
    pub model: String,
    /// From the request's arrival to the answer's last chunk, in milliseconds.
    pub latency_ms: f64,
    /// Usage × the catalog's price, in US dollars.
    pub cost_usd: f64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// The request's id, as its `x-setpoint-request-id` header and its record carry it.
    pub request_id: String,
}

/// One thing a try stream said.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// More of the answer's text.
    Text(String),
    /// The summary event.
    Served(Served),
    /// The stream failed after it started (the gateway's final `{"error": …}` event), or sent
    /// something unreadable: the message to show.
    Failed(String),
    /// `data: [DONE]`: the answer is complete.
    Done,
}

/// Splits a byte stream into SSE events as bytes arrive, in any pieces. Events end at a blank
/// line (`\n\n` or `\r\n\r\n`); multi-byte characters never contain a newline byte, so a
/// character split between two reads is whole again by the time its event ends.
#[derive(Default)]
pub struct SseReader {
    pending: Vec<u8>,
}

impl SseReader {
    /// The events completed by `bytes`, in order. Comments, pings and chunks without text are
    /// left out.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<StreamEvent> {
        self.pending.extend_from_slice(bytes);
        let mut events = Vec::new();
        let mut from = 0;
        while let Some((len, separator)) = event_end(&self.pending[from..]) {
            let event = &self.pending[from..from + len];
            if let Some(read) = read_event(event) {
                events.push(read);
            }
            from += len + separator;
        }
        self.pending.drain(..from);
        events
    }
}

/// Where the first complete event of `buf` ends, and the length of the blank line after it.
fn event_end(buf: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while i < buf.len() {
        if buf[i..].starts_with(b"\n\n") {
            return Some((i, 2));
        }
        if buf[i..].starts_with(b"\r\n\r\n") {
            return Some((i, 4));
        }
        i += 1;
    }
    None
}

fn read_event(event: &[u8]) -> Option<StreamEvent> {
    let text = String::from_utf8_lossy(event);
    let mut name = "";
    let mut data: Vec<&str> = Vec::new();
    for line in text.lines() {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => name = value,
            "data" => data.push(value),
            // Comments (`: ping`), ids, retries.
            _ => {}
        }
    }
    if data.is_empty() {
        return None;
    }
    let data = data.join("\n");
    if name == SUMMARY_EVENT {
        return Some(match serde_json::from_str::<Served>(&data) {
            Ok(served) => StreamEvent::Served(served),
            Err(_) => StreamEvent::Failed("The answer's summary could not be read.".into()),
        });
    }
    if !name.is_empty() && name != "message" {
        return None;
    }
    if data.trim() == "[DONE]" {
        return Some(StreamEvent::Done);
    }
    let Ok(chunk) = serde_json::from_str::<Chunk>(&data) else {
        return Some(StreamEvent::Failed("The answer could not be read.".into()));
    };
    if let Some(error) = chunk.error {
        return Some(StreamEvent::Failed(error.message));
    }
    let text: String = chunk
        .choices
        .into_iter()
        .filter_map(|c| c.delta.and_then(|d| d.content))
        .collect();
    (!text.is_empty()).then_some(StreamEvent::Text(text))
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    error: Option<ErrorBody>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    delta: Option<Delta>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default = "unknown_failure")]
    message: String,
}

fn unknown_failure() -> String {
    "The model failed while answering.".into()
}

/// The message of an error answer (`{"error": {"message": …}}`, the gateway's format), if
/// the body is one.
pub fn error_message(body: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Wrapper {
        error: ErrorBody,
    }
    serde_json::from_str::<Wrapper>(body).ok().map(|w| w.error.message)
}

/// What the person at the keyboard reads when a try is refused with `status` before any of
/// the answer came: the server's own message where it is written for them, a plain one where
/// it is not (a session that ended, a server that failed without saying why).
pub fn refusal(status: u16, body: &str) -> String {
    let message = error_message(body);
    match status {
        401 => "You are no longer logged in.".into(),
        403 => "Only the owner of this Model Set can try it.".into(),
        404 => "This Model Set no longer exists.".into(),
        429 => message.unwrap_or_else(|| "Too many requests: wait a minute, then send again.".into()),
        500 => "Something went wrong on our side. Please try again.".into(),
        _ => message.unwrap_or_else(|| format!("The request failed (HTTP {status}). Please try again.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served() -> Served {
        Served {
            model: "groq/llama-3.1-8b-instant".into(),
            latency_ms: 842.0,
            cost_usd: 0.000021,
            prompt_tokens: 12,
            completion_tokens: 30,
            request_id: "req_1".into(),
        }
    }

    fn stream() -> String {
        let summary = serde_json::to_string(&served()).expect("json");
        [
            ": ping\n\n".to_string(),
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Héllo\"}}]}\n\n".into(),
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" wörld\"}}]}\r\n\r\n".into(),
            "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n".into(),
            format!("event: setpoint\ndata: {summary}\n\n"),
            "data: [DONE]\n\n".into(),
        ]
        .concat()
    }

    fn expected() -> Vec<StreamEvent> {
        vec![
            StreamEvent::Text("Héllo".into()),
            StreamEvent::Text(" wörld".into()),
            StreamEvent::Served(served()),
            StreamEvent::Done,
        ]
    }

    #[test]
    fn a_whole_stream_reads_as_text_then_the_summary_then_done() {
        assert_eq!(SseReader::default().push(stream().as_bytes()), expected());
    }

    #[test]
    fn pieces_of_any_size_read_the_same_even_inside_a_character() {
        let bytes = stream().into_bytes();
        for size in [1, 2, 3, 7, 64] {
            let mut reader = SseReader::default();
            let events: Vec<StreamEvent> = bytes.chunks(size).flat_map(|piece| reader.push(piece)).collect();
            assert_eq!(events, expected(), "pieces of {size} bytes");
        }
    }

    #[test]
    fn a_mid_stream_failure_and_unreadable_events_say_so() {
        let failed = "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: {\"error\":{\"message\":\"The provider failed mid-stream: timed out\",\"type\":\"server_error\"}}\n\n";
        assert_eq!(
            SseReader::default().push(failed.as_bytes()),
            vec![
                StreamEvent::Text("Hi".into()),
                StreamEvent::Failed("The provider failed mid-stream: timed out".into())
            ]
        );
        let junk = SseReader::default().push(b"data: not json\n\nevent: setpoint\ndata: {}\n\n");
        assert!(
            matches!(junk.as_slice(), [StreamEvent::Failed(_), StreamEvent::Failed(_)]),
            "{junk:?}"
        );
        // Other named events are not ours: skipped, as OpenAI's readers skip ours.
        assert!(SseReader::default().push(b"event: other\ndata: {}\n\n").is_empty());
    }

    #[test]
    fn refusals_read_as_sentences() {
        let quota = r#"{"error":{"message":"Rate limit reached. Try again in 12 s.","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;
        assert_eq!(refusal(429, quota), "Rate limit reached. Try again in 12 s.");
        assert_eq!(refusal(401, ""), "You are no longer logged in.");
        let upstream = r#"{"error":{"message":"The model provider failed: provider answered 500"}}"#;
        assert_eq!(
            refusal(502, upstream),
            "The model provider failed: provider answered 500"
        );
        assert_eq!(
            refusal(502, "<html>"),
            "The request failed (HTTP 502). Please try again."
        );
        assert!(!refusal(500, r#"{"error":{"message":"db down"}}"#).contains("db"));
    }
}
