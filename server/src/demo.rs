//! Demo data for a first look (`setpoint serve --demo`, which scripts/run uses): a `demo`
//! account that cannot log in, owning a few Model Sets over the demo catalog, so the
//! registry is not empty. Seeded once; a later start finds the account and does nothing.

use app::model_set::{Comparator, Dimension, EvalSettings, ModelSetSpec, Objective, Requirement, Statistic};

use crate::catalog::Catalog;
use crate::clock::now_ms;
use crate::storage::{NewModelSet, SetContent, SharedStorage, StorageError, StorageResult};

pub const DEMO_ACCOUNT: &str = "demo";
/// Not a PHC string, so no password ever verifies against it.
const NO_PASSWORD: &str = "!";

struct DemoSet {
    slug: &'static str,
    name: &'static str,
    description: &'static str,
    categories: &'static [&'static str],
    tags: &'static [&'static str],
    models: &'static [&'static str],
    requirements: Vec<Requirement>,
    objective: Objective,
    evals: EvalSettings,
}

fn sets() -> Vec<DemoSet> {
    use Comparator::{AtLeast, AtMost};
    vec![
        DemoSet {
            slug: "budget-chat",
            name: "Budget Chat",
            description: "Everyday chat at the lowest cost that still answers within a few seconds.",
            categories: &["chat"],
            tags: &["budget", "fast"],
            models: &[
                "openai/gpt-4o-mini",
                "groq/llama-3.1-8b-instant",
                "mistral/mistral-small",
            ],
            requirements: vec![
                Requirement::new(Dimension::Latency, Statistic::P90, AtMost, 4000.0),
                Requirement::new(Dimension::ErrorRate, Statistic::Mean, AtMost, 0.02),
            ],
            objective: Objective::Minimize(Dimension::Cost),
            evals: EvalSettings::default(),
        },
        DemoSet {
            slug: "quality-assistant",
            name: "Quality Assistant",
            description: "The most relevant answers under a cent a request on average.",
            categories: &["assistant"],
            tags: &["quality"],
            models: &["openai/gpt-4o", "anthropic/claude-3-7-sonnet", "deepseek/deepseek-chat"],
            requirements: vec![
                Requirement::new(Dimension::Cost, Statistic::Mean, AtMost, 0.01),
                Requirement::new(
                    Dimension::Eval("answer_relevancy".into()),
                    Statistic::Mean,
                    AtLeast,
                    0.8,
                ),
            ],
            objective: Objective::Maximize(Dimension::Eval("answer_relevancy".into())),
            evals: EvalSettings {
                metrics: vec!["answer_relevancy".into()],
                sampling: 0.1,
            },
        },
        DemoSet {
            slug: "snappy-autocomplete",
            name: "Snappy Autocomplete",
            description: "Completions that start fast: half of them in under 300 ms.",
            categories: &["coding"],
            tags: &["low-latency"],
            models: &["groq/llama-3.1-8b-instant", "openai/gpt-4o-mini"],
            requirements: vec![Requirement::new(Dimension::Ttft, Statistic::P50, AtMost, 300.0)],
            objective: Objective::Minimize(Dimension::Latency),
            evals: EvalSettings::default(),
        },
    ]
}

/// Seeds the demo account and sets unless the account exists. Sets naming a model that is
/// not in the configured catalog are skipped. Returns how many sets were created.
pub async fn seed(storage: &SharedStorage, catalog: &Catalog) -> StorageResult<usize> {
    if storage.account_by_username(DEMO_ACCOUNT).await?.is_some() {
        return Ok(0);
    }
    let now = now_ms();
    let owner = match storage.create_account(DEMO_ACCOUNT, NO_PASSWORD, now).await {
        Ok(owner) => owner,
        // Another replica seeded it at the same moment.
        Err(StorageError::Conflict(_)) => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut created = 0;
    for set in sets() {
        if !set.models.iter().all(|m| catalog.contains_key(*m)) {
            continue;
        }
        let new = NewModelSet {
            owner_id: owner.id,
            slug: set.slug.into(),
            name: set.name.into(),
            content: SetContent {
                description: set.description.into(),
                categories: set.categories.iter().map(|c| c.to_string()).collect(),
                tags: set.tags.iter().map(|t| t.to_string()).collect(),
                spec: ModelSetSpec {
                    models: set.models.iter().map(|m| m.to_string()).collect(),
                    requirements: set.requirements,
                    objective: set.objective,
                    evals: set.evals,
                },
            },
        };
        storage.create_model_set(&new, now).await?;
        created += 1;
    }
    Ok(created)
}
