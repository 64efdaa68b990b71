//! What the registry, set and models pages receive from the server: a set with the facts a
//! person reads beside it (traffic, verdict, realised values). Plain serde types.

use serde::{Deserialize, Serialize};

use crate::catalog::CatalogModel;
use crate::engine::{Feasibility, ModelInput, PlanOptions, Verdict};
use crate::model_set::{ModelSet, ModelSetRevision, ModelSetSpec, Requirement};
use crate::monitoring::Bucket;

/// The registry's orders, as they appear in its URL (`?sort=`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrySort {
    #[default]
    MostUsed,
    RecentlyActive,
    Newest,
}

impl RegistrySort {
    pub const ALL: [RegistrySort; 3] = [
        RegistrySort::MostUsed,
        RegistrySort::RecentlyActive,
        RegistrySort::Newest,
    ];

    pub fn param(self) -> &'static str {
        match self {
            RegistrySort::MostUsed => "used",
            RegistrySort::RecentlyActive => "active",
            RegistrySort::Newest => "new",
        }
    }

    pub fn parse(text: &str) -> Option<RegistrySort> {
        RegistrySort::ALL.into_iter().find(|s| s.param() == text)
    }

    pub fn label(self) -> &'static str {
        match self {
            RegistrySort::MostUsed => "Most used",
            RegistrySort::RecentlyActive => "Recently active",
            RegistrySort::Newest => "Newest",
        }
    }
}

/// A registry search as its URL states it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RegistryParams {
    pub q: String,
    pub category: Option<String>,
    pub tag: Option<String>,
    pub sort: RegistrySort,
    /// From 1.
    pub page: i64,
}

/// Sets per registry page.
pub const REGISTRY_PAGE_SIZE: i64 = 24;

/// One card of the registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetCard {
    pub set: ModelSet,
    /// The verdict on the set's current estimates; `None` when it cannot be judged.
    pub feasibility: Option<Feasibility>,
    pub requests_24h: i64,
    /// Requests in each of the 24 whole hours before the current one, oldest first.
    pub hourly: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistryPage {
    pub cards: Vec<SetCard>,
    /// Sets matching in all.
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

/// A model of a set, with its catalog facts and current routing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetModel {
    pub id: String,
    /// `None` for a model no longer in the catalog.
    pub catalog: Option<CatalogModel>,
    /// The share of requests the current plan sends it, 0..1.
    pub weight: Option<f64>,
    /// Sent traffic to learn its behaviour.
    pub exploring: bool,
    /// `closed`, `open` or `half_open`.
    pub breaker: String,
    /// Why it has its weight, in a sentence (`None` when the set is not planned).
    #[serde(default)]
    pub why: Option<String>,
}

/// A requirement with the value realised over the recent window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequirementStatus {
    pub requirement: Requirement,
    pub realised: Option<f64>,
}

impl RequirementStatus {
    /// Met, missed, or unknown (no data).
    pub fn met(&self) -> Option<bool> {
        let value = self.realised?;
        Some(match self.requirement.comparator {
            crate::model_set::Comparator::AtMost => value <= self.requirement.target,
            crate::model_set::Comparator::AtLeast => value >= self.requirement.target,
        })
    }

    /// How far inside (positive) or outside (negative) the target the realised value is,
    /// relative to the target.
    pub fn margin(&self) -> Option<f64> {
        let value = self.realised?;
        let target = self.requirement.target;
        if target == 0.0 {
            return None;
        }
        Some(match self.requirement.comparator {
            crate::model_set::Comparator::AtMost => (target - value) / target,
            crate::model_set::Comparator::AtLeast => (value - target) / target,
        })
    }
}

/// Everything the set page shows above its charts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetDetail {
    pub set: ModelSet,
    pub models: Vec<SetModel>,
    pub requirements: Vec<RequirementStatus>,
    pub verdict: Option<Verdict>,
    /// Newest first.
    pub revisions: Vec<ModelSetRevision>,
    pub viewer_is_owner: bool,
    /// The whole set over the recent window (the last 24 h).
    pub recent: Bucket,
    /// Where this server is reached, for the request snippets (`http://host:port`).
    pub base_url: String,
}

/// A catalog model with its measured behaviour over the last 24 h, across every set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelOverview {
    pub model: CatalogModel,
    pub last_day: Bucket,
}

/// Where the editor saves: a new set, a clone of `source` (`@owner/slug`), or an edit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum SaveTarget {
    New,
    Clone { source: String },
    Edit { owner: String, slug: String },
}

impl SaveTarget {
    /// New and Clone choose a name and slug; an edit keeps them.
    pub fn names_the_set(&self) -> bool {
        !matches!(self, SaveTarget::Edit { .. })
    }

    /// The primary action's label: Deploy, Clone or Save.
    pub fn action(&self) -> &'static str {
        match self {
            SaveTarget::New => "Deploy",
            SaveTarget::Clone { .. } => "Clone",
            SaveTarget::Edit { .. } => "Save",
        }
    }

    /// The editor's own address, where a visitor comes back to after logging in.
    pub fn path(&self) -> String {
        match self {
            SaveTarget::New => "/model-sets/new".into(),
            SaveTarget::Clone { source } => format!("/model-sets/{source}/clone"),
            SaveTarget::Edit { owner, slug } => format!("/model-sets/@{owner}/{slug}/edit"),
        }
    }
}

/// The set the editor sends on Deploy, Clone or Save (name and slug are ignored on an edit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetForm {
    pub name: String,
    pub slug: String,
    pub description: String,
    pub categories: Vec<String>,
    pub tags: Vec<String>,
    pub spec: ModelSetSpec,
}

/// Everything the editor needs, fetched once when it opens: the set it starts from, the
/// catalog with each model's recent behaviour, and the engine's inputs for every catalog
/// model, so that every edit after this is projected in the browser without asking again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EditorStart {
    pub target: SaveTarget,
    /// The set edited or cloned.
    pub source: Option<ModelSet>,
    pub catalog: Vec<ModelOverview>,
    /// One per catalog model, in catalog order; with the source set's own traffic on an edit.
    pub inputs: Vec<ModelInput>,
    pub options: PlanOptions,
    /// The eval judge, with its prices.
    pub judge: Option<CatalogModel>,
    /// The signed-in account (the new set's owner).
    pub owner: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model_set::{Comparator, Dimension, Statistic};

    #[test]
    fn margins_say_how_far_inside_the_target() {
        let status = |comparator, realised| RequirementStatus {
            requirement: Requirement::new(Dimension::Latency, Statistic::P90, comparator, 2000.0),
            realised,
        };
        let under = status(Comparator::AtMost, Some(1500.0));
        assert_eq!((under.met(), under.margin()), (Some(true), Some(0.25)));
        let over = status(Comparator::AtMost, Some(2500.0));
        assert_eq!((over.met(), over.margin()), (Some(false), Some(-0.25)));
        let floor = status(Comparator::AtLeast, Some(1000.0));
        assert_eq!((floor.met(), floor.margin()), (Some(false), Some(-0.5)));
        assert_eq!(status(Comparator::AtMost, None).met(), None);
        for sort in RegistrySort::ALL {
            assert_eq!(RegistrySort::parse(sort.param()), Some(sort));
        }
    }
}
