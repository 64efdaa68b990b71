//! The Model Set editor: one page behind three doors — New (`/model-sets/new`), Clone
//! (`/model-sets/@owner/slug/clone`) and Edit (`/model-sets/@owner/slug/edit`). Steps in the
//! guide's order (Behaviors, Evals, Models, Details) beside a Behavior Projections panel that
//! the routing engine recomputes in the browser on every edit ([`panel`]).
//!
//! Data flows one way: the server's [`EditorStart`] (fetched once) and the [`Draft`] signal
//! → the [`Reading`] memo → the projection memo → the panel. Saving sends the draft's
//! [`SetForm`] to the Model Set service; its field errors come back beside their fields.

pub mod form;
pub mod panel;
mod steps;

use std::cell::RefCell;
use std::rc::Rc;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Redirect, A};
use leptos_router::hooks::{use_location, use_navigate, use_params_map};

use crate::api::editor::{open_editor, save_model_set, DeleteModelSet};
use crate::components::form::ActionError;
use crate::components::verdict::VerdictBadge;
use crate::engine::{self, ModelInput, PlanError, PlanOptions, Projection, Tradeoff, TradeoffPoint};
use crate::error::UiError;
use crate::model_set::{Field, FieldError, ModelSetSpec, Objective, Requirement};
use crate::views::{EditorStart, SaveTarget, SetForm};
use form::{Draft, Reading};

/// The editor's steps, in the guide's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Behaviors,
    Evals,
    Models,
    Details,
}

impl Step {
    pub const ALL: [Step; 4] = [Step::Behaviors, Step::Evals, Step::Models, Step::Details];

    pub fn title(self) -> &'static str {
        match self {
            Step::Behaviors => "Behaviors",
            Step::Evals => "Evals",
            Step::Models => "Models",
            Step::Details => "Details",
        }
    }

    /// The step holding a field, so a refused save opens where the error is.
    pub fn of(field: Field) -> Step {
        match field {
            Field::Requirements | Field::Objective => Step::Behaviors,
            Field::EvalsMetrics | Field::EvalsSampling | Field::EvalsCriteria | Field::EvalsSchema => Step::Evals,
            Field::Models => Step::Models,
            Field::Name | Field::Slug | Field::Description | Field::Categories | Field::Tags => Step::Details,
        }
    }
}

/// The editor's shared state, handed to the steps and the panel.
#[derive(Clone, Copy)]
pub struct EditorState {
    pub draft: RwSignal<Draft>,
    pub reading: Memo<Reading>,
    pub projection: Memo<Option<Result<Projection, PlanError>>>,
    /// The spec the engine sees (the chosen models the catalog knows) and their inputs,
    /// aligned: what the projection, the suggestions, the curve and the JSON view all use.
    pub engine: Memo<(ModelSetSpec, Vec<ModelInput>)>,
    /// Every field's error as the form checks it now (computed once per edit).
    pub errors: Memo<Vec<FieldError>>,
    pub start: StoredValue<EditorStart>,
    /// Errors the server returned for the last save, until the field is edited.
    pub server_errors: RwSignal<Vec<FieldError>>,
    /// Whether a save was attempted: from then on every field's error shows, not only the
    /// ones that are wrong as typed.
    pub attempted: RwSignal<bool>,
    pub step: RwSignal<Step>,
    /// The requirement row being edited (its key): the trade-off curve follows it.
    pub focused: RwSignal<Option<u32>>,
    /// The trade-off curve of that requirement, once computed (a few points per frame).
    pub curve: RwSignal<Option<Curve>>,
}

/// A finished trade-off curve and what it was computed for.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    pub tradeoff: Tradeoff,
    pub requirement: Requirement,
    pub objective: Objective,
}

impl EditorState {
    /// The message for a field (and list entry) now, if any: the server's, or the form's own.
    pub fn error(&self, field: Field, index: Option<usize>) -> Option<String> {
        if let Some(e) = self
            .server_errors
            .with(|errors| errors.iter().find(|e| e.field == field && e.index == index).cloned())
        {
            return Some(e.message);
        }
        // Typed values that do not parse show at once; missing ones once a save was tried.
        let live = matches!(field, Field::Requirements | Field::EvalsSampling | Field::EvalsSchema);
        if !live && !self.attempted.get() {
            return None;
        }
        self.errors.with(|errors| {
            errors
                .iter()
                .find(|e| e.field == field && e.index == index)
                .map(|e| e.message.clone())
        })
    }
}

impl EditorState {
    /// The message for a field whatever its list entry (a metric named by its index), shown
    /// once a save was tried.
    pub fn any_error(&self, field: Field) -> Option<String> {
        if let Some(e) = self
            .server_errors
            .with(|errors| errors.iter().find(|e| e.field == field).cloned())
        {
            return Some(e.message);
        }
        if !self.attempted.get() {
            return None;
        }
        self.errors
            .with(|errors| errors.iter().find(|e| e.field == field).map(|e| e.message.clone()))
    }
}

/// Which door: from the route.
fn target_of(owner: Option<String>, slug: Option<String>, action: Option<String>) -> Option<SaveTarget> {
    match (owner, slug, action.as_deref()) {
        (None, None, None) => Some(SaveTarget::New),
        (Some(owner), Some(slug), Some("clone")) => Some(SaveTarget::Clone {
            source: format!("@{}/{slug}", owner.trim_start_matches('@')),
        }),
        (Some(owner), Some(slug), Some("edit")) => Some(SaveTarget::Edit {
            owner: owner.trim_start_matches('@').to_string(),
            slug,
        }),
        _ => None,
    }
}

#[component]
pub fn EditorPage() -> impl IntoView {
    let params = use_params_map();
    let target = Memo::new(move |_| {
        let p = params.read();
        target_of(p.get("owner"), p.get("slug"), p.get("action"))
    });
    let start = Resource::new(
        move || target.get(),
        |target| async move {
            match target {
                Some(target) => open_editor(target).await,
                None => Err(UiError::NotFound),
            }
        },
    );
    let location = use_location();
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading the editor…"</p> }>
            {move || start.get().map(|result| match result {
                Ok(start) => view! { <Editor start/> }.into_any(),
                // A visitor is sent to log in and brought back here.
                Err(UiError::NotLoggedIn) => {
                    let here = location.pathname.get_untracked();
                    let next = format!("/login?next={}", urlencode(&here));
                    view! { <Redirect path=next/> }.into_any()
                }
                Err(UiError::NotFound) => view! { <crate::pages::not_found::NotFound/> }.into_any(),
                Err(e) => view! {
                    <section class="card narrow">
                        <h1>"Cannot open the editor"</h1>
                        <p class="form-error" role="alert">{e.to_string()}</p>
                        <p><A href="/model-sets">"Back to the registry"</A></p>
                    </section>
                }.into_any(),
            })}
        </Suspense>
    }
}

/// Percent-encodes a path for a query value.
pub fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The chosen models' inputs, aligned with `spec.models` (models missing from the catalog
/// are left out of both).
fn chosen_inputs(all: &[ModelInput], models: &[String]) -> Vec<ModelInput> {
    models
        .iter()
        .filter_map(|id| all.iter().find(|m| &m.id == id).cloned())
        .collect()
}

/// The spec the engine sees (models the catalog knows) and its models' inputs, aligned.
pub fn engine_view(reading: &Reading, all: &[ModelInput]) -> (ModelSetSpec, Vec<ModelInput>) {
    let mut spec = reading.spec.clone();
    spec.models.retain(|id| all.iter().any(|m| &m.id == id));
    let inputs = chosen_inputs(all, &spec.models);
    (spec, inputs)
}

/// Points of the trade-off curve computed per animation frame: a 20-model, 6-requirement plan
/// takes about 0.1–0.2 ms natively, so a handful per frame leaves the input thread free.
const CURVE_POINTS_PER_FRAME: usize = 4;
/// Targets swept per curve (plus the current one).
const CURVE_POINTS: usize = 24;

/// One curve being computed: the configuration, the requirement, and the targets to sweep.
struct CurveJob {
    spec: ModelSetSpec,
    inputs: Vec<ModelInput>,
    options: PlanOptions,
    requirement: usize,
    targets: Vec<f64>,
}

/// Recomputes the trade-off curve of the focused requirement (the first one until a row is
/// focused) whenever the configuration changes, a few points per animation frame, dropping a
/// computation that a newer edit has overtaken.
fn keep_curve(state: EditorState) {
    let generation = StoredValue::new(0_u64);
    Effect::new(move |_| {
        let (spec, inputs) = state.engine.get();
        let focused = state.focused.get();
        let this = generation.with_value(|g| g + 1);
        generation.set_value(this);
        let rows = state.reading.with_untracked(|r| r.rows.clone());
        let options = state.start.with_value(|s| s.options.clone());
        let row = focused.and_then(|key| {
            state
                .draft
                .with_untracked(|d| d.requirements.iter().position(|r| r.key == key))
        });
        let r = row
            .and_then(|row| rows.iter().position(|&x| x == row))
            .or_else(|| (!spec.requirements.is_empty()).then_some(0));
        let (Some(r), false) = (r, spec.models.is_empty()) else {
            state.curve.set(None);
            return;
        };
        let Ok(targets) = engine::tradeoff_targets(&spec, &inputs, r, CURVE_POINTS) else {
            state.curve.set(None);
            return;
        };
        let job = Rc::new(CurveJob {
            spec,
            inputs,
            options,
            requirement: r,
            targets,
        });
        curve_step(generation, this, job, Rc::new(RefCell::new(Vec::new())), state.curve);
    });
}

/// Computes the next few points of `job`, then yields to the browser until the next frame.
fn curve_step(
    generation: StoredValue<u64>,
    this: u64,
    job: Rc<CurveJob>,
    points: Rc<RefCell<Vec<TradeoffPoint>>>,
    curve: RwSignal<Option<Curve>>,
) {
    if generation.try_get_value() != Some(this) {
        return;
    }
    let finished = {
        let mut points = points.borrow_mut();
        let from = points.len();
        for &t in job.targets.iter().skip(from).take(CURVE_POINTS_PER_FRAME) {
            match engine::tradeoff_point(&job.spec, &job.inputs, &job.options, job.requirement, t) {
                Ok(p) => points.push(p),
                Err(_) => {
                    curve.set(None);
                    return;
                }
            }
        }
        points.len() >= job.targets.len()
    };
    if !finished {
        request_animation_frame(move || curve_step(generation, this, job, points, curve));
        return;
    }
    let requirement = job.spec.requirements[job.requirement].clone();
    curve.set(Some(Curve {
        tradeoff: Tradeoff {
            requirement: job.requirement,
            points: points.take(),
            current_target: requirement.target,
        },
        requirement,
        objective: job.spec.objective.clone(),
    }));
}

#[component]
fn Editor(start: EditorStart) -> impl IntoView {
    let target = start.target.clone();
    let initial = match &start.source {
        Some(set) => Draft::from_set(set, &target),
        None => Draft::blank(start.catalog.iter().map(|m| m.model.id.clone()).collect()),
    };
    let draft = RwSignal::new(initial);
    let start = StoredValue::new(start);
    let reading = Memo::new(move |_| draft.with(|d| d.reading()));
    let engine = Memo::new(move |_| reading.with(|r| start.with_value(|s| engine_view(r, &s.inputs))));
    // The engine, as the server runs it, on every edit.
    let projection = Memo::new(move |_| {
        engine.with(|(spec, inputs)| {
            (!spec.models.is_empty()).then(|| start.with_value(|s| engine::project(spec, inputs, &s.options)))
        })
    });
    let naming = target.names_the_set();
    let errors = Memo::new(move |_| draft.with(|d| d.check(naming)));
    let state = EditorState {
        draft,
        reading,
        projection,
        engine,
        errors,
        start,
        server_errors: RwSignal::new(Vec::new()),
        attempted: RwSignal::new(false),
        step: RwSignal::new(Step::Behaviors),
        focused: RwSignal::new(None),
        curve: RwSignal::new(None),
    };
    keep_draft(&target, draft);
    keep_curve(state);

    let navigate = use_navigate();
    let save = Action::new(move |(target, form): &(SaveTarget, SetForm)| {
        let (target, form) = (target.clone(), form.clone());
        async move { save_model_set(target, form).await }
    });
    let save_error = RwSignal::new(None::<String>);
    {
        let target = target.clone();
        Effect::new(move |_| match save.value().get() {
            Some(Ok(address)) => {
                forget_draft(&target);
                navigate(&format!("/model-sets/{address}"), Default::default());
            }
            Some(Err(UiError::Field(e))) => {
                state.step.set(Step::of(e.field));
                save_error.set(Some(format!("Not saved: {}", e.message)));
                state.server_errors.set(vec![e]);
            }
            Some(Err(e)) => save_error.set(Some(e.to_string())),
            None => {}
        });
    }
    let submit = {
        let target = target.clone();
        move |_| {
            state.attempted.set(true);
            state.server_errors.set(Vec::new());
            let errors = state.errors.get();
            if let Some(first) = errors.first() {
                state.step.set(Step::of(first.field));
                save_error.set(Some(format!(
                    "Not saved: {} field{} to fix (marked below).",
                    errors.len(),
                    if errors.len() == 1 { "" } else { "s" }
                )));
                return;
            }
            save_error.set(None);
            save.dispatch((target.clone(), draft.with(|d| d.form())));
        }
    };

    let (title, crumb) = match &target {
        SaveTarget::New => ("New Model Set".to_string(), "New".to_string()),
        SaveTarget::Clone { source } => (format!("Clone {source}"), "Clone".to_string()),
        SaveTarget::Edit { owner, slug } => (format!("Edit @{owner}/{slug}"), "Edit".to_string()),
    };
    let back = match &target {
        SaveTarget::New => "/model-sets".to_string(),
        SaveTarget::Clone { source } => format!("/model-sets/{source}"),
        SaveTarget::Edit { owner, slug } => format!("/model-sets/@{owner}/{slug}"),
    };
    let action_label = target.action();
    let pending = save.pending();
    let edit_of = match &target {
        SaveTarget::Edit { owner, slug } => Some((owner.clone(), slug.clone())),
        _ => None,
    };
    view! {
        <Title text=title.clone()/>
        <nav class="breadcrumbs" aria-label="Breadcrumb">
            <span>"Model Registry"</span>
            <span aria-hidden="true">"›"</span>
            <A href="/model-sets">"Model Sets"</A>
            <span aria-hidden="true">"›"</span>
            <span aria-current="page">{crumb}</span>
        </nav>
        <header class="page-head">
            <div>
                <h1 data-testid="editor-title">{title}</h1>
                {match &target {
                    SaveTarget::Clone { source } => Some(view! {
                        <p class="muted">"Starts from " <a href=back.clone()>{source.clone()}</a> "; saved under your account."</p>
                    }.into_any()),
                    SaveTarget::Edit { .. } => Some(view! {
                        <p class="muted">"Everything but the name and slug can change; each save is a revision."</p>
                    }.into_any()),
                    SaveTarget::New => None,
                }}
            </div>
            <div class="actions">
                <a href=back class="button secondary">"Cancel"</a>
                <button
                    type="button"
                    class="button"
                    data-testid="save-set"
                    on:click=submit.clone()
                    disabled=move || pending.get()
                >
                    {move || if pending.get() { "Saving…".to_string() } else { action_label.to_string() }}
                </button>
            </div>
        </header>
        <p class="form-error" role="alert" data-testid="save-error">{move || save_error.get()}</p>
        <noscript>
            <p class="card warn">"The editor needs JavaScript: its projections run in your browser."</p>
        </noscript>
        <div class="editor">
            <div class="editor-main">
                <div class="verdict-sticky" aria-hidden="true">
                    {move || state.projection.with(|p| {
                        let feasibility = match p {
                            Some(Ok(p)) => Some(p.verdict.feasibility),
                            _ => None,
                        };
                        view! { <VerdictBadge feasibility/> }
                    })}
                    <a href="#projections-title" class="small">"Projections ↓"</a>
                </div>
                <steps::StepNav state/>
                <steps::StepBody state/>
                <div class="step-buttons">
                    <button
                        type="button"
                        class="secondary"
                        on:click=move |_| state.step.update(|s| *s = previous(*s))
                        disabled=move || state.step.get() == Step::Behaviors
                    >"Back"</button>
                    {move || (state.step.get() != Step::Details).then(|| view! {
                        <button
                            type="button"
                            class="secondary"
                            data-testid="next-step"
                            on:click=move |_| state.step.update(|s| *s = next(*s))
                        >{format!("Next: {}", next(state.step.get()).title())}</button>
                    })}
                    {let submit = submit.clone();
                    move || (state.step.get() == Step::Details).then(|| {
                        let submit = submit.clone();
                        view! {
                            <button type="button" class="button" on:click=submit disabled=move || pending.get()>
                                {action_label}
                            </button>
                        }
                    })}
                </div>
                {edit_of.map(|(owner, slug)| view! { <DeleteSet owner slug/> })}
            </div>
            <panel::Panel state/>
        </div>
    }
}

fn next(step: Step) -> Step {
    let i = Step::ALL.iter().position(|s| *s == step).unwrap_or(0);
    Step::ALL[(i + 1).min(Step::ALL.len() - 1)]
}

fn previous(step: Step) -> Step {
    let i = Step::ALL.iter().position(|s| *s == step).unwrap_or(0);
    Step::ALL[i.saturating_sub(1)]
}

/// The sessionStorage key of a door's unsaved draft.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
fn draft_key(target: &SaveTarget) -> String {
    format!("setpoint-draft:{}", target.path())
}

/// Keeps the draft in the tab's sessionStorage as it changes, and brings it back when the
/// editor reopens (a reload, or the way back from logging in when a session expired), so
/// nothing typed is lost before it is saved.
fn keep_draft(target: &SaveTarget, draft: RwSignal<Draft>) {
    #[cfg(feature = "hydrate")]
    {
        let key = draft_key(target);
        let storage = || web_sys::window().and_then(|w| w.session_storage().ok().flatten());
        // After hydration (an Effect), so the server's first render and the browser's agree.
        Effect::new(move |restored: Option<bool>| {
            if restored.is_none() {
                if let Some(saved) = storage()
                    .and_then(|s| s.get_item(&key).ok().flatten())
                    .and_then(|text| serde_json::from_str::<Draft>(&text).ok())
                {
                    draft.set(saved);
                }
            }
            // Read on every run (after a restore too), so every later edit is saved.
            if let (Some(s), Ok(text)) = (storage(), draft.with(serde_json::to_string)) {
                let _ = s.set_item(&key, &text);
            }
            true
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (target, draft);
}

fn forget_draft(target: &SaveTarget) {
    #[cfg(feature = "hydrate")]
    if let Some(s) = web_sys::window().and_then(|w| w.session_storage().ok().flatten()) {
        let _ = s.remove_item(&draft_key(target));
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = target;
}

/// Delete, for the owner: the slug typed as confirmation. A plain form post, so it works
/// without JavaScript; the server checks the confirmation again.
#[component]
fn DeleteSet(owner: String, slug: String) -> impl IntoView {
    let action = ServerAction::<DeleteModelSet>::new();
    let typed = RwSignal::new(String::new());
    let expected = slug.clone();
    view! {
        <section class="card danger" data-testid="delete-set">
            <h2>"Delete this Model Set"</h2>
            <p>
                "Requests to " <code>{format!("@{owner}/{slug}")}</code>
                " stop at once (404 model_not_found) and the set leaves the registry. Its request records stay in your usage; the slug can be used again later."
            </p>
            <ActionForm action=action attr:class="stack">
                <input type="hidden" name="owner" value=owner.clone()/>
                <input type="hidden" name="slug" value=slug.clone()/>
                <label class="field">
                    <span class="field-label">"Type " <code>{slug.clone()}</code> " to confirm"</span>
                    <input
                        name="confirm"
                        autocomplete="off"
                        data-testid="delete-confirm"
                        on:input=move |ev| typed.set(event_target_value(&ev))
                    />
                </label>
                <ActionError value=action.value()/>
                <button
                    type="submit"
                    class="danger"
                    data-testid="delete-button"
                    disabled=move || typed.get().trim() != expected
                >"Delete"</button>
            </ActionForm>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_name_their_door() {
        assert_eq!(target_of(None, None, None), Some(SaveTarget::New));
        assert_eq!(
            target_of(Some("@demo".into()), Some("budget-chat".into()), Some("clone".into())),
            Some(SaveTarget::Clone {
                source: "@demo/budget-chat".into()
            })
        );
        assert_eq!(
            target_of(Some("@demo".into()), Some("budget-chat".into()), Some("edit".into())),
            Some(SaveTarget::Edit {
                owner: "demo".into(),
                slug: "budget-chat".into()
            })
        );
        assert_eq!(
            target_of(Some("@demo".into()), Some("x".into()), Some("nope".into())),
            None
        );
        assert_eq!(urlencode("/model-sets/@demo/x/clone"), "/model-sets/%40demo/x/clone");
    }
}
