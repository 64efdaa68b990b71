//! Sampled requests into the durable queue. The gateway hands each sampled answer to an
//! [`EvalSink`] after the response has gone out; an enqueuer task renders the request and
//! the answer as the judge reads them (off the request path) and stores them as `eval_jobs`
//! rows in batches, then wakes the workers.
//!
//! Like request records, a sampled request waits in memory for at most a gathering interval
//! before it is stored; a crash in that interval loses it, as it loses the request's record.

use std::sync::Arc;
use std::time::Duration;

use app::model_set::EvalSettings;
use axum::body::Bytes;
use serde_json::Value;
use tokio::sync::Notify;

use crate::clock::now_ms;
use crate::providers::sse;
use crate::storage::{NewEvalJob, SharedStorage};

/// Sampled requests waiting to be stored, at most; beyond it they are dropped (logged), so a
/// database that is down cannot fill memory with prompts.
const QUEUE_BOUND: usize = 10_000;
/// How long the enqueuer gathers before storing a batch that is not full.
const GATHER: Duration = Duration::from_millis(100);
const BATCH: usize = 64;
/// Attempts to store one batch before it is given up (logged).
const ATTEMPTS: u32 = 5;

/// The answer as the client received it.
#[derive(Debug, Clone)]
pub enum Answer {
    /// A whole chat completion (JSON).
    Whole(Bytes),
    /// A stream's runs of server-sent events, in order.
    Events(Vec<Bytes>),
}

/// One answered request drawn for evals.
#[derive(Debug, Clone)]
pub struct Captured {
    pub request_id: String,
    pub set_id: i64,
    pub account_id: i64,
    pub model_id: String,
    pub request_at: i64,
    pub settings: Arc<EvalSettings>,
    /// The client's request body.
    pub request: Bytes,
    pub answer: Answer,
}

#[derive(Clone, Debug)]
pub struct EvalSink {
    tx: flume::Sender<Captured>,
}

impl EvalSink {
    /// Queues a sampled request without waiting.
    pub fn enqueue(&self, captured: Captured) {
        match self.tx.try_send(captured) {
            Ok(()) => {}
            Err(flume::TrySendError::Full(c)) => {
                tracing::warn!(request_id = %c.request_id, "eval queue full: a sampled request is not evaluated")
            }
            Err(flume::TrySendError::Disconnected(c)) => {
                tracing::warn!(request_id = %c.request_id, "evals stopped: a sampled request is not evaluated")
            }
        }
    }

    /// A sink whose requests go nowhere (evals switched off): the gateway samples nothing.
    pub fn closed() -> EvalSink {
        let (tx, _) = flume::bounded(1);
        EvalSink { tx }
    }
}

/// Starts the enqueuer; it ends once every sink is dropped and what they queued is stored.
pub fn start(storage: SharedStorage, wake: Arc<Notify>) -> (EvalSink, tokio::task::JoinHandle<()>) {
    let (tx, rx) = flume::bounded(QUEUE_BOUND);
    let task = tokio::spawn(run(rx, storage, wake));
    (EvalSink { tx }, task)
}

async fn run(rx: flume::Receiver<Captured>, storage: SharedStorage, wake: Arc<Notify>) {
    while let Ok(first) = rx.recv_async().await {
        if rx.len() < BATCH - 1 {
            tokio::time::sleep(GATHER).await;
        }
        let batch: Vec<NewEvalJob> = std::iter::once(first)
            .chain(rx.try_iter().take(BATCH - 1))
            .filter_map(job)
            .collect();
        if batch.is_empty() {
            continue;
        }
        let mut wait = Duration::from_millis(100);
        for attempt in 1..=ATTEMPTS {
            match storage.insert_eval_jobs(&batch, now_ms()).await {
                Ok(()) => {
                    wake.notify_waiters();
                    break;
                }
                Err(e) if attempt < ATTEMPTS => {
                    tracing::warn!(error = %e, attempt, "queueing evals failed; retrying");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
                Err(e) => tracing::error!(error = %e, lost = batch.len(), "queueing evals failed; giving up"),
            }
        }
    }
}

/// The job for a captured request; `None` (logged) when its settings ask for nothing.
fn job(c: Captured) -> Option<NewEvalJob> {
    if c.settings.metrics.is_empty() {
        return None;
    }
    let settings = match serde_json::to_string(&*c.settings) {
        Ok(settings) => settings,
        Err(e) => {
            tracing::error!(error = %e, "eval settings do not serialise");
            return None;
        }
    };
    Some(NewEvalJob {
        input: input_text(&c.request),
        output: match &c.answer {
            Answer::Whole(body) => whole_text(body),
            Answer::Events(runs) => streamed_text(runs),
        },
        request_id: c.request_id,
        set_id: c.set_id,
        account_id: c.account_id,
        model_id: c.model_id,
        request_at: c.request_at,
        settings,
        metrics: c.settings.metrics.clone(),
    })
}

/// What the client asked, as the judge reads it: the one user message of a single-turn
/// request; otherwise the conversation (system prompts left out), a turn per paragraph.
pub fn input_text(request: &[u8]) -> String {
    let Ok(body) = serde_json::from_slice::<Value>(request) else {
        return String::new();
    };
    let turns: Vec<(&str, String)> = body["messages"]
        .as_array()
        .map(|messages| {
            messages
                .iter()
                .filter_map(|m| {
                    let role = m["role"].as_str().unwrap_or("user");
                    (role != "system" && role != "developer").then(|| (role, content_text(&m["content"])))
                })
                .collect()
        })
        .unwrap_or_default();
    match turns.as_slice() {
        [(_, only)] => only.clone(),
        _ => turns
            .iter()
            .map(|(role, text)| format!("{role}: {text}"))
            .collect::<Vec<_>>()
            .join("\n\n"),
    }
}

/// A message's text: a string, or its text parts joined (other parts named in brackets).
fn content_text(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts
            .iter()
            .map(|p| match p["type"].as_str() {
                Some("text") => p["text"].as_str().unwrap_or_default().to_string(),
                Some(other) => format!("[{other}]"),
                None => String::new(),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// The first choice's message of a whole answer: its content, or its tool calls as JSON.
pub fn whole_text(body: &[u8]) -> String {
    let Ok(answer) = serde_json::from_slice::<Value>(body) else {
        return String::new();
    };
    let message = &answer["choices"][0]["message"];
    match (&message["content"], &message["tool_calls"]) {
        (Value::String(text), _) => text.clone(),
        (_, calls @ Value::Array(_)) => calls.to_string(),
        _ => String::new(),
    }
}

/// The first choice's content, assembled from a stream's deltas.
pub fn streamed_text(runs: &[Bytes]) -> String {
    let mut text = String::new();
    for run in runs {
        for payload in sse::payloads(run) {
            let Ok(chunk) = serde_json::from_slice::<Value>(&payload) else {
                continue;
            };
            if let Some(delta) = chunk["choices"]
                .as_array()
                .and_then(|choices| choices.iter().find(|c| c["index"].as_u64().unwrap_or(0) == 0))
                .and_then(|c| c["delta"]["content"].as_str())
            {
                text.push_str(delta);
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_judge_reads_the_question_and_the_answer_the_client_saw() {
        let single = json!({"model": "@a/b", "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "What is Rust?"}
        ]});
        assert_eq!(input_text(single.to_string().as_bytes()), "What is Rust?");
        let turns = json!({"messages": [
            {"role": "user", "content": [{"type": "text", "text": "Look:"}, {"type": "image_url", "image_url": {"url": "x"}}]},
            {"role": "assistant", "content": "A cat."},
            {"role": "user", "content": "Its colour?"}
        ]});
        assert_eq!(
            input_text(turns.to_string().as_bytes()),
            "user: Look:\n[image_url]\n\nassistant: A cat.\n\nuser: Its colour?"
        );
        assert_eq!(input_text(b"not json"), "");

        let whole = json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": "A language."}}]});
        assert_eq!(whole_text(whole.to_string().as_bytes()), "A language.");

        let chunk = |text: &str| {
            sse::frame(
                json!({"choices": [{"index": 0, "delta": {"content": text}}]})
                    .to_string()
                    .as_bytes(),
            )
        };
        let mut two = chunk("A").to_vec();
        two.extend_from_slice(&chunk(" language"));
        let usage = sse::frame(
            json!({"choices": [], "usage": {"prompt_tokens": 3}})
                .to_string()
                .as_bytes(),
        );
        let runs = vec![
            Bytes::from(two),
            chunk("."),
            usage,
            Bytes::from_static(b"data: [DONE]\n\n"),
        ];
        assert_eq!(streamed_text(&runs), "A language.");
    }
}
