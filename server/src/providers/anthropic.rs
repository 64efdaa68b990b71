//! Anthropic's Messages API behind OpenAI's chat-completions format, both ways, streaming
//! included: the request is translated to `/v1/messages`, the answer (or each stream
//! event) back into OpenAI's shapes, and Anthropic's errors into OpenAI's error object.

use app::catalog::CatalogModel;
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue};
use futures::StreamExt;
use serde_json::{json, Map, Value};
use tokio::time::Instant;

use super::upstream::{self, Upstream};
use super::{read_whole, send, sse, started, unix_now, ChatRequest, Provider, ProviderError, Reply, Timeouts};

const API_VERSION: &str = "2023-06-01";
/// Anthropic requires `max_tokens`; used when the client sets none.
const DEFAULT_MAX_TOKENS: u64 = 4096;

pub struct AnthropicProvider {
    upstream: Upstream,
}

impl AnthropicProvider {
    pub fn new(base_url: &str, api_key: String, timeouts: Timeouts) -> Result<Self, String> {
        let mut headers = HeaderMap::new();
        headers.insert("anthropic-version", HeaderValue::from_static(API_VERSION));
        headers.insert("x-api-key", upstream::secret(api_key)?);
        let url = format!("{}/v1/messages", base_url.trim_end_matches('/'));
        Ok(AnthropicProvider {
            upstream: Upstream::new(&url, headers, timeouts.connect())?,
        })
    }
}

fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// One OpenAI content part as an Anthropic content block.
fn block(part: &Value) -> Option<Value> {
    match part.get("type").and_then(Value::as_str)? {
        "text" => Some(json!({"type": "text", "text": part.get("text")?.as_str()?})),
        "image_url" => {
            let url = part.pointer("/image_url/url")?.as_str()?;
            if let Some(rest) = url.strip_prefix("data:") {
                let (media_type, data) = rest.split_once(";base64,")?;
                Some(json!({"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}))
            } else {
                Some(json!({"type": "image", "source": {"type": "url", "url": url}}))
            }
        }
        _ => None,
    }
}

/// OpenAI's chat-completions body → Anthropic's Messages body.
pub fn to_messages(body: &Map<String, Value>, model: &str, stream: bool) -> Value {
    let mut system: Vec<String> = Vec::new();
    let mut messages: Vec<Value> = Vec::new();
    for m in body.get("messages").and_then(Value::as_array).into_iter().flatten() {
        let content = m.get("content").cloned().unwrap_or(Value::Null);
        match m.get("role").and_then(Value::as_str).unwrap_or("user") {
            "system" | "developer" => system.push(text_of(&content)),
            "assistant" => {
                let mut blocks: Vec<Value> = Vec::new();
                let text = text_of(&content);
                if !text.is_empty() {
                    blocks.push(json!({"type": "text", "text": text}));
                }
                for call in m.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
                    let arguments = call
                        .pointer("/function/arguments")
                        .and_then(Value::as_str)
                        .unwrap_or("{}");
                    blocks.push(json!({
                        "type": "tool_use",
                        "id": call.get("id").cloned().unwrap_or(Value::Null),
                        "name": call.pointer("/function/name").cloned().unwrap_or(Value::Null),
                        "input": serde_json::from_str::<Value>(arguments).unwrap_or_else(|_| json!({})),
                    }));
                }
                messages.push(json!({"role": "assistant", "content": blocks}));
            }
            "tool" => messages.push(json!({"role": "user", "content": [{
                "type": "tool_result",
                "tool_use_id": m.get("tool_call_id").cloned().unwrap_or(Value::Null),
                "content": text_of(&content),
            }]})),
            _ => {
                let content = match &content {
                    Value::Array(parts) => Value::Array(parts.iter().filter_map(block).collect()),
                    other => Value::String(text_of(other)),
                };
                messages.push(json!({"role": "user", "content": content}));
            }
        }
    }
    let max_tokens = ["max_completion_tokens", "max_tokens"]
        .iter()
        .find_map(|k| body.get(*k).and_then(Value::as_u64))
        .unwrap_or(DEFAULT_MAX_TOKENS);
    let mut out = json!({"model": model, "max_tokens": max_tokens, "messages": messages, "stream": stream});
    if !system.is_empty() {
        out["system"] = Value::String(system.join("\n\n"));
    }
    for key in ["temperature", "top_p"] {
        if let Some(v) = body.get(key) {
            out[key] = v.clone();
        }
    }
    match body.get("stop") {
        Some(Value::String(s)) => out["stop_sequences"] = json!([s]),
        Some(Value::Array(list)) => out["stop_sequences"] = Value::Array(list.clone()),
        _ => {}
    }
    if let Some(tools) = body.get("tools").and_then(Value::as_array) {
        let tools: Vec<Value> = tools
            .iter()
            .filter_map(|t| {
                let f = t.get("function")?;
                Some(json!({
                    "name": f.get("name")?,
                    "description": f.get("description").cloned().unwrap_or(json!("")),
                    "input_schema": f.get("parameters").cloned().unwrap_or(json!({"type": "object"})),
                }))
            })
            .collect();
        out["tools"] = Value::Array(tools);
    }
    out
}

fn finish_reason(stop_reason: Option<&str>) -> Value {
    match stop_reason {
        Some("max_tokens") => json!("length"),
        Some("tool_use") => json!("tool_calls"),
        Some(_) => json!("stop"),
        None => Value::Null,
    }
}

/// Anthropic's whole answer → OpenAI's `chat.completion`.
pub fn to_completion(message: &Value) -> Value {
    let mut text = String::new();
    let mut tool_calls: Vec<Value> = Vec::new();
    for block in message.get("content").and_then(Value::as_array).into_iter().flatten() {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(block.get("text").and_then(Value::as_str).unwrap_or_default()),
            Some("tool_use") => tool_calls.push(json!({
                "id": block.get("id"),
                "type": "function",
                "function": {"name": block.get("name"), "arguments": block.get("input").map(Value::to_string).unwrap_or_default()},
            })),
            _ => {}
        }
    }
    let input = message
        .pointer("/usage/input_tokens")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let output = message
        .pointer("/usage/output_tokens")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let mut msg = json!({"role": "assistant", "content": if text.is_empty() && !tool_calls.is_empty() { Value::Null } else { Value::String(text) }});
    if !tool_calls.is_empty() {
        msg["tool_calls"] = Value::Array(tool_calls);
    }
    json!({
        "id": message.get("id"),
        "object": "chat.completion",
        "created": unix_now(),
        "model": message.get("model"),
        "choices": [{"index": 0, "message": msg, "logprobs": null,
                     "finish_reason": finish_reason(message.get("stop_reason").and_then(Value::as_str))}],
        "usage": {"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output},
    })
}

/// Anthropic's error body (`{"type":"error","error":{…}}`) → OpenAI's error object.
fn to_openai_error(body: Bytes) -> Bytes {
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let message = parsed
        .pointer("/error/message")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
    let kind = parsed
        .pointer("/error/type")
        .and_then(Value::as_str)
        .unwrap_or("api_error");
    Bytes::from(json!({"error": {"message": message, "type": kind, "param": null, "code": null}}).to_string())
}

/// Turns Anthropic's stream events into OpenAI chunks, keeping what later events need.
#[derive(Default)]
pub struct StreamTranslator {
    id: String,
    model: String,
    input_tokens: u64,
    output_tokens: u64,
    /// Anthropic block index → OpenAI tool-call index.
    tools: Vec<(u64, usize)>,
}

impl StreamTranslator {
    fn chunk(&self, delta: Value, finish: Value) -> Bytes {
        Bytes::from(
            json!({
                "id": self.id, "object": "chat.completion.chunk", "created": unix_now(), "model": self.model,
                "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
            })
            .to_string(),
        )
    }

    /// The OpenAI chunks for one event (often none), or the error it reports.
    pub fn translate(&mut self, event: &Value) -> Result<Vec<Bytes>, ProviderError> {
        let mut out = Vec::new();
        match event.get("type").and_then(Value::as_str) {
            Some("message_start") => {
                let m = event.get("message").cloned().unwrap_or(Value::Null);
                self.id = m.get("id").and_then(Value::as_str).unwrap_or("msg").to_string();
                self.model = m.get("model").and_then(Value::as_str).unwrap_or_default().to_string();
                self.input_tokens = m.pointer("/usage/input_tokens").and_then(Value::as_u64).unwrap_or(0);
                self.output_tokens = m.pointer("/usage/output_tokens").and_then(Value::as_u64).unwrap_or(0);
                out.push(self.chunk(json!({"role": "assistant", "content": ""}), Value::Null));
            }
            Some("content_block_start") => {
                let block = event.get("content_block").cloned().unwrap_or(Value::Null);
                if block.get("type").and_then(Value::as_str) == Some("tool_use") {
                    let index = event.get("index").and_then(Value::as_u64).unwrap_or(0);
                    let tool = self.tools.len();
                    self.tools.push((index, tool));
                    out.push(self.chunk(
                        json!({"tool_calls": [{"index": tool, "id": block.get("id"), "type": "function",
                               "function": {"name": block.get("name"), "arguments": ""}}]}),
                        Value::Null,
                    ));
                }
            }
            Some("content_block_delta") => {
                let delta = event.get("delta").cloned().unwrap_or(Value::Null);
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => {
                        out.push(self.chunk(json!({"content": delta.get("text")}), Value::Null));
                    }
                    Some("input_json_delta") => {
                        let index = event.get("index").and_then(Value::as_u64).unwrap_or(0);
                        if let Some((_, tool)) = self.tools.iter().find(|(i, _)| *i == index) {
                            out.push(self.chunk(
                                json!({"tool_calls": [{"index": tool, "function": {"arguments": delta.get("partial_json")}}]}),
                                Value::Null,
                            ));
                        }
                    }
                    _ => {}
                }
            }
            Some("message_delta") => {
                if let Some(n) = event.pointer("/usage/output_tokens").and_then(Value::as_u64) {
                    self.output_tokens = n;
                }
                let reason = event.pointer("/delta/stop_reason").and_then(Value::as_str);
                out.push(self.chunk(json!({}), finish_reason(reason.or(Some("end_turn")))));
            }
            Some("message_stop") => {
                let (i, o) = (self.input_tokens, self.output_tokens);
                out.push(Bytes::from(
                    json!({"id": self.id, "object": "chat.completion.chunk", "created": unix_now(), "model": self.model,
                           "choices": [], "usage": {"prompt_tokens": i, "completion_tokens": o, "total_tokens": i + o}})
                    .to_string(),
                ));
            }
            Some("error") => {
                let message = event
                    .pointer("/error/message")
                    .and_then(Value::as_str)
                    .unwrap_or("stream error");
                let overloaded = event.pointer("/error/type").and_then(Value::as_str) == Some("overloaded_error");
                return Err(if overloaded {
                    ProviderError::Upstream {
                        status: 529,
                        body: Bytes::new(),
                    }
                } else {
                    ProviderError::Protocol(message.to_string())
                });
            }
            _ => {} // ping, content_block_stop
        }
        Ok(out)
    }
}

#[async_trait::async_trait]
impl Provider for AnthropicProvider {
    async fn chat(&self, model: &CatalogModel, request: ChatRequest<'_>, t: Timeouts) -> Result<Reply, ProviderError> {
        let deadline = Instant::now() + t.total();
        let body = to_messages(&request.body.to_map(), &model.upstream_name, request.stream);
        let response = send(
            self.upstream.post(Bytes::from(body.to_string())),
            t,
            deadline,
            to_openai_error,
        )
        .await?;
        if !request.stream {
            let raw = read_whole(response, deadline).await?;
            let message: Value =
                serde_json::from_slice(&raw).map_err(|e| ProviderError::Protocol(format!("not JSON: {e}")))?;
            return Ok(Reply::Whole(Bytes::from(to_completion(&message).to_string())));
        }
        let runs = sse::events(upstream::chunks(response), deadline);
        let mut translator = StreamTranslator::default();
        let chunks = async_stream::stream! {
            let mut runs = Box::pin(runs);
            while let Some(run) = runs.next().await {
                let run = match run {
                    Ok(run) => run,
                    Err(e) => { yield Err(e); return; }
                };
                for event in sse::payloads(&run) {
                    let Ok(value) = serde_json::from_slice::<Value>(&event) else { continue };
                    match translator.translate(&value) {
                        Ok(chunks) => for c in chunks { yield Ok(sse::frame(&c)); },
                        Err(e) => { yield Err(e); return; }
                    }
                }
            }
        };
        started(chunks, t).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_translate_to_messages() {
        let body: Map<String, Value> = serde_json::from_value(json!({
            "model": "x",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "t1", "type": "function",
                    "function": {"name": "look", "arguments": "{\"q\":1}"}}]},
                {"role": "tool", "tool_call_id": "t1", "content": "a cat"}
            ],
            "max_tokens": 100, "temperature": 0.2, "stop": "END",
            "tools": [{"type": "function", "function": {"name": "look", "parameters": {"type": "object"}}}]
        }))
        .expect("object");
        let out = to_messages(&body, "claude-x", false);
        assert_eq!(out["model"], "claude-x");
        assert_eq!(out["system"], "Be brief.");
        assert_eq!(out["max_tokens"], 100);
        assert_eq!(out["stop_sequences"], json!(["END"]));
        assert_eq!(out["messages"][0]["content"][1]["source"]["media_type"], "image/png");
        assert_eq!(out["messages"][1]["content"][0]["type"], "tool_use");
        assert_eq!(out["messages"][1]["content"][0]["input"], json!({"q": 1}));
        assert_eq!(out["messages"][2]["content"][0]["type"], "tool_result");
        assert_eq!(out["tools"][0]["input_schema"], json!({"type": "object"}));
        let no_max = to_messages(&Map::new(), "m", true);
        assert_eq!(no_max["max_tokens"], DEFAULT_MAX_TOKENS);
    }

    #[test]
    fn answers_translate_to_completions() {
        let message = json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
            "content": [{"type": "text", "text": "Hi"}, {"type": "tool_use", "id": "t", "name": "f", "input": {"a": 1}}],
            "stop_reason": "tool_use", "usage": {"input_tokens": 12, "output_tokens": 5}});
        let out = to_completion(&message);
        assert_eq!(out["choices"][0]["message"]["content"], "Hi");
        assert_eq!(
            out["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
            "{\"a\":1}"
        );
        assert_eq!(out["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(
            out["usage"],
            json!({"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17})
        );
    }

    #[test]
    fn stream_events_translate_to_chunks() {
        let mut t = StreamTranslator::default();
        let events = [
            json!({"type": "message_start", "message": {"id": "m", "model": "c", "usage": {"input_tokens": 9, "output_tokens": 1}}}),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            json!({"type": "ping"}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "lo"}}),
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 3}}),
            json!({"type": "message_stop"}),
        ];
        let chunks: Vec<Value> = events
            .iter()
            .flat_map(|e| t.translate(e).expect("ok"))
            .map(|b| serde_json::from_slice(&b).expect("json"))
            .collect();
        let text: String = chunks
            .iter()
            .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
            .collect();
        assert_eq!(text, "Hello");
        assert_eq!(chunks[chunks.len() - 2]["choices"][0]["finish_reason"], "stop");
        assert_eq!(chunks.last().expect("usage")["usage"]["completion_tokens"], 3);
        assert_eq!(chunks.last().expect("usage")["usage"]["prompt_tokens"], 9);
        assert!(t
            .translate(&json!({"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}))
            .is_err());
    }
}
