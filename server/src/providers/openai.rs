//! Any OpenAI-compatible chat-completions API: OpenAI, Groq, Together, Fireworks, Mistral,
//! DeepSeek, vLLM, Ollama, llama.cpp. Answers pass through unmodified.

use app::catalog::CatalogModel;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};
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
        let body = Named {
            model: &model.upstream_name,
            body: request.body,
        };
        let mut call = self.client.post(self.url.clone()).json(&body);
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

/// The client's body as sent upstream: `model` (the upstream name) first, then the rest as
/// the client wrote it. Written straight from the borrowed body, without copying it.
struct Named<'a> {
    model: &'a str,
    body: &'a Map<String, Value>,
}

impl Serialize for Named<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.body.len() + 1))?;
        map.serialize_entry("model", self.model)?;
        for (key, value) in self.body {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}
