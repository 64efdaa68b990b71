//! The public registry and Model Set pages.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use super::ssr;
use crate::error::UiError;
use crate::model_set::ModelSet;

#[server(endpoint = "list_model_sets")]
pub async fn list_model_sets(query: String) -> Result<Vec<ModelSet>, UiError> {
    ssr::backend()?.model_sets(&query).await
}
