//! The HTML document and the app root with its routes.

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{ParamSegment, SsrMode, StaticSegment};

use crate::auth::Auth;
use crate::components::header::Header;
use crate::pages::{
    account::AccountPage, editor::EditorPage, home::HomePage, log_in::LogInPage, model_set::ModelSetPage,
    model_sets::ModelSetsPage, models::ModelsPage, not_found::NotFound, sign_up::SignUpPage,
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

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_context(Auth::create());

    view! {
        <Stylesheet id="leptos" href="/pkg/setpoint.css"/>
        <Title formatter=|title: String| if title.is_empty() { "Setpoint".to_string() } else { format!("{title} · Setpoint") }/>
        <Router>
            <div class="layout">
                <Header/>
                <main class="content">
                    // The reading pages render whole before the first byte (SsrMode::Async): they
                    // read without JavaScript (streamed Suspense needs it to swap content in), and
                    // a missing set's page can still answer 404.
                    <Routes fallback=NotFound>
                        <Route path=StaticSegment("") view=HomePage/>
                        <Route path=StaticSegment("model-sets") view=ModelSetsPage ssr=SsrMode::Async/>
                        // The editor renders whole too, so that a visitor's redirect to log in is a 302.
                        <Route path=(StaticSegment("model-sets"), StaticSegment("new")) view=EditorPage ssr=SsrMode::Async/>
                        <Route
                            path=(StaticSegment("model-sets"), ParamSegment("owner"), ParamSegment("slug"))
                            view=ModelSetPage
                            ssr=SsrMode::Async
                        />
                        <Route
                            path=(
                                StaticSegment("model-sets"),
                                ParamSegment("owner"),
                                ParamSegment("slug"),
                                ParamSegment("action"),
                            )
                            view=EditorPage
                            ssr=SsrMode::Async
                        />
                        <Route path=StaticSegment("models") view=ModelsPage ssr=SsrMode::Async/>
                        <Route path=StaticSegment("signup") view=SignUpPage/>
                        <Route path=StaticSegment("login") view=LogInPage/>
                        <Route path=StaticSegment("account") view=AccountPage/>
                    </Routes>
                </main>
            </div>
        </Router>
    }
}
