//! `/api/v1/model-sets`: create, read, list and search, edit (all but name and slug), delete,
//! and the revision history of edits.

use app::model_set::{
    normalise_details, slugify, validate_name, validate_slug, validate_spec, ModelSet, ModelSetDraft, ModelSetPatch,
    ModelSetSpec,
};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::ApiUser;
use crate::clock::now_ms;
use crate::http::error::ApiError;
use crate::http::AppState;
use crate::storage::{NewModelSet, SetContent, SetFilter, StorageError};

#[derive(Debug, Deserialize)]
pub struct ListParams {
    q: Option<String>,
    category: Option<String>,
    tag: Option<String>,
    owner: Option<String>,
}

/// `GET /api/v1/model-sets?q=&category=&tag=&owner=`
pub async fn list(State(state): State<AppState>, Query(params): Query<ListParams>) -> Result<Json<Value>, ApiError> {
    let filter = SetFilter {
        query: params.q.unwrap_or_default(),
        category: params.category,
        tag: params.tag,
        owner: params.owner.map(|o| o.trim_start_matches('@').to_string()),
    };
    let sets = state
        .storage
        .search_model_sets(&filter)
        .await
        .map_err(|e| ApiError::internal("search", e))?;
    Ok(Json(json!({ "object": "list", "data": sets })))
}

/// `POST /api/v1/model-sets`
pub async fn create(
    State(state): State<AppState>,
    user: ApiUser,
    body: Bytes,
) -> Result<(StatusCode, Json<ModelSet>), ApiError> {
    let draft: ModelSetDraft = parse(&body)?;
    let name = validate_name(&draft.name).map_err(ApiError::BadRequest)?;
    let slug = draft.slug.clone().unwrap_or_else(|| slugify(&name));
    validate_slug(&slug).map_err(ApiError::BadRequest)?;
    let content = content(
        &state,
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
        owner_id: user.id,
        slug: slug.clone(),
        name,
        content,
    };
    match state.storage.create_model_set(&new, now_ms()).await {
        Ok(set) => {
            // The gateway may remember that this address did not exist a moment ago.
            state.sets.forget(&set.owner, &set.slug);
            Ok((StatusCode::CREATED, Json(set)))
        }
        Err(StorageError::Conflict(_)) => Err(ApiError::Conflict(format!(
            "You already have a Model Set with the slug {slug:?}."
        ))),
        Err(e) => Err(ApiError::internal("create set", e)),
    }
}

/// `GET /api/v1/model-sets/{owner}/{slug}`
pub async fn get(
    State(state): State<AppState>,
    Path((owner, slug)): Path<(String, String)>,
) -> Result<Json<ModelSet>, ApiError> {
    Ok(Json(find(&state, &owner, &slug).await?))
}

/// `PATCH /api/v1/model-sets/{owner}/{slug}`: any editable field; the rest stay.
pub async fn update(
    State(state): State<AppState>,
    user: ApiUser,
    Path((owner, slug)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<ModelSet>, ApiError> {
    let set = owned(&state, &user, &owner, &slug).await?;
    let raw: Value = parse(&body)?;
    if raw.get("name").is_some() || raw.get("slug").is_some() {
        return Err(ApiError::BadRequest(
            "A Model Set's name and slug cannot be changed; clone it to use new ones.".into(),
        ));
    }
    let patch: ModelSetPatch = parse(&body)?;
    let spec = ModelSetSpec {
        models: patch.models.unwrap_or(set.spec.models),
        requirements: patch.requirements.unwrap_or(set.spec.requirements),
        objective: patch.objective.unwrap_or(set.spec.objective),
        evals: patch.evals.unwrap_or(set.spec.evals),
    };
    let content = content(
        &state,
        patch.description.as_deref().unwrap_or(&set.description),
        patch.categories.as_deref().unwrap_or(&set.categories),
        patch.tags.as_deref().unwrap_or(&set.tags),
        spec,
    )?;
    let updated = state.storage.update_model_set(set.id, &content, now_ms()).await;
    state.sets.forget(&owner, &slug);
    match updated {
        Ok(set) => Ok(Json(set)),
        Err(StorageError::NotFound) => Err(ApiError::NotFound(format!("@{owner}/{slug}"))),
        Err(e) => Err(ApiError::internal("update set", e)),
    }
}

/// `DELETE /api/v1/model-sets/{owner}/{slug}`
pub async fn delete(
    State(state): State<AppState>,
    user: ApiUser,
    Path((owner, slug)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let set = owned(&state, &user, &owner, &slug).await?;
    let deleted = state.storage.delete_model_set(set.id).await;
    state.sets.forget(&owner, &slug);
    match deleted {
        Ok(()) | Err(StorageError::NotFound) => Ok(StatusCode::NO_CONTENT),
        Err(e) => Err(ApiError::internal("delete set", e)),
    }
}

/// `GET /api/v1/model-sets/{owner}/{slug}/revisions`: newest first.
pub async fn revisions(
    State(state): State<AppState>,
    Path((owner, slug)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let set = find(&state, &owner, &slug).await?;
    let revisions = state
        .storage
        .model_set_revisions(set.id)
        .await
        .map_err(|e| ApiError::internal("revisions", e))?;
    Ok(Json(json!({ "object": "list", "data": revisions })))
}

/// `GET /api/v1/model-sets/{owner}/{slug}/routing`: the planned weights, each model's
/// breaker, the realised statistics and the projection with its verdict. Public, like the set.
pub async fn routing(
    State(state): State<AppState>,
    Path((owner, slug)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let set = find(&state, &owner, &slug).await?;
    let status = state.routing.status(&set);
    Ok(Json(json!({ "model_set": set.address(), "routing": status })))
}

/// The body of `POST /api/v1/projections`: a configuration being edited.
#[derive(Deserialize)]
pub struct DraftProjection {
    #[serde(flatten)]
    spec: ModelSetSpec,
    /// `@owner/slug` when editing (or cloning) an existing set: its own traffic counts too.
    #[serde(default)]
    model_set: Option<String>,
}

/// `POST /api/v1/projections`: weights, projected behaviour and verdict for a configuration
/// that is not deployed (yet), with the per-model inputs so a browser can re-project as the
/// requirements change without asking again.
pub async fn projection(State(state): State<AppState>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let draft: DraftProjection = parse(&body)?;
    validate_spec(&draft.spec, |id| state.catalog.contains_key(id)).map_err(ApiError::BadRequest)?;
    let set = match &draft.model_set {
        Some(address) => {
            let (owner, slug) = address
                .trim_start_matches('@')
                .split_once('/')
                .ok_or_else(|| ApiError::BadRequest(format!("{address:?} is not of the form @owner/slug.")))?;
            Some(find(&state, owner, slug).await?)
        }
        None => None,
    };
    let (projection, inputs) = state
        .routing
        .project_draft(set.as_ref(), &draft.spec)
        .map_err(|e| ApiError::BadRequest(format!("Cannot project this configuration: {e}")))?;
    Ok(Json(json!({ "projection": projection, "inputs": inputs })))
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("Invalid request body: {e}")))
}

/// Validates and normalises the editable content against the catalog.
fn content(
    state: &AppState,
    description: &str,
    categories: &[String],
    tags: &[String],
    spec: ModelSetSpec,
) -> Result<SetContent, ApiError> {
    let (description, categories, tags) =
        normalise_details(description, categories, tags).map_err(ApiError::BadRequest)?;
    validate_spec(&spec, |id| state.catalog.contains_key(id)).map_err(ApiError::BadRequest)?;
    Ok(SetContent {
        description,
        categories,
        tags,
        spec,
    })
}

async fn find(state: &AppState, owner: &str, slug: &str) -> Result<ModelSet, ApiError> {
    let owner = owner.trim_start_matches('@');
    state
        .storage
        .model_set_by_slug(owner, slug)
        .await
        .map_err(|e| ApiError::internal("find set", e))?
        .ok_or_else(|| ApiError::NotFound(format!("@{owner}/{slug}")))
}

async fn owned(state: &AppState, user: &ApiUser, owner: &str, slug: &str) -> Result<ModelSet, ApiError> {
    let set = find(state, owner, slug).await?;
    if set.owner != user.username {
        return Err(ApiError::Forbidden);
    }
    Ok(set)
}
