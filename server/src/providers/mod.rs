//! Upstream model providers behind one trait, a file per kind:
//! - [`openai`]: any OpenAI-compatible API; answers pass through unmodified.
//! - [`anthropic`]: Anthropic's Messages API, translated both ways (streaming included).
//! - [`simulated`]: an in-process provider whose timing, errors and answers follow
//!   configured distributions, so the product runs offline (demos, tests). It is a real
//!   provider, not a test double: it goes through exactly the same gateway path.
//!
//! Every provider speaks OpenAI's chat-completions format to the gateway; translation
//! (for non-OpenAI APIs) happens inside the provider.

pub mod anthropic;
pub mod client_body;
pub mod openai;
pub mod simulated;
pub mod sse;
pub mod upstream;

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use app::catalog::CatalogModel;
use axum::body::Bytes;
use futures::Stream;
use serde::{Deserialize, Serialize};

pub use client_body::ClientBody;

/// One chat completion to send: the client's body (each provider names its own upstream
/// model in it), borrowed, so that a retry on another model copies nothing.
pub struct ChatRequest<'a> {
    pub body: &'a ClientBody,
    pub stream: bool,
}

/// Server-sent events carrying OpenAI chunk JSON, in order: each item is one or more whole
/// events (`data: {…}\n\n`), never the final `data: [DONE]`. An OpenAI-compatible stream
/// passes as the provider framed it; translated and simulated ones are framed by [`sse::frame`].
pub type EventStream = Pin<Box<dyn Stream<Item = Result<Bytes, ProviderError>> + Send>>;

pub enum Reply {
    /// A whole JSON answer, passed to the client as is.
    Whole(Bytes),
    /// A stream that has started: its first events have arrived before this is returned.
    Stream(EventStream),
}

/// Failures, classified so that fallback and metrics never parse strings.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("timed out")]
    Timeout,
    #[error("rate limited by the provider")]
    RateLimited { body: Bytes },
    #[error("provider answered {status}")]
    Upstream { status: u16, body: Bytes },
    #[error("unexpected answer: {0}")]
    Protocol(String),
}

impl ProviderError {
    /// The `error_class` recorded in request metrics.
    pub fn class(&self) -> &'static str {
        match self {
            ProviderError::Connect(_) => "connect",
            ProviderError::Timeout => "timeout",
            ProviderError::RateLimited { .. } => "rate_limited",
            ProviderError::Upstream { status, .. } if *status >= 500 => "upstream_5xx",
            ProviderError::Upstream { .. } => "upstream_4xx",
            ProviderError::Protocol(_) => "protocol",
        }
    }

    /// Whether another model may succeed where this one failed. A 4xx other than 429 is
    /// the request's fault and would fail anywhere.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, ProviderError::Upstream { status, .. } if *status < 500)
    }
}

/// The limits a provider call runs under.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    pub connect_ms: u64,
    /// Until the first byte of the answer (whole or streamed).
    pub first_token_ms: u64,
    /// For the whole answer.
    pub total_ms: u64,
}

impl Timeouts {
    pub fn connect(&self) -> Duration {
        Duration::from_millis(self.connect_ms)
    }
    pub fn first_token(&self) -> Duration {
        Duration::from_millis(self.first_token_ms)
    }
    pub fn total(&self) -> Duration {
        Duration::from_millis(self.total_ms)
    }
}

#[async_trait::async_trait]
pub trait Provider: Send + Sync {
    /// Sends one chat completion to `model` (the provider puts its upstream name in the body).
    /// Resolves once the answer is known to have started: a whole answer, or a stream
    /// whose first payload arrived, so that a failure before any byte can fall back.
    async fn chat(
        &self,
        model: &CatalogModel,
        request: ChatRequest<'_>,
        timeouts: Timeouts,
    ) -> Result<Reply, ProviderError>;
}

/// How a configured provider is reached.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ProviderConfig {
    /// Any OpenAI-compatible API. Switched on only when `api_key_env` names a set variable
    /// (or is absent, for local servers such as vLLM or Ollama that need no key).
    Openai {
        base_url: String,
        #[serde(default)]
        api_key_env: Option<String>,
        #[serde(default)]
        timeouts: TimeoutOverrides,
    },
    /// Anthropic's Messages API; on when `api_key_env` names a set variable.
    Anthropic {
        base_url: String,
        api_key_env: String,
        #[serde(default)]
        timeouts: TimeoutOverrides,
    },
    Simulated {
        #[serde(default)]
        timeouts: TimeoutOverrides,
    },
}

impl ProviderConfig {
    fn timeouts(&self) -> &TimeoutOverrides {
        match self {
            ProviderConfig::Openai { timeouts, .. }
            | ProviderConfig::Anthropic { timeouts, .. }
            | ProviderConfig::Simulated { timeouts } => timeouts,
        }
    }
}

/// A provider's own limits, each falling back to `[gateway.timeouts]` when absent.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutOverrides {
    pub connect_ms: Option<u64>,
    pub first_token_ms: Option<u64>,
    pub total_ms: Option<u64>,
}

impl TimeoutOverrides {
    pub fn over(&self, defaults: Timeouts) -> Timeouts {
        Timeouts {
            connect_ms: self.connect_ms.unwrap_or(defaults.connect_ms),
            first_token_ms: self.first_token_ms.unwrap_or(defaults.first_token_ms),
            total_ms: self.total_ms.unwrap_or(defaults.total_ms),
        }
    }
}

/// A provider in use and the limits its calls run under.
#[derive(Clone)]
pub struct Served {
    pub provider: Arc<dyn Provider>,
    pub timeouts: Timeouts,
}

/// The providers in use, by name.
pub type Providers = HashMap<String, Served>;

/// Starts the configured providers and derives the catalog as served: a model whose provider
/// is off (its key variable unset) is served by the simulator and marked simulated.
pub fn build(
    configs: &std::collections::BTreeMap<String, ProviderConfig>,
    catalog: &[CatalogModel],
    timeouts: Timeouts,
) -> Result<(Providers, Vec<CatalogModel>), String> {
    let simulator: Arc<dyn Provider> = Arc::new(simulated::SimulatedProvider);
    let mut providers: Providers = HashMap::new();
    let mut real = std::collections::HashSet::new();
    for (name, config) in configs {
        let timeouts = config.timeouts().over(timeouts);
        let provider: Arc<dyn Provider> = match config {
            ProviderConfig::Simulated { .. } => simulator.clone(),
            ProviderConfig::Openai {
                base_url, api_key_env, ..
            } => {
                let key = match api_key_env {
                    None => Some(None),
                    Some(var) => std::env::var(var).ok().filter(|v| !v.is_empty()).map(Some),
                };
                match key {
                    Some(key) => {
                        real.insert(name.clone());
                        let provider = openai::OpenAiProvider::new(base_url, key, timeouts)
                            .map_err(|e| format!("providers.{name}: {e}"))?;
                        tracing::info!(provider = %name, "provider on");
                        Arc::new(provider)
                    }
                    None => simulator.clone(),
                }
            }
            ProviderConfig::Anthropic {
                base_url, api_key_env, ..
            } => match std::env::var(api_key_env).ok().filter(|v| !v.is_empty()) {
                Some(key) => {
                    real.insert(name.clone());
                    let provider = anthropic::AnthropicProvider::new(base_url, key, timeouts)
                        .map_err(|e| format!("providers.{name}: {e}"))?;
                    tracing::info!(provider = %name, "provider on");
                    Arc::new(provider)
                }
                None => simulator.clone(),
            },
        };
        providers.insert(name.clone(), Served { provider, timeouts });
    }
    let served = catalog
        .iter()
        .map(|model| CatalogModel {
            simulated: !real.contains(&model.provider),
            ..model.clone()
        })
        .collect();
    Ok((providers, served))
}

/// Shared by the HTTP providers: sends `call` within the first-token timeout and turns a
/// non-2xx answer into the matching error, its body rewritten by `error_body` (the
/// identity for OpenAI-compatible APIs, a translation for others).
async fn send(
    call: impl std::future::Future<Output = Result<upstream::Response, ProviderError>>,
    t: Timeouts,
    deadline: tokio::time::Instant,
    error_body: fn(Bytes) -> Bytes,
) -> Result<upstream::Response, ProviderError> {
    let response = tokio::time::timeout(t.first_token(), call)
        .await
        .map_err(|_| ProviderError::Timeout)??;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let raw = tokio::time::timeout_at(deadline, upstream::whole(response))
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let body = error_body(raw);
    Err(if status.as_u16() == 429 {
        ProviderError::RateLimited { body }
    } else {
        ProviderError::Upstream {
            status: status.as_u16(),
            body,
        }
    })
}

/// The whole body of a successful answer, by the call's deadline.
async fn read_whole(response: upstream::Response, deadline: tokio::time::Instant) -> Result<Bytes, ProviderError> {
    tokio::time::timeout_at(deadline, upstream::whole(response))
        .await
        .map_err(|_| ProviderError::Timeout)?
}

/// Waits for a stream's first events (within the first-token timeout), so that a failure
/// before any byte reaches the client can still fall back. They stay at the stream's head.
async fn started(
    chunks: impl futures::Stream<Item = Result<Bytes, ProviderError>> + Send + 'static,
    t: Timeouts,
) -> Result<Reply, ProviderError> {
    use futures::StreamExt;
    let mut chunks = Box::pin(chunks.peekable());
    let first = tokio::time::timeout(t.first_token(), chunks.as_mut().peek())
        .await
        .map_err(|_| ProviderError::Timeout)?;
    match first {
        Some(Ok(_)) => Ok(Reply::Stream(chunks)),
        None => Err(ProviderError::Protocol("the stream ended before any data".into())),
        // Taken out of the stream, which holds it.
        Some(Err(_)) => match chunks.next().await {
            Some(Err(e)) => Err(e),
            _ => Err(ProviderError::Protocol("the stream failed before any data".into())),
        },
    }
}

/// Seconds since the epoch, for the `created` field of answers built here.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(id: &str, provider: &str) -> CatalogModel {
        CatalogModel {
            id: id.into(),
            provider: provider.into(),
            upstream_name: id.into(),
            input_price_per_mtok: 1.0,
            output_price_per_mtok: 1.0,
            context_window: 1000,
            capabilities: Default::default(),
            simulated: false,
            simulation: None,
        }
    }

    #[test]
    fn providers_without_their_key_are_simulated() {
        let timeouts = Timeouts {
            connect_ms: 100,
            first_token_ms: 100,
            total_ms: 100,
        };
        let configs = std::collections::BTreeMap::from([
            (
                "sim".to_string(),
                ProviderConfig::Simulated {
                    timeouts: TimeoutOverrides::default(),
                },
            ),
            (
                "keyed".to_string(),
                ProviderConfig::Openai {
                    base_url: "http://127.0.0.1:9/v1".into(),
                    api_key_env: Some("SETPOINT_TEST_VARIABLE_NEVER_SET".into()),
                    timeouts: TimeoutOverrides::default(),
                },
            ),
            (
                "local".to_string(),
                ProviderConfig::Openai {
                    base_url: "http://127.0.0.1:9/v1".into(),
                    api_key_env: None,
                    timeouts: TimeoutOverrides {
                        total_ms: Some(1234),
                        ..TimeoutOverrides::default()
                    },
                },
            ),
        ]);
        let catalog = [model("s/a", "sim"), model("k/b", "keyed"), model("l/c", "local")];
        let (providers, served) = build(&configs, &catalog, timeouts).expect("build");
        assert_eq!(providers.len(), 3);
        let local = providers["local"].timeouts;
        assert_eq!(local.total_ms, 1234, "a provider's own limit wins");
        assert_eq!(
            local.connect_ms, timeouts.connect_ms,
            "the rest fall back to the gateway's"
        );
        let simulated: Vec<bool> = served.iter().map(|m| m.simulated).collect();
        assert_eq!(
            simulated,
            vec![true, true, false],
            "only the keyless local provider is real"
        );
    }
}
