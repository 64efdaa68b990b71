//! The HTML document, the app root with its routes, and the auth state every page shares.

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::StaticSegment;

use crate::account::UserInfo;
use crate::api::{current_user, LogIn, LogOut, SignUp};
use crate::components::header::Header;
use crate::error::UiError;
use crate::pages::{
    account::AccountPage, home::HomePage, log_in::LogInPage, model_sets::ModelSetsPage, not_found::NotFound,
    sign_up::SignUpPage,
};

/// The whole document, rendered on the server around [`App`].
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Sign-in state shared by the header and the pages. The user is refetched whenever one
/// of the actions that change it completes.
#[derive(Clone, Copy)]
pub struct Auth {
    pub sign_up: ServerAction<SignUp>,
    pub log_in: ServerAction<LogIn>,
    pub log_out: ServerAction<LogOut>,
    pub user: Resource<Result<Option<UserInfo>, UiError>>,
}

impl Auth {
    fn new() -> Self {
        let sign_up = ServerAction::<SignUp>::new();
        let log_in = ServerAction::<LogIn>::new();
        let log_out = ServerAction::<LogOut>::new();
        let user = Resource::new(
            move || (sign_up.version().get(), log_in.version().get(), log_out.version().get()),
            |_| current_user(),
        );
        Auth {
            sign_up,
            log_in,
            log_out,
            user,
        }
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_context(Auth::new());

    view! {
        <Stylesheet id="leptos" href="/pkg/setpoint.css"/>
        <Title formatter=|title: String| if title.is_empty() { "Setpoint".to_string() } else { format!("{title} · Setpoint") }/>
        <Router>
            <Header/>
            <main class="container">
                <Routes fallback=NotFound>
                    <Route path=StaticSegment("") view=HomePage/>
                    <Route path=StaticSegment("model-sets") view=ModelSetsPage/>
                    <Route path=StaticSegment("signup") view=SignUpPage/>
                    <Route path=StaticSegment("login") view=LogInPage/>
                    <Route path=StaticSegment("account") view=AccountPage/>
                </Routes>
            </main>
        </Router>
    }
}
