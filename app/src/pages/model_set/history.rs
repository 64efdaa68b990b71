//! The revision history: when each edit happened and what it changed.

use leptos::prelude::*;

use crate::describe;
use crate::model_set::ModelSetRevision;
use crate::time_fmt::format_utc;

/// What changed from `before` to `after`, in words.
pub fn changes(before: &ModelSetRevision, after: &ModelSetRevision) -> Vec<String> {
    let mut out = Vec::new();
    let (a, b) = (&before.spec, &after.spec);
    let added: Vec<&String> = b.models.iter().filter(|m| !a.models.contains(m)).collect();
    let removed: Vec<&String> = a.models.iter().filter(|m| !b.models.contains(m)).collect();
    if !added.is_empty() {
        out.push(format!("added {}", join(&added)));
    }
    if !removed.is_empty() {
        out.push(format!("removed {}", join(&removed)));
    }
    if a.requirements != b.requirements {
        let list: Vec<String> = b.requirements.iter().map(describe::requirement).collect();
        out.push(if list.is_empty() {
            "removed every requirement".to_string()
        } else {
            format!("requirements now {}", list.join("; "))
        });
    }
    if a.objective != b.objective {
        out.push(format!(
            "objective: {}",
            describe::objective(&b.objective).to_lowercase()
        ));
    }
    if a.evals != b.evals {
        out.push("changed the eval settings".to_string());
    }
    if before.description != after.description {
        out.push("edited the description".to_string());
    }
    if before.categories != after.categories || before.tags != after.tags {
        out.push("changed categories or tags".to_string());
    }
    if out.is_empty() {
        out.push("saved without changes".to_string());
    }
    out
}

fn join(list: &[&String]) -> String {
    list.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
}

#[component]
pub fn History(
    revisions: Vec<ModelSetRevision>,
    /// Who made each revision: only a set's owner can edit it.
    owner: String,
) -> impl IntoView {
    // Newest first; each edit is compared with the revision before it.
    let rows: Vec<(i64, i64, String)> = revisions
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let what = match revisions.get(i + 1) {
                Some(before) => changes(before, r).join("; "),
                None => "created".to_string(),
            };
            (r.revision, r.edited_at, what)
        })
        .collect();
    view! {
        <section class="card" data-testid="history">
            <h2>"History"</h2>
            <ol class="history">
                {rows.into_iter().map(|(revision, at, what)| {
                    let owner = owner.clone();
                    view! {
                    <li>
                        <span class="mono muted small">{format!("rev {revision}")}</span>
                        " " <time>{format_utc(at)}</time>
                        {format!(" by @{owner} — ")} {what}
                    </li>
                }}).collect_view()}
            </ol>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model_set::ModelSetSpec;

    #[test]
    fn edits_are_described() {
        let rev = |models: &[&str], description: &str| ModelSetRevision {
            revision: 1,
            edited_at: 0,
            description: description.into(),
            categories: vec![],
            tags: vec![],
            spec: ModelSetSpec {
                models: models.iter().map(|m| m.to_string()).collect(),
                ..ModelSetSpec::default()
            },
        };
        let a = rev(&["x/a", "x/b"], "one");
        let b = rev(&["x/b", "x/c"], "two");
        assert_eq!(
            changes(&a, &b),
            vec!["added x/c", "removed x/a", "edited the description"]
        );
        assert_eq!(changes(&a, &a), vec!["saved without changes"]);
    }
}
