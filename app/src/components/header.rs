use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_router::components::A;

use crate::auth::Auth;

/// The sidebar of the guide: Model Registry → Model Sets, Models; Account → API keys (signed
/// in). On a phone it folds into a menu button — a checkbox and CSS, so it needs no JavaScript.
#[component]
pub fn Header() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let account_links = move || {
        auth.user.get().map(|user| match user {
            Ok(Some(user)) => view! {
                <A href="/account" attr:class="nav-link" attr:data-testid="nav-account">"API keys"</A>
                <div class="nav-user">
                    <span class="muted small" data-testid="nav-user">"Signed in as " <strong>{user.username}</strong></span>
                    <ActionForm action=auth.log_out attr:class="inline">
                        <button type="submit" class="link-button" data-testid="log-out">"Sign out"</button>
                    </ActionForm>
                </div>
            }
            .into_any(),
            _ => view! {
                <A href="/login" attr:class="nav-link">"Log in"</A>
                <A href="/signup" attr:class="nav-link">"Sign up"</A>
            }
            .into_any(),
        })
    };
    view! {
        <header class="sidebar">
            <div class="sidebar-top">
                <A href="/" attr:class="brand">
                    <span class="brand-mark">"◎"</span>
                    " Setpoint"
                </A>
                <label for="nav-toggle" class="nav-toggle-label" aria-label="Menu">"☰ Menu"</label>
            </div>
            <input type="checkbox" id="nav-toggle" class="nav-toggle" aria-hidden="true"/>
            <div class="sidebar-nav">
                <nav aria-label="Main">
                    <p class="nav-group">"Model Registry"</p>
                    <A href="/model-sets" attr:class="nav-link">"Model Sets"</A>
                    <A href="/models" attr:class="nav-link">"Models"</A>
                </nav>
                <nav aria-label="Account">
                    <p class="nav-group">"Account"</p>
                    <Transition fallback=|| ()>{account_links}</Transition>
                </nav>
            </div>
        </header>
    }
}
