//! Loads the configured catalog into storage at start-up, so every replica serves the
//! catalog of its own configuration and the database records what was offered.

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
