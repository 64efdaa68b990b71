//! The editor's four steps. Every control is a labelled form control; a field's error sits
//! right after it, tied to it with `aria-describedby` and announced (`role="alert"`).

use leptos::prelude::*;

use super::form::{self, presets, statistics, unit};
use super::{EditorState, Step};
use crate::api::editor::slug_available;
use crate::describe;
use crate::evals::{self, METRICS};
use crate::format;
use crate::model_set::{Comparator, Dimension, Field, Objective, Statistic, CRITERIA_MAX};
use crate::pages::model_set::capabilities;

#[component]
pub fn StepNav(state: EditorState) -> impl IntoView {
    view! {
        <ol class="steps" aria-label="Steps">
            {Step::ALL.into_iter().enumerate().map(|(i, step)| {
                let has_error = move || {
                    state.attempted.get()
                        && state.errors.with(|errors| errors.iter().any(|e| Step::of(e.field) == step))
                };
                view! {
                    <li>
                        <button
                            type="button"
                            class="step"
                            class:current=move || state.step.get() == step
                            class:has-error=has_error
                            aria-current=move || (state.step.get() == step).then_some("step")
                            data-testid=format!("step-{}", step.title().to_lowercase())
                            on:click=move |_| state.step.set(step)
                        >
                            <span class="step-number">{i + 1}</span>
                            {step.title()}
                        </button>
                    </li>
                }
            }).collect_view()}
        </ol>
    }
}

#[component]
pub fn StepBody(state: EditorState) -> impl IntoView {
    move || match state.step.get() {
        Step::Behaviors => view! { <Behaviors state/> }.into_any(),
        Step::Evals => view! { <Evals state/> }.into_any(),
        Step::Models => view! { <Models state/> }.into_any(),
        Step::Details => view! { <Details state/> }.into_any(),
    }
}

/// An error line after a field: `id` is what the field's `aria-describedby` names.
#[component]
fn FieldMessage(id: String, message: Signal<Option<String>>) -> impl IntoView {
    view! {
        <span class="field-error" id=id role="alert">{move || message.get()}</span>
    }
}

/// Every dimension a requirement or the objective can name: the measured ones, then each
/// eval metric.
fn dimensions() -> Vec<Dimension> {
    let mut list = vec![
        Dimension::Cost,
        Dimension::Latency,
        Dimension::Ttft,
        Dimension::Throughput,
        Dimension::ErrorRate,
    ];
    list.extend(METRICS.iter().map(|m| Dimension::Eval(m.name.to_string())));
    list
}

/// A dimension as a `<select>` value and back.
fn dimension_key(d: &Dimension) -> String {
    match d {
        Dimension::Cost => "cost".into(),
        Dimension::Latency => "latency".into(),
        Dimension::Ttft => "ttft".into(),
        Dimension::Throughput => "throughput".into(),
        Dimension::ErrorRate => "error_rate".into(),
        Dimension::Eval(m) => format!("eval:{m}"),
    }
}

fn dimension_of(key: &str) -> Option<Dimension> {
    dimensions().into_iter().find(|d| dimension_key(d) == key)
}

fn statistic_key(s: Statistic) -> &'static str {
    describe::statistic(s)
}

fn dimension_label(d: &Dimension) -> String {
    let text = describe::dimension(d);
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => text,
    }
}

#[component]
fn Behaviors(state: EditorState) -> impl IntoView {
    let draft = state.draft;
    let rows = move || draft.with(|d| d.requirements.iter().map(|r| r.key).collect::<Vec<_>>());
    view! {
        <section class="card step-body" aria-labelledby="behaviors-title">
            <h2 id="behaviors-title">"What the set must do"</h2>
            <p class="muted">
                "Requirements hold on the set's average behaviour over its recent requests. Start from an intent, or write your own."
            </p>
            <div class="presets" role="group" aria-label="Start from an intent">
                {presets().into_iter().map(|p| {
                    let label = p.label;
                    view! {
                        <button type="button" class="chip-button" on:click=move |_| draft.update(|d| {
                            d.requirements.clear();
                            for r in p.requirements.clone() {
                                d.push(r);
                            }
                            d.objective = p.objective.clone();
                        })>{label}</button>
                    }
                }).collect_view()}
            </div>
            <h3>"Requirements"</h3>
            <ul class="requirement-rows" data-testid="requirement-rows">
                <For each=rows key=|k| *k let:key>
                    <RequirementEditor state key/>
                </For>
            </ul>
            {move || draft.with(|d| d.requirements.is_empty()).then(|| view! {
                <p class="muted">"No requirements: the set only optimises its objective."</p>
            })}
            <button
                type="button"
                class="secondary"
                data-testid="add-requirement"
                on:click=move |_| draft.update(|d| d.push(crate::model_set::Requirement::new(
                    Dimension::Latency, Statistic::P90, Comparator::AtMost, 3000.0,
                )))
            >"+ Add a requirement"</button>
            <h3>"Objective"</h3>
            <p class="muted">"Once every requirement holds, the set mixes models to:"</p>
            <ObjectiveEditor state/>
        </section>
    }
}

#[component]
fn RequirementEditor(state: EditorState, key: u32) -> impl IntoView {
    let draft = state.draft;
    let row = move || draft.with(|d| d.requirements.iter().find(|r| r.key == key).cloned());
    let index = move || draft.with(|d| d.requirements.iter().position(|r| r.key == key));
    let edit = move |f: &dyn Fn(&mut form::RequirementRow)| {
        state.server_errors.set(Vec::new());
        draft.update(|d| {
            if let Some(r) = d.requirements.iter_mut().find(|r| r.key == key) {
                f(r);
            }
        })
    };
    let message = Signal::derive(move || state.error(Field::Requirements, index()));
    let unmeasured = Signal::derive(move || {
        draft.with(|d| {
            d.unmeasured()
                .into_iter()
                .find(|u| matches!(u, form::Unmeasured::Requirement { key: k, .. } if *k == key))
        })
    });
    let error_id = format!("requirement-{key}-error");
    let dim_id = format!("requirement-{key}-dimension");
    let stat_id = format!("requirement-{key}-statistic");
    let cmp_id = format!("requirement-{key}-comparator");
    let target_id = format!("requirement-{key}-target");
    view! {
        <li class="requirement-row" data-testid="requirement-row">
            <label class="field compact">
                <span class="field-label">"Dimension"</span>
                <select id=dim_id on:change=move |ev| {
                    if let Some(d) = dimension_of(&event_target_value(&ev)) {
                        state.server_errors.set(Vec::new());
                        draft.update(|dr| dr.set_dimension(key, d));
                    }
                }>
                    {dimensions().into_iter().map(|d| {
                        let k = dimension_key(&d);
                        let label = dimension_label(&d);
                        let selected = move || row().is_some_and(|r| r.dimension == d);
                        view! { <option value=k selected=selected>{label}</option> }
                    }).collect_view()}
                </select>
            </label>
            <label class="field compact">
                <span class="field-label">"Statistic"</span>
                <select id=stat_id on:change=move |ev| {
                    let value = event_target_value(&ev);
                    if let Some(s) = [Statistic::Mean, Statistic::P50, Statistic::P90, Statistic::P99]
                        .into_iter()
                        .find(|s| statistic_key(*s) == value)
                    {
                        edit(&|r| r.statistic = s);
                    }
                }>
                    {move || row().map(|r| statistics(&r.dimension).iter().map(|s| {
                        let s = *s;
                        view! { <option value=statistic_key(s) selected=r.statistic == s>{statistic_key(s)}</option> }
                    }).collect_view())}
                </select>
            </label>
            <label class="field compact narrow-field">
                <span class="field-label">"Bound"</span>
                <select id=cmp_id on:change=move |ev| {
                    let c = if event_target_value(&ev) == "ge" { Comparator::AtLeast } else { Comparator::AtMost };
                    edit(&|r| r.comparator = c);
                }>
                    <option value="le" selected=move || row().is_some_and(|r| r.comparator == Comparator::AtMost)>"≤ at most"</option>
                    <option value="ge" selected=move || row().is_some_and(|r| r.comparator == Comparator::AtLeast)>"≥ at least"</option>
                </select>
            </label>
            <label class="field compact">
                <span class="field-label">"Target"</span>
                <span class="with-unit">
                    <input
                        id=target_id
                        inputmode="decimal"
                        data-testid="requirement-target"
                        aria-invalid=move || message.get().is_some().to_string()
                        aria-describedby=error_id.clone()
                        prop:value=move || row().map(|r| r.target).unwrap_or_default()
                        on:input=move |ev| {
                            let text = event_target_value(&ev);
                            edit(&|r| r.target = text.clone());
                        }
                    />
                    <span class="unit">{move || row().map(|r| unit(&r.dimension).suffix)}</span>
                </span>
            </label>
            <button
                type="button"
                class="ghost small remove"
                aria-label=move || format!("Remove requirement {}", index().map_or(0, |i| i + 1))
                on:click=move |_| {
                    state.server_errors.set(Vec::new());
                    draft.update(|d| d.requirements.retain(|r| r.key != key));
                }
            >"✕"</button>
            <FieldMessage id=error_id message/>
            <UnmeasuredNote state which=unmeasured/>
        </li>
    }
}

#[component]
fn ObjectiveEditor(state: EditorState) -> impl IntoView {
    let draft = state.draft;
    let objective = move || draft.with(|d| d.objective.clone());
    let dimension = move || match objective() {
        Objective::Minimize(d) | Objective::Maximize(d) => d,
    };
    let unmeasured = Signal::derive(move || {
        draft.with(|d| {
            d.unmeasured()
                .into_iter()
                .find(|u| matches!(u, form::Unmeasured::Objective { .. }))
        })
    });
    view! {
        <div class="objective-row">
            <label class="field compact">
                <span class="field-label">"Goal"</span>
                <select data-testid="objective-goal" on:change=move |ev| {
                    let d = dimension();
                    let o = if event_target_value(&ev) == "max" { Objective::Maximize(d) } else { Objective::Minimize(d) };
                    draft.update(|dr| dr.objective = o);
                }>
                    <option value="min" selected=move || matches!(objective(), Objective::Minimize(_))>"Minimise"</option>
                    <option value="max" selected=move || matches!(objective(), Objective::Maximize(_))>"Maximise"</option>
                </select>
            </label>
            <label class="field compact">
                <span class="field-label">"Dimension (mean)"</span>
                <select data-testid="objective-dimension" on:change=move |ev| {
                    if let Some(d) = dimension_of(&event_target_value(&ev)) {
                        // The natural goal: less cost and latency, more speed and quality.
                        let o = match form::natural_comparator(&d) {
                            Comparator::AtMost => Objective::Minimize(d),
                            Comparator::AtLeast => Objective::Maximize(d),
                        };
                        draft.update(|dr| dr.objective = o);
                    }
                }>
                    {dimensions().into_iter().map(|d| {
                        let k = dimension_key(&d);
                        let label = dimension_label(&d);
                        let selected = move || dimension() == d;
                        view! { <option value=k selected=selected>{label}</option> }
                    }).collect_view()}
                </select>
            </label>
        </div>
        <UnmeasuredNote state which=unmeasured/>
    }
}

#[component]
fn Evals(state: EditorState) -> impl IntoView {
    let draft = state.draft;
    let judge = state.start.with_value(|s| s.judge.clone());
    let message = Signal::derive(move || state.error(Field::EvalsSampling, None));
    let metrics_error = Signal::derive(move || state.any_error(Field::EvalsMetrics));
    let cost = {
        let judge = judge.clone();
        move || {
            let judge = judge.as_ref()?;
            let (metrics, sampling) = draft.with(|d| (d.metrics.clone(), d.sampling_value().ok()));
            Some(evals::cost_per_thousand(judge, &metrics, sampling?))
        }
    };
    let judge_name = judge
        .as_ref()
        .map(|j| j.id.clone())
        .unwrap_or_else(|| evals::JUDGE_MODEL.to_string());
    view! {
        <section class="card step-body" aria-labelledby="evals-title">
            <h2 id="evals-title">"Evals"</h2>
            <p class="muted">
                "An LLM judge (" <code>{judge_name}</code> ") scores a sampled share of requests with DeepEval's metrics. "
                "Scores can be requirements or just watched; judging is charged like any request."
            </p>
            <fieldset class="metric-list" aria-describedby="metrics-error">
                <legend>"Metrics to run"</legend>
                {METRICS.iter().map(|m| {
                    let name = m.name.to_string();
                    let checked = {
                        let name = name.clone();
                        Memo::new(move |_| draft.with(|d| d.measures(&name)))
                    };
                    // Named by a requirement or the objective, yet not ticked.
                    let needed = {
                        let name = name.clone();
                        move || !checked.get() && draft.with(|d| d.unmeasured().iter().any(|u| u.metric() == name))
                    };
                    let id = format!("metric-{}", m.name);
                    let calls = form::judge_calls_text(m, judge.as_ref());
                    let metric_name = m.name;
                    view! {
                        <div class="metric-option" data-testid=format!("metric-option-{}", m.name)>
                            <label class="check" for=id.clone()>
                                <input
                                    type="checkbox"
                                    id=id.clone()
                                    data-testid=id.clone()
                                    prop:checked=checked
                                    on:change=move |ev| {
                                        let on = event_target_checked(&ev);
                                        let name = name.clone();
                                        state.server_errors.set(Vec::new());
                                        draft.update(|d| {
                                            d.metrics.retain(|x| x != &name);
                                            if on {
                                                d.metrics.push(name);
                                            }
                                        });
                                    }
                                />
                                <span class="metric-text">
                                    <span class="metric-title">
                                        <strong>{m.title}</strong>
                                        {(!m.higher_is_better).then(|| view! { <span class="badge muted small">"lower is better"</span> })}
                                    </span>
                                    <span class="muted small">{form::metric_meaning(m)}</span>
                                    <span class="muted small metric-calls">{calls}</span>
                                    {move || needed().then(|| view! {
                                        <span class="field-warning">"A requirement or the objective uses it: tick it so that it is measured."</span>
                                    })}
                                </span>
                            </label>
                            // The metric's own setting, while it is ticked.
                            {move || match (checked.get(), metric_name) {
                                (true, evals::G_EVAL) => Some(view! { <CriteriaField state/> }.into_any()),
                                (true, evals::JSON_CORRECTNESS) => Some(view! { <SchemaField state/> }.into_any()),
                                _ => None,
                            }}
                        </div>
                    }
                }).collect_view()}
            </fieldset>
            <FieldMessage id="metrics-error".to_string() message=metrics_error/>
            <label class="field">
                <span class="field-label">"Share of requests judged"</span>
                <span class="with-unit">
                    <input
                        inputmode="decimal"
                        data-testid="eval-sampling"
                        aria-invalid=move || message.get().is_some().to_string()
                        aria-describedby="sampling-error"
                        prop:value=move || draft.with(|d| d.sampling.clone())
                        on:input=move |ev| {
                            state.server_errors.set(Vec::new());
                            let text = event_target_value(&ev);
                            draft.update(|d| d.sampling = text);
                        }
                    />
                    <span class="unit">"%"</span>
                </span>
                <FieldMessage id="sampling-error".to_string() message/>
            </label>
            <p data-testid="eval-cost">
                {move || match cost() {
                    Some(c) if c > 0.0 => format!("About {} per 1,000 requests for judging, on top of the requests themselves.", format::usd(c)),
                    Some(_) => "No judge cost: no judged metric chosen, or nothing sampled.".to_string(),
                    None => "The judge's price is not in the catalog.".to_string(),
                }}
            </p>
        </section>
    }
}

/// G-Eval's criteria, shown while G-Eval is ticked.
#[component]
fn CriteriaField(state: EditorState) -> impl IntoView {
    let draft = state.draft;
    let error = Signal::derive(move || state.error(Field::EvalsCriteria, None));
    let length = move || draft.with(|d| d.criteria.trim().chars().count());
    view! {
        <label class="field metric-extra">
            <span class="field-label">"G-Eval criteria " <span class="muted small">"(what makes an answer good, in your words)"</span></span>
            <textarea
                rows="3"
                data-testid="eval-criteria"
                placeholder="The answer is correct, cites its sources and stays under 200 words."
                aria-invalid=move || error.get().is_some().to_string()
                aria-describedby="criteria-error criteria-count"
                prop:value=move || draft.with(|d| d.criteria.clone())
                on:input=move |ev| {
                    let text = event_target_value(&ev);
                    state.server_errors.set(Vec::new());
                    draft.update(|d| d.criteria = text);
                }
            ></textarea>
            <span class="hint" id="criteria-count">
                {move || format!("{} / {} characters", format::count(length() as u64), format::count(CRITERIA_MAX as u64))}
            </span>
            <FieldMessage id="criteria-error".to_string() message=error/>
        </label>
    }
}

/// JSON correctness's optional schema, shown while it is ticked.
#[component]
fn SchemaField(state: EditorState) -> impl IntoView {
    let draft = state.draft;
    let error = Signal::derive(move || state.error(Field::EvalsSchema, None));
    view! {
        <label class="field metric-extra">
            <span class="field-label">"JSON Schema " <span class="muted small">"(optional)"</span></span>
            <textarea
                rows="4"
                class="mono"
                spellcheck="false"
                data-testid="eval-schema"
                placeholder=r#"{"type": "object", "required": ["answer"]}"#
                aria-invalid=move || error.get().is_some().to_string()
                aria-describedby="schema-error schema-hint"
                prop:value=move || draft.with(|d| d.json_schema.clone())
                on:input=move |ev| {
                    let text = event_target_value(&ev);
                    state.server_errors.set(Vec::new());
                    draft.update(|d| d.json_schema = text);
                }
            ></textarea>
            <span class="hint" id="schema-hint">"Empty: any valid JSON answer scores 1. With a schema, the answer must also satisfy it."</span>
            <FieldMessage id="schema-error".to_string() message=error/>
        </label>
    }
}

/// Beside a requirement or the objective on an eval that is not ticked: says so, with a
/// button that ticks it.
#[component]
fn UnmeasuredNote(state: EditorState, which: Signal<Option<form::Unmeasured>>) -> impl IntoView {
    move || {
        which.get().map(|u| {
            let metric = u.metric().to_string();
            let label = format!("Tick {} in Evals", evals::words(&metric));
            view! {
                <p class="field-warning" data-testid="unmeasured">
                    {u.message()} " "
                    <button
                        type="button"
                        class="link-button small"
                        aria-label=label
                        on:click=move |_| {
                            let metric = metric.clone();
                            state.draft.update(|d| {
                                if !d.measures(&metric) {
                                    d.metrics.push(metric);
                                }
                            });
                        }
                    >"Tick it"</button>
                </p>
            }
        })
    }
}

#[component]
fn Models(state: EditorState) -> impl IntoView {
    let draft = state.draft;
    let catalog = state.start.with_value(|s| s.catalog.clone());
    let mut providers: Vec<String> = catalog.iter().map(|m| m.model.provider.clone()).collect();
    providers.sort();
    providers.dedup();
    let provider = RwSignal::new(String::new());
    let search = RwSignal::new(String::new());
    let message = Signal::derive(move || state.error(Field::Models, None));
    let weight_of = move |id: &str| {
        state.projection.with(|p| match p {
            Some(Ok(p)) => p
                .weights
                .iter()
                .find(|w| w.model == id)
                .map(|w| (w.weight, w.exploring)),
            _ => None,
        })
    };
    let visible = {
        let catalog = catalog.clone();
        move || {
            let (p, q) = (provider.get(), search.get().to_lowercase());
            catalog
                .iter()
                .filter(|m| p.is_empty() || m.model.provider == p)
                .filter(|m| q.is_empty() || m.model.id.to_lowercase().contains(&q))
                .cloned()
                .collect::<Vec<_>>()
        }
    };
    view! {
        <section class="card step-body" aria-labelledby="models-title">
            <h2 id="models-title">"Models"</h2>
            <p class="muted">"The candidates the set mixes. Behaviour is measured over the last 24 hours across every set."</p>
            <div class="filters">
                <label class="field compact">
                    <span class="field-label">"Provider"</span>
                    <select data-testid="provider-filter" on:change=move |ev| provider.set(event_target_value(&ev))>
                        <option value="">"All providers"</option>
                        {providers.into_iter().map(|p| view! { <option value=p.clone()>{p.clone()}</option> }).collect_view()}
                    </select>
                </label>
                <label class="field compact">
                    <span class="field-label">"Search"</span>
                    <input type="search" placeholder="model name" on:input=move |ev| search.set(event_target_value(&ev))/>
                </label>
                <span class="muted small" aria-live="polite">
                    {move || draft.with(|d| format!("{} chosen", d.models.len()))}
                </span>
            </div>
            <FieldMessage id="models-error".to_string() message/>
            <div class="table-scroll">
                <table class="table" aria-describedby="models-error">
                    <thead>
                        <tr>
                            <th>"Use"</th><th>"Model"</th><th class="num">"Price in / out, 1M tok"</th>
                            <th class="num">"p90 latency"</th><th class="num">"Error rate"</th>
                            <th class="num">"Requests, 24 h"</th><th class="num">"Planned weight"</th>
                        </tr>
                    </thead>
                    <tbody>
                        <For each=visible key=|m| m.model.id.clone() let:m>
                            {
                                let id = m.model.id.clone();
                                let check_id = format!("use-{}", id.replace('/', "-"));
                                let chosen = {
                                    let id = id.clone();
                                    Memo::new(move |_| draft.with(|d| d.models.contains(&id)))
                                };
                                let weight = {
                                    let id = id.clone();
                                    move || match (chosen.get(), weight_of(&id)) {
                                        (true, Some((w, exploring))) => format!(
                                            "{}{}",
                                            super::panel::share_text(w),
                                            if exploring { " · exploring" } else { "" }
                                        ),
                                        (true, None) => "–".into(),
                                        (false, _) => String::new(),
                                    }
                                };
                                let b = m.last_day.clone();
                                let toggle = {
                                    let id = id.clone();
                                    move |ev| {
                                        let on = event_target_checked(&ev);
                                        state.server_errors.set(Vec::new());
                                        draft.update(|d| {
                                            d.models.retain(|x| x != &id);
                                            if on {
                                                d.models.push(id.clone());
                                            }
                                        });
                                    }
                                };
                                view! {
                                    <tr class:chosen=chosen data-testid="model-row">
                                        <td>
                                            <input
                                                type="checkbox"
                                                id=check_id.clone()
                                                data-testid=format!("use-{id}")
                                                prop:checked=chosen
                                                on:change=toggle
                                            />
                                        </td>
                                        <td>
                                            <label for=check_id class="model-name">{id.clone()}</label>
                                            {m.model.simulated.then(|| view! { <span class="badge muted">"simulated"</span> })}
                                            <div class="model-caps">{capabilities(m.model.capabilities)}</div>
                                        </td>
                                        <td class="num">{format!("{} / {}", format::usd(m.model.input_price_per_mtok), format::usd(m.model.output_price_per_mtok))}</td>
                                        <td class="num">{b.latency.p90.map(format::ms).unwrap_or_else(|| "–".into())}</td>
                                        <td class="num">{b.error_rate().map(format::percent).unwrap_or_else(|| "–".into())}</td>
                                        <td class="num">{format::count(b.requests)}</td>
                                        <td class="num" data-testid="planned-weight">{weight}</td>
                                    </tr>
                                }
                            }
                        </For>
                    </tbody>
                </table>
            </div>
        </section>
    }
}

#[component]
fn Details(state: EditorState) -> impl IntoView {
    let draft = state.draft;
    let naming = state.start.with_value(|s| s.target.names_the_set());
    let owner = state.start.with_value(|s| s.owner.clone());
    let text_field = move |field: Field| Signal::derive(move || state.error(field, None));
    let slug = Memo::new(move |_| draft.with(|d| d.slug.trim().to_string()));
    // Checked as it is typed (a request per change of the slug; the answer for the last one wins).
    let available = Resource::new(
        move || (naming, slug.get()),
        |(naming, slug)| async move {
            if !naming || crate::model_set::validate_slug(&slug).is_err() {
                return None;
            }
            slug_available(slug).await.ok()
        },
    );
    let edit = move |f: &dyn Fn(&mut form::Draft)| {
        state.server_errors.set(Vec::new());
        draft.update(|d| f(d));
    };
    let name_error = text_field(Field::Name);
    let slug_error = text_field(Field::Slug);
    let description_error = text_field(Field::Description);
    view! {
        <section class="card step-body" aria-labelledby="details-title">
            <h2 id="details-title">"Details"</h2>
            {if naming {
                view! {
                    <label class="field">
                        <span class="field-label">"Name"</span>
                        <input
                            data-testid="set-name-input"
                            aria-invalid=move || name_error.get().is_some().to_string()
                            aria-describedby="name-error"
                            prop:value=move || draft.with(|d| d.name.clone())
                            on:input=move |ev| {
                                let text = event_target_value(&ev);
                                edit(&|d| d.rename(text.clone()));
                            }
                        />
                        <FieldMessage id="name-error".to_string() message=name_error/>
                    </label>
                    <label class="field">
                        <span class="field-label">"Slug " <span class="muted small">{format!("(the set is called as @{owner}/<slug>)")}</span></span>
                        <input
                            class="mono"
                            data-testid="set-slug-input"
                            aria-invalid=move || slug_error.get().is_some().to_string()
                            aria-describedby="slug-error slug-status"
                            prop:value=move || draft.with(|d| d.slug.clone())
                            on:input=move |ev| {
                                let text = event_target_value(&ev);
                                edit(&|d| {
                                    d.slug = text.clone();
                                    d.slug_edited = true;
                                });
                            }
                        />
                        <span class="muted small" id="slug-status" aria-live="polite" data-testid="slug-status">
                            <Transition>
                                {move || available.get().flatten().map(|free| if free {
                                    view! { <span class="ok-text">"✓ available"</span> }.into_any()
                                } else {
                                    view! { <span class="bad-text">"✕ you already have a set with this slug"</span> }.into_any()
                                })}
                            </Transition>
                        </span>
                        <FieldMessage id="slug-error".to_string() message=slug_error/>
                    </label>
                }.into_any()
            } else {
                let (name, slug) = draft.with_untracked(|d| (d.name.clone(), d.slug.clone()));
                view! {
                    <p>"Name: " <strong>{name}</strong> " · slug " <code>{slug}</code> " (these do not change)"</p>
                }.into_any()
            }}
            <label class="field">
                <span class="field-label">"Description"</span>
                <textarea
                    rows="3"
                    aria-describedby="description-error"
                    aria-invalid=move || description_error.get().is_some().to_string()
                    prop:value=move || draft.with(|d| d.description.clone())
                    on:input=move |ev| {
                        let text = event_target_value(&ev);
                        edit(&|d| d.description = text.clone());
                    }
                ></textarea>
                <FieldMessage id="description-error".to_string() message=description_error/>
            </label>
            <LabelsField state field=Field::Categories label="Categories" hint="(comma-separated, e.g. chat, coding)"/>
            <LabelsField state field=Field::Tags label="Tags" hint="(comma-separated)"/>
        </section>
    }
}

/// Categories or tags: one comma-separated line, with its error beside it.
#[component]
fn LabelsField(state: EditorState, field: Field, label: &'static str, hint: &'static str) -> impl IntoView {
    let draft = state.draft;
    let error = Signal::derive(move || state.error(field, None));
    let id = format!("{}-error", field.param());
    let text = move |d: &form::Draft| match field {
        Field::Tags => d.tags.clone(),
        _ => d.categories.clone(),
    };
    view! {
        <label class="field">
            <span class="field-label">{label} " " <span class="muted small">{hint}</span></span>
            <input
                aria-describedby=id.clone()
                aria-invalid=move || error.get().is_some().to_string()
                prop:value=move || draft.with(text)
                on:input=move |ev| {
                    let value = event_target_value(&ev);
                    state.server_errors.set(Vec::new());
                    draft.update(|d| match field {
                        Field::Tags => d.tags = value,
                        _ => d.categories = value,
                    });
                }
            />
            <FieldMessage id message=error/>
        </label>
    }
}
