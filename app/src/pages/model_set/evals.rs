//! A set's evals on its page: the Evals monitoring section's summary (each metric's mean,
//! target, scored and failed counts, and the judge's cost beside the gateway's), the eval
//! settings, and for the owner the latest evaluated requests with the judge's reasons.

use leptos::prelude::*;

use super::charts::Scope;
use crate::api::model_sets::latest_evals;
use crate::components::local_time::LocalTime;
use crate::describe;
use crate::evals::{self, MetricResult, ScoredRequest};
use crate::format;
use crate::model_set::{Comparator, Dimension, EvalSettings, Requirement};
use crate::monitoring::{Bucket, Series};

/// Reasons longer than this many characters are cut, the rest behind a disclosure.
const REASON_SHOWN: usize = 160;
/// How much of a prompt or an answer the list shows.
const EXCERPT: usize = 240;
/// Evaluated requests shown at once; the rest of the latest open on demand.
const LATEST_SHOWN: usize = 5;

/// What the Evals section and the latest evals say before any eval has run.
pub fn no_evals_message(sampling: f64) -> String {
    if sampling > 0.0 {
        format!(
            "No evals yet: {} of requests are judged; the first scores appear a few seconds after the first sampled request.",
            format::percent(sampling)
        )
    } else {
        "No evals: no request is judged (the share judged is 0 %). Edit the set to judge a share of its requests."
            .to_string()
    }
}

/// The owner's list before any eval: what will show there (the section above says how often).
pub fn no_latest_message(sampling: f64) -> String {
    if sampling > 0.0 {
        "No evaluated requests yet: each judged request shows here with its scores, the judge's reasons and cost, a few seconds after it is answered.".to_string()
    } else {
        no_evals_message(sampling)
    }
}

/// The requirement on `metric`'s score, if the set has one.
pub fn requirement_on<'a>(requirements: &'a [Requirement], metric: &str) -> Option<&'a Requirement> {
    requirements
        .iter()
        .find(|r| matches!(&r.dimension, Dimension::Eval(m) if m == metric))
}

/// A score against a requirement's target: whether it is on the right side, and the bound
/// ("≥ 0.80"). One request's score against a target on the mean is a hint, not a verdict.
pub fn score_hint(score: f64, requirement: Option<&Requirement>) -> Option<(bool, String)> {
    let r = requirement?;
    let meets = match r.comparator {
        Comparator::AtMost => score <= r.target,
        Comparator::AtLeast => score >= r.target,
    };
    Some((
        meets,
        format!("{} {}", describe::comparator(r.comparator), format::score(r.target)),
    ))
}

/// The first `max` characters of `text`, cut at a word where one is near, with "…"; `None`
/// when the whole text is that short.
pub fn excerpt(text: &str, max: usize) -> Option<String> {
    let text = text.trim();
    if text.chars().count() <= max {
        return None;
    }
    let cut: String = text.chars().take(max).collect();
    let at_word = match cut.rfind(char::is_whitespace) {
        Some(i) if i >= cut.len() * 3 / 4 => &cut[..i],
        _ => cut.as_str(),
    };
    Some(format!(
        "{}…",
        at_word.trim_end_matches(|c: char| c.is_whitespace() || c == ',')
    ))
}

/// Results in the order the editor lists the metrics (unknown ones last, by name).
pub fn in_editor_order(mut results: Vec<MetricResult>) -> Vec<MetricResult> {
    let rank = |name: &str| evals::METRICS.iter().position(|m| m.name == name).unwrap_or(usize::MAX);
    results.sort_by(|a, b| {
        rank(&a.metric)
            .cmp(&rank(&b.metric))
            .then_with(|| a.metric.cmp(&b.metric))
    });
    results
}

/// The judge's charge for one request, all metrics.
pub fn request_cost(r: &ScoredRequest) -> f64 {
    r.results.iter().map(|m| m.cost_usd).sum()
}

/// Scored and failed evals in `b`, all metrics.
fn counts(b: &Bucket) -> (u64, u64) {
    b.evals.iter().fold((0, 0), |(s, f), e| (s + e.scored, f + e.failed))
}

/// The Evals section's body: an empty state before any eval, else the range's summary and
/// the charts (`charts`, drawn only then).
pub fn evals_body<V: IntoView + 'static>(
    series: &Series,
    settings: &EvalSettings,
    requirements: &[Requirement],
    scope: &Scope,
    charts: impl FnOnce() -> V,
) -> AnyView {
    let (scored, failed) = counts(&series.set.total);
    if scored + failed == 0 {
        return view! {
            <p class="empty-state section-empty" data-testid="no-evals">{no_evals_message(settings.sampling)}</p>
        }
        .into_any();
    }
    // The summary follows the scope: one model's line when one is chosen, else the set's.
    let (total, whose) = match scope {
        Scope::Model(id) => (
            series
                .models
                .iter()
                .find(|l| l.model.as_deref() == Some(id.as_str()))
                .map(|l| l.total.clone())
                .unwrap_or_default(),
            id.clone(),
        ),
        _ => (series.set.total.clone(), "Whole set".to_string()),
    };
    let (scored, failed) = counts(&total);
    let range = series.range.label();
    let rows: Vec<_> = settings
        .metrics
        .iter()
        .map(|name| {
            let info = evals::metric(name);
            let scores = total.evals.iter().find(|e| &e.metric == name);
            let (scored_n, failed_n) = scores.map_or((0, 0), |s| (s.scored, s.failed));
            let mean = total.eval_mean(name);
            let target = requirement_on(requirements, name).map(|r| {
                let status = mean.map(|m| match r.comparator {
                    Comparator::AtMost => m <= r.target,
                    Comparator::AtLeast => m >= r.target,
                });
                let (class, mark) = match status {
                    Some(true) => ("badge ok small", "Met"),
                    Some(false) => ("badge bad small", "Missed"),
                    None => ("badge muted small", "No data"),
                };
                view! {
                    <span class="nowrap">{format!("{} {} ", describe::comparator(r.comparator), format::score(r.target))}</span>
                    <span class=class>{mark}</span>
                }
            });
            view! {
                <tr data-testid="eval-metric">
                    <td>
                        {evals::short_title(name)}
                        {info.filter(|m| !m.higher_is_better).map(|_| view! { <span class="muted small block">"lower is better"</span> })}
                        // On a phone, where the counts' column is left out.
                        <span class="muted small block narrow-only">{format!("{} scored · {} failed", format::count(scored_n), format::count(failed_n))}</span>
                    </td>
                    <td class="num eval-mean">{mean.map(format::score).unwrap_or_else(|| format::MISSING.to_string())}</td>
                    <td>{target.map(IntoAny::into_any).unwrap_or_else(|| view! { <span class="muted">"–"</span> }.into_any())}</td>
                    <td class="num wide-only">
                        {format::count(scored_n)}
                        <span class="muted">{format!(" / {}", format::count(failed_n))}</span>
                    </td>
                </tr>
            }
        })
        .collect();
    let tiles = [
        ("Judge cost", format::usd(total.eval_cost_usd), "eval-cost"),
        ("Gateway cost", format::usd(total.cost_usd), "gateway-cost"),
        ("Evals scored", format::count(scored), "evals-scored"),
        ("Evals failed", format::count(failed), "evals-failed"),
    ];
    view! {
        <div class="section-body eval-summary">
            <p class="muted small">
                {format!("{whose}, {range}. ")}
                "An eval counts at its request's time; a request judged on two metrics makes two evals."
            </p>
            <div class="tiles eval-tiles">
                {tiles.into_iter().map(|(label, value, id)| view! {
                    <div class="tile">
                        <span class="tile-value" data-testid=id>{value}</span>
                        <span class="tile-label">{label}</span>
                    </div>
                }).collect_view()}
            </div>
            <div class="table-scroll">
                <table class="table eval-table">
                    <thead>
                        <tr>
                            <th>"Metric"</th><th class="num">"Mean"</th><th>"Target"</th>
                            <th class="num wide-only">"Scored / failed"</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        </div>
        <div class="charts">{charts()}</div>
    }
    .into_any()
}

/// The set's eval settings: metrics, the share judged, G-Eval's criteria and the JSON Schema.
#[component]
pub fn EvalSettingsCard(settings: EvalSettings, edit_href: Option<String>) -> impl IntoView {
    let body = if settings.metrics.is_empty() {
        view! {
            <p class="muted">
                "No eval metrics: nothing is judged. "
                {edit_href.map(|href| view! { <a href=href>"Choose metrics in the editor"</a> "." })}
            </p>
        }
        .into_any()
    } else {
        let uses = |name: &str| settings.metrics.iter().any(|m| m == name);
        let criteria = (uses(evals::G_EVAL) && !settings.criteria.trim().is_empty()).then(|| settings.criteria.clone());
        let schema = uses(evals::JSON_CORRECTNESS).then(|| settings.json_schema.trim().to_string());
        view! {
            <ul class="eval-settings">
                {settings.metrics.iter().map(|name| {
                    let info = evals::metric(name);
                    view! {
                        <li>
                            <strong>{evals::short_title(name)}</strong>
                            {info.map(|m| view! { <span class="muted small">{format!(" — {}", m.description)}</span> })}
                        </li>
                    }
                }).collect_view()}
            </ul>
            <p data-testid="eval-sampling-share">
                {format!("{} of requests are judged by ", format::percent(settings.sampling))}
                <code>{evals::JUDGE_MODEL}</code>
                ", charged like any request."
            </p>
            {criteria.map(|text| view! {
                <div class="eval-criteria">
                    <span class="field-label">"G-Eval criteria"</span>
                    <blockquote data-testid="eval-criteria">{text}</blockquote>
                </div>
            })}
            {schema.map(|schema| if schema.is_empty() {
                view! { <p data-testid="eval-schema">"JSON correctness: no schema, so any valid JSON answer scores 1."</p> }.into_any()
            } else {
                view! {
                    <details class="eval-schema" data-testid="eval-schema">
                        <summary>{format!("JSON correctness against a schema ({} characters)", format::count(schema.chars().count() as u64))}</summary>
                        <pre>{schema}</pre>
                    </details>
                }.into_any()
            })}
        }
        .into_any()
    };
    view! {
        <section class="card" data-testid="eval-settings">
            <h2>"Eval settings"</h2>
            {body}
        </section>
    }
}

/// The owner's latest evaluated requests, newest first. Rendered only for the owner, so the
/// call is never made for anyone else.
#[component]
pub fn LatestEvals(owner: String, slug: String, requirements: Vec<Requirement>, sampling: f64) -> impl IntoView {
    let list = Resource::new(
        move || (owner.clone(), slug.clone()),
        |(owner, slug)| latest_evals(owner, slug),
    );
    view! {
        <section class="card" id="latest-evals" data-testid="latest-evals">
            <div class="card-head">
                <h2>"Latest evaluated requests"</h2>
                <span class="muted small">"Only you see these"</span>
            </div>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || {
                    let requirements = requirements.clone();
                    list.get().map(move |result| match result {
                        Err(e) => view! { <p class="form-error">{e.to_string()}</p> }.into_any(),
                        Ok(list) if list.is_empty() => view! {
                            <p class="empty-state" data-testid="no-latest-evals">{no_latest_message(sampling)}</p>
                        }.into_any(),
                        Ok(mut list) => {
                            let rest = list.split_off(list.len().min(LATEST_SHOWN));
                            let card = |r: ScoredRequest| view! { <ScoredCard request=r requirements=requirements.clone()/> };
                            let more = (!rest.is_empty()).then(|| {
                                let label = format!("{} more", rest.len());
                                view! {
                                    <details class="eval-more-requests">
                                        <summary>{label}</summary>
                                        <ol class="eval-requests">{rest.into_iter().map(card).collect_view()}</ol>
                                    </details>
                                }
                            });
                            view! {
                                <ol class="eval-requests">{list.into_iter().map(card).collect_view()}</ol>
                                {more}
                            }.into_any()
                        }
                    })
                }}
            </Transition>
        </section>
    }
}

#[component]
fn ScoredCard(request: ScoredRequest, requirements: Vec<Requirement>) -> impl IntoView {
    let cost = request_cost(&request);
    let has_text = request.input.is_some() || request.output.is_some();
    let text_block = |label: &'static str, text: Option<String>| {
        text.map(|t| {
            let shown = excerpt(&t, EXCERPT).unwrap_or(t);
            view! {
                <p class="eval-text"><span class="eval-text-label">{label}</span>{shown}</p>
            }
        })
    };
    view! {
        <li class="eval-request" data-testid="eval-request">
            <div class="eval-request-head">
                <LocalTime ms=request.request_at/>
                <span class="mono eval-model">{request.model.clone()}</span>
                <span class="muted small nowrap">{format!("judged for {}", format::usd(cost))}</span>
            </div>
            <ul class="eval-results">
                {in_editor_order(request.results).into_iter().map(|m| {
                    let requirement = requirement_on(&requirements, &m.metric).cloned();
                    view! { <ResultRow result=m requirement/> }
                }).collect_view()}
            </ul>
            {if has_text {
                view! {
                    <div class="eval-io">
                        {text_block("Prompt", request.input)}
                        {text_block("Answer", request.output)}
                    </div>
                }.into_any()
            } else {
                view! { <p class="muted small eval-deleted">"Prompts and answers are deleted once scored."</p> }.into_any()
            }}
        </li>
    }
}

#[component]
fn ResultRow(result: MetricResult, requirement: Option<Requirement>) -> impl IntoView {
    let title = evals::short_title(&result.metric);
    let score = match (result.score, &result.error) {
        (Some(score), None) => {
            let hint = score_hint(score, requirement.as_ref()).map(|(meets, bound)| {
                let (class, mark) = if meets {
                    ("badge ok small", "✓")
                } else {
                    ("badge bad small", "✕")
                };
                let label = format!(
                    "{} the set's target {bound} (a target on the mean)",
                    if meets { "Meets" } else { "Misses" }
                );
                view! { <span class=class title=label.clone() aria-label=label>{format!("{mark} {bound}")}</span> }
            });
            view! {
                <span class="eval-score" data-testid="eval-score">{format::score(score)}</span>
                {hint}
            }
            .into_any()
        }
        (_, error) => {
            let what = error
                .as_deref()
                .map(evals::error_text)
                .unwrap_or_else(|| "not scored".to_string());
            view! { <span class="badge bad small" data-testid="eval-error">{what}</span> }.into_any()
        }
    };
    let reason = result.reason.trim().to_string();
    let reason_view = if reason.is_empty() {
        None
    } else {
        Some(match excerpt(&reason, REASON_SHOWN) {
            None => view! { <p class="eval-reason">{reason}</p> }.into_any(),
            Some(short) => view! {
                <details class="eval-reason">
                    <summary>
                        <span class="eval-reason-short">{short}</span>
                        " "
                        <span class="eval-more">"more"</span>
                        <span class="eval-less">"show less"</span>
                    </summary>
                    <p>{reason}</p>
                </details>
            }
            .into_any(),
        })
    };
    view! {
        <li class="eval-result" data-metric=result.metric.clone()>
            <span class="eval-metric">{title}</span>
            <span class="eval-value">{score}</span>
            <span class="muted small num eval-cost">{format::usd(result.cost_usd)}</span>
            {reason_view}
        </li>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model_set::Statistic;

    #[test]
    fn an_empty_state_says_how_often_requests_are_judged() {
        assert_eq!(
            no_evals_message(0.1),
            "No evals yet: 10 % of requests are judged; the first scores appear a few seconds after the first sampled request."
        );
        assert!(no_evals_message(0.0).contains("0 %"));
        assert!(no_latest_message(0.1).starts_with("No evaluated requests yet"));
        assert_eq!(no_latest_message(0.0), no_evals_message(0.0));
    }

    #[test]
    fn scores_are_hinted_against_their_target() {
        let floor = Requirement::new(
            Dimension::Eval("answer_relevancy".into()),
            Statistic::Mean,
            Comparator::AtLeast,
            0.8,
        );
        let ceiling = Requirement::new(
            Dimension::Eval("toxicity".into()),
            Statistic::Mean,
            Comparator::AtMost,
            0.1,
        );
        let reqs = vec![floor.clone(), ceiling.clone()];
        assert_eq!(requirement_on(&reqs, "toxicity"), Some(&ceiling));
        assert_eq!(requirement_on(&reqs, "bias"), None);
        assert_eq!(score_hint(0.92, Some(&floor)), Some((true, "≥ 0.80".to_string())));
        assert_eq!(score_hint(0.5, Some(&floor)), Some((false, "≥ 0.80".to_string())));
        assert_eq!(score_hint(0.25, Some(&ceiling)), Some((false, "≤ 0.10".to_string())));
        assert_eq!(score_hint(0.5, None), None);
    }

    #[test]
    fn long_texts_are_cut_at_a_word() {
        assert_eq!(excerpt("short", 10), None);
        assert_eq!(
            excerpt("The answer addresses the question, mostly", 30).as_deref(),
            Some("The answer addresses the…")
        );
        let word = "x".repeat(50);
        assert_eq!(excerpt(&word, 10), Some(format!("{}…", "x".repeat(10))));
        // Characters, not bytes.
        assert_eq!(excerpt("ééééé", 3).as_deref(), Some("ééé…"));
    }

    #[test]
    fn a_requests_cost_is_its_metrics() {
        let result = |cost_usd| MetricResult {
            metric: "bias".into(),
            score: None,
            reason: String::new(),
            error: Some("judge_timeout".into()),
            cost_usd,
        };
        let r = ScoredRequest {
            request_id: "r".into(),
            model: "m".into(),
            request_at: 0,
            scored_at: 0,
            results: vec![result(0.0002), result(0.0001)],
            input: None,
            output: None,
        };
        assert!((request_cost(&r) - 0.0003).abs() < 1e-12);
        let named = |metric: &str| MetricResult {
            metric: metric.into(),
            ..result(0.0)
        };
        let order: Vec<String> = in_editor_order(vec![named("toxicity"), named("zeta"), named("answer_relevancy")])
            .into_iter()
            .map(|m| m.metric)
            .collect();
        assert_eq!(order, ["answer_relevancy", "toxicity", "zeta"]);
    }
}
