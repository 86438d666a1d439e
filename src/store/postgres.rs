//! PostgreSQL, the production store.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgPool};

use super::read_pool::{ReadPool, IDLE_BEFORE_PING};
use super::sql::{impl_sql_store, Columns};
use super::{PoolStatus, StoreError};

/// Store backed by a Postgres pool for transactions and multiplexed connections for the hot read.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    reads: ReadPool,
}

impl PgStore {
    /// Connects lazily: the service starts (and `/livez` answers) even while Postgres is down, and a
    /// request fails within `acquire_timeout` instead of hanging. `read_connections` is the number of
    /// connections the contact-set GET shares (see `read_pool.rs`).
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
        let password = url_password(url);
        let reads = ReadPool::new(&options, password.as_deref(), read_connections as usize, acquire_timeout);
        Ok(PgStore { pool, reads })
    }

    /// Wraps an existing pool (tests point it at a private schema); the reads connect with the same
    /// options (and `PGPASSWORD`, the pool's password not being readable) over two connections.
    pub fn from_pool(pool: PgPool) -> Self {
        let password = std::env::var("PGPASSWORD").ok();
        let reads = ReadPool::new(
            &pool.connect_options(),
            password.as_deref(),
            2,
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

    async fn contact_rows(&self, tenant: &str, property_id: &str) -> Result<Vec<ContactRow>, StoreError> {
        let rows = self.reads.contact_rows(tenant, property_id).await?;
        rows.iter()
            .map(ContactRow::decode)
            .collect::<Result<_, _>>()
            // A column that does not decode means code and schema disagree: a bug, not an outage.
            .map_err(|e| StoreError::Other(format!("decoding a contact row: {e}")))
    }

    fn read_pool_status(&self) -> Option<PoolStatus> {
        Some(self.reads.status())
    }

    fn close_read_pool(&self) {
        self.reads.close();
    }
}

/// The URL's password, percent-decoded, else `PGPASSWORD` (as sqlx reads them).
fn url_password(url: &str) -> Option<String> {
    let from_url = url::Url::parse(url).ok().and_then(|u| {
        u.password().map(|p| percent_encoding::percent_decode_str(p).decode_utf8_lossy().into_owned())
    });
    from_url.or_else(|| std::env::var("PGPASSWORD").ok())
}

impl Columns for tokio_postgres::Row {
    type Error = tokio_postgres::Error;

    fn int8(&self, i: usize) -> Result<i64, Self::Error> {
        self.try_get(i)
    }
    fn int4(&self, i: usize) -> Result<Option<i32>, Self::Error> {
        self.try_get(i)
    }
    fn text(&self, i: usize) -> Result<Option<String>, Self::Error> {
        self.try_get(i)
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
