//! The backend for operators running several gateway replicas against one database.

use std::time::Duration;

use sqlx::postgres::{PgPoolOptions, PgRow};
use sqlx::PgPool;

use super::portable::portable_sql_storage;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

#[derive(Debug, Clone)]
pub struct PostgresStorage {
    pool: PgPool,
}

impl PostgresStorage {
    /// The statements run in the PostgreSQL server; this process only waits on sockets.
    const WORKS_IN_PROCESS: bool = false;

    pub async fn connect(url: &str) -> Result<Self, super::StorageError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        Ok(PostgresStorage { pool })
    }
}

portable_sql_storage!(PostgresStorage, PgRow, |n| format!("${n}"));
