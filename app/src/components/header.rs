use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_router::components::A;

use crate::auth::Auth;

/// The app bar: brand, the registry, and the account links for the current visitor.
#[component]
pub fn Header() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let account_links = move || {
        auth.user.get().map(|user| match user {
            Ok(Some(user)) => view! {
                <A href="/account" attr:class="nav-link" attr:data-testid="nav-account">
                    "Account · " {user.username}
                </A>
                <ActionForm action=auth.log_out attr:class="inline">
                    <button type="submit" class="link-button" data-testid="log-out">"Sign out"</button>
                </ActionForm>
            }
            .into_any(),
            _ => view! {
                <A href="/login" attr:class="nav-link">"Log in"</A>
                <A href="/signup" attr:class="button small">"Sign up"</A>
            }
            .into_any(),
        })
    };
    view! {
        <header class="app-bar">
            <div class="container app-bar-inner">
                <A href="/" attr:class="brand">
                    <span class="brand-mark">"◎"</span>
                    " Setpoint"
                </A>
                <nav class="main-nav" aria-label="Main">
                    <span class="nav-group">"Model Registry"</span>
                    <span class="nav-sep">"›"</span>
                    <A href="/model-sets" attr:class="nav-link">"Model Sets"</A>
                </nav>
                <nav class="account-nav" aria-label="Account">
                    <Transition fallback=|| ()>{account_links}</Transition>
                </nav>
            </div>
        </header>
    }
}
