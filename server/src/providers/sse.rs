//! Server-sent events from an upstream byte stream.
//!
//! [`events`] yields runs of whole events as they arrive, framing and all, so that an
//! OpenAI-compatible stream reaches the client as the provider wrote it: a received chunk that
//! ends on an event boundary (nearly all of them) is passed on as it is, without a copy. It
//! stops at `[DONE]` (the gateway sends its own) and ends with a timeout error at the call's
//! deadline. [`payloads`] reads the `data:` payloads of a run, for translation and metering;
//! [`frame`] makes an event of a payload built here.

use axum::body::Bytes;
use bytes::BytesMut;
use futures::{Stream, StreamExt};
use tokio::time::Instant;

use super::ProviderError;

pub fn events<S, E>(bytes: S, deadline: Instant) -> impl Stream<Item = Result<Bytes, ProviderError>> + Send
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: std::fmt::Display + Send,
{
    async_stream::stream! {
        let mut bytes = Box::pin(bytes);
        // The start of an event whose end has not arrived yet.
        let mut partial = BytesMut::new();
        loop {
            let (received, ended) = match tokio::time::timeout_at(deadline, bytes.next()).await {
                Err(_) => {
                    yield Err(ProviderError::Timeout);
                    return;
                }
                Ok(Some(Err(e))) => {
                    yield Err(ProviderError::Protocol(format!("stream broke: {e}")));
                    return;
                }
                Ok(Some(Ok(chunk))) if partial.is_empty() => (chunk, false),
                Ok(Some(Ok(chunk))) => {
                    partial.extend_from_slice(&chunk);
                    (partial.split().freeze(), false)
                }
                Ok(None) if partial.is_empty() => return,
                Ok(None) => {
                    // A last event without its blank line still counts.
                    partial.extend_from_slice(b"\n\n");
                    (partial.split().freeze(), true)
                }
            };
            let run = whole_events(&received);
            if !run.events.is_empty() {
                yield Ok(run.events);
            }
            if run.done || ended {
                return;
            }
            partial.extend_from_slice(&received[run.consumed..]);
        }
    }
}

/// The whole events at the front of `received`, up to `[DONE]`.
struct Run {
    /// The events that carry data: a slice of `received` unless comments or pings had to be
    /// left out, which copies.
    events: Bytes,
    /// How much of `received` was read; the rest is the start of an event.
    consumed: usize,
    /// `[DONE]` was among them.
    done: bool,
}

fn whole_events(received: &Bytes) -> Run {
    let mut consumed = 0;
    // Set once an event without data was seen: from then on, kept events are copied here.
    let mut kept: Option<Vec<u8>> = None;
    let mut kept_until = 0;
    while let Some((len, sep)) = find_event_end(&received[consumed..]) {
        let (start, end) = (consumed, consumed + len + sep);
        match event_data(received.slice(start..start + len)) {
            Some(data) if data.as_ref() == b"[DONE]" => {
                return Run {
                    events: kept.map_or_else(|| received.slice(..start), Bytes::from),
                    consumed: end,
                    done: true,
                }
            }
            Some(_) => {
                if let Some(kept) = kept.as_mut() {
                    kept.extend_from_slice(&received[start..end]);
                }
                kept_until = end;
            }
            None => {
                kept.get_or_insert_with(|| received[..kept_until].to_vec());
            }
        }
        consumed = end;
    }
    Run {
        events: kept.map_or_else(|| received.slice(..kept_until), Bytes::from),
        consumed,
        done: false,
    }
}

/// The `data:` payloads of a run of events, in order.
pub fn payloads(run: &Bytes) -> impl Iterator<Item = Bytes> + '_ {
    split(run).map(|(_, data)| data)
}

/// The events of a run that carry data, in order: where each lies in the run (its blank line
/// included) and its payload.
pub fn split(run: &Bytes) -> impl Iterator<Item = (std::ops::Range<usize>, Bytes)> + '_ {
    let mut from = 0;
    std::iter::from_fn(move || loop {
        let (len, sep) = find_event_end(&run[from..])?;
        let (start, end) = (from, from + len + sep);
        from = end;
        if let Some(data) = event_data(run.slice(start..start + len)) {
            return Some((start..end, data));
        }
    })
}

/// One event carrying `payload`.
pub fn frame(payload: &[u8]) -> Bytes {
    let mut event = Vec::with_capacity(payload.len() + 8);
    event.extend_from_slice(b"data: ");
    event.extend_from_slice(payload);
    event.extend_from_slice(b"\n\n");
    Bytes::from(event)
}

/// Where the first complete event ends (a blank line: `\n\n` or `\r\n\r\n`), and the length of
/// that separator.
fn find_event_end(buf: &[u8]) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(p) = memchr::memchr(b'\n', &buf[from..]) {
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
    // The common case, found with one vectorised scan: a single `data:` line.
    if let Some(rest) = event.strip_prefix(b"data:") {
        if memchr::memchr(b'\n', rest).is_none() {
            let rest = rest.strip_prefix(b" ").unwrap_or(rest);
            return Some(event.slice_ref(rest.strip_suffix(b"\r").unwrap_or(rest)));
        }
    }
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

    async fn runs(parts: Vec<&'static [u8]>) -> Vec<String> {
        let parts = parts
            .into_iter()
            .map(|p| Ok::<_, std::io::Error>(Bytes::from_static(p)));
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        events(futures::stream::iter(parts), deadline)
            .map(|r| String::from_utf8(r.expect("ok").to_vec()).expect("utf8"))
            .collect()
            .await
    }

    #[tokio::test]
    async fn events_pass_as_received_up_to_done() {
        let got = runs(vec![
            b"data: {\"a\"",
            b":1}\n\ndata: two\r\n\r\nevent: x\ndata: 3\n",
            b"\ndata: four\ndata:five\n\n",
            b"data: six\n\ndata: [DONE]\n\ndata: never\n\n",
        ])
        .await;
        assert_eq!(
            got,
            vec![
                "data: {\"a\":1}\n\ndata: two\r\n\r\n",
                "event: x\ndata: 3\n\ndata: four\ndata:five\n\n",
                "data: six\n\n",
            ]
        );
        let all: String = got.concat();
        let data: Vec<Bytes> = payloads(&Bytes::from(all)).collect();
        assert_eq!(data, vec![&b"{\"a\":1}"[..], b"two", b"3", b"four\nfive", b"six"]);
    }

    #[tokio::test]
    async fn comments_are_left_out_and_a_last_event_is_closed() {
        let got = runs(vec![
            b": ping\n\ndata: one\n\n: ping\n\ndata: two\n\n",
            b": ping\n\n",
            b"data: end",
        ])
        .await;
        assert_eq!(got, vec!["data: one\n\ndata: two\n\n", "data: end\n\n"]);
    }

    #[test]
    fn a_received_chunk_of_whole_events_is_not_copied() {
        let received = Bytes::from_static(b"data: one\n\ndata: two\n\n");
        let run = whole_events(&received);
        assert_eq!(run.events.as_ptr(), received.as_ptr());
        assert_eq!(
            (run.events.len(), run.consumed, run.done),
            (received.len(), received.len(), false)
        );
        assert_eq!(frame(b"x"), Bytes::from_static(b"data: x\n\n"));
    }
}
