//! Any OpenAI-compatible chat-completions API: OpenAI, Groq, Together, Fireworks, Mistral,
//! DeepSeek, vLLM, Ollama, llama.cpp. Answers pass through unmodified.

use app::catalog::CatalogModel;
use axum::http::{header, HeaderMap};
use tokio::time::Instant;

use super::upstream::{self, Upstream};
use super::{read_whole, send, sse, started, ChatRequest, Provider, ProviderError, Reply, Timeouts};

pub struct OpenAiProvider {
    upstream: Upstream,
}

impl OpenAiProvider {
    pub fn new(base_url: &str, api_key: Option<String>, timeouts: Timeouts) -> Result<Self, String> {
        let mut headers = HeaderMap::new();
        if let Some(key) = api_key {
            headers.insert(header::AUTHORIZATION, upstream::secret(format!("Bearer {key}"))?);
        }
        let url = format!("{}/chat/completions", base_url.trim_end_matches('/'));
        Ok(OpenAiProvider {
            upstream: Upstream::new(&url, headers, timeouts.connect())?,
        })
    }
}

#[async_trait::async_trait]
impl Provider for OpenAiProvider {
    async fn chat(&self, model: &CatalogModel, request: ChatRequest<'_>, t: Timeouts) -> Result<Reply, ProviderError> {
        let deadline = Instant::now() + t.total();
        // A stream always asks for the usage chunk, so that it is billed exactly.
        let body = request.body.for_upstream(&model.upstream_name, request.stream);
        let response = send(self.upstream.post(body.into()), t, deadline, |body| body).await?;
        if !request.stream {
            return Ok(Reply::Whole(read_whole(response, deadline).await?));
        }
        started(sse::events(upstream::chunks(response), deadline), t).await
    }
}
