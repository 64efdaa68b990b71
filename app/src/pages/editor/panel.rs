//! Behavior Projections: what the routing engine, run here in the browser on every edit,
//! expects of the configuration — the verdict with its reasons (and a button for each target
//! that would be achievable), the planned weight of each model, each requirement's projected
//! value against its target, and the objective against the best single model.

use leptos::prelude::*;

use super::form::{round_outward, target_text};
use super::EditorState;
use crate::charts::{distribution_chart, tradeoff_chart, EDITOR_HEIGHT, EDITOR_WIDTH};
use crate::components::verdict::VerdictBadge;
use crate::describe;
use crate::engine::plan::mix_objective;
use crate::engine::project::statistic_interval;
use crate::engine::{
    mixture_density, nearest_achievable, CheckStatus, Interval, ModelInput, PlanOptions, Projection, Reason,
};
use crate::model_set::{Comparator, ModelSetSpec, Objective};

/// The best single chosen model on the objective among those that meet every requirement on
/// point estimates (or on the objective alone when none does): the bar a mix should beat.
pub fn best_single(spec: &ModelSetSpec, models: &[ModelInput], options: &PlanOptions) -> Option<(String, f64, bool)> {
    let mut best: Option<(String, f64, bool)> = None;
    for (i, m) in models.iter().enumerate() {
        if !m.available {
            continue;
        }
        let mut w = vec![0.0; models.len()];
        w[i] = 1.0;
        let Some(value) = mix_objective(models, &w, &spec.objective) else {
            continue;
        };
        let meets = spec.requirements.iter().all(|r| {
            statistic_interval(models, &w, &r.dimension, r.statistic, options.z).is_some_and(|v| match r.comparator {
                Comparator::AtMost => v.value <= r.target,
                Comparator::AtLeast => v.value >= r.target,
            })
        });
        let better = match &best {
            None => true,
            Some((_, b, b_meets)) => match (meets, *b_meets) {
                (true, false) => true,
                (false, true) => false,
                _ => match spec.objective {
                    Objective::Minimize(_) => value < *b,
                    Objective::Maximize(_) => value > *b,
                },
            },
        };
        if better {
            best = Some((m.id.clone(), value, meets));
        }
    }
    best
}

/// Loosens a suggested target (about 2 % a step, up to ten steps, rounded outward) until the
/// projection marks the requirement Met, not only the verdict Yes: the verdict plans on
/// pessimistic estimates while the check reads the mixture's quantile interval, and a person
/// who applies a suggestion expects to see it met.
fn settled_target(spec: &ModelSetSpec, models: &[ModelInput], options: &PlanOptions, r: usize, start: f64) -> f64 {
    let Some(req) = spec.requirements.get(r) else {
        return start;
    };
    let mut trial = spec.clone();
    let mut target = start;
    for _ in 0..10 {
        trial.requirements[r].target = target;
        let met = crate::engine::project(&trial, models, options)
            .ok()
            .and_then(|p| p.requirements.get(r).map(|c| c.status == CheckStatus::Met))
            .unwrap_or(true);
        if met {
            return target;
        }
        let looser = match req.comparator {
            Comparator::AtMost => target * 1.02,
            Comparator::AtLeast => target / 1.02,
        };
        target = round_outward(looser, req.comparator);
    }
    start
}

/// A planned share as people read it: whole percents, one decimal below 10 %, and "< 0.1 %"
/// for the slivers an LP leaves (never "99.99997 %").
pub fn share_text(weight: f64) -> String {
    let p = weight * 100.0;
    if p <= 0.0 {
        "0 %".into()
    } else if p < 0.1 {
        "< 0.1 %".into()
    } else if p < 10.0 {
        format!("{p:.1} %")
    } else {
        format!("{p:.0} %")
    }
}

/// What the JSON view shows: the request `POST /api/v1/projections` takes, and the answer.
#[derive(serde::Serialize)]
struct RawBody<'a> {
    request: RawRequest<'a>,
    projection: Option<&'a Projection>,
}

#[derive(serde::Serialize)]
struct RawRequest<'a> {
    #[serde(flatten)]
    spec: &'a crate::model_set::ModelSetSpec,
    inputs: &'a [ModelInput],
}

/// The engine's inputs and answer as JSON, rendered only while opened: for engineers who want
/// the exact numbers, and what `POST /api/v1/projections` takes to reproduce them.
#[component]
fn RawNumbers(state: EditorState) -> impl IntoView {
    let open = RwSignal::new(false);
    let text = move || {
        open.get().then(|| {
            let (spec, inputs) = state.engine.get_untracked();
            let projection = state.projection.get();
            let body = RawBody {
                request: RawRequest {
                    spec: &spec,
                    inputs: &inputs,
                },
                projection: match &projection {
                    Some(Ok(p)) => Some(p),
                    _ => None,
                },
            };
            serde_json::to_string_pretty(&body).unwrap_or_default()
        })
    };
    view! {
        // `toggle` fires after each opening and closing.
        <details class="raw" on:toggle=move |_| open.update(|o| *o = !*o)>
            <summary class="small">"The engine's numbers (JSON)"</summary>
            <p class="muted small">"POST the request to /api/v1/projections to get the same projection from the server."</p>
            <pre data-testid="projection-json">{text}</pre>
        </details>
    }
}

/// Bars of a projected distribution.
const DENSITY_BINS: usize = 40;

/// The trade-off curve of the requirement being edited, once computed.
#[component]
fn TradeoffView(state: EditorState) -> impl IntoView {
    move || {
        state.curve.with(|c| {
            c.as_ref().map(|c| {
                let chart = tradeoff_chart(&c.tradeoff, &c.objective, &c.requirement, EDITOR_WIDTH, EDITOR_HEIGHT);
                let title = format!("Trade-off: {}", describe::requirement(&c.requirement));
                let best = match &c.objective {
                    Objective::Minimize(d) => format!("The lowest {}", describe::dimension(d)),
                    Objective::Maximize(d) => format!("The highest {}", describe::dimension(d)),
                };
                view! {
                    <h3>{title}</h3>
                    <p class="muted small">
                        {best} " reachable at each target of this requirement, all else unchanged. Click into another requirement to see its curve."
                    </p>
                    <div class="chart-svg" data-testid="tradeoff-chart" data-points=c.tradeoff.points.len() inner_html=chart></div>
                }
            })
        })
    }
}

fn interval_text(dimension: &crate::model_set::Dimension, i: &Interval) -> String {
    format!(
        "{} ({} – {})",
        describe::value(dimension, i.value),
        describe::value(dimension, i.low),
        describe::value(dimension, i.high)
    )
}

#[component]
pub fn Panel(state: EditorState) -> impl IntoView {
    view! {
        <aside class="card projections" aria-labelledby="projections-title" data-testid="projections">
            <h2 id="projections-title">"Behavior Projections"</h2>
            {move || {
                state.projection.with(|p| match p {
                    None => view! {
                        <p class="muted" data-testid="projection-empty">"Choose at least one model (step 3) to see what the set would do."</p>
                    }.into_any(),
                    Some(Err(e)) => {
                        // Most often a requirement nothing has measured yet (an eval before
                        // evals run): say which, in words, before the engine's own message.
                        let unmeasured: Vec<String> = state.engine.with_untracked(|(spec, inputs)| {
                            spec.requirements
                                .iter()
                                .filter(|r| !inputs.iter().any(|m| m.estimate.dim(&r.dimension).is_some_and(|d| d.n_eff > 0.0)))
                                .map(|r| format!("“{}”", describe::requirement(r)))
                                .collect()
                        });
                        view! {
                            {(!unmeasured.is_empty()).then(|| view! {
                                <p data-testid="projection-unmeasured">
                                    {format!(
                                        "No chosen model has been measured on {} yet, so the set cannot be projected. Remove it to project the rest, or deploy and let the set gather the data.",
                                        unmeasured.join(" or ")
                                    )}
                                </p>
                            })}
                            <p class="form-error small" data-testid="projection-error">{format!("Cannot project this configuration: {e}")}</p>
                        }.into_any()
                    }
                    Some(Ok(p)) => view! { <ProjectionView state projection=p.clone()/> }.into_any(),
                })
            }}
            <RawNumbers state/>
        </aside>
    }
}

#[component]
fn ProjectionView(state: EditorState, projection: Projection) -> impl IntoView {
    // The engine's own spec (the chosen catalog models), aligned with their inputs; its
    // requirements are the reading's, whose rows say where each came from in the form.
    let (spec, chosen) = state.engine.get_untracked();
    let rows = state.reading.with_untracked(|r| r.rows.clone());
    let feasibility = projection.verdict.feasibility;
    // Models short of data are named once, in the note below, not one bullet each.
    let mut listed = projection.verdict.clone();
    listed.reasons.retain(|r| !matches!(r, Reason::ModelLacksData { .. }));
    let reasons = describe::reasons(&listed, &spec.requirements);
    let options = state.start.with_value(|s| s.options.clone());
    // For each requirement the verdict names, the nearest target that would make the set as
    // achievable as loosening it can (rounded outward to two digits), with its form row.
    let mut named: Vec<usize> = Vec::new();
    for reason in &projection.verdict.reasons {
        let list = match reason {
            Reason::Unreachable { requirement, .. } | Reason::BoundNeeded { requirement, .. } => vec![*requirement],
            Reason::Conflict { requirements } => requirements.clone(),
            _ => Vec::new(),
        };
        for r in list {
            if !named.contains(&r) {
                named.push(r);
            }
        }
    }
    let suggestions: Vec<(usize, String, String)> = named
        .into_iter()
        .filter_map(|i| {
            let req = spec.requirements.get(i)?;
            let row = *rows.get(i)?;
            let target = nearest_achievable(&spec, &chosen, &options, i).ok()??;
            let nice = settled_target(&spec, &chosen, &options, i, round_outward(target, req.comparator));
            let mut nearer = req.clone();
            nearer.target = nice;
            Some((row, describe::requirement(&nearer), target_text(&req.dimension, nice)))
        })
        .collect();
    let lacking: Vec<String> = projection
        .verdict
        .reasons
        .iter()
        .filter_map(|r| match r {
            Reason::ModelLacksData { model, .. } => Some(model.clone()),
            _ => None,
        })
        .collect();
    let weights: Vec<f64> = projection.weights.iter().map(|w| w.weight).collect();
    let best = best_single(&spec, &chosen, &options);
    let objective_dim = match &spec.objective {
        Objective::Minimize(d) | Objective::Maximize(d) => d.clone(),
    };
    let draft = state.draft;
    view! {
        <div class="verdict-line" aria-live="polite" data-testid="projection-verdict">
            <VerdictBadge feasibility=Some(feasibility)/>
        </div>
        {(!reasons.is_empty()).then(|| view! {
            <ul class="reasons" data-testid="projection-reasons">
                {reasons.into_iter().map(|r| view! { <li>{r}</li> }).collect_view()}
            </ul>
        })}
        {(!suggestions.is_empty()).then(|| view! {
            <div class="suggestions">
                {suggestions.into_iter().map(|(row, sentence, text)| {
                    let label = format!("Use “{sentence}”: would be achievable");
                    view! {
                        <button type="button" class="secondary small" data-testid="apply-suggestion" on:click=move |_| {
                            let text = text.clone();
                            state.server_errors.set(Vec::new());
                            draft.update(|d| if let Some(r) = d.requirements.get_mut(row) { r.target = text; });
                        }>{label}</button>
                    }
                }).collect_view()}
            </div>
        })}
        {(!lacking.is_empty()).then(|| view! {
            <p class="muted small">
                {format!(
                    "Too little data on {} to project with confidence: after you deploy, the set sends them a small share of requests for a while to learn.",
                    lacking.join(", ")
                )}
            </p>
        })}

        <h3>"Planned weights"</h3>
        <ul class="weights" data-testid="projection-weights">
            {projection.weights.iter().map(|w| {
                let bar = format!("width:{:.1}%", (w.weight * 100.0).clamp(0.0, 100.0));
                view! {
                    <li>
                        <span class="weight-name" title=w.model.clone()>{w.model.clone()}</span>
                        <span class="weight-bar" aria-hidden="true"><span style=bar></span></span>
                        <span class="weight-value num">{share_text(w.weight)}{w.exploring.then_some(" · exploring")}</span>
                    </li>
                }
            }).collect_view()}
        </ul>

        {(!projection.requirements.is_empty()).then(|| view! {
            <h3>"Requirements"</h3>
            <ul class="checks" data-testid="projection-checks">
                {projection.requirements.iter().filter_map(|c| {
                    let r = spec.requirements.get(c.requirement)?.clone();
                    let (class, mark) = match c.status {
                        CheckStatus::Met => ("badge ok", "Met"),
                        CheckStatus::AtRisk => ("badge warn", "At risk"),
                        CheckStatus::Missed => ("badge bad", "Missed"),
                        CheckStatus::Unknown => ("badge muted", "No data"),
                    };
                    let projected = c
                        .projected
                        .as_ref()
                        .map(|i| interval_text(&r.dimension, i))
                        .unwrap_or_else(|| "no data yet".into());
                    let density = mixture_density(&chosen, &weights, &r.dimension, DENSITY_BINS);
                    let chart = distribution_chart(&r, &density, c.projected, EDITOR_WIDTH, EDITOR_HEIGHT);
                    Some(view! {
                        <li data-testid="projection-check">
                            <div class="check-head">
                                <span>{describe::requirement(&r)}</span>
                                <span class=class>{mark}</span>
                            </div>
                            <div class="muted small">"Projected " {projected}</div>
                            <div class="chart-svg" data-testid="projection-chart" inner_html=chart></div>
                        </li>
                    })
                }).collect_view()}
            </ul>
        })}

        <TradeoffView state/>

        <h3>"Objective"</h3>
        <p data-testid="projection-objective">
            {describe::objective(&spec.objective)} ": "
            <strong>{projection.objective.map(|v| describe::value(&objective_dim, v)).unwrap_or_else(|| "–".into())}</strong>
            {best.map(|(model, value, meets)| view! {
                <span class="muted small">
                    {format!(
                        " · best single model{}: {} ({model})",
                        if meets { " meeting every requirement" } else { "" },
                        describe::value(&objective_dim, value)
                    )}
                </span>
            })}
        </p>
    }
}
