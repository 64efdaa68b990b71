//! Reading a chat-completions body: the fields the gateway acts on, checked with OpenAI's
//! error messages, and the capabilities the request needs. Everything else passes through
//! as the client wrote it: the body stays bytes ([`ClientBody`]), and the fields are read
//! from it in place, without building a JSON tree.

use std::borrow::Cow;
use std::fmt;

use app::catalog::Capabilities;
use axum::body::Bytes;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::http::error::GatewayError;
use crate::providers::ClientBody;

pub struct ChatBody {
    /// The whole body, forwarded (each provider puts its upstream model's name in it).
    pub body: ClientBody,
    pub model: String,
    pub stream: bool,
    /// Whether the client asked for the final usage chunk of a stream.
    pub include_usage: bool,
    pub needs: Capabilities,
}

fn invalid(message: impl Into<String>, param: &str) -> GatewayError {
    GatewayError::InvalidRequest {
        message: message.into(),
        param: Some(param.to_string()),
    }
}

/// The top-level fields the gateway reads, each as the raw JSON of its value (`null` reads
/// as absent). Other fields are skipped.
#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(borrow)]
    model: Option<&'a RawValue>,
    #[serde(borrow)]
    messages: Option<&'a RawValue>,
    #[serde(borrow)]
    stream: Option<&'a RawValue>,
    #[serde(borrow)]
    stream_options: Option<&'a RawValue>,
    #[serde(borrow)]
    tools: Option<&'a RawValue>,
    #[serde(borrow)]
    functions: Option<&'a RawValue>,
    #[serde(borrow)]
    response_format: Option<&'a RawValue>,
}

pub fn parse(raw: Bytes) -> Result<ChatBody, GatewayError> {
    let Some(open) = raw.iter().position(|b| !b.is_ascii_whitespace()) else {
        return Err(GatewayError::InvalidJson("the body is empty".into()));
    };
    // A struct also reads from a JSON array (its fields in order): refuse anything but an object.
    if raw[open] != b'{' {
        return Err(GatewayError::InvalidJson("the body must be a JSON object".into()));
    }
    let fields: Fields = serde_json::from_slice(&raw).map_err(|e| GatewayError::InvalidJson(e.to_string()))?;
    let span = |value: &RawValue| {
        let start = value.get().as_ptr() as usize - raw.as_ptr() as usize;
        start..start + value.get().len()
    };

    let Some(model_raw) = fields.model else {
        return Err(invalid("You must provide a model parameter.", "model"));
    };
    let model = match serde_json::from_str::<String>(model_raw.get()) {
        Ok(m) if m.trim().len() == m.len() && !m.is_empty() => m,
        Ok(m) if !m.trim().is_empty() => m.trim().to_string(),
        _ => return Err(invalid("'model' must be a non-empty string.", "model")),
    };

    let Some(messages) = fields.messages else {
        return Err(invalid("Missing required parameter: 'messages'.", "messages"));
    };
    let messages: Vec<Message> =
        serde_json::from_str(messages.get()).map_err(|_| invalid("'messages' must be an array.", "messages"))?;
    if messages.is_empty() {
        return Err(invalid("'messages' must contain at least one message.", "messages"));
    }
    if let Some(i) = messages.iter().position(|m| !m.has_role) {
        return Err(invalid(
            format!("Each message needs a string 'role' (messages[{i}])."),
            &format!("messages[{i}].role"),
        ));
    }

    let stream = match fields.stream.map(boolean) {
        None => false,
        Some(Some(flag)) => flag,
        Some(None) => return Err(invalid("'stream' must be a boolean.", "stream")),
    };
    let include_usage = match fields.stream_options {
        None => false,
        Some(options) => match serde_json::from_str::<StreamOptions>(options.get()) {
            Ok(StreamOptions { include_usage: None }) => false,
            Ok(StreamOptions {
                include_usage: Some(flag),
            }) => boolean(flag)
                .ok_or_else(|| invalid("'include_usage' must be a boolean.", "stream_options.include_usage"))?,
            Err(_) => return Err(invalid("'stream_options' must be an object.", "stream_options")),
        },
    };

    let needs = Capabilities {
        tools: [fields.tools, fields.functions]
            .into_iter()
            .flatten()
            .any(non_empty_array),
        vision: messages.iter().any(|m| m.has_image),
        json_output: fields.response_format.is_some_and(|format| {
            serde_json::from_str::<ResponseFormat>(format.get())
                .is_ok_and(|f| matches!(f.kind.as_deref(), Some("json_object" | "json_schema")))
        }),
    };
    let prompt_chars = messages.iter().map(|m| m.text_len).sum();
    let model_span = span(model_raw);
    let options_span = fields.stream_options.map(span);
    Ok(ChatBody {
        body: ClientBody::new(raw, open + 1, model_span, options_span, prompt_chars),
        model,
        stream,
        include_usage,
        needs,
    })
}

/// A JSON `true` or `false`; `None` for any other value.
fn boolean(value: &RawValue) -> Option<bool> {
    match value.get() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

fn non_empty_array(value: &RawValue) -> bool {
    let text = value.get();
    text.starts_with('[') && text[1..].trim_start() != "]"
}

#[derive(Deserialize)]
struct StreamOptions<'a> {
    #[serde(borrow)]
    include_usage: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct ResponseFormat<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
}

/// What the gateway reads from one message. Anything but an object reads as a message
/// without a role, so that the error can name its index.
#[derive(Default)]
struct Message {
    has_role: bool,
    has_image: bool,
    /// The length of its text (a string content, or the text parts of an array).
    text_len: usize,
}

impl<'de> Deserialize<'de> for Message {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(MessageVisitor)
    }
}

struct MessageVisitor;

impl<'de> Visitor<'de> for MessageVisitor {
    type Value = Message;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a message")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Message, A::Error> {
        let mut message = Message::default();
        while let Some(key) = map.next_key::<MessageKey>()? {
            match key {
                MessageKey::Role => message.has_role = map.next_value::<&RawValue>()?.get().starts_with('"'),
                MessageKey::Content => {
                    let content = map.next_value::<&RawValue>()?.get();
                    if content.starts_with('"') {
                        message.text_len = string_len(content);
                    } else if content.starts_with('[') {
                        // Parts that are not objects are skipped, like the parts of no known type.
                        let parts: Vec<&RawValue> = serde_json::from_str(content).unwrap_or_default();
                        for part in parts {
                            let Ok(part) = serde_json::from_str::<Part>(part.get()) else {
                                continue;
                            };
                            message.has_image |= matches!(part.kind.as_deref(), Some("image_url" | "input_image"));
                            message.text_len += part.text.map_or(0, |t| string_len(t.get()));
                        }
                    }
                }
                MessageKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(message)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Message, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Message::default())
    }

    fn visit_bool<E>(self, _: bool) -> Result<Message, E> {
        Ok(Message::default())
    }

    fn visit_i64<E>(self, _: i64) -> Result<Message, E> {
        Ok(Message::default())
    }

    fn visit_u64<E>(self, _: u64) -> Result<Message, E> {
        Ok(Message::default())
    }

    fn visit_f64<E>(self, _: f64) -> Result<Message, E> {
        Ok(Message::default())
    }

    fn visit_str<E>(self, _: &str) -> Result<Message, E> {
        Ok(Message::default())
    }

    fn visit_unit<E>(self) -> Result<Message, E> {
        Ok(Message::default())
    }
}

/// A message's key, told apart without copying it (as `#[derive(Deserialize)]` does for a
/// struct's fields).
enum MessageKey {
    Role,
    Content,
    Other,
}

impl<'de> Deserialize<'de> for MessageKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = MessageKey;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a message field")
            }

            fn visit_str<E>(self, key: &str) -> Result<MessageKey, E> {
                Ok(match key {
                    "role" => MessageKey::Role,
                    "content" => MessageKey::Content,
                    _ => MessageKey::Other,
                })
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

#[derive(Deserialize)]
struct Part<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    text: Option<&'a RawValue>,
}

/// The length of the text a JSON string holds (its escapes decoded); 0 if it is not one.
fn string_len(json: &str) -> usize {
    if !json.starts_with('"') {
        return 0;
    }
    if !json.contains('\\') {
        return json.len().saturating_sub(2);
    }
    serde_json::from_str::<String>(json).map_or(0, |s| s.len())
}

/// The capabilities in `needs` that `has` lacks, by name.
pub fn missing(needs: Capabilities, has: Capabilities) -> Vec<&'static str> {
    let mut out = Vec::new();
    if needs.tools && !has.tools {
        out.push("tools");
    }
    if needs.vision && !has.vision {
        out.push("image input");
    }
    if needs.json_output && !has.json_output {
        out.push("JSON output");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fields_the_gateway_needs() {
        let body = br#"{"model":"@a/b","messages":[{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"x"}}]}],
            "stream":true,"stream_options":{"include_usage":true},"tools":[{"type":"function"}],"response_format":{"type":"json_object"}}"#;
        let Ok(parsed) = parse(Bytes::from_static(body)) else {
            panic!("a valid body was refused")
        };
        assert_eq!(parsed.model, "@a/b");
        assert!(parsed.stream && parsed.include_usage);
        assert_eq!(
            parsed.needs,
            Capabilities {
                tools: true,
                vision: true,
                json_output: true
            }
        );
    }

    #[test]
    fn refuses_what_openai_refuses() {
        for (body, param) in [
            (&br#"{"messages":[{"role":"user","content":"x"}]}"#[..], "model"),
            (br#"{"model":7,"messages":[{"role":"user","content":"x"}]}"#, "model"),
            (br#"{"model":"m"}"#, "messages"),
            (br#"{"model":"m","messages":"hi"}"#, "messages"),
            (br#"{"model":"m","messages":[]}"#, "messages"),
            (br#"{"model":"m","messages":[{"content":"x"}]}"#, "messages[0].role"),
            (
                br#"{"model":"m","messages":[{"role":"user"}],"stream":"yes"}"#,
                "stream",
            ),
            (br#"{"model":null,"messages":[{"role":"user"}]}"#, "model"),
            (br#"{"model":"  ","messages":[{"role":"user"}]}"#, "model"),
            (
                br#"{"model":"m","messages":[{"role":"user"},"hi"]}"#,
                "messages[1].role",
            ),
            (br#"{"model":"m","messages":[{"role":null}]}"#, "messages[0].role"),
            (
                br#"{"model":"m","messages":[{"role":"user"}],"stream_options":5}"#,
                "stream_options",
            ),
            (
                br#"{"model":"m","messages":[{"role":"user"}],"stream_options":{"include_usage":1}}"#,
                "stream_options.include_usage",
            ),
        ] {
            match parse(Bytes::from_static(body)) {
                Err(GatewayError::InvalidRequest { param: Some(p), .. }) => assert_eq!(p, param),
                Err(other) => panic!("{param}: wrong error {other:?}"),
                Ok(_) => panic!("{param}: accepted"),
            }
        }
        for bad in [&b"{nope"[..], b"[1]", b"", b"  ", b"{} x", b"\"text\""] {
            assert!(matches!(
                parse(Bytes::from_static(bad)),
                Err(GatewayError::InvalidJson(_))
            ));
        }
    }

    #[test]
    fn reads_text_images_and_odd_parts_in_place_and_forwards_the_rest_untouched() {
        let body = br#" {"model":"  @a/b ","messages":[{"role":"system","content":"ab\ncd"},
            {"role":"user","content":[{"type":"text","text":"xyz"},"junk",{"type":"input_image"}]},
            {"role":"assistant","content":null,"tool_calls":[]}],
            "tools":[ ],"functions":null,"response_format":{"type":"text"},"stream":false,"x":{"y":[1,2]}}"#;
        let Ok(parsed) = parse(Bytes::from_static(body)) else {
            panic!("a valid body was refused")
        };
        assert_eq!(parsed.model, "@a/b");
        assert!(!parsed.stream && !parsed.include_usage);
        assert_eq!(
            parsed.needs,
            Capabilities {
                tools: false,
                vision: true,
                json_output: false
            }
        );
        // "ab\ncd" is five characters once decoded, "xyz" three: eight, two tokens.
        assert_eq!(parsed.body.prompt_estimate(), 2);

        let Ok(mut sent) = serde_json::from_slice::<serde_json::Value>(&parsed.body.for_upstream("up", true)) else {
            panic!("the forwarded body is not JSON")
        };
        let Ok(mut original) = serde_json::from_slice::<serde_json::Value>(body) else {
            panic!("the test body is not JSON")
        };
        assert_eq!(sent["stream_options"], serde_json::json!({"include_usage": true}));
        assert_eq!(sent["model"], "up");
        for field in ["model", "stream_options"] {
            sent.as_object_mut().map(|o| o.remove(field));
            original.as_object_mut().map(|o| o.remove(field));
        }
        assert_eq!(sent, original);
    }
}
