//! A Model Set's page, `/model-sets/@owner/slug`: is it meeting its targets, and what does it
//! cost? The requirements with realised values and the verdict come first, then the models,
//! the monitoring charts ([`monitoring`]), for its owner a chat box to try it ([`try_it`]),
//! how to call it, and its history.

mod charts;
mod evals;
mod history;
mod monitoring;
mod try_it;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use crate::api::model_sets::model_set_detail;
use crate::components::snippet::Snippet;
use crate::components::verdict::VerdictBadge;
use crate::describe;
use crate::error::UiError;
use crate::format;
use crate::pages::not_found::NotFound;
use crate::time_fmt::format_utc;
use crate::views::{RequirementStatus, SetDetail, SetModel};

/// `owner` as it appears in the URL (`@demo`) without its `@`.
fn owner_param(raw: &str) -> String {
    raw.trim_start_matches('@').to_string()
}

#[component]
pub fn ModelSetPage() -> impl IntoView {
    let params = use_params_map();
    let address = Memo::new(move |_| {
        let p = params.read();
        (
            owner_param(&p.get("owner").unwrap_or_default()),
            p.get("slug").unwrap_or_default(),
        )
    });
    let detail = Resource::new(move || address.get(), |(owner, slug)| model_set_detail(owner, slug));
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || detail.get().map(|result| match result {
                Ok(detail) => view! { <SetView detail/> }.into_any(),
                Err(UiError::NotFound) => view! { <NotFound/> }.into_any(),
                Err(e) => view! { <p class="form-error">{e.to_string()}</p> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn SetView(detail: SetDetail) -> impl IntoView {
    let set = detail.set.clone();
    let address = set.address();
    let clone_href = format!("/model-sets/{address}/clone");
    let edit_href = format!("/model-sets/{address}/edit");
    let missed: Vec<RequirementStatus> = detail
        .requirements
        .iter()
        .filter(|r| r.met() == Some(false))
        .cloned()
        .collect();
    view! {
        <Title text=set.name.clone()/>
        <nav class="breadcrumbs" aria-label="Breadcrumb">
            <span>"Model Registry"</span>
            <span aria-hidden="true">"›"</span>
            <A href="/model-sets">"Model Sets"</A>
            <span aria-hidden="true">"›"</span>
            <span aria-current="page">{set.name.clone()}</span>
        </nav>
        <header class="page-head set-head">
            <div>
                <h1 data-testid="set-name">{set.name.clone()}</h1>
                <p class="mono address" data-testid="set-address">{address.clone()}</p>
            </div>
            <div class="actions">
                {detail.viewer_is_owner.then(|| view! {
                    <a href=edit_href class="button secondary icon" title="Edit this Model Set" aria-label="Edit" data-testid="edit-set">"✎"</a>
                })}
                <a href=clone_href class="button" data-testid="clone-set">"Clone"</a>
            </div>
        </header>
        <section class="set-about">
            {(!set.description.is_empty()).then(|| view! { <p class="lead">{set.description.clone()}</p> })}
            <ul class="chips">
                {set.categories.iter().map(|c| {
                    let href = format!("/model-sets?category={c}");
                    view! { <li><a class="chip" href=href>{c.clone()}</a></li> }
                }).collect_view()}
                {set.tags.iter().map(|t| {
                    let href = format!("/model-sets?tag={t}");
                    view! { <li><a class="chip tag" href=href>"#" {t.clone()}</a></li> }
                }).collect_view()}
            </ul>
            <p class="muted small">
                "By " <strong>{format!("@{}", set.owner)}</strong>
                " · created " {format_utc(set.created_at)}
                " · updated " {format_utc(set.updated_at)}
                {format!(" · revision {}", set.revision)}
                {set.cloned_from.clone().map(|source| {
                    let href = format!("/model-sets/{source}");
                    view! { " · cloned from " <a href=href data-testid="cloned-from">{source}</a> }
                })}
            </p>
        </section>

        <div class="grid-2">
            <Targets detail=detail.clone()/>
            <RecentTiles detail=detail.clone()/>
        </div>

        <Models models=detail.models.clone()/>

        <monitoring::Monitoring detail=detail.clone() missed/>

        {(detail.viewer_is_owner && !set.spec.evals.metrics.is_empty()).then(|| view! {
            <evals::LatestEvals
                owner=set.owner.clone()
                slug=set.slug.clone()
                requirements=set.spec.requirements.clone()
                sampling=set.spec.evals.sampling
            />
        })}

        {detail.viewer_is_owner.then(|| view! { <try_it::TryIt owner=set.owner.clone() slug=set.slug.clone()/> })}

        <section class="card" id="use">
            <h2>"Use it"</h2>
            <p class="muted">
                "Send OpenAI-style requests with " <code>{address.clone()}</code>
                " as the model. Only the owner's API keys may use a set; clone it to use it with yours."
            </p>
            <Snippet base=detail.base_url.clone() address=address.clone()/>
        </section>

        <evals::EvalSettingsCard
            settings=set.spec.evals.clone()
            edit_href=detail.viewer_is_owner.then(|| format!("/model-sets/{address}/edit"))
        />

        <history::History revisions=detail.revisions.clone() owner=set.owner.clone()/>
    }
}

/// The requirements with their realised values, the objective, and the verdict.
#[component]
fn Targets(detail: SetDetail) -> impl IntoView {
    let spec = &detail.set.spec;
    let reasons = detail
        .verdict
        .as_ref()
        .map(|v| describe::reasons(v, &spec.requirements))
        .unwrap_or_default();
    let feasibility = detail.verdict.as_ref().map(|v| v.feasibility);
    view! {
        <section class="card targets" data-testid="targets">
            <div class="card-head">
                <h2>"Targets"</h2>
                <VerdictBadge feasibility/>
            </div>
            {if detail.requirements.is_empty() {
                view! { <p class="muted">"No requirements: the set only optimises its objective."</p> }.into_any()
            } else {
                view! {
                    <table class="table">
                        <thead>
                            <tr><th>"Requirement"</th><th class="num">"Last 24 h"</th><th>"Status"</th></tr>
                        </thead>
                        <tbody>
                            {detail.requirements.iter().map(|r| {
                                let measured = match &r.requirement.dimension {
                                    crate::model_set::Dimension::Eval(metric) => spec.evals.metrics.contains(metric),
                                    _ => true,
                                };
                                view! { <RequirementRow status=r.clone() measured/> }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
            <p><span class="muted">"Objective: "</span>{describe::objective(&spec.objective)}</p>
            {(!reasons.is_empty()).then(|| view! {
                <ul class="reasons">{reasons.into_iter().map(|r| view! { <li>{r}</li> }).collect_view()}</ul>
            })}
        </section>
    }
}

/// One requirement with its realised value; `measured`: false for an eval the set does not run.
#[component]
fn RequirementRow(status: RequirementStatus, measured: bool) -> impl IntoView {
    let r = &status.requirement;
    let missing = match (&r.dimension, measured) {
        (_, false) => "not measured: no such eval runs",
        (crate::model_set::Dimension::Eval(_), true) => "no scores yet",
        _ => "no data",
    };
    let realised = status
        .realised
        .map(|v| describe::value(&r.dimension, v))
        .unwrap_or_else(|| missing.to_string());
    let (class, mark) = match status.met() {
        Some(true) => ("badge ok", "Met"),
        Some(false) => ("badge bad", "Missed"),
        None => ("badge muted", "No data"),
    };
    // A ≤ target is missed by running over it, a ≥ target by falling short of it.
    let at_least = r.comparator == crate::model_set::Comparator::AtLeast;
    let margin = status.margin().map(|m| {
        let side = match (m >= 0.0, at_least) {
            (true, _) => "inside",
            (false, false) => "over",
            (false, true) => "short",
        };
        format!("{} {side}", format::percent(m.abs()))
    });
    view! {
        <tr data-testid="requirement">
            <td>{describe::requirement(r)}</td>
            <td class="num">{realised}</td>
            <td><span class=class>{mark}</span> " " <span class="muted small">{margin}</span></td>
        </tr>
    }
}

/// The last 24 h in four numbers.
#[component]
fn RecentTiles(detail: SetDetail) -> impl IntoView {
    let b = &detail.recent;
    let tiles = [
        ("Requests", format::count(b.requests), "requests-24h"),
        ("Cost", format::usd(b.cost_usd), "cost-24h"),
        (
            "Cost per request",
            b.cost_per_request().map(format::usd).unwrap_or_else(|| "–".into()),
            "cost-per-request",
        ),
        (
            "Error rate",
            b.error_rate().map(format::percent).unwrap_or_else(|| "–".into()),
            "error-rate",
        ),
        (
            "p90 latency",
            b.latency.p90.map(format::ms).unwrap_or_else(|| "–".into()),
            "p90-latency",
        ),
        (
            "p50 time to first token",
            b.ttft.p50.map(format::ms).unwrap_or_else(|| "–".into()),
            "p50-ttft",
        ),
    ];
    view! {
        <section class="card">
            <h2>"Last 24 hours"</h2>
            <div class="tiles">
                {tiles.into_iter().map(|(label, value, id)| view! {
                    <div class="tile">
                        <span class="tile-value" data-testid=id>{value}</span>
                        <span class="tile-label">{label}</span>
                    </div>
                }).collect_view()}
            </div>
        </section>
    }
}

#[component]
fn Models(models: Vec<SetModel>) -> impl IntoView {
    view! {
        <section class="card" data-testid="models">
            <h2>"Models"</h2>
            <div class="table-scroll">
                <table class="table">
                    <thead>
                        <tr>
                            <th>"Model"</th><th>"Provider"</th><th class="num">"Price in / out, 1M tok"</th>
                            <th class="num">"Context"</th>
                            <th>"Capabilities"</th><th class="num">"Routing weight"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {models.into_iter().enumerate().map(|(i, m)| {
                            let colour = crate::charts::PALETTE[(i + 1) % crate::charts::PALETTE.len()];
                            let swatch = format!("background:{colour}");
                            let weight = m.weight.unwrap_or(0.0);
                            let bar = format!("width:{:.1}%", weight * 100.0);
                            let status = if m.breaker == "open" {
                                Some("paused: failing")
                            } else if m.exploring {
                                Some("exploring")
                            } else {
                                None
                            };
                            let catalog = m.catalog.clone();
                            view! {
                                <tr>
                                    <td><span class="nowrap"><span class="swatch" style=swatch></span> <span class="mono">{m.id.clone()}</span></span>
                                        <span class="model-notes">
                                            {catalog.as_ref().filter(|c| c.simulated).map(|_| view! { <span class="badge muted small">"simulated"</span> })}
                                            {status.map(|s| view! { <span class="badge warn small">{s}</span> })}
                                        </span>
                                        {m.why.clone().map(|why| view! { <span class="model-why" data-testid="model-why">{why}</span> })}
                                    </td>
                                    <td>{catalog.as_ref().map(|c| c.provider.clone()).unwrap_or_else(|| "not in the catalog".into())}</td>
                                    <td class="num">{catalog.as_ref().map(|c| format!(
                                        "{} / {}",
                                        format::usd(c.input_price_per_mtok),
                                        format::usd(c.output_price_per_mtok)
                                    ))}</td>
                                    <td class="num">{catalog.as_ref().map(|c| format!("{} k", c.context_window / 1000))}</td>
                                    <td>{catalog.as_ref().map(|c| capabilities(c.capabilities))}</td>
                                    <td class="num">
                                        <div class="weight"><div class="weight-bar" style=bar></div></div>
                                        {format::percent(weight)}
                                    </td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
    }
}

pub fn capabilities(c: crate::catalog::Capabilities) -> String {
    let mut list = vec!["chat"];
    if c.tools {
        list.push("tools");
    }
    if c.vision {
        list.push("vision");
    }
    if c.json_output {
        list.push("JSON");
    }
    list.join(", ")
}
