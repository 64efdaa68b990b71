//! The public registry: every deployed set, searchable by name, description, category and
//! tag, with filter chips, sorting and paging — all in the URL, so a search can be shared and
//! reloaded, and all plain links and GET forms, so it works without JavaScript.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Form, A};
use leptos_router::hooks::use_query_map;

use crate::api::model_sets::registry;
use crate::charts;
use crate::components::verdict::VerdictBadge;
use crate::format;
use crate::views::{RegistryPage, RegistryParams, RegistrySort, SetCard};

/// The registry URL for `params` (page 1 and the default order left out).
pub fn registry_href(params: &RegistryParams) -> String {
    let mut query: Vec<(&str, String)> = Vec::new();
    if !params.q.is_empty() {
        query.push(("q", params.q.clone()));
    }
    if let Some(c) = &params.category {
        query.push(("category", c.clone()));
    }
    if let Some(t) = &params.tag {
        query.push(("tag", t.clone()));
    }
    if params.sort != RegistrySort::default() {
        query.push(("sort", params.sort.param().to_string()));
    }
    if params.page > 1 {
        query.push(("page", params.page.to_string()));
    }
    let encoded: Vec<String> = query.into_iter().map(|(k, v)| format!("{k}={}", encode(&v))).collect();
    if encoded.is_empty() {
        "/model-sets".to_string()
    } else {
        format!("/model-sets?{}", encoded.join("&"))
    }
}

/// Percent-encodes a query value.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(char::from(b)),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[component]
pub fn ModelSetsPage() -> impl IntoView {
    let query = use_query_map();
    let params = Memo::new(move |_| {
        let q = query.read();
        let text = |key: &str| q.get(key).filter(|v| !v.trim().is_empty());
        RegistryParams {
            q: text("q").unwrap_or_default(),
            category: text("category"),
            tag: text("tag"),
            sort: text("sort").and_then(|s| RegistrySort::parse(&s)).unwrap_or_default(),
            page: text("page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1),
        }
    });
    let page = Resource::new(move || params.get(), registry);
    view! {
        <Title text="Model Sets"/>
        <nav class="breadcrumbs" aria-label="Breadcrumb">
            <span>"Model Registry"</span>
            <span aria-hidden="true">"›"</span>
            <span aria-current="page">"Model Sets"</span>
        </nav>
        <div class="page-head">
            <div>
                <h1>"Model Sets"</h1>
                <p class="muted">
                    "Public configurations of models and targets. Open one to see how it behaves; clone it to use it."
                </p>
            </div>
            <A href="/model-sets/new" attr:class="button" attr:data-testid="new-set">"New"</A>
        </div>
        <Form method="GET" action="/model-sets" attr:class="search-row" attr:role="search">
            <input
                type="search"
                name="q"
                placeholder="Search by name, description, category or tag"
                aria-label="Search Model Sets"
                value=move || params.get().q
            />
            {move || params.get().category.map(|c| view! { <input type="hidden" name="category" value=c/> })}
            {move || params.get().tag.map(|t| view! { <input type="hidden" name="tag" value=t/> })}
            <input type="hidden" name="sort" value=move || params.get().sort.param()/>
            <button type="submit" class="secondary">"Search"</button>
        </Form>
        <div class="toolbar">
            <ActiveFilters params/>
            <nav class="segmented" aria-label="Sort">
                {RegistrySort::ALL
                    .into_iter()
                    .map(|sort| {
                        let href = move || registry_href(&RegistryParams { sort, page: 1, ..params.get() });
                        let current = move || (params.get().sort == sort).then_some("true");
                        view! {
                            <a href=href aria-current=current class="segment">{sort.label()}</a>
                        }
                    })
                    .collect_view()}
            </nav>
        </div>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || page.get().map(|result| match result {
                Err(e) => view! { <p class="form-error">{e.to_string()}</p> }.into_any(),
                Ok(page) => view! { <Results page params=params.get()/> }.into_any(),
            })}
        </Transition>
    }
}

/// The category and tag filters in force, each with a way to drop it.
#[component]
fn ActiveFilters(params: Memo<RegistryParams>) -> impl IntoView {
    move || {
        let p = params.get();
        let mut chips = Vec::new();
        if let Some(c) = &p.category {
            let href = registry_href(&RegistryParams {
                category: None,
                page: 1,
                ..p.clone()
            });
            chips.push(view! {
                <a class="chip active" href=href title="Remove this filter">"category: " {c.clone()} " ✕"</a>
            });
        }
        if let Some(t) = &p.tag {
            let href = registry_href(&RegistryParams {
                tag: None,
                page: 1,
                ..p.clone()
            });
            chips.push(view! {
                <a class="chip active tag" href=href title="Remove this filter">"#" {t.clone()} " ✕"</a>
            });
        }
        view! { <div class="chips" data-testid="active-filters">{chips}</div> }
    }
}

#[component]
fn Results(page: RegistryPage, params: RegistryParams) -> impl IntoView {
    if page.cards.is_empty() {
        let filtered = !params.q.is_empty() || params.category.is_some() || params.tag.is_some();
        return view! {
            <div class="empty-state">
                <p>{if filtered { "No Model Sets match this search." } else { "No Model Sets yet." }}</p>
                {if filtered {
                    view! { <A href="/model-sets">"Show all Model Sets"</A> }.into_any()
                } else {
                    view! { <p>"Start one with " <A href="/model-sets/new">"New"</A> "."</p> }.into_any()
                }}
            </div>
        }
        .into_any();
    }
    let first = (page.page - 1) * page.per_page + 1;
    let last = first + page.cards.len() as i64 - 1;
    let pages = (page.total + page.per_page - 1) / page.per_page;
    let prev = (page.page > 1).then(|| {
        registry_href(&RegistryParams {
            page: page.page - 1,
            ..params.clone()
        })
    });
    let next = (page.page < pages).then(|| {
        registry_href(&RegistryParams {
            page: page.page + 1,
            ..params.clone()
        })
    });
    let facets = facets(&page.cards, &params);
    view! {
        {facets}
        <p class="muted small" data-testid="result-count">
            {format!("{first}–{last} of {}", format::count(page.total.max(0) as u64))}
        </p>
        <div class="card-grid">
            {page.cards.into_iter().map(|card| view! { <SetCardView card params=params.clone()/> }).collect_view()}
        </div>
        {(pages > 1).then(|| view! {
            <nav class="pager" aria-label="Pages">
                {match prev {
                    Some(href) => view! { <a href=href rel="prev">"← Previous"</a> }.into_any(),
                    None => view! { <span class="muted">"← Previous"</span> }.into_any(),
                }}
                <span>{format!("Page {} of {pages}", page.page)}</span>
                {match next {
                    Some(href) => view! { <a href=href rel="next">"Next →"</a> }.into_any(),
                    None => view! { <span class="muted">"Next →"</span> }.into_any(),
                }}
            </nav>
        })}
    }
    .into_any()
}

/// Filter chips for the categories and tags on this page of results (those not in force).
fn facets(cards: &[SetCard], params: &RegistryParams) -> impl IntoView {
    let mut categories: Vec<String> = Vec::new();
    let mut tags: Vec<String> = Vec::new();
    for card in cards {
        for c in &card.set.categories {
            if !categories.contains(c) && params.category.as_ref() != Some(c) {
                categories.push(c.clone());
            }
        }
        for t in &card.set.tags {
            if !tags.contains(t) && params.tag.as_ref() != Some(t) {
                tags.push(t.clone());
            }
        }
    }
    if categories.is_empty() && tags.is_empty() {
        return None;
    }
    categories.sort();
    tags.sort();
    let link = |category: Option<String>, tag: Option<String>| {
        registry_href(&RegistryParams {
            category: category.or_else(|| params.category.clone()),
            tag: tag.or_else(|| params.tag.clone()),
            page: 1,
            ..params.clone()
        })
    };
    Some(view! {
        <div class="facets" data-testid="facets">
            <span class="muted small">"Filter:"</span>
            {categories.into_iter().map(|c| {
                let (href, data) = (link(Some(c.clone()), None), c.clone());
                view! { <a class="chip" href=href data-category=data>{c}</a> }
            }).collect_view()}
            {tags.into_iter().map(|t| {
                let (href, data) = (link(None, Some(t.clone())), t.clone());
                view! { <a class="chip tag" href=href data-tag=data>"#" {t}</a> }
            }).collect_view()}
        </div>
    })
}

#[component]
fn SetCardView(card: SetCard, params: RegistryParams) -> impl IntoView {
    let set = card.set;
    let address = set.address();
    let data_address = address.clone();
    let href = format!("/model-sets/{address}");
    let models = set.spec.models.len();
    let sparkline = charts::sparkline(&card.hourly, 280, 28);
    let chip = |category: Option<String>, tag: Option<String>| {
        registry_href(&RegistryParams {
            category: category.or_else(|| params.category.clone()),
            tag: tag.or_else(|| params.tag.clone()),
            page: 1,
            ..params.clone()
        })
    };
    view! {
        <article class="card set-card" data-testid="set-card" data-address=data_address>
            <div class="set-card-head">
                <h2><a href=href.clone() class="card-link">{set.name.clone()}</a></h2>
                <VerdictBadge feasibility=card.feasibility/>
            </div>
            <p class="mono muted small">{address}</p>
            <p class="set-card-description">{set.description.clone()}</p>
            <div class="set-card-traffic">
                <span class="stat-value" data-testid="requests-24h">{format::count(card.requests_24h.max(0) as u64)}</span>
                <span class="muted small">" requests, last 24\u{a0}h"</span>
            </div>
            <div class="sparkline" title="Requests per hour, the 24 hours before this one" inner_html=sparkline></div>
            <p class="muted small">{format!("{models} model{}", if models == 1 { "" } else { "s" })}</p>
            <ul class="chips">
                {set.categories.into_iter().map(|c| {
                    let href = chip(Some(c.clone()), None);
                    view! { <li><a class="chip" href=href>{c}</a></li> }
                }).collect_view()}
                {set.tags.into_iter().map(|t| {
                    let href = chip(None, Some(t.clone()));
                    view! { <li><a class="chip tag" href=href>"#" {t}</a></li> }
                }).collect_view()}
            </ul>
        </article>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_urls_keep_what_differs_from_the_default() {
        assert_eq!(registry_href(&RegistryParams::default()), "/model-sets");
        let p = RegistryParams {
            q: "fast chat".into(),
            tag: Some("low-latency".into()),
            sort: RegistrySort::Newest,
            page: 2,
            ..RegistryParams::default()
        };
        assert_eq!(
            registry_href(&p),
            "/model-sets?q=fast+chat&tag=low-latency&sort=new&page=2"
        );
        assert_eq!(encode("a&b=c/ü"), "a%26b%3Dc%2F%C3%BC");
    }
}
