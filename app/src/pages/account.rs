use leptos::form::ActionForm;
use leptos::html::Input;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::account::{ApiKeyInfo, CreatedApiKey};
use crate::api::accounts::{list_api_keys, CreateApiKey, RevokeApiKey};
use crate::auth::Auth;
use crate::components::form::ActionError;
use crate::time_fmt::format_utc;

#[component]
pub fn AccountPage() -> impl IntoView {
    let auth = expect_context::<Auth>();
    view! {
        <Title text="Account"/>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || auth.user.get().map(|user| match user {
                Ok(Some(user)) => view! {
                    <div class="page-head">
                        <div>
                            <p class="eyebrow">"Account"</p>
                            <h1 data-testid="account-username">{user.username}</h1>
                        </div>
                    </div>
                    <ApiKeys/>
                }.into_any(),
                Ok(None) => view! {
                    <section class="card narrow">
                        <h1>"Account"</h1>
                        <p>"Please " <A href="/login">"log in"</A> " to manage your account."</p>
                    </section>
                }.into_any(),
                Err(e) => view! { <p class="form-error">{e.to_string()}</p> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn ApiKeys() -> impl IntoView {
    let create = ServerAction::<CreateApiKey>::new();
    let revoke = ServerAction::<RevokeApiKey>::new();
    let keys = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_api_keys(),
    );
    let created = move || match create.value().get() {
        Some(Ok(created)) => Some(view! { <NewSecret created/> }),
        _ => None,
    };
    view! {
        <section class="card">
            <h2>"API keys"</h2>
            <p class="muted">
                "Applications send a key as " <code>"Authorization: Bearer …"</code>
                ". Only your keys can use your Model Sets."
            </p>
            <ActionForm action=create attr:class="row" attr:data-testid="create-key-form">
                <input name="name" placeholder="Key name, e.g. production" required aria-label="Key name"/>
                <button type="submit">"Create key"</button>
            </ActionForm>
            <ActionError value=create.value()/>
            {created}
            <ActionError value=revoke.value()/>
            <Transition fallback=|| view! { <p class="muted">"Loading keys…"</p> }>
                {move || keys.get().map(|result| match result {
                    Err(e) => view! { <p class="form-error">{e.to_string()}</p> }.into_any(),
                    Ok(list) if list.is_empty() => view! {
                        <p class="empty">"No keys yet."</p>
                    }.into_any(),
                    Ok(list) => view! { <KeyTable list revoke/> }.into_any(),
                })}
            </Transition>
        </section>
    }
}

/// The secret, shown once right after creation, with a button to copy it.
#[component]
fn NewSecret(created: CreatedApiKey) -> impl IntoView {
    let input = NodeRef::<Input>::new();
    let copied = RwSignal::new(false);
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        {
            use leptos::wasm_bindgen::JsCast;
            if let Some(el) = input.get() {
                el.select();
                let copied_ok = leptos::prelude::document()
                    .dyn_into::<web_sys::HtmlDocument>()
                    .ok()
                    .and_then(|doc| doc.exec_command("copy").ok())
                    .unwrap_or(false);
                copied.set(copied_ok);
            }
        }
    };
    view! {
        <div class="secret-box" role="status">
            <p>
                <strong>"New key “" {created.key.name} "”."</strong>
                " Copy it now: this is the only time it is shown."
            </p>
            <div class="row">
                <input
                    class="mono"
                    readonly
                    node_ref=input
                    data-testid="new-key-secret"
                    prop:value=created.secret
                    aria-label="New API key"
                />
                <button type="button" class="secondary" on:click=copy>
                    {move || if copied.get() { "Copied" } else { "Copy" }}
                </button>
            </div>
        </div>
    }
}

#[component]
fn KeyTable(list: Vec<ApiKeyInfo>, revoke: ServerAction<RevokeApiKey>) -> impl IntoView {
    view! {
        <table class="table" data-testid="key-table">
            <thead>
                <tr><th>"Name"</th><th>"Key"</th><th>"Created"</th><th>"Last used"</th><th></th></tr>
            </thead>
            <tbody>
                {list.into_iter().map(|key| {
                    let status = match key.revoked_at {
                        Some(at) => view! {
                            <span class="badge muted" title=format_utc(at)>"Revoked"</span>
                        }.into_any(),
                        None => view! {
                            <ActionForm action=revoke attr:class="inline">
                                <input type="hidden" name="id" value=key.id/>
                                <button type="submit" class="danger small">"Revoke"</button>
                            </ActionForm>
                        }.into_any(),
                    };
                    view! {
                        <tr data-key-name=key.name.clone()>
                            <td>{key.name.clone()}</td>
                            <td class="mono">{key.prefix.clone()} "…"</td>
                            <td>{format_utc(key.created_at)}</td>
                            <td>{key.last_used_at.map(format_utc).unwrap_or_else(|| "never".to_string())}</td>
                            <td class="actions">{status}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}
