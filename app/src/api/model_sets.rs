//! The public registry, Model Set pages and the models catalog: reading needs no account.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use super::ssr;
use crate::error::UiError;
use crate::evals::ScoredRequest;
use crate::monitoring::{Lines, Range, Series};
use crate::views::{ModelOverview, RegistryPage, RegistryParams, SetDetail};

#[server(endpoint = "registry")]
pub async fn registry(params: RegistryParams) -> Result<RegistryPage, UiError> {
    ssr::backend()?.registry(&params).await
}

#[server(endpoint = "model_set_detail")]
pub async fn model_set_detail(owner: String, slug: String) -> Result<SetDetail, UiError> {
    let viewer = ssr::account_id().await?;
    let base_url = ssr::origin().await;
    let detail = ssr::backend()?
        .set_detail(&owner, &slug, viewer)
        .await
        .map(|detail| SetDetail { base_url, ..detail });
    if matches!(detail, Err(UiError::NotFound)) {
        ssr::not_found();
    }
    detail
}

#[server(endpoint = "set_series")]
pub async fn set_series(
    owner: String,
    slug: String,
    range: Range,
    // Callers other than the page may leave it out: the whole set's line only.
    #[server(default)] lines: Lines,
) -> Result<Series, UiError> {
    ssr::backend()?.set_series(&owner, &slug, range, &lines).await
}

/// The set's latest evaluated requests with their scores and reasons: the owner's only.
#[server(endpoint = "latest_evals")]
pub async fn latest_evals(owner: String, slug: String) -> Result<Vec<ScoredRequest>, UiError> {
    let viewer = ssr::account_id().await?;
    ssr::backend()?.latest_evals(&owner, &slug, viewer).await
}

#[server(endpoint = "models_overview")]
pub async fn models_overview() -> Result<Vec<ModelOverview>, UiError> {
    ssr::backend()?.models_overview().await
}
