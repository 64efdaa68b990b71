//! Server-sent events from an upstream byte stream: yields each event's `data:` payload,
//! stops at `[DONE]`, and ends with a timeout error at the call's deadline.

use axum::body::Bytes;
use futures::{Stream, StreamExt};
use tokio::time::Instant;

use super::ProviderError;

pub fn payloads<S, E>(bytes: S, deadline: Instant) -> impl Stream<Item = Result<Bytes, ProviderError>> + Send
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: std::fmt::Display + Send,
{
    async_stream::stream! {
        let mut bytes = Box::pin(bytes);
        let mut buf: Vec<u8> = Vec::new();
        loop {
            while let Some((end, sep)) = find_event_end(&buf) {
                let event: Vec<u8> = buf.drain(..end + sep).collect();
                let Some(data) = event_data(&event[..end]) else { continue };
                if data.as_ref() == b"[DONE]" {
                    return;
                }
                yield Ok(data);
            }
            match tokio::time::timeout_at(deadline, bytes.next()).await {
                Err(_) => {
                    yield Err(ProviderError::Timeout);
                    return;
                }
                Ok(None) => {
                    if let Some(data) = event_data(&buf) {
                        if data.as_ref() != b"[DONE]" {
                            yield Ok(data);
                        }
                    }
                    return;
                }
                Ok(Some(Err(e))) => {
                    yield Err(ProviderError::Protocol(format!("stream broke: {e}")));
                    return;
                }
                Ok(Some(Ok(chunk))) => buf.extend_from_slice(&chunk),
            }
        }
    }
}

/// Where the first complete event ends, and the length of its blank-line separator.
fn find_event_end(buf: &[u8]) -> Option<(usize, usize)> {
    for i in 0..buf.len() {
        if buf[i..].starts_with(b"\n\n") {
            return Some((i, 2));
        }
        if buf[i..].starts_with(b"\r\n\r\n") {
            return Some((i, 4));
        }
    }
    None
}

/// The event's `data:` lines joined by newlines; `None` for events without data (comments, pings).
fn event_data(event: &[u8]) -> Option<Bytes> {
    let mut data: Vec<u8> = Vec::new();
    let mut any = false;
    for line in event.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(rest) = line.strip_prefix(b"data:") {
            if any {
                data.push(b'\n');
            }
            data.extend_from_slice(rest.strip_prefix(b" ").unwrap_or(rest));
            any = true;
        }
    }
    any.then(|| Bytes::from(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn splits_events_across_chunk_boundaries() {
        let parts: Vec<Result<Bytes, std::io::Error>> = vec![
            Ok(Bytes::from_static(b": ping\n\ndata: {\"a\"")),
            Ok(Bytes::from_static(b":1}\n\ndata: two\r\n\r\nevent: x\ndata: 3\n")),
            Ok(Bytes::from_static(b"\ndata: [DONE]\n\ndata: never\n\n")),
        ];
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        let got: Vec<String> = payloads(futures::stream::iter(parts), deadline)
            .map(|r| String::from_utf8(r.expect("ok").to_vec()).expect("utf8"))
            .collect()
            .await;
        assert_eq!(got, vec![r#"{"a":1}"#, "two", "3"]);
    }
}
