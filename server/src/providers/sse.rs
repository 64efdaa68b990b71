//! Server-sent events from an upstream byte stream: yields each event's `data:` payload,
//! stops at `[DONE]`, and ends with a timeout error at the call's deadline.

use axum::body::Bytes;
use bytes::BytesMut;
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
        // Events are split off the front without copying what follows, and a one-line `data:`
        // payload (nearly every event) is a view into the received bytes, not a copy.
        let mut buf = BytesMut::new();
        loop {
            while let Some((end, sep)) = find_event_end(&buf) {
                let event = buf.split_to(end + sep).freeze();
                let Some(data) = event_data(event.slice(..end)) else { continue };
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
                    if let Some(data) = event_data(buf.split().freeze()) {
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

/// Where the first complete event ends (a blank line: `\n\n` or `\r\n\r\n`), and the length of
/// that separator.
fn find_event_end(buf: &[u8]) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(p) = buf[from..].iter().position(|b| *b == b'\n') {
        let n = from + p;
        if buf.get(n + 1) == Some(&b'\n') {
            return Some((n, 2));
        }
        if n >= 1 && buf[n - 1] == b'\r' && buf.get(n + 1) == Some(&b'\r') && buf.get(n + 2) == Some(&b'\n') {
            return Some((n - 1, 4));
        }
        from = n + 1;
    }
    None
}

/// The event's `data:` lines joined by newlines; `None` for events without data (comments, pings).
fn event_data(event: Bytes) -> Option<Bytes> {
    let mut data_lines = event
        .split(|b| *b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter_map(|line| line.strip_prefix(b"data:"))
        .map(|rest| rest.strip_prefix(b" ").unwrap_or(rest));
    let first = data_lines.next()?;
    let Some(second) = data_lines.next() else {
        // The common case: one `data:` line, returned as a slice of the event.
        return Some(event.slice_ref(first));
    };
    let mut data = Vec::with_capacity(event.len());
    data.extend_from_slice(first);
    for rest in std::iter::once(second).chain(data_lines) {
        data.push(b'\n');
        data.extend_from_slice(rest);
    }
    Some(Bytes::from(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn splits_events_across_chunk_boundaries() {
        let parts: Vec<Result<Bytes, std::io::Error>> = vec![
            Ok(Bytes::from_static(b": ping\n\ndata: {\"a\"")),
            Ok(Bytes::from_static(b":1}\n\ndata: two\r\n\r\nevent: x\ndata: 3\n")),
            Ok(Bytes::from_static(b"\ndata: four\ndata:five\n\n")),
            Ok(Bytes::from_static(b"data: [DONE]\n\ndata: never\n\n")),
        ];
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        let got: Vec<String> = payloads(futures::stream::iter(parts), deadline)
            .map(|r| String::from_utf8(r.expect("ok").to_vec()).expect("utf8"))
            .collect()
            .await;
        assert_eq!(got, vec![r#"{"a":1}"#, "two", "3", "four\nfive"]);
    }
}
