//! Server-sent events from an upstream byte stream.
//!
//! [`events`] yields runs of whole events as they arrive, framing and all, so that an
//! OpenAI-compatible stream reaches the client as the provider wrote it: a received chunk that
//! ends on an event boundary (nearly all of them) is passed on as it is, without a copy. It
//! stops at `[DONE]` (the gateway sends its own) and ends with a timeout error at the call's
//! deadline. [`payloads`] reads the `data:` payloads of a run, for translation and metering,
//! [`event_at`] the one event around a given byte; [`frame`] makes an event of a payload built
//! here.

use std::borrow::Cow;
use std::ops::Range;

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
        // One timer for the whole stream. It is polled only while no chunk is ready, and only
        // then registered with the runtime; a timer per read cost a registration each.
        let deadline = tokio::time::sleep_until(deadline);
        tokio::pin!(deadline);
        // The start of an event whose end has not arrived yet.
        let mut partial = BytesMut::new();
        loop {
            let next = tokio::select! {
                biased;
                next = bytes.next() => next,
                () = &mut deadline => {
                    yield Err(ProviderError::Timeout);
                    return;
                }
            };
            let (received, ended) = match next {
                Some(Err(e)) => {
                    yield Err(ProviderError::Protocol(format!("stream broke: {e}")));
                    return;
                }
                Some(Ok(chunk)) if partial.is_empty() => (chunk, false),
                Some(Ok(chunk)) => {
                    partial.extend_from_slice(&chunk);
                    (partial.split().freeze(), false)
                }
                None if partial.is_empty() => return,
                None => {
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
        match event_data(&received[start..start + len]) {
            Some(data) if *data == *b"[DONE]" => {
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
pub fn payloads(run: &[u8]) -> impl Iterator<Item = Cow<'_, [u8]>> + '_ {
    let mut from = 0;
    std::iter::from_fn(move || loop {
        let (len, sep) = find_event_end(&run[from..])?;
        let event = &run[from..from + len];
        from += len + sep;
        if let Some(data) = event_data(event) {
            return Some(data);
        }
    })
}

/// The event of a run that holds byte `at`: where it lies in the run (its blank line included)
/// and its payload (`None` for an event without data). Found from `at` outwards, so the events
/// before it are not read.
pub fn event_at(run: &[u8], at: usize) -> (Range<usize>, Option<Cow<'_, [u8]>>) {
    let start = event_start(&run[..at]);
    match find_event_end(&run[start..]) {
        Some((len, sep)) => (start..start + len + sep, event_data(&run[start..start + len])),
        None => (start..run.len(), event_data(&run[start..])),
    }
}

/// Where the event that `before` ends inside of starts: after the last blank line (`\n\n` or
/// `\r\n\r\n`), or at 0. Read backwards a line at a time (a vectorised scan each), so only the
/// event's own lines are read.
fn event_start(before: &[u8]) -> usize {
    let mut end = before.len();
    while let Some(n) = memchr::memrchr(b'\n', &before[..end]) {
        let blank = match n.checked_sub(1).map(|p| before[p]) {
            Some(b'\n') => true,
            // The same two separators `find_event_end` knows.
            Some(b'\r') => n >= 3 && before[n - 2] == b'\n' && before[n - 3] == b'\r',
            _ => false,
        };
        if blank {
            return n + 1;
        }
        end = n;
    }
    0
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

/// The event's `data:` lines joined by newlines, borrowed from the event when there is one line
/// (nearly always); `None` for events without data (comments, pings).
fn event_data(event: &[u8]) -> Option<Cow<'_, [u8]>> {
    // The common case, found with one vectorised scan: a single `data:` line.
    if let Some(rest) = event.strip_prefix(b"data:") {
        if memchr::memchr(b'\n', rest).is_none() {
            let rest = rest.strip_prefix(b" ").unwrap_or(rest);
            return Some(Cow::Borrowed(rest.strip_suffix(b"\r").unwrap_or(rest)));
        }
    }
    let mut data_lines = event
        .split(|b| *b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter_map(|line| line.strip_prefix(b"data:"))
        .map(|rest| rest.strip_prefix(b" ").unwrap_or(rest));
    let first = data_lines.next()?;
    let Some(second) = data_lines.next() else {
        return Some(Cow::Borrowed(first));
    };
    let mut data = Vec::with_capacity(event.len());
    data.extend_from_slice(first);
    for rest in std::iter::once(second).chain(data_lines) {
        data.push(b'\n');
        data.extend_from_slice(rest);
    }
    Some(Cow::Owned(data))
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
        let data: Vec<Cow<[u8]>> = payloads(all.as_bytes()).collect();
        assert_eq!(data, vec![&b"{\"a\":1}"[..], b"two", b"3", b"four\nfive", b"six"]);
        assert!(matches!(data[0], Cow::Borrowed(_)), "a one-line payload is not copied");
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
    fn the_event_around_a_byte_is_found_from_it() {
        let run = b"data: one\n\nevent: x\r\ndata: two\r\ndata: 2\r\n\r\ndata: three\n\ndata: four";
        let around = |needle: &[u8]| {
            let at = memchr::memmem::find(run, needle).expect("in the run");
            let (range, data) = event_at(run, at);
            (
                String::from_utf8_lossy(&run[range]).into_owned(),
                data.map(|d| d.into_owned()),
            )
        };
        assert_eq!(around(b"one"), ("data: one\n\n".into(), Some(b"one".to_vec())));
        assert_eq!(
            around(b"2"),
            (
                "event: x\r\ndata: two\r\ndata: 2\r\n\r\n".into(),
                Some(b"two\n2".to_vec())
            )
        );
        assert_eq!(around(b"event"), around(b"2"), "any byte of the event");
        assert_eq!(around(b"three"), ("data: three\n\n".into(), Some(b"three".to_vec())));
        assert_eq!(
            around(b"four"),
            ("data: four".into(), Some(b"four".to_vec())),
            "an unclosed last one"
        );
        // Only the separators that end an event going forwards start one going backwards.
        let mixed = b"data: a\n\r\ndata: b\n\n";
        let at = memchr::memmem::find(mixed, b"b\n").expect("in the run");
        assert_eq!(event_at(mixed, at).0, 0..mixed.len());
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
