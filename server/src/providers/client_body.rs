//! The client's chat-completions body, kept as the bytes it arrived in.
//!
//! An OpenAI-compatible provider forwards it with two edits, spliced into the bytes: the
//! upstream model's name in place of `model`, and, for a stream, a request for the usage
//! chunk. Parsing the body into a JSON tree and writing the tree out again cost more than
//! the rest of the gateway's own work on a request; a translating provider (Anthropic)
//! still reads the tree, with [`ClientBody::to_map`].

use std::ops::Range;

use axum::body::Bytes;
use serde_json::{Map, Value};

/// What the streamed request asks for so that every stream can be billed exactly; the
/// usage chunk reaches the client only if it asked for it too.
const INCLUDE_USAGE: &[u8] = br#"{"include_usage":true}"#;

/// What [`ClientBody::for_upstream`] writes in place of a span of the client's bytes.
enum Splice<'a> {
    /// The upstream model's name, as a JSON string.
    Model(&'a str),
    /// The value of the client's own `stream_options`.
    UsageValue,
    /// A whole `stream_options` member, for a body without one; the object has members
    /// (`model` at least), so a comma follows.
    UsageMember,
}

impl Splice<'_> {
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            // Writing a `&str` into a Vec cannot fail; the name is escaped as JSON.
            Splice::Model(name) => {
                let _ = serde_json::to_writer(&mut *out, name);
            }
            Splice::UsageValue => out.extend_from_slice(INCLUDE_USAGE),
            Splice::UsageMember => {
                out.extend_from_slice(br#""stream_options":"#);
                out.extend_from_slice(INCLUDE_USAGE);
                out.push(b',');
            }
        }
    }
}

pub struct ClientBody {
    raw: Bytes,
    /// Where the body's top-level object opens: the byte after its `{`.
    inside: usize,
    /// The bytes of the `model` value.
    model: Range<usize>,
    /// The bytes of the `stream_options` value, when there is one.
    stream_options: Option<Range<usize>>,
    prompt_estimate: u64,
}

impl ClientBody {
    /// `raw` has been read as a JSON object (`inside` is the byte after its `{`) whose
    /// `model` and `stream_options` values are at those byte ranges; `prompt_chars` is the
    /// length of the text of its messages.
    pub fn new(
        raw: Bytes,
        inside: usize,
        model: Range<usize>,
        stream_options: Option<Range<usize>>,
        prompt_chars: usize,
    ) -> Self {
        ClientBody {
            raw,
            inside,
            model,
            stream_options,
            prompt_estimate: (prompt_chars as u64).div_ceil(4).max(1),
        }
    }

    /// The body as the client sent it.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// A rough prompt size, four characters a token, for when a provider reports no usage.
    pub fn prompt_estimate(&self) -> u64 {
        self.prompt_estimate
    }

    /// The body for an OpenAI-compatible upstream: `model` names `upstream_model`, and a
    /// stream (`ask_usage`) asks for the usage chunk (`stream_options` is replaced). Every
    /// other byte is the client's.
    pub fn for_upstream(&self, upstream_model: &str, ask_usage: bool) -> Vec<u8> {
        let usage = ask_usage.then(|| match &self.stream_options {
            Some(options) => (options.clone(), Splice::UsageValue),
            None => (self.inside..self.inside, Splice::UsageMember),
        });
        let mut splices = [Some((self.model.clone(), Splice::Model(upstream_model))), usage];
        splices.sort_by_key(|splice| splice.as_ref().map(|(at, _)| at.start));

        let raw = &self.raw[..];
        let mut out = Vec::with_capacity(raw.len() + upstream_model.len() + 48);
        let mut from = 0;
        for (at, splice) in splices.into_iter().flatten() {
            out.extend_from_slice(&raw[from..at.start]);
            splice.write(&mut out);
            from = at.end;
        }
        out.extend_from_slice(&raw[from..]);
        out
    }

    /// The body as a JSON object, for a provider that translates it.
    pub fn to_map(&self) -> Map<String, Value> {
        // The gateway read these bytes as an object before making this body.
        serde_json::from_slice(&self.raw).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The body of `json` as the gateway reads it: the spans found by searching the text.
    fn body(json: &str) -> ClientBody {
        let span = |value: &str| json.find(value).map(|at| at..at + value.len());
        let model = span("\"@me/set\"").expect("the test body names @me/set");
        let options = span("{\"include_usage\":false,\"x\":1}");
        ClientBody::new(Bytes::copy_from_slice(json.as_bytes()), 1, model, options, 10)
    }

    fn upstream(body: &ClientBody, model: &str, ask_usage: bool) -> Value {
        serde_json::from_slice(&body.for_upstream(model, ask_usage)).expect("the forwarded body is JSON")
    }

    #[test]
    fn the_upstream_body_is_the_client_s_with_the_model_and_usage_request_spliced_in() {
        let plain = body(r#"{"messages":[{"role":"user","content":"hi"}],"model":"@me/set","temperature":0.5}"#);
        assert_eq!(
            upstream(&plain, "gpt-4o-mini", false),
            serde_json::json!({"messages":[{"role":"user","content":"hi"}],"model":"gpt-4o-mini","temperature":0.5})
        );
        assert_eq!(
            upstream(&plain, "a \"quoted\" name", true),
            serde_json::json!({"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}],
                "model":"a \"quoted\" name","temperature":0.5})
        );

        // The client's own stream_options, before and after `model`, are replaced for a stream
        // and kept as they were otherwise.
        for json in [
            r#"{ "stream_options": {"include_usage":false,"x":1}, "model": "@me/set", "stream": true, "messages": [] }"#,
            r#"{ "model": "@me/set", "stream": true, "stream_options": {"include_usage":false,"x":1}, "messages": [] }"#,
        ] {
            let streamed = body(json);
            let sent = upstream(&streamed, "m", true);
            assert_eq!(sent["model"], "m");
            assert_eq!(sent["stream_options"], serde_json::json!({"include_usage": true}));
            assert_eq!(sent.as_object().map(Map::len), Some(4));
            let kept = upstream(&streamed, "m", false);
            assert_eq!(
                kept["stream_options"],
                serde_json::json!({"include_usage": false, "x": 1})
            );
        }
    }

    #[test]
    fn the_prompt_estimate_is_four_characters_a_token_and_never_zero() {
        let make = |chars| ClientBody::new(Bytes::from_static(b"{\"model\":\"m\"}"), 1, 9..12, None, chars);
        assert_eq!(make(0).prompt_estimate(), 1);
        assert_eq!(make(9).prompt_estimate(), 3);
        assert_eq!(make(4000).prompt_estimate(), 1000);
        assert_eq!(make(0).to_map().get("model"), Some(&Value::from("m")));
    }
}
