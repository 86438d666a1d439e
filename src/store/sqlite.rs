//! Embedded SQLite, the zero-setup default: one file, WAL mode, created on first start.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, SqlitePool};

use super::sql::{impl_sql_store, Columns, CONTACT_SET_SELECT};
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

    /// SQLite has no network round trip to save: the hot read uses the main pool.
    async fn contact_rows(&self, tenant: &str, property_id: &str) -> Result<Vec<ContactRow>, StoreError> {
        let rows =
            sqlx::query(CONTACT_SET_SELECT).bind(tenant).bind(property_id).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(ContactRow::decode).collect::<Result<_, _>>()?)
    }

    fn read_pool_status(&self) -> Option<PoolStatus> {
        None
    }

    fn close_read_pool(&self) {}
}

impl Columns for SqliteRow {
    type Error = sqlx::Error;

    fn int8(&self, i: usize) -> Result<i64, sqlx::Error> {
        self.try_get(i)
    }
    fn int4(&self, i: usize) -> Result<Option<i32>, sqlx::Error> {
        self.try_get(i)
    }
    fn text(&self, i: usize) -> Result<Option<String>, sqlx::Error> {
        self.try_get(i)
    }
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
