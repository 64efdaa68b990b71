//! The editor's calls: what it starts from, Deploy / Clone / Save, the slug check, Delete.
//! Each needs a signed-in account; the Model Set service on the server applies the rules.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

#[cfg(feature = "ssr")]
use super::ssr;
use crate::error::UiError;
use crate::views::{EditorStart, SaveTarget, SetForm};

/// The editor's starting point for `target` (JSON in: the target is an enum).
#[server(endpoint = "open_editor", input = Json)]
pub async fn open_editor(target: SaveTarget) -> Result<EditorStart, UiError> {
    let account = ssr::require_account().await?;
    ssr::backend()?.editor_start(account, &target).await
}

/// Deploys a new set, clones one, or saves an edit; answers the set's address.
#[server(endpoint = "save_model_set", input = Json)]
pub async fn save_model_set(target: SaveTarget, form: SetForm) -> Result<String, UiError> {
    let account = ssr::require_account().await?;
    ssr::backend()?.save_set(account, &target, form).await
}

/// Whether the signed-in account may use `slug` for a new set (free and well-formed).
#[server(endpoint = "slug_available")]
pub async fn slug_available(slug: String) -> Result<bool, UiError> {
    let account = ssr::require_account().await?;
    ssr::backend()?.slug_available(account, &slug).await
}

/// Deletes the owner's set once its slug is typed as confirmation; then the registry.
/// A plain form post works too (no JavaScript needed).
#[server(endpoint = "delete_model_set")]
pub async fn delete_model_set(owner: String, slug: String, confirm: String) -> Result<(), UiError> {
    let account = ssr::require_account().await?;
    if confirm.trim() != slug {
        return Err(UiError::Invalid(format!(
            "Type the slug “{slug}” to confirm the deletion."
        )));
    }
    ssr::backend()?.delete_set(account, &owner, &slug).await?;
    leptos_axum::redirect("/model-sets");
    Ok(())
}
