//! PostgreSQL, the production store.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgPool};

use super::sql::impl_sql_store;
use super::StoreError;

/// A pooled connection idle for longer than this is pinged before use.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);

/// Store backed by a Postgres pool.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects lazily: the service starts (and `/livez` answers) even while Postgres is down, and a
    /// request fails within `acquire_timeout` instead of hanging.
    pub fn connect(url: &str, max_connections: u32, acquire_timeout: Duration) -> Result<Self, StoreError> {
        let options: PgConnectOptions =
            url.parse().map_err(|e: sqlx::Error| StoreError::Other(format!("invalid DATABASE_URL: {e}")))?;
        let options = options.application_name("property-contacts");
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(acquire_timeout)
            // sqlx already pings every connection when it is released, so under load a fresh
            // acquire needs no second ping (one round trip per request saved). A connection that sat
            // idle for a while is still checked: the server may have restarted meanwhile.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for < IDLE_BEFORE_PING {
                        return Ok(true);
                    }
                    conn.ping().await.map(|()| true)
                })
            })
            .connect_lazy_with(options);
        Ok(PgStore { pool })
    }

    /// Wraps an existing pool (tests point it at a private schema).
    pub fn from_pool(pool: PgPool) -> Self {
        PgStore { pool }
    }

    async fn run_migrations(&self) -> Result<(), StoreError> {
        sqlx::migrate!("./migrations/postgres")
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Other(format!("migration failed: {e}")))
    }
}

impl_sql_store!(PgStore, sqlx::Postgres, begin_write = "BEGIN");
super::crm_sql::impl_crm_store!(
    PgStore,
    sqlx::Postgres,
    lock_row = " FOR UPDATE",
    begin_read = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
    explain = "EXPLAIN"
);
super::customers_sql::impl_customer_store!(PgStore, sqlx::Postgres);
