//! The embedded backend: one SQLite file in WAL mode, so the running server and the
//! `setpoint` command-line tools can use the same database at once.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous};
use sqlx::SqlitePool;

use super::portable::portable_sql_storage;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

#[derive(Debug, Clone)]
pub struct SqliteStorage {
    pool: SqlitePool,
}

impl SqliteStorage {
    /// SQLite runs in this process, each connection's statements on a thread it starts.
    const WORKS_IN_PROCESS: bool = true;

    pub async fn connect(url: &str) -> super::StorageResult<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL makes NORMAL durable against application crashes; only a power cut can
            // lose the last transactions, never corrupt the file.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            // The CLI and the server may write at the same moment: wait, don't fail.
            .busy_timeout(Duration::from_secs(5))
            // Each connection keeps its own page cache (SQLite's default: up to 2 MiB). The
            // server reads little from the file (keys and sets are cached in memory) and the
            // pool grows to several connections under load: 512 KiB each keeps the process
            // within its memory budget.
            .pragma("cache_size", "-512");
        if let Some(dir) = options.get_filename().parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| super::StorageError::Database(sqlx::Error::Io(e)))?;
            }
        }
        // SQLite runs one writer at a time and the gateway's hot path reads nothing from it;
        // each connection costs a thread and its page cache, so a few are enough (with 8, the
        // pool grew to all of them under load and the server's RSS peak by about 3 MB).
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        Ok(SqliteStorage { pool })
    }
}

// `?`, not `$n`: sqlx looks `$n` names up per bind, which made a 64-row insert (896
// parameters) cost three times as much CPU as with `?`.
portable_sql_storage!(SqliteStorage, SqliteRow, |_| "?".to_owned(),);
