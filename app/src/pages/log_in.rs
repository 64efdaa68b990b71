use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use crate::auth::Auth;
use crate::components::form::{ActionError, PasswordField};

#[component]
pub fn LogInPage() -> impl IntoView {
    let action = expect_context::<Auth>().log_in;
    // Where the visitor was going (the editor, say): back there after signing in.
    let next = use_query_map().with_untracked(|q| q.get("next")).unwrap_or_default();
    let other = if next.is_empty() {
        "/signup".to_string()
    } else {
        format!("/signup?next={}", crate::pages::editor::urlencode(&next))
    };
    view! {
        <Title text="Log in"/>
        <section class="card narrow">
            <h1>"Log in"</h1>
            <ActionForm action=action attr:class="stack" attr:data-testid="log-in-form">
                {(!next.is_empty()).then(|| view! { <input type="hidden" name="next" value=next.clone()/> })}
                <label class="field">
                    <span class="field-label">"Username"</span>
                    <input name="username" autocomplete="username" required/>
                </label>
                <PasswordField name="password" label="Password" autocomplete="current-password"/>
                <ActionError value=action.value()/>
                <button type="submit">"Log in"</button>
            </ActionForm>
            <p class="muted">"New here? " <A href=other>"Create an account"</A></p>
        </section>
    }
}
