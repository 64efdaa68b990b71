//! Demo data for a first look (`setpoint serve --demo`, which scripts/run uses): a `demo`
//! account that cannot log in (until an operator sets its password: `setpoint account
//! password`), owning public Model Sets over the demo catalog, each with a week of history
//! ([`history`]: the real router and the simulator's behaviour run over a simulated clock,
//! folded by the real rollups, with evals for sets that have metrics), and live traffic
//! through the real gateway while the server runs ([`traffic`]).
//!
//! Seeding is idempotent per set: a set is created when missing and given a history when it
//! has none from [`history::WRITER`], so a second start writes nothing and a set added to
//! [`sets`] later is added on the next start without touching the others.

pub mod history;
pub mod traffic;

use std::time::Instant;

use app::model_set::{Comparator, Dimension, EvalSettings, ModelSet, ModelSetSpec, Objective, Requirement, Statistic};

use crate::catalog::Catalog;
use crate::clock::now_ms;
use crate::storage::{
    EvalResultRow, Grain, NewModelSet, RequestRecord, SetContent, SharedStorage, StorageError, StorageResult,
};

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
    traffic: Traffic,
}

/// What a set's demo requests look like, in the history and in the live traffic.
#[derive(Debug, Clone, Copy)]
pub struct Traffic {
    /// Mean requests per minute over a day in the history (the daily cycle swings around it).
    pub per_minute: f64,
    /// Median prompt length, tokens.
    pub prompt_tokens: f64,
    /// Completion length relative to the model's typical one (summaries run long,
    /// autocompletions short).
    pub output_scale: f64,
    /// What the live traffic asks.
    pub prompts: &'static [&'static str],
}

const CHAT_PROMPTS: &[&str] = &[
    "What's a good name for a grey cat?",
    "Suggest a quick vegetarian dinner.",
    "How do I say thank you in Japanese?",
    "Give me three ideas for a rainy Sunday.",
];
const ASSISTANT_PROMPTS: &[&str] = &[
    "Explain the difference between a mutex and a semaphore.",
    "Draft a polite reply declining a meeting.",
    "Summarise the causes of the 2008 financial crisis in five bullets.",
];
const COMPLETION_PROMPTS: &[&str] = &[
    "fn parse_header(line: &str) -> ",
    "SELECT name FROM users WHERE ",
    "for i in range(",
];
const CODING_PROMPTS: &[&str] = &[
    "Write a Rust function that merges two sorted vectors.",
    "Why does this Python loop never end? while i < 10: print(i)",
    "Refactor this callback-based Node.js code to async/await.",
];
const SUMMARY_PROMPTS: &[&str] = &[
    "Summarise this support ticket thread in two sentences: the customer cannot log in after resetting the password...",
    "Summarise these meeting notes: budget approved, launch moved to May, hiring two engineers...",
    "TL;DR this changelog: faster startup, fixed memory leak in the cache, new export format...",
];
const VOICE_PROMPTS: &[&str] = &[
    "Turn on the kitchen lights.",
    "What's the weather tomorrow?",
    "Set a timer for ten minutes.",
];
const SUPPORT_PROMPTS: &[&str] = &[
    "My invoice shows the wrong VAT number, how do I fix it?",
    "How do I reset two-factor authentication?",
    "Can I move my subscription to another account?",
];
const AGENT_PROMPTS: &[&str] = &[
    "Plan the steps to book a flight to Lisbon next Friday under 200 EUR.",
    "Which tool should I call to find the user's last three orders?",
];

/// The demo sets. One may be added at the end at any time: the next start creates it with
/// its history and leaves the others alone.
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
            traffic: Traffic {
                per_minute: 4.0,
                prompt_tokens: 250.0,
                output_scale: 1.0,
                prompts: CHAT_PROMPTS,
            },
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
                ..EvalSettings::default()
            },
            traffic: Traffic {
                per_minute: 2.0,
                prompt_tokens: 600.0,
                output_scale: 1.2,
                prompts: ASSISTANT_PROMPTS,
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
            traffic: Traffic {
                per_minute: 5.0,
                prompt_tokens: 400.0,
                output_scale: 0.2,
                prompts: COMPLETION_PROMPTS,
            },
        },
        DemoSet {
            slug: "coding-quality",
            name: "Coding Quality",
            description: "Strong coding models, reliably, at under a cent a request on average.",
            categories: &["coding"],
            tags: &["quality", "reliable"],
            models: &["anthropic/claude-3-7-sonnet", "openai/gpt-4o", "deepseek/deepseek-chat"],
            requirements: vec![
                Requirement::new(Dimension::Cost, Statistic::Mean, AtMost, 0.008),
                Requirement::new(Dimension::ErrorRate, Statistic::Mean, AtMost, 0.015),
                Requirement::new(Dimension::Latency, Statistic::P90, AtMost, 15_000.0),
            ],
            objective: Objective::Maximize(Dimension::Throughput),
            evals: EvalSettings::default(),
            traffic: Traffic {
                per_minute: 2.0,
                prompt_tokens: 1500.0,
                output_scale: 1.5,
                prompts: CODING_PROMPTS,
            },
        },
        DemoSet {
            slug: "batch-summaries",
            name: "Batch Summaries",
            description: "Long documents summarised as cheaply as possible: throughput matters, latency hardly.",
            categories: &["batch", "summarisation"],
            tags: &["budget", "throughput"],
            models: &[
                "mistral/mistral-small",
                "openai/gpt-4o-mini",
                "deepseek/deepseek-chat",
                "groq/llama-3.1-8b-instant",
            ],
            requirements: vec![
                Requirement::new(Dimension::Throughput, Statistic::Mean, AtLeast, 80.0),
                Requirement::new(Dimension::Latency, Statistic::P90, AtMost, 30_000.0),
            ],
            objective: Objective::Minimize(Dimension::Cost),
            evals: EvalSettings::default(),
            traffic: Traffic {
                per_minute: 3.0,
                prompt_tokens: 4000.0,
                output_scale: 2.0,
                prompts: SUMMARY_PROMPTS,
            },
        },
        DemoSet {
            slug: "voice-agent",
            name: "Voice Agent",
            description: "Spoken turns: the first token within half a second, the whole answer within 1.5 s.",
            categories: &["voice", "agent"],
            tags: &["low-latency", "realtime"],
            models: &[
                "groq/llama-3.1-8b-instant",
                "openai/gpt-4o-mini",
                "mistral/mistral-small",
            ],
            requirements: vec![
                Requirement::new(Dimension::Ttft, Statistic::P90, AtMost, 500.0),
                Requirement::new(Dimension::Latency, Statistic::P90, AtMost, 1500.0),
            ],
            objective: Objective::Minimize(Dimension::Cost),
            evals: EvalSettings::default(),
            traffic: Traffic {
                per_minute: 3.0,
                prompt_tokens: 200.0,
                output_scale: 0.4,
                prompts: VOICE_PROMPTS,
            },
        },
        DemoSet {
            slug: "support-bot",
            name: "Support Bot",
            description:
                "Customer support answers that rarely fail (under 1.5% errors) and start within 1.5 s, cheapest first.",
            categories: &["support", "chat"],
            tags: &["reliable"],
            models: &[
                "anthropic/claude-3-5-haiku",
                "openai/gpt-4o-mini",
                "mistral/mistral-small",
            ],
            requirements: vec![
                Requirement::new(Dimension::ErrorRate, Statistic::Mean, AtMost, 0.015),
                Requirement::new(Dimension::Ttft, Statistic::P90, AtMost, 1500.0),
            ],
            objective: Objective::Minimize(Dimension::Cost),
            evals: EvalSettings::default(),
            traffic: Traffic {
                per_minute: 3.0,
                prompt_tokens: 700.0,
                output_scale: 0.8,
                prompts: SUPPORT_PROMPTS,
            },
        },
        DemoSet {
            slug: "agent-planner",
            name: "Agent Planner",
            description: "Tool-calling steps of an agent: fast on the median, a third of a cent at most on average.",
            categories: &["agent"],
            tags: &["tools", "fast"],
            models: &["openai/gpt-4o", "anthropic/claude-3-5-haiku", "openai/gpt-4o-mini"],
            requirements: vec![
                Requirement::new(Dimension::Cost, Statistic::Mean, AtMost, 0.003),
                Requirement::new(Dimension::Latency, Statistic::P50, AtMost, 3000.0),
            ],
            objective: Objective::Minimize(Dimension::Latency),
            evals: EvalSettings::default(),
            traffic: Traffic {
                per_minute: 2.0,
                prompt_tokens: 1200.0,
                output_scale: 0.7,
                prompts: AGENT_PROMPTS,
            },
        },
    ]
}

/// What [`seed`] did.
#[derive(Debug, Default)]
pub struct Seeded {
    /// The demo account.
    pub account_id: i64,
    /// Sets created by this call.
    pub sets_created: usize,
    /// Sets given a history by this call.
    pub histories: usize,
    /// The history's last hours as records, oldest first, to warm the live routing with
    /// (empty when no history was made).
    pub recent: Vec<RequestRecord>,
    /// The history's eval results of the same hours (as stored), oldest first, for the same.
    pub recent_evals: Vec<EvalResultRow>,
    /// The moment (ms) the history was made up to: its last minute is this one's.
    pub now_ms: i64,
}

/// A demo set that exists, with what its traffic looks like.
#[derive(Debug, Clone)]
pub struct Target {
    pub set: ModelSet,
    pub traffic: Traffic,
}

/// Seeds what is missing: the demo account, each set of [`sets`] whose models are all in
/// the configured catalog, and each such set's history. Nothing when all are there.
pub async fn seed(storage: &SharedStorage, catalog: &Catalog) -> StorageResult<Seeded> {
    seed_at(storage, catalog, now_ms()).await
}

/// [`seed`] with the history ending at `now` (unix ms) rather than the clock's now.
pub async fn seed_at(storage: &SharedStorage, catalog: &Catalog, now: i64) -> StorageResult<Seeded> {
    let started = Instant::now();
    let owner = match storage.account_by_username(DEMO_ACCOUNT).await? {
        Some(owner) => owner,
        None => match storage.create_account(DEMO_ACCOUNT, NO_PASSWORD, now).await {
            Ok(owner) => owner,
            // Another replica created it at the same moment.
            Err(StorageError::Conflict(_)) => storage
                .account_by_username(DEMO_ACCOUNT)
                .await?
                .ok_or(StorageError::NotFound)?,
            Err(e) => return Err(e),
        },
    };
    let mut seeded = Seeded {
        account_id: owner.id,
        now_ms: now,
        ..Seeded::default()
    };
    let mut without_history = Vec::new();
    for demo in sets() {
        if !demo.models.iter().all(|m| catalog.contains_key(*m)) {
            continue;
        }
        let traffic = demo.traffic;
        let set = match storage.model_set_by_slug(DEMO_ACCOUNT, demo.slug).await? {
            Some(set) => set,
            None => match storage.create_model_set(&new_set(owner.id, demo), now).await {
                Ok(set) => {
                    seeded.sets_created += 1;
                    set
                }
                Err(StorageError::Conflict(_)) => return Ok(seeded),
                Err(e) => return Err(e),
            },
        };
        if !has_history(storage, &set).await? {
            without_history.push(Target { set, traffic });
        }
    }
    if !without_history.is_empty() {
        let made = history::generate(storage, catalog, owner.id, &without_history, now).await?;
        seeded.histories = without_history.len();
        seeded.recent = made.recent;
        seeded.recent_evals = made.recent_evals;
        tracing::info!(
            sets_created = seeded.sets_created,
            histories = seeded.histories,
            requests = made.requests,
            evals = made.evals,
            evals_ms = made.eval_ms,
            minute_rows = made.minute_rows,
            hour_rows = made.hour_rows,
            writing_ms = made.write_ms,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "seeded demo data"
        );
    }
    Ok(seeded)
}

/// The demo sets that exist now (after [`seed`]), for the live traffic.
pub async fn targets(storage: &SharedStorage, catalog: &Catalog) -> StorageResult<Vec<Target>> {
    let mut targets = Vec::new();
    for demo in sets() {
        if !demo.models.iter().all(|m| catalog.contains_key(*m)) {
            continue;
        }
        if let Some(set) = storage.model_set_by_slug(DEMO_ACCOUNT, demo.slug).await? {
            targets.push(Target {
                set,
                traffic: demo.traffic,
            });
        }
    }
    Ok(targets)
}

/// Whether the set's history was written to the end: the history writes oldest first and
/// ends at the moment of seeding, which for a set seeded with its history is within the hour
/// of its creation or later. A history cut short (the process stopped while writing) has no
/// such row and is made again; its rows are overwritten where the new one covers them.
async fn has_history(storage: &SharedStorage, set: &ModelSet) -> StorageResult<bool> {
    let since = crate::metrics::rollup::bucket_of(Grain::Hour, set.created_at) - Grain::Hour.ms();
    let rows = storage.rollups(Grain::Hour.into(), set.id, since, i64::MAX).await?;
    Ok(rows.iter().any(|r| r.writer == history::WRITER))
}

fn new_set(owner_id: i64, set: DemoSet) -> NewModelSet {
    NewModelSet {
        owner_id,
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
        cloned_from: None,
    }
}
