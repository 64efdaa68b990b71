//! Reading a chat-completions body: the fields the gateway acts on, checked with OpenAI's
//! error messages, and the capabilities the request needs. Everything else passes through.

use app::catalog::Capabilities;
use serde_json::{Map, Value};

use crate::http::error::GatewayError;

pub struct ChatBody {
    /// The whole body but `model`, forwarded (each provider names its upstream model).
    pub body: Map<String, Value>,
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

pub fn parse(raw: &[u8]) -> Result<ChatBody, GatewayError> {
    let value: Value = serde_json::from_slice(raw).map_err(|e| GatewayError::InvalidJson(e.to_string()))?;
    let Value::Object(mut body) = value else {
        return Err(GatewayError::InvalidJson("the body must be a JSON object".into()));
    };
    let model = match body.remove("model") {
        None | Some(Value::Null) => return Err(invalid("You must provide a model parameter.", "model")),
        Some(Value::String(m)) if !m.trim().is_empty() => match m.trim() {
            trimmed if trimmed.len() == m.len() => m,
            trimmed => trimmed.to_string(),
        },
        Some(_) => return Err(invalid("'model' must be a non-empty string.", "model")),
    };
    match body.get("messages") {
        None | Some(Value::Null) => return Err(invalid("Missing required parameter: 'messages'.", "messages")),
        Some(Value::Array(messages)) if messages.is_empty() => {
            return Err(invalid("'messages' must contain at least one message.", "messages"))
        }
        Some(Value::Array(messages)) => {
            for (i, m) in messages.iter().enumerate() {
                if !m.get("role").is_some_and(Value::is_string) {
                    return Err(invalid(
                        format!("Each message needs a string 'role' (messages[{i}])."),
                        &format!("messages[{i}].role"),
                    ));
                }
            }
        }
        Some(_) => return Err(invalid("'messages' must be an array.", "messages")),
    }
    let stream = match body.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid("'stream' must be a boolean.", "stream")),
    };
    let include_usage = match body.get("stream_options") {
        None | Some(Value::Null) => false,
        Some(Value::Object(options)) => match options.get("include_usage") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(invalid(
                    "'include_usage' must be a boolean.",
                    "stream_options.include_usage",
                ))
            }
        },
        Some(_) => return Err(invalid("'stream_options' must be an object.", "stream_options")),
    };
    let needs = needs(&body);
    Ok(ChatBody {
        body,
        model,
        stream,
        include_usage,
        needs,
    })
}

/// Tools (or legacy functions), image inputs, and JSON output modes.
fn needs(body: &Map<String, Value>) -> Capabilities {
    let non_empty = |key: &str| body.get(key).and_then(Value::as_array).is_some_and(|a| !a.is_empty());
    let json_output = body
        .get("response_format")
        .and_then(|f| f.get("type"))
        .and_then(Value::as_str)
        .is_some_and(|t| t == "json_object" || t == "json_schema");
    let vision = body.get("messages").and_then(Value::as_array).is_some_and(|messages| {
        messages.iter().any(|m| {
            m.get("content").and_then(Value::as_array).is_some_and(|parts| {
                parts
                    .iter()
                    .any(|p| matches!(p.get("type").and_then(Value::as_str), Some("image_url" | "input_image")))
            })
        })
    });
    Capabilities {
        tools: non_empty("tools") || non_empty("functions"),
        vision,
        json_output,
    }
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
        let Ok(parsed) = parse(body) else {
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
        ] {
            match parse(body) {
                Err(GatewayError::InvalidRequest { param: Some(p), .. }) => assert_eq!(p, param),
                Err(other) => panic!("{param}: wrong error {other:?}"),
                Ok(_) => panic!("{param}: accepted"),
            }
        }
        assert!(matches!(parse(b"{nope"), Err(GatewayError::InvalidJson(_))));
        assert!(matches!(parse(b"[1]"), Err(GatewayError::InvalidJson(_))));
    }
}
