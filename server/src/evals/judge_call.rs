//! The server's judge: a catalog model called through the provider layer, as the gateway
//! calls it (the same providers, timeouts and fallback on a retryable failure), and charged at
//! the catalog's prices.

use std::sync::Arc;

use app::catalog::CatalogModel;
use axum::body::Bytes;
use serde_json::{json, Value};

use super::judge::{Judge, JudgeError, JudgeReply, JudgeUsage, TokenLogprob};
use crate::http::gateway::request;
use crate::providers::{ChatRequest, ProviderError, Providers, Reply, Timeouts};

/// Alternatives asked per output token when log-probabilities are wanted (G-Eval reads the
/// score token's; OpenAI allows up to 20).
const TOP_LOGPROBS: u32 = 20;

pub struct ProviderJudge {
    /// The judge first, then its fallbacks.
    pub models: Vec<CatalogModel>,
    pub providers: Arc<Providers>,
    /// A judge call's limit (the provider's own, if lower, wins).
    pub timeout_ms: u64,
}

impl ProviderJudge {
    /// The model that judges first (named in results); `none` when no judge is configured.
    pub fn name(&self) -> &str {
        self.models.first().map_or("none", |m| m.id.as_str())
    }

    async fn ask_model(&self, model: &CatalogModel, raw: Bytes) -> Result<JudgeReply, JudgeError> {
        let failed = |class: &str, message: String| JudgeError {
            class: class.to_string(),
            message,
            usage: JudgeUsage::default(),
        };
        let Some(served) = self.providers.get(&model.provider) else {
            return Err(failed(
                "config",
                format!("no provider {:?} for {}", model.provider, model.id),
            ));
        };
        let chat = request::parse(raw).map_err(|e| failed("request", e.to_string()))?;
        let timeouts = Timeouts {
            connect_ms: served.timeouts.connect_ms,
            first_token_ms: served.timeouts.first_token_ms.min(self.timeout_ms),
            total_ms: served.timeouts.total_ms.min(self.timeout_ms),
        };
        let call = ChatRequest {
            body: &chat.body,
            stream: false,
        };
        match served.provider.chat(model, call, timeouts).await {
            Ok(Reply::Whole(body)) => reply(model, &body).map_err(|message| failed("protocol", message)),
            Ok(Reply::Stream(_)) => Err(failed("protocol", "a stream where a whole answer was asked".into())),
            Err(e) => Err(provider_failure(&e)),
        }
    }
}

fn provider_failure(e: &ProviderError) -> JudgeError {
    JudgeError {
        class: e.class().to_string(),
        message: e.to_string(),
        usage: JudgeUsage::default(),
    }
}

#[async_trait::async_trait]
impl Judge for ProviderJudge {
    async fn ask(&self, prompt: &str, logprobs: bool) -> Result<JudgeReply, JudgeError> {
        let mut last: Option<JudgeError> = None;
        for model in &self.models {
            let mut body = json!({
                "model": model.id,
                "messages": [{"role": "user", "content": prompt}],
                "temperature": 0,
            });
            if logprobs {
                body["logprobs"] = json!(true);
                body["top_logprobs"] = json!(TOP_LOGPROBS);
            }
            match self.ask_model(model, Bytes::from(body.to_string())).await {
                Ok(reply) => return Ok(reply),
                // A 4xx would fail on any judge; other failures may pass on the next one.
                Err(e) if e.class == "upstream_4xx" || e.class == "request" => return Err(e),
                Err(e) => {
                    tracing::warn!(judge = %model.id, class = %e.class, "judge call failed");
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| JudgeError {
            class: "config".into(),
            message: "no judge model is configured".into(),
            usage: JudgeUsage::default(),
        }))
    }
}

/// Reads a whole chat completion: the first choice's content, its log-probabilities when
/// present, and the usage (estimated at four characters a token when the provider sent none),
/// charged at `model`'s prices.
fn reply(model: &CatalogModel, body: &[u8]) -> Result<JudgeReply, String> {
    let answer: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let choice = &answer["choices"][0];
    let text = choice["message"]["content"]
        .as_str()
        .ok_or_else(|| "no message content".to_string())?
        .to_string();
    let logprobs = choice["logprobs"]["content"].as_array().map(|tokens| {
        tokens
            .iter()
            .map(|t| TokenLogprob {
                token: t["token"].as_str().unwrap_or_default().to_string(),
                logprob: t["logprob"].as_f64().unwrap_or(f64::NEG_INFINITY),
                top: t["top_logprobs"]
                    .as_array()
                    .map(|top| {
                        top.iter()
                            .filter_map(|alt| Some((alt["token"].as_str()?.to_string(), alt["logprob"].as_f64()?)))
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect()
    });
    let usage = &answer["usage"];
    let prompt_tokens = usage["prompt_tokens"].as_u64().unwrap_or(0);
    let completion_tokens = usage["completion_tokens"]
        .as_u64()
        .unwrap_or_else(|| (text.len() as u64).div_ceil(4));
    Ok(JudgeReply {
        text,
        logprobs,
        usage: JudgeUsage::of_call(model, prompt_tokens, completion_tokens),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge_model() -> CatalogModel {
        CatalogModel {
            id: "openai/gpt-4o-mini".into(),
            provider: "openai".into(),
            upstream_name: "gpt-4o-mini".into(),
            input_price_per_mtok: 0.15,
            output_price_per_mtok: 0.60,
            context_window: 128_000,
            capabilities: Default::default(),
            simulated: true,
            simulation: None,
        }
    }

    #[test]
    fn a_reply_gives_its_text_logprobs_and_cost() {
        let body = json!({
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "{\"score\": 8}"},
                "logprobs": {"content": [
                    {"token": "8", "logprob": -0.2, "top_logprobs": [{"token": "8", "logprob": -0.2}, {"token": "7", "logprob": -1.8}]}
                ]}}],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 100}
        });
        let r = reply(&judge_model(), body.to_string().as_bytes()).expect("reply");
        assert_eq!(r.text, "{\"score\": 8}");
        let tokens = r.logprobs.expect("logprobs");
        assert_eq!(tokens[0].top, vec![("8".to_string(), -0.2), ("7".to_string(), -1.8)]);
        assert_eq!(
            (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.calls),
            (1000, 100, 1)
        );
        assert!((r.usage.cost_usd - (1000.0 * 0.15 + 100.0 * 0.60) / 1e6).abs() < 1e-15);

        let bare = json!({"choices": [{"message": {"content": "12345678"}}]});
        let r = reply(&judge_model(), bare.to_string().as_bytes()).expect("reply");
        assert_eq!((r.usage.completion_tokens, r.logprobs), (2, None));
        assert!(reply(&judge_model(), b"{}").is_err());
    }
}
