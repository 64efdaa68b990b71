//! The HTTP client the providers reach upstream APIs with: one pooled hyper client per
//! provider, HTTP/1.1 or HTTP/2 (by ALPN) over TLS, or plain HTTP for local servers.
//!
//! Why hyper's client and not reqwest's, which is built on it: reqwest wraps every call in
//! redirect and retry layers. For each request they parse the URL into a `url::Url` twice,
//! format the URI twice, clone the request headers twice and clone the client's boxed service
//! stack. Under callgrind (the benchmark's fake upstream, 64 concurrent requests),
//! leaving them out took a whole answer from 116,900 to 89,500 instructions and from 82 to 58
//! allocations; the CPU time per request fell by about a fifth. A gateway follows no redirects
//! (a chat completion is a POST) and retries by its own policy (fallback to another model), so
//! it needs neither layer. What reqwest gave beside them is here: a connect timeout,
//! TCP_NODELAY, a pool of kept-alive connections, HTTP/2 by ALPN, rustls with the platform's
//! certificate verifier.
//!
//! Not here: reqwest's reading of `HTTP(S)_PROXY`; upstream calls go direct.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyDataStream, BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;

use super::ProviderError;

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// One upstream endpoint (a URL) and the headers every call to it carries.
pub struct Upstream {
    client: Client<Connector, Full<Bytes>>,
    uri: http::Uri,
    headers: http::HeaderMap,
}

/// An upstream answer's status and body, not yet read.
pub type Response = http::Response<Incoming>;

impl Upstream {
    /// Every call posts JSON and carries `headers` besides (the provider's credentials, made
    /// with [`secret`], and any version header).
    pub fn new(url: &str, mut headers: http::HeaderMap, connect_timeout: Duration) -> Result<Self, String> {
        let uri: http::Uri = url.parse().map_err(|e| format!("base_url {url:?}: {e}"))?;
        match uri.scheme_str() {
            Some("http" | "https") if uri.host().is_some() => {}
            _ => return Err(format!("base_url {url:?}: not an http(s) URL")),
        }
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(connect_timeout));
        let tls = tls_config()?;
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(https);
        Ok(Upstream { client, uri, headers })
    }

    /// POSTs `body`; resolves when the answer's head has arrived.
    pub async fn post(&self, body: Bytes) -> Result<Response, ProviderError> {
        let mut request = http::Request::new(Full::new(body));
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        self.client
            .request(request)
            .await
            .map_err(|e| classify(&e, e.is_connect()))
    }
}

/// A credential as a header value, marked sensitive so that it never shows in debug output.
pub fn secret(value: String) -> Result<http::HeaderValue, String> {
    let mut value = http::HeaderValue::try_from(value).map_err(|_| "the API key is not a valid header value")?;
    value.set_sensitive(true);
    Ok(value)
}

/// A body's bytes as they arrive.
pub fn chunks(response: Response) -> BodyDataStream<Incoming> {
    BodyDataStream::new(response.into_body())
}

/// A body's bytes, whole.
pub async fn whole(response: Response) -> Result<Bytes, ProviderError> {
    response
        .into_body()
        .collect()
        .await
        .map(|body| body.to_bytes())
        .map_err(|e| ProviderError::Protocol(format!("reading the answer: {e}")))
}

/// rustls with aws-lc-rs and the platform's certificate verifier (the system's roots), as
/// reqwest set it up. The provider is named, not taken from the process default, which is
/// unset when more than one crypto backend is compiled in.
fn tls_config() -> Result<rustls::ClientConfig, String> {
    use rustls_platform_verifier::BuilderVerifierExt;
    let crypto = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(crypto)
        .with_safe_default_protocol_versions()
        .and_then(|builder| builder.with_platform_verifier())
        .map_err(|e| format!("TLS set-up: {e}"))?
        .with_no_client_auth())
}

/// A failed call's class: a connect timeout is a timeout (as reqwest classed it: the gateway
/// answers 504), any other failure to connect a connect error (502), the rest a protocol error.
fn classify(e: &(dyn std::error::Error + 'static), connecting: bool) -> ProviderError {
    if timed_out(e) {
        ProviderError::Timeout
    } else if connecting {
        ProviderError::Connect(error_chain(e))
    } else {
        ProviderError::Protocol(error_chain(e))
    }
}

/// Whether an I/O timeout is among the error's causes.
fn timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(e) = cause {
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        cause = e.source();
    }
    false
}

/// "connect error: tcp connect error: Connection refused": hyper's errors keep their cause
/// in `source`, and `Display` shows only the outermost.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const WAIT: Duration = Duration::from_secs(5);

    fn upstream(url: &str) -> Upstream {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::AUTHORIZATION,
            secret("Bearer sk-test".into()).expect("key"),
        );
        Upstream::new(url, headers, WAIT).expect("upstream")
    }

    /// A one-shot server on loopback: reads one request (head and a `{}` body), answers
    /// `answer`, and hands back what it read.
    async fn one_shot(answer: &'static [u8]) -> (String, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let served = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut read = Vec::new();
            let mut buf = [0u8; 4096];
            while !read.ends_with(b"{}") {
                let n = socket.read(&mut buf).await.expect("read");
                if n == 0 {
                    break;
                }
                read.extend_from_slice(&buf[..n]);
            }
            socket.write_all(answer).await.expect("write");
            String::from_utf8_lossy(&read).into_owned()
        });
        (addr.to_string(), served)
    }

    #[test]
    fn only_http_and_https_urls_are_taken() {
        for good in [
            "https://api.openai.com/v1/chat/completions",
            "http://127.0.0.1:8000/v1/x",
        ] {
            assert!(Upstream::new(good, http::HeaderMap::new(), WAIT).is_ok(), "{good}");
        }
        for bad in [
            "ftp://example.com/v1",
            "example.com/v1",
            "not a url",
            "/v1/chat/completions",
        ] {
            let e = Upstream::new(bad, http::HeaderMap::new(), WAIT).err();
            assert!(e.as_deref().is_some_and(|e| e.contains(bad)), "{bad}: {e:?}");
        }
    }

    #[tokio::test]
    async fn a_call_carries_its_headers_and_body_and_reads_the_answer() {
        let (addr, served) =
            one_shot(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{\"ok\":true}")
                .await;
        let up = upstream(&format!("http://{addr}/v1/chat/completions"));
        let response = up.post(Bytes::from_static(b"{}")).await.expect("answer");
        assert_eq!(response.status(), 200);
        assert_eq!(
            whole(response).await.expect("body"),
            Bytes::from_static(b"{\"ok\":true}")
        );
        let request = served.await.expect("served").to_ascii_lowercase();
        assert!(
            request.starts_with("post /v1/chat/completions http/1.1\r\n"),
            "{request}"
        );
        for line in [
            "authorization: bearer sk-test",
            "content-type: application/json",
            "content-length: 2",
        ] {
            assert!(request.contains(line), "{line} in {request}");
        }
    }

    #[test]
    fn a_connect_timeout_is_a_timeout() {
        /// hyper's connect error: the I/O error is its cause, not itself.
        #[derive(Debug, thiserror::Error)]
        #[error("client error (Connect)")]
        struct Wrapper(#[source] std::io::Error);
        let timeout = Wrapper(std::io::Error::new(std::io::ErrorKind::TimedOut, "tcp connect timeout"));
        assert!(matches!(classify(&timeout, true), ProviderError::Timeout));
        let refused = Wrapper(std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused"));
        match classify(&refused, true) {
            ProviderError::Connect(message) => {
                assert_eq!(message, "client error (Connect): refused", "the causes are kept")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(classify(&refused, false), ProviderError::Protocol(_)));
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_connect_error() {
        // A port nothing listens on: bound, read, released.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port");
        let up = upstream(&format!("http://{addr}/v1/chat/completions"));
        match up.post(Bytes::from_static(b"{}")).await {
            Err(ProviderError::Connect(message)) => assert!(message.contains("refused"), "{message}"),
            other => panic!("expected a connect error, got {:?}", other.map(|r| r.status())),
        }
    }

    #[tokio::test]
    async fn a_failed_tls_handshake_is_a_connect_error() {
        // Plain HTTP where TLS is expected: the handshake fails before any request is sent,
        // so the gateway may fall back to another model.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut hello = [0u8; 4096];
            let _ = socket.read(&mut hello).await;
            let _ = socket
                .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                .await;
        });
        let up = upstream(&format!("https://{addr}/v1/chat/completions"));
        let outcome = tokio::time::timeout(WAIT, up.post(Bytes::from_static(b"{}"))).await;
        match outcome {
            Ok(Err(ProviderError::Connect(_))) => {}
            other => panic!(
                "expected a connect error, got {:?}",
                other.map(|r| r.map(|r| r.status()))
            ),
        }
    }
}
