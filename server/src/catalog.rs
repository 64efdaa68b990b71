//! Loads the configured catalog into storage at start-up, so every replica serves the
//! catalog of its own configuration and the database records what was offered.

use std::collections::BTreeMap;
use std::sync::Arc;

use app::catalog::CatalogModel;

use crate::clock::now_ms;
use crate::storage::{SharedStorage, StorageResult};

pub async fn sync(storage: &SharedStorage, models: &[CatalogModel]) -> StorageResult<()> {
    let now = now_ms();
    for model in models {
        storage.upsert_catalog_model(model, now).await?;
    }
    Ok(())
}

/// The configured catalog by id, shared read-only by every request.
pub type Catalog = Arc<BTreeMap<String, CatalogModel>>;

pub fn index(models: &[CatalogModel]) -> Catalog {
    Arc::new(models.iter().map(|m| (m.id.clone(), m.clone())).collect())
}
