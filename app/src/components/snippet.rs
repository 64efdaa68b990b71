//! The copyable request examples of a set page: curl, Python (`openai`) and JavaScript, with
//! the set's address filled in. Tabs are radio buttons, so switching works without JavaScript.

use leptos::prelude::*;

/// The three snippets for `address`, against `base` (e.g. `http://127.0.0.1:3000`).
pub fn snippets(base: &str, address: &str) -> [(&'static str, &'static str, String); 3] {
    let curl = format!(
        "curl {base}/v1/chat/completions \\\n  -H \"Authorization: Bearer $SETPOINT_API_KEY\" \\\n  -H \"Content-Type: application/json\" \\\n  -d '{{\n    \"model\": \"{address}\",\n    \"messages\": [{{\"role\": \"user\", \"content\": \"Hello, world!\"}}]\n  }}'"
    );
    let python = format!(
        "import os\nfrom openai import OpenAI\n\nclient = OpenAI(base_url=\"{base}/v1\", api_key=os.environ[\"SETPOINT_API_KEY\"])\nresponse = client.chat.completions.create(\n    model=\"{address}\",\n    messages=[{{\"role\": \"user\", \"content\": \"Hello, world!\"}}],\n)\nprint(response.choices[0].message.content)"
    );
    let js = format!(
        "const response = await fetch(\"{base}/v1/chat/completions\", {{\n  method: \"POST\",\n  headers: {{\n    Authorization: `Bearer ${{process.env.SETPOINT_API_KEY}}`,\n    \"Content-Type\": \"application/json\",\n  }},\n  body: JSON.stringify({{\n    model: \"{address}\",\n    messages: [{{ role: \"user\", content: \"Hello, world!\" }}],\n  }}),\n}});\nconsole.log(await response.json());"
    );
    [
        ("curl", "curl", curl),
        ("python", "Python", python),
        ("js", "JavaScript", js),
    ]
}

#[component]
pub fn Snippet(base: String, address: String) -> impl IntoView {
    let tabs = snippets(&base, &address);
    view! {
        <div class="snippet" data-testid="snippet">
            {tabs
                .into_iter()
                .enumerate()
                .map(|(i, (id, label, code))| {
                    let input_id = format!("snippet-{id}");
                    view! {
                        <input type="radio" name="snippet" id=input_id.clone() class="snippet-radio" checked=i == 0/>
                        <label for=input_id class="snippet-tab">{label}</label>
                        <div class="snippet-body">
                            <CopyButton text=code.clone()/>
                            <pre><code data-testid=format!("snippet-{id}")>{code}</code></pre>
                        </div>
                    }
                })
                .collect_view()}
        </div>
    }
}

/// Copies `text` with the Clipboard API. Shown only once hydrated: without JavaScript it could
/// do nothing, and the code can be selected by hand.
#[component]
fn CopyButton(text: String) -> impl IntoView {
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let copied = RwSignal::new(false);
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let clipboard = leptos::prelude::window().navigator().clipboard();
            let _ = clipboard.write_text(&text);
            copied.set(true);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &text;
    };
    move || {
        let copy = copy.clone();
        hydrated.get().then(|| {
            view! {
                <button type="button" class="secondary small copy" on:click=copy>
                    {move || if copied.get() { "Copied" } else { "Copy" }}
                </button>
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn snippets_name_the_set() {
        for (_, _, code) in super::snippets("http://127.0.0.1:3000", "@demo/budget-chat") {
            assert!(code.contains("\"@demo/budget-chat\""), "{code}");
            assert!(code.contains("http://127.0.0.1:3000"), "{code}");
        }
    }
}
