//! The monitoring sections of a set page: Performance, Cost, Usage and Errors, each a few
//! charts of the set's series, and Evals when the set has eval metrics ([`super::evals`]). Range, whose lines (the whole set, each model, one model) and
//! statistic (average, p50, p90, p99) are in the URL, switched by links and a GET form, so
//! they work without JavaScript; once hydrated, the charts refresh every few seconds.

use leptos::prelude::*;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

use super::charts::{chart, eval_charts, Metric, Scope, SECTIONS};
use super::evals::evals_body;
use crate::api::model_sets::set_series;
use crate::charts::time_chart;
use crate::describe;
use crate::format;
use crate::model_set::{Dimension, Statistic};
use crate::monitoring::{Range, Series};
use crate::views::{RequirementStatus, SetDetail};

/// How often an open page refreshes its charts (a month's less often: see [`refresh_ticks`]).
#[cfg(feature = "hydrate")]
const REFRESH: std::time::Duration = std::time::Duration::from_secs(5);

/// Refresh ticks between two reads of a range: a month is the heaviest read (7,200 hourly rows
/// for ten models), so it is read every 15 s rather than every 5.
fn refresh_ticks(range: Range) -> u64 {
    match range {
        Range::Hour | Range::Day | Range::Week => 1,
        Range::Month => 3,
    }
}

const STATISTICS: [Statistic; 4] = [Statistic::Mean, Statistic::P50, Statistic::P90, Statistic::P99];

/// The section a requirement's charts are in.
fn section_of(dimension: &Dimension) -> &'static str {
    match dimension {
        Dimension::Cost => "cost",
        Dimension::ErrorRate => "errors",
        Dimension::Eval(_) => "evals",
        _ => "performance",
    }
}

/// The sections open when the page loads: those holding a missed requirement's chart (the
/// Evals section only where it is shown), else Performance.
fn open_sections(missed: &[RequirementStatus], has_evals: bool) -> Vec<&'static str> {
    let open: Vec<&'static str> = missed
        .iter()
        .map(|m| section_of(&m.requirement.dimension))
        .filter(|&id| id != "evals" || has_evals)
        .collect();
    if open.is_empty() {
        vec!["performance"]
    } else {
        open
    }
}

#[derive(Clone, PartialEq)]
struct View {
    range: Range,
    scope: Scope,
    statistic: Statistic,
}

impl View {
    fn href(&self, base: &str) -> String {
        format!(
            "{base}?range={}&model={}&stat={}#monitoring",
            self.range.param(),
            self.scope.param(),
            describe::statistic(self.statistic)
        )
    }
}

#[component]
pub fn Monitoring(detail: SetDetail, missed: Vec<RequirementStatus>) -> impl IntoView {
    let query = use_query_map();
    let view_state = Memo::new(move |_| {
        let q = query.read();
        View {
            range: q.get("range").and_then(|r| Range::parse(&r)).unwrap_or_default(),
            scope: Scope::parse(&q.get("model").unwrap_or_default()),
            statistic: match q.get("stat").as_deref() {
                Some("p50") => Statistic::P50,
                Some("p90") => Statistic::P90,
                Some("p99") => Statistic::P99,
                _ => Statistic::Mean,
            },
        }
    });
    let set = detail.set.clone();
    let base = format!("/model-sets/{}", set.address());
    let (owner, slug) = (set.owner.clone(), set.slug.clone());
    let tick = RwSignal::new(0u64);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let handle = set_interval_with_handle(move || tick.update(|t| *t += 1), REFRESH).ok();
        on_cleanup(move || {
            if let Some(h) = handle {
                h.clear();
            }
        });
    });
    let series = Resource::new(
        move || {
            let v = view_state.get();
            (
                owner.clone(),
                slug.clone(),
                v.range,
                v.scope,
                tick.get() / refresh_ticks(v.range),
            )
        },
        |(owner, slug, range, lines, _)| set_series(owner, slug, range, lines),
    );
    let models = set.spec.models.clone();
    let requirements = set.spec.requirements.clone();
    let evals = set.spec.evals.clone();
    let has_evals = !evals.metrics.is_empty();
    let open = open_sections(&missed, has_evals);

    let range_links = {
        let base = base.clone();
        move || {
            let current = view_state.get();
            Range::ALL
                .into_iter()
                .map(|range| {
                    let href = View { range, ..current.clone() }.href(&base);
                    let selected = (current.range == range).then_some("true");
                    view! { <a class="segment" href=href aria-current=selected data-range=range.param()>{range.param()}</a> }
                })
                .collect_view()
        }
    };
    let stat_links = {
        let base = base.clone();
        move || {
            let current = view_state.get();
            STATISTICS
                .into_iter()
                .map(|statistic| {
                    let href = View {
                        statistic,
                        ..current.clone()
                    }
                    .href(&base);
                    let selected = (current.statistic == statistic).then_some("true");
                    let label = match statistic {
                        Statistic::Mean => "avg",
                        s => describe::statistic(s),
                    };
                    view! { <a class="segment" href=href aria-current=selected data-stat=label>{label}</a> }
                })
                .collect_view()
        }
    };
    let scope_options = {
        let models = models.clone();
        move || {
            let current = view_state.get().scope;
            let mut options = vec![
                ("set".to_string(), "Whole set".to_string()),
                ("models".to_string(), "Each model".to_string()),
            ];
            options.extend(models.iter().map(|m| (m.clone(), m.clone())));
            options
                .into_iter()
                .map(|(value, label)| {
                    let selected = current.param() == value;
                    view! { <option value=value selected=selected>{label}</option> }
                })
                .collect_view()
        }
    };

    view! {
        <section class="monitoring" id="monitoring" data-testid="monitoring">
            <div class="section-head">
                <div>
                    <h2>"Behaviour over time"</h2>
                    <Transition fallback=|| ()>
                        {move || series.get().map(|result| result.ok().map(|series| {
                            let total = &series.set.total;
                            let hint = (total.requests == 0).then_some(" — send one with the snippet below");
                            let judged = (total.eval_cost_usd > 0.0)
                                .then(|| format!(" (+ {} for evals)", format::usd(total.eval_cost_usd)));
                            view! {
                                <p class="muted small range-summary">
                                    <strong data-testid="range-requests">{format::count(total.requests)}</strong>
                                    {format!(
                                        " requests in the {} · {}{} · updated every {}",
                                        series.range.label(),
                                        format::usd(total.cost_usd),
                                        judged.unwrap_or_default(),
                                        if refresh_ticks(series.range) == 1 { "5 s" } else { "15 s" },
                                    )}
                                    {hint}
                                </p>
                            }
                        }))}
                    </Transition>
                </div>
                <div class="controls">
                    <nav class="segmented" aria-label="Range">{range_links}</nav>
                    <nav class="segmented" aria-label="Statistic">{stat_links}</nav>
                    <Form method="GET" action=base.clone() attr:class="scope-form">
                        <input type="hidden" name="range" value=move || view_state.get().range.param()/>
                        <input type="hidden" name="stat" value=move || describe::statistic(view_state.get().statistic)/>
                        <label class="visually-hidden" for="scope">"Show"</label>
                        <select
                            id="scope"
                            name="model"
                            data-testid="scope"
                            onchange="this.form.requestSubmit ? this.form.requestSubmit() : this.form.submit()"
                        >
                            {scope_options}
                        </select>
                        <noscript><button type="submit" class="secondary small">"Show"</button></noscript>
                    </Form>
                </div>
            </div>
            {SECTIONS
                .into_iter()
                .map(|(id, title, metrics)| {
                    let is_open = open.contains(&id);
                    let models = models.clone();
                    let requirements = requirements.clone();
                    view! {
                        <details class="card section" open=is_open data-section=id>
                            <summary><h3>{title}</h3></summary>
                            <div class="charts">
                                <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                                    {move || {
                                        let models = models.clone();
                                        let requirements = requirements.clone();
                                        series.get().map(move |result| match result {
                                            Err(e) => view! { <p class="form-error">{e.to_string()}</p> }.into_any(),
                                            Ok(series) => {
                                                let v = view_state.get();
                                                charts_of(&series, &models, &requirements, metrics, &v.scope, v.statistic)
                                                    .into_any()
                                            }
                                        })
                                    }}
                                </Transition>
                            </div>
                        </details>
                    }
                })
                .collect_view()}
            {has_evals.then(|| {
                let is_open = open.contains(&"evals");
                let metrics = eval_charts(&evals.metrics);
                view! {
                    <details class="card section" open=is_open data-section="evals">
                        <summary><h3>"Evals"</h3></summary>
                        <Transition fallback=|| view! { <p class="muted section-body">"Loading…"</p> }>
                            {move || {
                                let (models, requirements, evals, metrics) =
                                    (models.clone(), requirements.clone(), evals.clone(), metrics.clone());
                                series.get().map(move |result| match result {
                                    Err(e) => view! { <p class="form-error">{e.to_string()}</p> }.into_any(),
                                    Ok(series) => {
                                        let v = view_state.get();
                                        evals_body(&series, &evals, &requirements, &v.scope, || {
                                            charts_of(&series, &models, &requirements, &metrics, &v.scope, v.statistic)
                                        })
                                        .into_any()
                                    }
                                })
                            }}
                        </Transition>
                    </details>
                }
            })}
        </section>
    }
}

pub(super) fn charts_of(
    series: &Series,
    models: &[String],
    requirements: &[crate::model_set::Requirement],
    metrics: &[Metric],
    scope: &Scope,
    statistic: Statistic,
) -> impl IntoView {
    metrics
        .iter()
        .map(|&metric| {
            let spec = chart(series, models, requirements, metric, scope, statistic);
            let svg = time_chart(&spec, 400, 200);
            let points: usize = spec.lines.iter().map(|l| l.points.len()).sum();
            view! {
                <figure class="chart" data-metric=format!("{metric:?}") data-points=points>
                    <figcaption>{spec.title.clone()}</figcaption>
                    <div class="chart-svg" inner_html=svg></div>
                </figure>
            }
        })
        .collect_view()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model_set::{Comparator, Requirement};

    #[test]
    fn the_sections_holding_a_missed_target_open() {
        let missed = |dimension: Dimension| RequirementStatus {
            requirement: Requirement::new(dimension, Statistic::Mean, Comparator::AtLeast, 0.8),
            realised: Some(0.5),
        };
        assert_eq!(open_sections(&[], true), vec!["performance"]);
        let eval = missed(Dimension::Eval("answer_relevancy".into()));
        assert_eq!(open_sections(std::slice::from_ref(&eval), true), vec!["evals"]);
        assert_eq!(
            open_sections(&[eval.clone(), missed(Dimension::Cost)], true),
            vec!["evals", "cost"]
        );
        // No Evals section (no eval metric configured): the page opens as usual.
        assert_eq!(open_sections(&[eval], false), vec!["performance"]);
    }
}
