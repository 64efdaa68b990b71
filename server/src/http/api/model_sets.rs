//! `/api/v1/model-sets`: create, read, list and search, edit (all but name and slug), delete,
//! and the revision history of edits. Thin: the rules live in [`crate::model_sets`].

use app::engine::ModelInput;
use app::model_set::{ModelSet, ModelSetDraft, ModelSetPatch, ModelSetSpec};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::ApiUser;
use crate::http::error::ApiError;
use crate::http::AppState;
use crate::model_sets::{check_patch_keys, Actor};
use crate::storage::{SetFilter, SetPage};

impl ApiUser {
    fn actor(&self) -> Actor<'_> {
        Actor {
            account_id: self.id,
            username: &self.username,
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct ListParams {
    q: Option<String>,
    category: Option<String>,
    tag: Option<String>,
    owner: Option<String>,
    limit: Option<usize>,
    after: Option<i64>,
}

/// Sets per list page when the request names no `limit`, and the most it may name.
const LIST_LIMIT: usize = 100;

/// `GET /api/v1/model-sets?q=&category=&tag=&owner=&limit=&after=`: newest first, a page at a
/// time as OpenAI's lists are (`has_more`, and `after` = the page's `last_id` for the next).
pub async fn list(State(state): State<AppState>, Query(params): Query<ListParams>) -> Result<Json<Value>, ApiError> {
    let limit = params.limit.unwrap_or(LIST_LIMIT);
    if !(1..=LIST_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {LIST_LIMIT}; {limit} was given."
        )));
    }
    let filter = SetFilter {
        query: params.q.unwrap_or_default(),
        category: params.category,
        tag: params.tag,
        owner: params.owner.map(|o| o.trim_start_matches('@').to_string()),
    };
    // One more than the page, to know whether there is another.
    let page = SetPage {
        after: params.after,
        limit: Some(limit + 1),
    };
    let mut sets = state.model_sets.search(&filter, page).await?;
    let has_more = sets.len() > limit;
    sets.truncate(limit);
    Ok(Json(json!({
        "object": "list",
        "data": sets,
        "first_id": sets.first().map(|s| s.id),
        "last_id": sets.last().map(|s| s.id),
        "has_more": has_more,
    })))
}

/// `POST /api/v1/model-sets`
pub async fn create(
    State(state): State<AppState>,
    user: ApiUser,
    body: Bytes,
) -> Result<(StatusCode, Json<ModelSet>), ApiError> {
    let draft: ModelSetDraft = parse(&body)?;
    let set = state.model_sets.create(user.actor(), draft, None).await?;
    Ok((StatusCode::CREATED, Json(set)))
}

/// `GET /api/v1/model-sets/{owner}/{slug}`
pub async fn get(
    State(state): State<AppState>,
    Path((owner, slug)): Path<(String, String)>,
) -> Result<Json<ModelSet>, ApiError> {
    Ok(Json(state.model_sets.find(&owner, &slug).await?))
}

/// `PATCH /api/v1/model-sets/{owner}/{slug}`: any editable field; the rest stay.
pub async fn update(
    State(state): State<AppState>,
    user: ApiUser,
    Path((owner, slug)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<ModelSet>, ApiError> {
    let raw: Value = parse(&body)?;
    check_patch_keys(&raw)?;
    let patch: ModelSetPatch = parse(&body)?;
    Ok(Json(state.model_sets.update(user.actor(), &owner, &slug, patch).await?))
}

/// `DELETE /api/v1/model-sets/{owner}/{slug}`
pub async fn delete(
    State(state): State<AppState>,
    user: ApiUser,
    Path((owner, slug)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.model_sets.delete(user.actor(), &owner, &slug).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/model-sets/{owner}/{slug}/revisions`: newest first.
pub async fn revisions(
    State(state): State<AppState>,
    Path((owner, slug)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let set = state.model_sets.find(&owner, &slug).await?;
    let revisions = state.model_sets.revisions(&set).await?;
    Ok(Json(json!({ "object": "list", "data": revisions })))
}

/// `GET /api/v1/model-sets/{owner}/{slug}/routing`: the planned weights, each model's
/// breaker, the realised statistics and the projection with its verdict. Public, like the set.
pub async fn routing(
    State(state): State<AppState>,
    Path((owner, slug)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let set = state.model_sets.find(&owner, &slug).await?;
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
    /// The per-model inputs to project with instead of the server's own (one per model of
    /// `models`, in order), as a previous answer returned them: a what-if with your own
    /// numbers, and the check that a browser's projection equals the server's.
    #[serde(default)]
    inputs: Option<Vec<ModelInput>>,
}

/// `POST /api/v1/projections`: weights, projected behaviour and verdict for a configuration
/// that is not deployed (yet), with the per-model inputs so a browser can re-project as the
/// requirements change without asking again.
pub async fn projection(State(state): State<AppState>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let draft: DraftProjection = parse(&body)?;
    state.model_sets.validate_spec(&draft.spec)?;
    let set = match &draft.model_set {
        Some(address) => Some(state.model_sets.find_address(address).await?),
        None => None,
    };
    let cannot = |e: app::engine::PlanError| ApiError::BadRequest(format!("Cannot project this configuration: {e}"));
    let (projection, inputs) = match draft.inputs {
        Some(inputs) => {
            let ids: Vec<&String> = inputs.iter().map(|m| &m.id).collect();
            if ids != draft.spec.models.iter().collect::<Vec<_>>() {
                return Err(ApiError::BadRequest(
                    "inputs must give one entry per model of `models`, in the same order".into(),
                ));
            }
            let projection = state.routing.project_inputs(&draft.spec, &inputs).map_err(cannot)?;
            (projection, inputs)
        }
        None => state.routing.project_draft(set.as_ref(), &draft.spec).map_err(cannot)?,
    };
    Ok(Json(json!({ "projection": projection, "inputs": inputs })))
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("Invalid request body: {e}")))
}
