//! Form parts: an error line bound to an action's result, and a password field.

use leptos::prelude::*;

use crate::error::UiError;

/// Shows the error of the latest submission, if it failed.
#[component]
pub fn ActionError<V, T>(value: V) -> impl IntoView
where
    V: With<Value = Option<Result<T, UiError>>> + Send + Sync + 'static,
    T: 'static,
{
    move || {
        value.with(|v| match v {
            Some(Err(e)) => Some(view! { <p class="form-error" role="alert">{e.to_string()}</p> }),
            _ => None,
        })
    }
}

/// A password input with a Show/Hide toggle. The toggle works only once the page has
/// hydrated, which makes it the browser tests' proof that the WASM bundle runs.
#[component]
pub fn PasswordField(name: &'static str, label: &'static str, autocomplete: &'static str) -> impl IntoView {
    let visible = RwSignal::new(false);
    view! {
        <label class="field">
            <span class="field-label">{label}</span>
            <span class="password-row">
                <input
                    type=move || if visible.get() { "text" } else { "password" }
                    name=name
                    autocomplete=autocomplete
                    required
                />
                <button
                    type="button"
                    class="ghost small"
                    data-testid="toggle-password"
                    aria-pressed=move || visible.get().to_string()
                    on:click=move |_| visible.update(|v| *v = !*v)
                >
                    {move || if visible.get() { "Hide" } else { "Show" }}
                </button>
            </span>
        </label>
    }
}
