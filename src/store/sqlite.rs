//! Embedded SQLite, the zero-setup default: one file, WAL mode, created on first start.

use std::str::FromStr;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqliteConnection, SqlitePool};

use super::sql::impl_sql_store;
use super::{PoolStatus, StoreError};

/// Store backed by an SQLite file.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    pub async fn connect(
        url: &str,
        max_connections: u32,
        acquire_timeout: Duration,
    ) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Other(format!("invalid DATABASE_URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL + NORMAL is durable across application crashes, and only loses the last commits
            // on power loss; the usual choice for an embedded service store.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(acquire_timeout)
            .connect_with(options)
            .await?;
        Ok(SqliteStore { pool })
    }

    async fn run_migrations(&self) -> Result<(), StoreError> {
        sqlx::migrate!("./migrations/sqlite")
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Other(format!("migration failed: {e}")))
    }

    /// SQLite has no network round trip to save: reads use the main pool.
    async fn read_lease(&self) -> Result<SqliteRead, StoreError> {
        Ok(SqliteRead(self.pool.acquire().await?))
    }

    fn read_pool_status(&self) -> Option<PoolStatus> {
        None
    }

    fn close_read_pool(&self) {}
}

/// A main-pool connection in the shape of Postgres' read lease; sqlx's pool checks it on release.
struct SqliteRead(PoolConnection<Sqlite>);

impl SqliteRead {
    fn conn(&mut self) -> &mut SqliteConnection {
        &mut self.0
    }

    fn settle<T>(&mut self, _result: &Result<T, sqlx::Error>) {}
}

impl_sql_store!(SqliteStore, sqlx::Sqlite, begin_write = "BEGIN IMMEDIATE");
super::crm_sql::impl_crm_store!(
    SqliteStore,
    sqlx::Sqlite,
    lock_row = "",
    begin_read = "BEGIN",
    explain = "EXPLAIN QUERY PLAN"
);
super::customers_sql::impl_customer_store!(SqliteStore, sqlx::Sqlite);
