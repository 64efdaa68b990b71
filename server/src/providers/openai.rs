//! Any OpenAI-compatible chat-completions API: OpenAI, Groq, Together, Fireworks, Mistral,
//! DeepSeek, vLLM, Ollama, llama.cpp. Answers pass through unmodified.

use app::catalog::CatalogModel;
use axum::http::{header, HeaderValue};
use tokio::time::Instant;

use super::{read_whole, send, sse, started, ChatRequest, Provider, ProviderError, Reply, Timeouts};

pub struct OpenAiProvider {
    client: reqwest::Client,
    // Parsed once: parsing per request showed up in profiles.
    url: reqwest::Url,
    api_key: Option<String>,
}

impl OpenAiProvider {
    pub fn new(base_url: &str, api_key: Option<String>, timeouts: Timeouts) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .connect_timeout(timeouts.connect())
            .tcp_nodelay(true)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(OpenAiProvider {
            client,
            url: reqwest::Url::parse(&format!("{}/chat/completions", base_url.trim_end_matches('/')))
                .map_err(|e| format!("base_url {base_url:?}: {e}"))?,
            api_key,
        })
    }
}

#[async_trait::async_trait]
impl Provider for OpenAiProvider {
    async fn chat(&self, model: &CatalogModel, request: ChatRequest<'_>, t: Timeouts) -> Result<Reply, ProviderError> {
        let deadline = Instant::now() + t.total();
        // A stream always asks for the usage chunk, so that it is billed exactly.
        let body = request.body.for_upstream(&model.upstream_name, request.stream);
        let mut call = self
            .client
            .post(self.url.clone())
            .header(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body);
        if let Some(key) = &self.api_key {
            call = call.bearer_auth(key);
        }
        let response = send(call, t, deadline, |body| body).await?;
        if !request.stream {
            return Ok(Reply::Whole(read_whole(response, deadline).await?));
        }
        started(sse::events(response.bytes_stream(), deadline), t).await
    }
}
