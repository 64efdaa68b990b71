use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use crate::auth::Auth;
use crate::components::form::{ActionError, PasswordField};

#[component]
pub fn SignUpPage() -> impl IntoView {
    let action = expect_context::<Auth>().sign_up;
    // Where the visitor was going (the editor, say): back there after signing in.
    let next = use_query_map().with_untracked(|q| q.get("next")).unwrap_or_default();
    let other = if next.is_empty() {
        "/login".to_string()
    } else {
        format!("/login?next={}", crate::pages::editor::urlencode(&next))
    };
    view! {
        <Title text="Sign up"/>
        <section class="card narrow">
            <h1>"Create your account"</h1>
            <p class="muted">
                "Your username becomes the owner part of your Model Set addresses, as in "
                <code>"@username/set"</code> "."
            </p>
            <ActionForm action=action attr:class="stack" attr:data-testid="sign-up-form">
                {(!next.is_empty()).then(|| view! { <input type="hidden" name="next" value=next.clone()/> })}
                <label class="field">
                    <span class="field-label">"Username"</span>
                    <input name="username" autocomplete="username" required/>
                    <span class="hint">"3–32 lowercase letters, digits, '-' or '_'."</span>
                </label>
                <PasswordField name="password" label="Password" autocomplete="new-password"/>
                <ActionError value=action.value()/>
                <button type="submit">"Sign up"</button>
            </ActionForm>
            <p class="muted">"Already have an account? " <A href=other>"Log in"</A></p>
        </section>
    }
}
