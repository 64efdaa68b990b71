//! The Leptos side of the router: server-side rendering of pages and the endpoint that
//! answers the browser's server-function calls. Both get [`PagesBackend`] (as the app's
//! [`Backend`] trait) in their context.

use std::net::IpAddr;
use std::sync::Arc;

use app::account::{ApiKeyInfo, CreatedApiKey, UserInfo};
use app::backend::{Backend, SharedBackend};
use app::error::UiError;
use app::evals::ScoredRequest;
use app::model_set::{Field, FieldError, ModelSetDraft, ModelSetPatch};
use app::monitoring::{Lines, Range, Series};
use app::views::{
    EditorStart, ModelOverview, RegistryPage, RegistryParams, RegistrySort, RequirementStatus, SaveTarget, SetCard,
    SetDetail, SetForm, SetModel, REGISTRY_PAGE_SIZE,
};
use app::{shell, App};
use axum::body::Body;
use axum::extract::State;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use leptos::prelude::provide_context;

use super::AppState;
use crate::accounts::{AccountError, Accounts};
use crate::catalog::Catalog;
use crate::clock::now_ms;
use crate::model_sets::registry::{RegistryQuery, SetSort};
use crate::model_sets::{Actor, ModelSets, SetError};
use crate::monitoring;
use crate::routing::Routing;
use crate::storage::{Account, SetFilter, SharedStorage};

/// Largest error body we re-read to pick its status; `UiError`s are a few hundred bytes.
const ERROR_BODY_LIMIT: usize = 16 * 1024;
/// The owner's list of evaluated requests: the latest this many, read from at most this many
/// results (a request has a result per metric).
const LATEST_EVAL_REQUESTS: usize = 20;
const LATEST_EVAL_ROWS: i64 = 200;

pub async fn server_fn(State(state): State<AppState>, request: Request<Body>) -> Response {
    let backend = state.backend.clone();
    let response =
        leptos_axum::handle_server_fns_with_context(move || provide_context::<SharedBackend>(backend.clone()), request)
            .await
            .into_response();
    // server_fn answers every error with 500; give the client the status the error means
    // (the browser side decodes any 4xx/5xx the same way).
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, ERROR_BODY_LIMIT).await.unwrap_or_default();
    if let Ok(error) = serde_json::from_slice::<UiError>(&bytes) {
        parts.status = status_of(&error);
    }
    Response::from_parts(parts, Body::from(bytes))
}

fn status_of(error: &UiError) -> StatusCode {
    match error {
        UiError::Invalid(_) | UiError::Field(_) | UiError::Transport(_) => StatusCode::BAD_REQUEST,
        UiError::NotOwner => StatusCode::FORBIDDEN,
        UiError::BadCredentials | UiError::NotLoggedIn => StatusCode::UNAUTHORIZED,
        UiError::UsernameTaken => StatusCode::CONFLICT,
        UiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
        UiError::NotFound => StatusCode::NOT_FOUND,
        UiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

pub async fn page(State(state): State<AppState>, request: Request<Body>) -> Response {
    let backend = state.backend.clone();
    let options = state.leptos_options.clone();
    let render = leptos_axum::render_route_with_context(
        (*state.routes).clone(),
        move || provide_context::<SharedBackend>(backend.clone()),
        move || shell(options.clone()),
    );
    render(State(state), request).await.into_response()
}

/// The route list Leptos derives from [`App`], computed once at start-up.
pub fn routes() -> Vec<leptos_axum::AxumRouteListing> {
    leptos_axum::generate_route_list(App)
}

/// What the pages may ask of the server: the account rules plus the public registry,
/// with every failure turned into a message for the person at the keyboard.
pub struct PagesBackend {
    pub accounts: Arc<Accounts>,
    pub model_sets: Arc<ModelSets>,
    pub storage: SharedStorage,
    pub routing: Arc<Routing>,
    pub catalog: Catalog,
}

/// Model Set failures as the pages show them.
impl From<SetError> for UiError {
    fn from(e: SetError) -> Self {
        match e {
            SetError::Invalid(field) => UiError::Field(field),
            SetError::BadAddress(_) | SetError::NotFound(_) => UiError::NotFound,
            SetError::NotOwner => UiError::NotOwner,
            SetError::SlugTaken(_) => UiError::Field(FieldError::new(
                Field::Slug,
                "You already have a Model Set with this slug: choose another.",
            )),
            SetError::Storage(e) => internal(e),
        }
    }
}

/// Account failures as the pages show them; storage details go to the log only.
impl From<AccountError> for UiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Invalid(msg) => UiError::Invalid(msg),
            AccountError::UsernameTaken(_) => UiError::UsernameTaken,
            AccountError::BadCredentials | AccountError::NoSuchAccount(_) => UiError::BadCredentials,
            AccountError::RateLimited(s) => UiError::RateLimited(s),
            AccountError::NoSuchKey => UiError::NotFound,
            AccountError::Storage(e) => {
                tracing::error!(error = %e, "storage failure");
                UiError::Internal
            }
            AccountError::Internal(e) => {
                tracing::error!(error = %e, "internal failure");
                UiError::Internal
            }
        }
    }
}

fn user_info(a: &Account) -> UserInfo {
    UserInfo {
        id: a.id,
        username: a.username.clone(),
    }
}

fn internal(e: impl std::fmt::Display) -> UiError {
    tracing::error!(error = %e, "storage failure");
    UiError::Internal
}

#[async_trait::async_trait]
impl Backend for PagesBackend {
    async fn sign_up(&self, username: &str, password: &str, client: IpAddr) -> Result<UserInfo, UiError> {
        // Sign-ups cost an argon2 hash, so they share the address budget with logins.
        self.accounts
            .limiter()
            .check(None, client)
            .map_err(UiError::RateLimited)?;
        let account = self.accounts.create_account(username, password).await?;
        tracing::info!(account_id = account.id, "account created");
        Ok(user_info(&account))
    }

    async fn log_in(&self, username: &str, password: &str, client: IpAddr) -> Result<UserInfo, UiError> {
        self.accounts
            .limiter()
            .check(Some(username), client)
            .map_err(UiError::RateLimited)?;
        let account = self.accounts.verify_login(username, password).await?;
        Ok(user_info(&account))
    }

    async fn user(&self, account_id: i64) -> Result<Option<UserInfo>, UiError> {
        let account = self.storage.account_by_id(account_id).await.map_err(internal)?;
        Ok(account.as_ref().map(user_info))
    }

    async fn api_keys(&self, account_id: i64) -> Result<Vec<ApiKeyInfo>, UiError> {
        Ok(self.accounts.list_keys(account_id).await?)
    }

    async fn create_api_key(&self, account_id: i64, name: &str) -> Result<CreatedApiKey, UiError> {
        Ok(self.accounts.create_key(account_id, name).await?)
    }

    async fn revoke_api_key(&self, account_id: i64, key_id: i64) -> Result<(), UiError> {
        Ok(self.accounts.revoke_key(account_id, key_id).await?)
    }

    async fn registry(&self, params: &RegistryParams) -> Result<RegistryPage, UiError> {
        let page = params.page.max(1);
        let query = RegistryQuery {
            filter: SetFilter {
                query: params.q.clone(),
                category: params.category.clone().filter(|c| !c.is_empty()),
                tag: params.tag.clone().filter(|t| !t.is_empty()),
                owner: None,
            },
            sort: match params.sort {
                RegistrySort::MostUsed => SetSort::MostUsed,
                RegistrySort::RecentlyActive => SetSort::RecentlyActive,
                RegistrySort::Newest => SetSort::Newest,
            },
            offset: usize::try_from((page - 1) * REGISTRY_PAGE_SIZE).unwrap_or(usize::MAX),
            limit: usize::try_from(REGISTRY_PAGE_SIZE).unwrap_or(0),
        };
        let listing = self.model_sets.registry_page(&query, now_ms()).await?;
        let cards = listing
            .entries
            .into_iter()
            .map(|entry| SetCard {
                feasibility: self.routing.verdict(&entry.set).map(|v| v.feasibility),
                hourly: entry.recent.hourly,
                requests_24h: entry.recent.last_day,
                set: entry.set,
            })
            .collect();
        Ok(RegistryPage {
            cards,
            total: i64::try_from(listing.total).unwrap_or(i64::MAX),
            page,
            per_page: REGISTRY_PAGE_SIZE,
        })
    }

    async fn set_detail(&self, owner: &str, slug: &str, viewer: Option<i64>) -> Result<SetDetail, UiError> {
        let set = self.model_sets.find(owner, slug).await?;
        let revisions = self.model_sets.revisions(&set).await?;
        let recent = monitoring::set_series(&self.storage, &set, Range::Day, &Lines::Set, now_ms())
            .await
            .map_err(internal)?
            .set
            .total;
        let routing = self.routing.view(&set);
        let models = set
            .spec
            .models
            .iter()
            .map(|id| {
                let share = routing.weights.iter().find(|w| &w.model == id);
                SetModel {
                    id: id.clone(),
                    catalog: self.catalog.get(id).cloned(),
                    weight: share.map(|s| s.weight),
                    exploring: share.is_some_and(|s| s.exploring),
                    breaker: share.map_or("closed", |s| s.breaker).to_string(),
                    why: share.map(|s| s.explanation.clone()),
                }
            })
            .collect();
        let requirements = set
            .spec
            .requirements
            .iter()
            .map(|r| RequirementStatus {
                requirement: r.clone(),
                realised: recent.value(&r.dimension, r.statistic),
            })
            .collect();
        let viewer_is_owner = match viewer {
            Some(id) => self
                .storage
                .account_by_id(id)
                .await
                .map_err(internal)?
                .is_some_and(|a| a.username == set.owner),
            None => false,
        };
        Ok(SetDetail {
            models,
            requirements,
            verdict: routing.projection.map(|p| p.verdict),
            revisions,
            viewer_is_owner,
            recent,
            set,
            // The server function fills in how the browser reached us.
            base_url: String::new(),
        })
    }

    async fn set_series(&self, owner: &str, slug: &str, range: Range, lines: &Lines) -> Result<Series, UiError> {
        let set = self.model_sets.find(owner, slug).await?;
        monitoring::set_series(&self.storage, &set, range, lines, now_ms())
            .await
            .map_err(internal)
    }

    async fn latest_evals(&self, owner: &str, slug: &str, viewer: Option<i64>) -> Result<Vec<ScoredRequest>, UiError> {
        let set = self.model_sets.find(owner, slug).await?;
        let account = self.account(viewer.ok_or(UiError::NotLoggedIn)?).await?;
        if account.username != set.owner {
            return Err(UiError::NotOwner);
        }
        let rows = self
            .storage
            .latest_eval_results(set.id, LATEST_EVAL_ROWS)
            .await
            .map_err(internal)?;
        Ok(crate::evals::scored_requests(rows, LATEST_EVAL_REQUESTS))
    }

    async fn models_overview(&self) -> Result<Vec<ModelOverview>, UiError> {
        let mut measured = monitoring::models_last_day(&self.storage, now_ms())
            .await
            .map_err(internal)?;
        Ok(self
            .catalog
            .values()
            .map(|model| ModelOverview {
                last_day: measured.remove(&model.id).unwrap_or_default(),
                model: model.clone(),
            })
            .collect())
    }

    async fn editor_start(&self, account_id: i64, target: &SaveTarget) -> Result<EditorStart, UiError> {
        let account = self.account(account_id).await?;
        let actor = Actor {
            account_id,
            username: &account.username,
        };
        let source = match target {
            SaveTarget::New => None,
            SaveTarget::Clone { source } => Some(self.model_sets.find_address(source).await?),
            SaveTarget::Edit { owner, slug } => Some(self.model_sets.owned(actor, owner, slug).await?),
        };
        let catalog = self.models_overview().await?;
        let ids: Vec<String> = catalog.iter().map(|m| m.model.id.clone()).collect();
        Ok(EditorStart {
            target: target.clone(),
            // The source set's own traffic counts in its models' inputs, as in the projection API.
            inputs: self.routing.draft_inputs(source.as_ref(), &ids),
            options: self.routing.options().clone(),
            judge: self.catalog.get(app::evals::JUDGE_MODEL).cloned(),
            owner: account.username,
            source,
            catalog,
        })
    }

    async fn save_set(&self, account_id: i64, target: &SaveTarget, form: SetForm) -> Result<String, UiError> {
        let account = self.account(account_id).await?;
        let actor = Actor {
            account_id,
            username: &account.username,
        };
        let draft = |form: SetForm| ModelSetDraft {
            name: form.name,
            slug: Some(form.slug),
            description: form.description,
            categories: form.categories,
            tags: form.tags,
            models: form.spec.models,
            requirements: form.spec.requirements,
            objective: form.spec.objective,
            evals: form.spec.evals,
        };
        let set = match target {
            SaveTarget::New => self.model_sets.create(actor, draft(form), None).await?,
            SaveTarget::Clone { source } => {
                let source = self.model_sets.find_address(source).await?;
                self.model_sets.create(actor, draft(form), Some(&source)).await?
            }
            SaveTarget::Edit { owner, slug } => {
                let patch = ModelSetPatch {
                    description: Some(form.description),
                    categories: Some(form.categories),
                    tags: Some(form.tags),
                    models: Some(form.spec.models),
                    requirements: Some(form.spec.requirements),
                    objective: Some(form.spec.objective),
                    evals: Some(form.spec.evals),
                };
                self.model_sets.update(actor, owner, slug, patch).await?
            }
        };
        Ok(set.address())
    }

    async fn slug_available(&self, account_id: i64, slug: &str) -> Result<bool, UiError> {
        let account = self.account(account_id).await?;
        match self.model_sets.find(&account.username, slug).await {
            Ok(_) => Ok(false),
            Err(SetError::NotFound(_)) => Ok(true),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete_set(&self, account_id: i64, owner: &str, slug: &str) -> Result<(), UiError> {
        let account = self.account(account_id).await?;
        let actor = Actor {
            account_id,
            username: &account.username,
        };
        Ok(self.model_sets.delete(actor, owner, slug).await?)
    }
}

impl PagesBackend {
    /// The signed-in account; a session whose account is gone is no longer signed in.
    async fn account(&self, account_id: i64) -> Result<Account, UiError> {
        self.storage
            .account_by_id(account_id)
            .await
            .map_err(internal)?
            .ok_or(UiError::NotLoggedIn)
    }
}
