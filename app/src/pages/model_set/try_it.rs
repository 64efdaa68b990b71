//! "Try it" on the owner's set page: a chat box whose messages go through the set on the
//! signed-in session (`POST /api/try/@owner/slug`, see [`crate::chat`]), so the owner tries
//! the set without an API key and each message is routed, counted and billed like any
//! gateway request. The answer streams in as it is written, then a line names the model
//! that served it, its latency and its cost.
//!
//! The browser reads the response body itself (a `ReadableStream` through `web_sys`): server
//! functions answer whole, and an answer should appear word by word. Without JavaScript the
//! section says the chat needs it; the rest of the page reads without.

use leptos::prelude::*;

use crate::chat::Served;
use crate::format;

/// One message and its answer. The parts that change while the answer streams are signals of
/// their own, so each streamed piece redraws one paragraph, not the conversation.
#[derive(Clone)]
struct Exchange {
    id: usize,
    question: String,
    answer: RwSignal<String>,
    served: RwSignal<Option<Served>>,
    /// Why the answer stopped short (a failure mid-stream, or the Stop button).
    cut_short: RwSignal<Option<String>>,
    /// Cut short by the Stop button, not by a failure: said without alarm.
    stopped: RwSignal<bool>,
    streaming: RwSignal<bool>,
}

impl Exchange {
    fn new(id: usize, question: String) -> Self {
        Exchange {
            id,
            question,
            answer: RwSignal::new(String::new()),
            served: RwSignal::new(None),
            cut_short: RwSignal::new(None),
            stopped: RwSignal::new(false),
            streaming: RwSignal::new(true),
        }
    }

    /// Whether the exchange belongs to the conversation the model sees next: answered whole.
    fn complete(&self) -> bool {
        self.served.get_untracked().is_some() && self.cut_short.get_untracked().is_none()
    }
}

/// The model, the latency and the cost, as the line under an answer shows them.
fn served_parts(served: &Served) -> [String; 3] {
    [
        served.model.clone(),
        format::ms(served.latency_ms),
        format::usd(served.cost_usd),
    ]
}

/// "served by groq/llama-3.1-8b-instant · 842 ms · $0.000021"
#[cfg(test)]
fn served_line(served: &Served) -> String {
    let [model, latency, cost] = served_parts(served);
    format!("served by {model} · {latency} · {cost}")
}

/// The request body: the complete exchanges so far, then the new message.
fn request_body(history: &[Exchange], question: &str) -> String {
    let mut messages = Vec::with_capacity(history.len() * 2 + 1);
    for exchange in history.iter().filter(|e| e.complete()) {
        messages.push(serde_json::json!({"role": "user", "content": exchange.question}));
        messages.push(serde_json::json!({"role": "assistant", "content": exchange.answer.get_untracked()}));
    }
    messages.push(serde_json::json!({"role": "user", "content": question}));
    serde_json::json!({ "messages": messages }).to_string()
}

#[component]
pub fn TryIt(owner: String, slug: String) -> impl IntoView {
    let url = StoredValue::new(format!("/api/try/@{owner}/{slug}"));
    let login = format!(
        "/login?next={}",
        crate::pages::editor::urlencode(&format!("/model-sets/@{owner}/{slug}"))
    );
    let draft = RwSignal::new(String::new());
    keep_draft(&owner, &slug, draft);
    let exchanges = RwSignal::new(Vec::<Exchange>::new());
    let error = RwSignal::new(None::<String>);
    // A refusal for want of a session: the error then links to logging in again.
    let signed_out = RwSignal::new(false);
    let pending = RwSignal::new(false);
    let next_id = StoredValue::new(0usize);
    // Sending needs the WASM bundle: until it has hydrated the page (or without JavaScript),
    // Send stays disabled and the note below says why.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let log = NodeRef::<leptos::html::Ol>::new();
    #[cfg(feature = "hydrate")]
    let stopper = StoredValue::new_local(None::<web_sys::AbortController>);

    let send = move || {
        if pending.get_untracked() {
            return;
        }
        let question = draft.get_untracked().trim().to_string();
        if question.is_empty() {
            error.set(Some("Type a message first.".into()));
            return;
        }
        error.set(None);
        signed_out.set(false);
        let body = request_body(&exchanges.get_untracked(), &question);
        let id = next_id.get_value();
        next_id.set_value(id + 1);
        let exchange = Exchange::new(id, question);
        exchanges.update(|list| list.push(exchange.clone()));
        pending.set(true);
        #[cfg(feature = "hydrate")]
        {
            // The new message in view once drawn, wherever the reader had scrolled.
            request_animation_frame(move || browser::to_bottom(log));
            let url = url.get_value();
            leptos::task::spawn_local(async move {
                let controller = web_sys::AbortController::new().ok();
                let signal = controller.as_ref().map(|c| c.signal());
                stopper.set_value(controller);
                let outcome = browser::stream(&url, &body, signal.as_ref(), |event| match event {
                    browser::Progress::Started => draft.set(String::new()),
                    browser::Progress::Event(crate::chat::StreamEvent::Text(text)) => {
                        exchange.answer.update(|answer| answer.push_str(&text));
                        browser::follow(log);
                    }
                    browser::Progress::Event(crate::chat::StreamEvent::Served(served)) => {
                        exchange.served.set(Some(served));
                        browser::follow(log);
                    }
                    browser::Progress::Event(crate::chat::StreamEvent::Failed(message)) => {
                        exchange.cut_short.set(Some(message))
                    }
                    browser::Progress::Event(crate::chat::StreamEvent::Done) => {}
                })
                .await;
                stopper.set_value(None);
                exchange.streaming.set(false);
                match outcome {
                    browser::Outcome::Answered => {
                        if exchange.served.get_untracked().is_none() && exchange.cut_short.get_untracked().is_none() {
                            exchange
                                .cut_short
                                .set(Some("The answer ended before it was complete.".into()));
                        }
                        if let Some(message) = exchange.cut_short.get_untracked() {
                            fail_after_start(draft, error, &exchange.question, message);
                        }
                    }
                    // Refused before any of the answer: the message stays in the box, and the
                    // exchange goes, so the conversation shows only what the model saw.
                    browser::Outcome::Refused { status, message } => {
                        exchanges.update(|list| list.retain(|e| e.id != exchange.id));
                        signed_out.set(status == 401);
                        error.set(Some(message));
                    }
                    browser::Outcome::Broken(message) => {
                        exchange.cut_short.set(Some(message.clone()));
                        fail_after_start(draft, error, &exchange.question, message);
                    }
                    browser::Outcome::Stopped => {
                        exchange.stopped.set(true);
                        exchange.cut_short.set(Some(
                            "Stopped: billed for what was sent, and left out of the conversation.".into(),
                        ));
                    }
                }
                pending.set(false);
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (&url, body, log);
    };
    let stop = move |_| {
        #[cfg(feature = "hydrate")]
        stopper.with_value(|controller| {
            if let Some(controller) = controller {
                controller.abort();
            }
        });
    };
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        send();
    };
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Enter" && (ev.ctrl_key() || ev.meta_key()) {
            ev.prevent_default();
            send();
        }
    };
    let clear = move |_| {
        exchanges.set(Vec::new());
        error.set(None);
    };

    view! {
        <section class="card try-it" id="try" data-testid="try-it">
            <div class="card-head">
                <h2>"Try it"</h2>
                {move || (!exchanges.with(Vec::is_empty) && !pending.get()).then(|| view! {
                    <button type="button" class="ghost small" on:click=clear data-testid="try-clear">"New conversation"</button>
                })}
            </div>
            <p class="muted small try-intro">
                "Chat with this set as yourself, no API key needed. Each message is routed, counted in "
                "the charts above and billed like any request to the set."
            </p>
            <ol class="try-log" node_ref=log aria-live="polite" aria-busy=move || pending.get().then_some("true")
                aria-label="Conversation" data-testid="try-log">
                {move || exchanges.with(Vec::is_empty).then(|| view! {
                    <li class="try-empty muted">
                        "No messages yet. Ask something to see which model answers, how fast, and what it costs."
                    </li>
                })}
                <For each=move || exchanges.get() key=|e| e.id let:exchange>
                    <ExchangeView exchange/>
                </For>
            </ol>
            <form class="try-form" on:submit=on_submit>
                <label for="try-message" class="field-label">"Message"</label>
                <textarea
                    id="try-message"
                    name="message"
                    rows="3"
                    placeholder="Ask the set something…"
                    aria-describedby="try-hint"
                    prop:value=move || draft.get()
                    on:input=move |ev| draft.set(event_target_value(&ev))
                    on:keydown=on_keydown
                    data-testid="try-message"
                ></textarea>
                <div class="try-actions">
                    <span class="hint" id="try-hint">"Ctrl+Enter (⌘+Enter on a Mac) sends; Enter starts a new line."</span>
                    {move || if pending.get() {
                        view! {
                            <button type="button" class="secondary" on:click=stop data-testid="try-stop">"Stop"</button>
                        }.into_any()
                    } else {
                        view! {
                            <button type="submit" disabled=move || !hydrated.get() data-testid="try-send">"Send"</button>
                        }.into_any()
                    }}
                </div>
                <p class="form-error try-error" role="alert" data-testid="try-error">
                    {move || error.get()}
                    {move || signed_out.get().then(|| {
                        let login = login.clone();
                        view! {
                            " " <a href=login data-testid="try-log-in">"Log in again"</a>
                            " (your message stays here)."
                        }
                    })}
                </p>
            </form>
            // Gone once hydrated; until then (and for good without JavaScript) it says why Send
            // is disabled. Not a <noscript>: it also covers the seconds the bundle takes to load.
            {move || (!hydrated.get()).then(|| view! {
                <p class="muted small try-nojs" data-testid="try-nojs">
                    "The chat needs JavaScript: Send works once the page's script has loaded. "
                    "Without it, use the snippets below with one of your API keys."
                </p>
            })}
        </section>
    }
}

/// The sessionStorage key of a set's unsent message.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
fn draft_key(owner: &str, slug: &str) -> String {
    format!("setpoint-try:@{owner}/{slug}")
}

/// Keeps the unsent message in the tab's sessionStorage as it is typed, and brings it back when
/// the page reopens (a reload, or the way back from logging in again after a session ended),
/// so a refusal never costs what was typed. Sent messages leave it empty.
fn keep_draft(owner: &str, slug: &str, draft: RwSignal<String>) {
    #[cfg(feature = "hydrate")]
    {
        let key = draft_key(owner, slug);
        let storage = || web_sys::window().and_then(|w| w.session_storage().ok().flatten());
        // After hydration (an Effect), so the server's first render and the browser's agree.
        Effect::new(move |restored: Option<bool>| {
            if restored.is_none() {
                if let Some(saved) = storage()
                    .and_then(|s| s.get_item(&key).ok().flatten())
                    .filter(|text| !text.is_empty())
                {
                    draft.set(saved);
                }
            }
            // Read on every run, the first included, so that every edit runs this again.
            let text = draft.get();
            if let Some(s) = storage() {
                let _ = if text.is_empty() {
                    s.remove_item(&key)
                } else {
                    s.set_item(&key, &text)
                };
            }
            true
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (owner, slug, draft);
}

/// A failure after the answer started: said beside the box, and the message put back into it
/// (unless something new was typed meanwhile) so that it can be sent again.
#[cfg(feature = "hydrate")]
fn fail_after_start(draft: RwSignal<String>, error: RwSignal<Option<String>>, question: &str, message: String) {
    if draft.get_untracked().trim().is_empty() {
        draft.set(question.to_string());
    }
    error.set(Some(message));
}

#[component]
fn ExchangeView(exchange: Exchange) -> impl IntoView {
    let Exchange {
        question,
        answer,
        served,
        cut_short,
        stopped,
        streaming,
        ..
    } = exchange;
    view! {
        <li class="try-turn try-user">
            <span class="try-who">"You"</span>
            <p class="try-text">{question}</p>
        </li>
        <li class="try-turn try-model" data-testid="try-answer">
            <span class="try-who">"Model"</span>
            <p class="try-text">
                <span data-testid="try-answer-text">{move || answer.get()}</span>
                {move || (streaming.get() && answer.with(String::is_empty)).then(|| view! {
                    <span class="muted">"Waiting for the model…"</span>
                })}
                {move || streaming.get().then(|| view! { <span class="try-caret" aria-hidden="true"></span> })}
            </p>
            // Each value kept whole on a narrow screen ("2.98 s", never "2.98" then "s").
            {move || served.get().map(|s| {
                let [model, latency, cost] = served_parts(&s);
                view! {
                    <p class="try-served muted small" data-testid="try-served">
                        "served by " <span class="nowrap">{model}</span>
                        " · " <span class="nowrap">{latency}</span>
                        " · " <span class="nowrap">{cost}</span>
                    </p>
                }
            })}
            {move || cut_short.get().map(|why| view! {
                <p class="try-cut small" class:muted=move || stopped.get() data-testid="try-cut">{why}</p>
            })}
        </li>
    }
}

/// The browser side of a try: `fetch`, then the response body read piece by piece.
#[cfg(feature = "hydrate")]
mod browser {
    use leptos::prelude::*;
    use web_sys::js_sys::{Promise, Uint8Array};
    use web_sys::wasm_bindgen::{JsCast, JsValue};
    use web_sys::{AbortSignal, Headers, ReadableStreamDefaultReader, ReadableStreamReadResult, RequestInit, Response};

    use crate::chat::{refusal, SseReader, StreamEvent};

    pub enum Progress {
        /// The server accepted the message: the answer is on its way.
        Started,
        Event(StreamEvent),
    }

    pub enum Outcome {
        /// The stream ended (whole, or with a failure event the caller has seen).
        Answered,
        /// Refused before any of the answer: the status, and the message to show.
        Refused { status: u16, message: String },
        /// The connection broke while the answer streamed.
        Broken(String),
        /// The Stop button.
        Stopped,
    }

    const UNREACHABLE: &str = "Could not reach the server: check your connection, then send again.";

    /// Posts `body` to `url` and hands each event of the answer to `progress` as it arrives.
    pub async fn stream(
        url: &str,
        body: &str,
        signal: Option<&AbortSignal>,
        mut progress: impl FnMut(Progress),
    ) -> Outcome {
        let init = RequestInit::new();
        init.set_method("POST");
        init.set_body(&JsValue::from_str(body));
        if let Ok(headers) = Headers::new() {
            let _ = headers.set("content-type", "application/json");
            let _ = headers.set("accept", "text/event-stream");
            init.set_headers(&headers);
        }
        init.set_signal(signal);
        let response = match wait(window().fetch_with_str_and_init(url, &init)).await {
            Ok(response) => response.unchecked_into::<Response>(),
            Err(e) if aborted(&e) => return Outcome::Stopped,
            Err(_) => {
                return Outcome::Refused {
                    status: 0,
                    message: UNREACHABLE.into(),
                }
            }
        };
        let status = response.status();
        if status != 200 {
            let text = match response.text() {
                Ok(promise) => wait(promise).await.ok().and_then(|t| t.as_string()).unwrap_or_default(),
                Err(_) => String::new(),
            };
            return Outcome::Refused {
                status,
                message: refusal(status, &text),
            };
        }
        let Some(reader) = response
            .body()
            .map(|body| body.get_reader().unchecked_into::<ReadableStreamDefaultReader>())
        else {
            return Outcome::Refused {
                status,
                message: refusal(status, ""),
            };
        };
        progress(Progress::Started);
        let mut sse = SseReader::default();
        loop {
            let read = match wait(reader.read()).await {
                Ok(read) => read.unchecked_into::<ReadableStreamReadResult>(),
                Err(e) if aborted(&e) => return Outcome::Stopped,
                Err(_) => return Outcome::Broken("The connection broke before the answer was complete.".into()),
            };
            if read.get_done().unwrap_or(false) {
                return Outcome::Answered;
            }
            let bytes = Uint8Array::new(&read.get_value()).to_vec();
            for event in sse.push(&bytes) {
                progress(Progress::Event(event));
            }
        }
    }

    async fn wait(promise: Promise) -> Result<JsValue, JsValue> {
        wasm_bindgen_futures::JsFuture::from(promise).await
    }

    fn aborted(error: &JsValue) -> bool {
        error
            .dyn_ref::<web_sys::DomException>()
            .is_some_and(|e| e.name() == "AbortError")
    }

    /// Keeps the newest text in view while it streams, unless the reader scrolled up to read
    /// something earlier. On the next frame: the signal just set redraws after this returns.
    pub fn follow(log: NodeRef<leptos::html::Ol>) {
        request_animation_frame(move || {
            if let Some(log) = log.get_untracked() {
                let from_bottom = log.scroll_height() - log.scroll_top() - log.client_height();
                if from_bottom < 80 {
                    log.set_scroll_top(log.scroll_height());
                }
            }
        });
    }

    /// Scrolls the conversation to its end.
    pub fn to_bottom(log: NodeRef<leptos::html::Ol>) {
        if let Some(log) = log.get_untracked() {
            log.set_scroll_top(log.scroll_height());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_served_line_names_model_latency_and_cost() {
        let served = Served {
            model: "groq/llama-3.1-8b-instant".into(),
            latency_ms: 842.4,
            cost_usd: 0.000021,
            prompt_tokens: 10,
            completion_tokens: 40,
            request_id: "req_1".into(),
        };
        assert_eq!(
            served_line(&served),
            "served by groq/llama-3.1-8b-instant · 842 ms · $0.000021"
        );
    }

    #[test]
    fn only_complete_exchanges_are_sent_back() {
        let owner = Owner::new();
        owner.with(|| {
            let done = Exchange::new(0, "Hi".into());
            done.answer.set("Hello!".into());
            done.served.set(Some(Served {
                model: "m".into(),
                latency_ms: 1.0,
                cost_usd: 0.0,
                prompt_tokens: 1,
                completion_tokens: 1,
                request_id: "r".into(),
            }));
            let broken = Exchange::new(1, "Tell me more".into());
            broken.answer.set("Well".into());
            broken.cut_short.set(Some("The connection broke.".into()));
            let Ok(body) = serde_json::from_str::<serde_json::Value>(&request_body(&[done, broken], "Bye")) else {
                panic!("the body is not JSON")
            };
            assert_eq!(
                body,
                serde_json::json!({"messages": [
                    {"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": "Hello!"},
                    {"role": "user", "content": "Bye"}
                ]})
            );
        });
    }
}
