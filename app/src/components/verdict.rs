use leptos::prelude::*;

use crate::describe;
use crate::engine::Feasibility;

/// "Achievable: Yes / Partial / No", coloured; "Not judged yet" when there is no verdict.
#[component]
pub fn VerdictBadge(feasibility: Option<Feasibility>) -> impl IntoView {
    let (class, text) = match feasibility {
        Some(Feasibility::Yes) => ("badge ok", "Achievable: Yes"),
        Some(Feasibility::Partial) => ("badge warn", "Achievable: Partial"),
        Some(Feasibility::No) => ("badge bad", "Achievable: No"),
        None => ("badge muted", "Not judged yet"),
    };
    let title = feasibility.map(|f| format!("Achievable: {}", describe::feasibility(f)));
    view! { <span class=class data-testid="verdict" title=title>{text}</span> }
}
