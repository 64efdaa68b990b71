use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::auth::Auth;
use crate::components::form::{ActionError, PasswordField};

#[component]
pub fn LogInPage() -> impl IntoView {
    let action = expect_context::<Auth>().log_in;
    view! {
        <Title text="Log in"/>
        <section class="card narrow">
            <h1>"Log in"</h1>
            <ActionForm action=action attr:class="stack" attr:data-testid="log-in-form">
                <label class="field">
                    <span class="field-label">"Username"</span>
                    <input name="username" autocomplete="username" required/>
                </label>
                <PasswordField name="password" label="Password" autocomplete="current-password"/>
                <ActionError value=action.value()/>
                <button type="submit">"Log in"</button>
            </ActionForm>
            <p class="muted">"New here? " <A href="/signup">"Create an account"</A></p>
        </section>
    }
}
