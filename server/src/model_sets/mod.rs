//! Model Sets: the one place with their rules — addresses (`@owner/slug`), validation with
//! typed field errors, ownership, create / edit / clone / delete, and the invalidation of the
//! gateway's in-memory [`directory`] after a change.
//!
//! The JSON API (`http::api::model_sets`), the gateway's resolution (`http::gateway`) and the
//! pages' backend (`http::pages`) all call [`ModelSets`]; none of them repeats a rule.

pub mod directory;
pub mod registry;

use std::sync::Arc;

use app::model_set::{
    normalise_details, slugify, validate_name, validate_slug, validate_spec, Field, FieldError, ModelSet,
    ModelSetDraft, ModelSetPatch, ModelSetRevision, ModelSetSpec,
};

use crate::catalog::Catalog;
use crate::clock::now_ms;
use crate::storage::{NewModelSet, SetContent, SetFilter, SetPage, SharedStorage, StorageError};
use directory::SetDirectory;
use registry::{Registry, RegistryListing, RegistryQuery};

/// Why an operation on a Model Set failed. Each HTTP surface maps it to its own dialect.
#[derive(Debug, thiserror::Error)]
pub enum SetError {
    /// A value breaks a rule: which field, and why.
    #[error(transparent)]
    Invalid(#[from] FieldError),
    /// Not of the form `@owner/slug`.
    #[error("{0:?} is not of the form @owner/slug.")]
    BadAddress(String),
    /// No set at this address (`@owner/slug`).
    #[error("No Model Set {0}.")]
    NotFound(String),
    /// The set is someone else's: everyone may read and clone it, only its owner may change it.
    #[error("Only the owner can change this Model Set.")]
    NotOwner,
    /// The owner already has a set with this slug.
    #[error("You already have a Model Set with the slug {0:?}.")]
    SlugTaken(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// `@owner/slug` (the `@` optional) split into owner and slug.
pub fn parse_address(address: &str) -> Result<(&str, &str), SetError> {
    address
        .trim_start_matches('@')
        .split_once('/')
        .filter(|(owner, slug)| !owner.is_empty() && !slug.is_empty() && !slug.contains('/'))
        .ok_or_else(|| SetError::BadAddress(address.to_string()))
}

/// Who is asking to change a set.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub account_id: i64,
    pub username: &'a str,
}

pub struct ModelSets {
    storage: SharedStorage,
    catalog: Catalog,
    directory: SetDirectory,
    registry: Registry,
}

impl ModelSets {
    pub fn new(storage: SharedStorage, catalog: Catalog) -> Self {
        ModelSets {
            directory: SetDirectory::new(storage.clone()),
            registry: Registry::new(storage.clone()),
            storage,
            catalog,
        }
    }

    /// The set at `@owner/slug`, read from storage (pages and the API: always current).
    pub async fn find(&self, owner: &str, slug: &str) -> Result<ModelSet, SetError> {
        let owner = owner.trim_start_matches('@');
        self.storage
            .model_set_by_slug(owner, slug)
            .await?
            .ok_or_else(|| SetError::NotFound(format!("@{owner}/{slug}")))
    }

    /// The set at an address `@owner/slug`.
    pub async fn find_address(&self, address: &str) -> Result<ModelSet, SetError> {
        let (owner, slug) = parse_address(address)?;
        self.find(owner, slug).await
    }

    /// The set at `@owner/slug` for a gateway request by `caller`: from the in-memory
    /// directory (no database round trip while fresh). `Ok(None)` when there is no such set;
    /// `NotOwner` when it is someone else's (only the owner's keys may use a set).
    pub async fn resolve(&self, caller: &str, address: &str) -> Result<Option<Arc<ModelSet>>, SetError> {
        let Ok((owner, slug)) = parse_address(address) else {
            return Ok(None);
        };
        let Some(set) = self.directory.find(owner, slug).await? else {
            return Ok(None);
        };
        if set.owner != caller {
            return Err(SetError::NotOwner);
        }
        Ok(Some(set))
    }

    /// The set, if `actor` owns it.
    pub async fn owned(&self, actor: Actor<'_>, owner: &str, slug: &str) -> Result<ModelSet, SetError> {
        let set = self.find(owner, slug).await?;
        if set.owner != actor.username {
            return Err(SetError::NotOwner);
        }
        Ok(set)
    }

    /// A page of the registry as visitors browse it, in the order asked for, with each set's
    /// recent requests; traffic counted over the day before `now_ms`.
    pub async fn registry_page(&self, query: &RegistryQuery, now_ms: i64) -> Result<RegistryListing, SetError> {
        Ok(self.registry.page(query, now_ms).await?)
    }

    /// The sets the filter matches, newest (highest id) first, within `page`.
    pub async fn search(&self, filter: &SetFilter, page: SetPage) -> Result<Vec<ModelSet>, SetError> {
        Ok(self.storage.search_model_sets(filter, page).await?)
    }

    /// Newest first.
    pub async fn revisions(&self, set: &ModelSet) -> Result<Vec<ModelSetRevision>, SetError> {
        Ok(self.storage.model_set_revisions(set.id).await?)
    }

    /// Checks a spec against the rules and the catalog.
    pub fn validate_spec(&self, spec: &ModelSetSpec) -> Result<(), SetError> {
        Ok(validate_spec(spec, |id| self.catalog.contains_key(id))?)
    }

    /// Creates a set owned by `actor` (slug from the name unless given); `cloned_from` is
    /// the set it copies, named on the new set's page.
    pub async fn create(
        &self,
        actor: Actor<'_>,
        draft: ModelSetDraft,
        cloned_from: Option<&ModelSet>,
    ) -> Result<ModelSet, SetError> {
        let name = validate_name(&draft.name)?;
        let slug = draft.slug.clone().unwrap_or_else(|| slugify(&name));
        validate_slug(&slug)?;
        let content = self.content(
            &draft.description,
            &draft.categories,
            &draft.tags,
            ModelSetSpec {
                models: draft.models,
                requirements: draft.requirements,
                objective: draft.objective,
                evals: draft.evals,
            },
        )?;
        let new = NewModelSet {
            owner_id: actor.account_id,
            slug: slug.clone(),
            name,
            content,
            cloned_from: cloned_from.map(ModelSet::address),
        };
        match self.storage.create_model_set(&new, now_ms()).await {
            Ok(set) => {
                // The gateway may remember that this address did not exist a moment ago.
                self.directory.forget(&set.owner, &set.slug);
                self.registry.invalidate();
                Ok(set)
            }
            Err(StorageError::Conflict(_)) => Err(SetError::SlugTaken(slug)),
            Err(e) => Err(e.into()),
        }
    }

    /// Copies `source`'s content into a new set of `actor`'s under a name (and slug) of
    /// their choosing.
    pub async fn clone_set(
        &self,
        actor: Actor<'_>,
        source: &ModelSet,
        name: String,
        slug: Option<String>,
    ) -> Result<ModelSet, SetError> {
        let draft = ModelSetDraft {
            name,
            slug,
            description: source.description.clone(),
            categories: source.categories.clone(),
            tags: source.tags.clone(),
            models: source.spec.models.clone(),
            requirements: source.spec.requirements.clone(),
            objective: source.spec.objective.clone(),
            evals: source.spec.evals.clone(),
        };
        self.create(actor, draft, Some(source)).await
    }

    /// Applies an edit (never name or slug) as a new revision.
    pub async fn update(
        &self,
        actor: Actor<'_>,
        owner: &str,
        slug: &str,
        patch: ModelSetPatch,
    ) -> Result<ModelSet, SetError> {
        let set = self.owned(actor, owner, slug).await?;
        let (id, address) = (set.id, set.address());
        let spec = ModelSetSpec {
            models: patch.models.unwrap_or(set.spec.models),
            requirements: patch.requirements.unwrap_or(set.spec.requirements),
            objective: patch.objective.unwrap_or(set.spec.objective),
            evals: patch.evals.unwrap_or(set.spec.evals),
        };
        let content = self.content(
            patch.description.as_deref().unwrap_or(&set.description),
            patch.categories.as_deref().unwrap_or(&set.categories),
            patch.tags.as_deref().unwrap_or(&set.tags),
            spec,
        )?;
        let updated = self.storage.update_model_set(id, &content, now_ms()).await;
        self.directory.forget(&set.owner, &set.slug);
        self.registry.invalidate();
        match updated {
            Ok(set) => Ok(set),
            Err(StorageError::NotFound) => Err(SetError::NotFound(address)),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes the set; deleting one that is already gone succeeds.
    pub async fn delete(&self, actor: Actor<'_>, owner: &str, slug: &str) -> Result<(), SetError> {
        let set = self.owned(actor, owner, slug).await?;
        let deleted = self.storage.delete_model_set(set.id).await;
        self.directory.forget(&set.owner, &set.slug);
        self.registry.invalidate();
        match deleted {
            Ok(()) | Err(StorageError::NotFound) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Validates and normalises the editable content against the catalog.
    fn content(
        &self,
        description: &str,
        categories: &[String],
        tags: &[String],
        spec: ModelSetSpec,
    ) -> Result<SetContent, SetError> {
        let (description, categories, tags) = normalise_details(description, categories, tags)?;
        self.validate_spec(&spec)?;
        Ok(SetContent {
            description,
            categories,
            tags,
            spec,
        })
    }
}

/// Refuses a patch that names a field that cannot change (name, slug), before it is parsed.
pub fn check_patch_keys(raw: &serde_json::Value) -> Result<(), SetError> {
    for (key, field) in [("name", Field::Name), ("slug", Field::Slug)] {
        if raw.get(key).is_some() {
            return Err(SetError::Invalid(FieldError::new(
                field,
                "A Model Set's name and slug cannot be changed; clone it to use new ones.",
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_split_into_owner_and_slug() {
        assert_eq!(parse_address("@ann/chat").ok(), Some(("ann", "chat")));
        assert_eq!(parse_address("ann/chat").ok(), Some(("ann", "chat")));
        for bad in ["@ann", "@/chat", "@ann/", "@ann/chat/x", ""] {
            assert!(matches!(parse_address(bad), Err(SetError::BadAddress(_))), "{bad:?}");
        }
    }
}
