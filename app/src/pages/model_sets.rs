use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

use crate::api::model_sets::list_model_sets;
use crate::model_set::ModelSet;

/// The public registry: every deployed set, searchable by name, category or tag.
#[component]
pub fn ModelSetsPage() -> impl IntoView {
    let query = use_query_map();
    let q = move || query.read().get("q").unwrap_or_default();
    let sets = Resource::new(q, list_model_sets);
    view! {
        <Title text="Model Sets"/>
        <div class="page-head">
            <div>
                <p class="eyebrow">"Model Registry"</p>
                <h1>"Model Sets"</h1>
            </div>
        </div>
        <Form method="GET" action="" attr:class="search-row">
            <input type="search" name="q" placeholder="Search by name, category or tag" prop:value=q/>
            <button type="submit" class="secondary">"Search"</button>
        </Form>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || sets.get().map(|result| match result {
                Err(e) => view! { <p class="form-error">{e.to_string()}</p> }.into_any(),
                Ok(list) if list.is_empty() => view! {
                    <p class="empty">"No Model Sets match yet."</p>
                }.into_any(),
                Ok(list) => view! {
                    <div class="card-grid">
                        {list.into_iter().map(|set| view! { <SetCard set/> }).collect_view()}
                    </div>
                }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn SetCard(set: ModelSet) -> impl IntoView {
    let address = set.address();
    let models = set.spec.models.len();
    view! {
        <article class="card set-card">
            <h2>{set.name}</h2>
            <p class="mono">{address}</p>
            <p>{set.description}</p>
            <p class="muted">{format!("{models} model{}", if models == 1 { "" } else { "s" })}</p>
            <ul class="chips">
                {set.categories.into_iter().map(|c| view! { <li class="chip">{c}</li> }).collect_view()}
                {set.tags.into_iter().map(|t| view! { <li class="chip tag">"#" {t}</li> }).collect_view()}
            </ul>
        </article>
    }
}
