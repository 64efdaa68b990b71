//! The models catalog, `/models`: every model the gateway can route to, with its price and
//! abilities, and its measured behaviour over the last 24 h across all sets — the numbers the
//! projections start from. Sortable by any column through the URL (`?sort=p90&dir=asc`).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::model_sets::models_overview;
use crate::format;
use crate::pages::model_set::capabilities;
use crate::views::ModelOverview;

/// The sortable columns: (URL key, heading, numeric).
const COLUMNS: [(&str, &str, bool); 10] = [
    ("model", "Model", false),
    ("provider", "Provider", false),
    // Sorted by the output price, which dominates the cost of most requests.
    ("price", "Price in / out, 1M tok", true),
    ("context", "Context", true),
    ("requests", "Requests", true),
    ("latency", "Mean latency", true),
    ("p90", "p90 latency", true),
    ("ttft", "p50 TTFT", true),
    ("tps", "Tokens/s", true),
    ("errors", "Error rate", true),
];

fn key(m: &ModelOverview, column: &str) -> Option<f64> {
    let b = &m.last_day;
    match column {
        "price" => Some(m.model.output_price_per_mtok),
        "context" => Some(f64::from(m.model.context_window)),
        "requests" => Some(b.requests as f64),
        "latency" => b.latency.mean,
        "p90" => b.latency.p90,
        "ttft" => b.ttft.p50,
        "tps" => b.tokens_per_s,
        "errors" => b.error_rate(),
        _ => None,
    }
}

/// Sorts in place; models without a value for the column go last either way.
pub fn sort(list: &mut [ModelOverview], column: &str, ascending: bool) {
    list.sort_by(|a, b| {
        let order = match column {
            "model" => a.model.id.cmp(&b.model.id),
            "provider" => a
                .model
                .provider
                .cmp(&b.model.provider)
                .then(a.model.id.cmp(&b.model.id)),
            _ => match (key(a, column), key(b, column)) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                (Some(_), None) => return std::cmp::Ordering::Less,
                (None, Some(_)) => return std::cmp::Ordering::Greater,
                (None, None) => a.model.id.cmp(&b.model.id),
            },
        };
        if ascending {
            order
        } else {
            order.reverse()
        }
    });
}

#[component]
pub fn ModelsPage() -> impl IntoView {
    let query = use_query_map();
    let order = Memo::new(move |_| {
        let q = query.read();
        let column = q
            .get("sort")
            .filter(|s| COLUMNS.iter().any(|(k, _, _)| k == s))
            .unwrap_or_else(|| "model".to_string());
        let ascending = q
            .get("dir")
            .map_or(column == "model" || column == "provider", |d| d != "desc");
        (column, ascending)
    });
    let models = Resource::new(|| (), |_| models_overview());
    view! {
        <Title text="Models"/>
        <nav class="breadcrumbs" aria-label="Breadcrumb">
            <span>"Model Registry"</span>
            <span aria-hidden="true">"›"</span>
            <span aria-current="page">"Models"</span>
        </nav>
        <div class="page-head">
            <div>
                <h1>"Models"</h1>
                <p class="muted">
                    "Every model a set can route to, with its price and what it did in the last 24 hours across all sets."
                </p>
            </div>
        </div>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || models.get().map(|result| match result {
                Err(e) => view! { <p class="form-error">{e.to_string()}</p> }.into_any(),
                Ok(mut list) => {
                    let (column, ascending) = order.get();
                    sort(&mut list, &column, ascending);
                    view! { <ModelTable list column ascending/> }.into_any()
                }
            })}
        </Transition>
    }
}

#[component]
fn ModelTable(list: Vec<ModelOverview>, column: String, ascending: bool) -> impl IntoView {
    let headings = COLUMNS
        .iter()
        .map(|(k, label, numeric)| {
            let current = column == *k;
            let next_dir = if current && ascending { "desc" } else { "asc" };
            let href = format!("/models?sort={k}&dir={next_dir}");
            let arrow = if current {
                if ascending {
                    " ▲"
                } else {
                    " ▼"
                }
            } else {
                ""
            };
            let sorted = current.then_some(if ascending { "ascending" } else { "descending" });
            let class = if *numeric { "num" } else { "" };
            view! {
                <th class=class aria-sort=sorted><a href=href data-sort=*k>{*label}{arrow}</a></th>
            }
        })
        .collect_view();
    let dash = || "–".to_string();
    view! {
        <div class="table-scroll card">
            <table class="table models-table" data-testid="models-table">
                <thead><tr>{headings}<th>"Capabilities"</th></tr></thead>
                <tbody>
                    {list.into_iter().map(|m| {
                        let b = m.last_day.clone();
                        view! {
                            <tr data-model=m.model.id.clone()>
                                <td>
                                    <div class="mono nowrap">{m.model.id.clone()}</div>
                                    {m.model.simulated.then(|| view! { <div class="muted small">"simulated"</div> })}
                                </td>
                                <td>{m.model.provider.clone()}</td>
                                <td class="num">{format!(
                                    "{} / {}",
                                    format::usd(m.model.input_price_per_mtok),
                                    format::usd(m.model.output_price_per_mtok)
                                )}</td>
                                <td class="num">{format!("{} k", m.model.context_window / 1000)}</td>
                                <td class="num" data-testid="model-requests">{format::count(b.requests)}</td>
                                <td class="num">{b.latency.mean.map(format::ms).unwrap_or_else(dash)}</td>
                                <td class="num">{b.latency.p90.map(format::ms).unwrap_or_else(dash)}</td>
                                <td class="num">{b.ttft.p50.map(format::ms).unwrap_or_else(dash)}</td>
                                <td class="num">{b.tokens_per_s.map(format::tokens_per_s).unwrap_or_else(dash)}</td>
                                <td class="num">{b.error_rate().map(format::percent).unwrap_or_else(dash)}</td>
                                <td>{capabilities(m.model.capabilities)}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}
