//! Any OpenAI-compatible chat-completions API: OpenAI, Groq, Together, Fireworks, Mistral,
//! DeepSeek, vLLM, Ollama, llama.cpp. Answers pass through unmodified.

use app::catalog::CatalogModel;
use futures::StreamExt;
use serde_json::Value;
use tokio::time::{timeout, timeout_at, Instant};

use super::{sse, ChatRequest, Provider, ProviderError, Reply, Timeouts};

pub struct OpenAiProvider {
    client: reqwest::Client,
    url: String,
    api_key: Option<String>,
}

impl OpenAiProvider {
    pub fn new(base_url: &str, api_key: Option<String>, timeouts: Timeouts) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(timeouts.connect())
            .tcp_nodelay(true)
            .build()?;
        Ok(OpenAiProvider {
            client,
            url: format!("{}/chat/completions", base_url.trim_end_matches('/')),
            api_key,
        })
    }
}

fn classify(e: reqwest::Error) -> ProviderError {
    if e.is_timeout() {
        ProviderError::Timeout
    } else if e.is_connect() {
        ProviderError::Connect(e.to_string())
    } else {
        ProviderError::Protocol(e.to_string())
    }
}

#[async_trait::async_trait]
impl Provider for OpenAiProvider {
    async fn chat(&self, model: &CatalogModel, mut request: ChatRequest, t: Timeouts) -> Result<Reply, ProviderError> {
        let deadline = Instant::now() + t.total();
        request
            .body
            .insert("model".into(), Value::String(model.upstream_name.clone()));
        let mut call = self.client.post(&self.url).json(&request.body);
        if let Some(key) = &self.api_key {
            call = call.bearer_auth(key);
        }
        let response = timeout(t.first_token(), call.send())
            .await
            .map_err(|_| ProviderError::Timeout)?
            .map_err(classify)?;
        let status = response.status();
        if !status.is_success() {
            let body = timeout_at(deadline, response.bytes())
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default();
            return Err(if status.as_u16() == 429 {
                ProviderError::RateLimited { body }
            } else {
                ProviderError::Upstream {
                    status: status.as_u16(),
                    body,
                }
            });
        }
        if !request.stream {
            let body = timeout_at(deadline, response.bytes())
                .await
                .map_err(|_| ProviderError::Timeout)?
                .map_err(classify)?;
            return Ok(Reply::Whole(body));
        }
        let mut events = Box::pin(sse::payloads(response.bytes_stream(), deadline));
        match timeout(t.first_token(), events.next()).await {
            Err(_) => Err(ProviderError::Timeout),
            Ok(None) => Err(ProviderError::Protocol("the stream ended before any data".into())),
            Ok(Some(Err(e))) => Err(e),
            Ok(Some(Ok(first))) => Ok(Reply::Stream(Box::pin(
                futures::stream::once(async { Ok(first) }).chain(events),
            ))),
        }
    }
}
