//! PostgreSQL, the production store.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgPool};

use super::read_pool::{ReadLease, ReadPool, IDLE_BEFORE_PING};
use super::sql::impl_sql_store;
use super::{PoolStatus, StoreError};

/// Store backed by a Postgres pool for transactions and a lean pool for the hot reads.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    reads: ReadPool,
}

impl PgStore {
    /// Connects lazily: the service starts (and `/livez` answers) even while Postgres is down, and a
    /// request fails within `acquire_timeout` instead of hanging. `read_connections` sizes the
    /// separate pool of the contact-set GET (see `read_pool.rs`).
    pub fn connect(
        url: &str,
        max_connections: u32,
        read_connections: u32,
        acquire_timeout: Duration,
    ) -> Result<Self, StoreError> {
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
            .connect_lazy_with(options.clone());
        let reads = ReadPool::new(options, read_connections as usize, acquire_timeout);
        Ok(PgStore { pool, reads })
    }

    /// Wraps an existing pool (tests point it at a private schema); the read pool connects with the
    /// same options and gets as many connections.
    pub fn from_pool(pool: PgPool) -> Self {
        let options = (*pool.connect_options()).clone();
        let reads = ReadPool::new(
            options,
            pool.options().get_max_connections() as usize,
            pool.options().get_acquire_timeout(),
        );
        PgStore { pool, reads }
    }

    async fn run_migrations(&self) -> Result<(), StoreError> {
        sqlx::migrate!("./migrations/postgres")
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Other(format!("migration failed: {e}")))
    }

    async fn read_lease(&self) -> Result<ReadLease, StoreError> {
        self.reads.lease().await
    }

    fn read_pool_status(&self) -> Option<PoolStatus> {
        Some(self.reads.status())
    }

    fn close_read_pool(&self) {
        self.reads.close();
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
