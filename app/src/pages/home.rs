use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <Title text="Home"/>
        <section class="hero">
            <h1>"Say what you care about. Setpoint routes to hold it."</h1>
            <p class="lead">
                "A Model Set is a list of candidate models plus the behaviour you want: cost, latency, "
                "time to first token, throughput, error rate, eval scores. Send ordinary OpenAI-style "
                "requests to " <code>"@owner/name"</code> " and the gateway picks a model for each one "
                "so the set's average behaviour meets your targets."
            </p>
            <div class="hero-actions">
                <A href="/model-sets" attr:class="button">"Browse Model Sets"</A>
                <A href="/signup" attr:class="button secondary">"Create an account"</A>
            </div>
        </section>
    }
}
