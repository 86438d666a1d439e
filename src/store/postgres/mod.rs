//! PostgreSQL, the production store: sqlx for the repositories, tokio-postgres for the contact
//! set's two hot paths (see `store/mod.rs` for which query goes where).

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgPool};

use sqlx::{Postgres, Transaction};

use super::backend::{Backend, PoolStatus, SqlStore};
use super::contact_sets::rows::ContactRow;
use super::contact_sets::{ContactSetPaths, ReplaceOutcome};
use super::error::{StoreError, StoreResult};
use crate::domain::contact_set::ContactSet;

mod client;
mod read_pool;
mod replace;

use client::{client_config, url_password, IDLE_BEFORE_PING};
use read_pool::ReadPool;

/// The production store.
pub type PgStore = SqlStore<PgBackend>;

/// How many connections each of the store's pools may hold, and how long a request waits for one.
#[derive(Debug, Clone, Copy)]
pub struct PgPoolSizes {
    /// The sqlx pool: every transaction but the contact-set replace.
    pub max_connections: u32,
    /// Shared by the contact-set GETs, their reads pipelined (see `read_pool.rs`).
    pub read_connections: u32,
    /// One per contact-set replace in flight (see `pg_replace.rs`).
    pub write_connections: u32,
    pub acquire_timeout: Duration,
}

/// Store backed by a Postgres pool for transactions and tokio-postgres connections for the two hot
/// paths: the contact-set read (multiplexed) and the contact-set replace (pipelined).
#[derive(Clone)]
pub struct PgBackend {
    pool: PgPool,
    reads: ReadPool,
    writes: Pool,
}

impl SqlStore<PgBackend> {
    /// Connects lazily: the service starts (and `/livez` answers) even while Postgres is down, and a
    /// request fails within `acquire_timeout` instead of hanging.
    pub fn connect(url: &str, sizes: PgPoolSizes) -> Result<Self, StoreError> {
        let options: PgConnectOptions =
            url.parse().map_err(|e: sqlx::Error| StoreError::Other(format!("invalid DATABASE_URL: {e}")))?;
        let options = options.application_name("property-contacts");
        let pool = PgPoolOptions::new()
            .max_connections(sizes.max_connections)
            .acquire_timeout(sizes.acquire_timeout)
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
        let config = client_config(&options, url_password(url).as_deref(), sizes.acquire_timeout);
        let reads = ReadPool::new(config.clone(), sizes.read_connections as usize, sizes.acquire_timeout);
        let writes = write_pool(config, sizes.write_connections as usize, sizes.acquire_timeout)?;
        Ok(SqlStore::new(PgBackend { pool, reads, writes }))
    }

    /// Wraps an existing pool (tests point it at a private schema); the tokio-postgres connections
    /// use the same options (and `PGPASSWORD`, the pool's password not being readable), two each.
    pub fn from_pool(pool: PgPool) -> Self {
        let password = std::env::var("PGPASSWORD").ok();
        let acquire_timeout = pool.options().get_acquire_timeout();
        let config = client_config(&pool.connect_options(), password.as_deref(), acquire_timeout);
        let reads = ReadPool::new(config.clone(), 2, acquire_timeout);
        let writes = write_pool(config, 2, acquire_timeout).expect("a pool of two connections builds");
        SqlStore::new(PgBackend { pool, reads, writes })
    }
}

impl Backend for PgBackend {
    type Db = Postgres;

    fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn begin_write(&self) -> StoreResult<Transaction<'static, Postgres>> {
        Ok(self.pool.begin().await?)
    }

    async fn begin_read(&self) -> StoreResult<Transaction<'static, Postgres>> {
        Ok(self.pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY").await?)
    }

    async fn migrate(&self) -> StoreResult<()> {
        sqlx::migrate!("./migrations/postgres")
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Other(format!("migration failed: {e}")))
    }

    fn pool_status(&self) -> Vec<PoolStatus> {
        let main = PoolStatus {
            name: "main",
            size: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max: self.pool.options().get_max_connections(),
        };
        let writes = self.writes.status();
        let write = PoolStatus {
            name: "write",
            size: u32::try_from(writes.size).unwrap_or(u32::MAX),
            idle: u32::try_from(writes.available).unwrap_or(u32::MAX),
            max: u32::try_from(writes.max_size).unwrap_or(u32::MAX),
        };
        vec![main, self.reads.status(), write]
    }

    async fn close(&self) {
        self.reads.close();
        self.writes.close();
        self.pool.close().await;
    }
}

impl ContactSetPaths for PgBackend {
    async fn contact_rows(&self, tenant: &str, property_id: &str) -> StoreResult<Vec<ContactRow>> {
        let rows = self.reads.contact_rows(tenant, property_id).await?;
        rows.iter()
            .map(ContactRow::decode)
            .collect::<Result<_, _>>()
            // A column that does not decode means code and schema disagree: a bug, not an outage.
            .map_err(|e| StoreError::Other(format!("decoding a contact row: {e}")))
    }

    async fn replace_set(
        &self,
        tenant: &str,
        property_id: &str,
        set: &ContactSet,
        expected_revision: Option<i64>,
        author: &str,
    ) -> StoreResult<ReplaceOutcome> {
        let client =
            self.writes.get().await.map_err(|e| StoreError::Unavailable(format!("write connection: {e}")))?;
        replace::replace(&client, tenant, property_id, set, expected_revision, author).await
    }
}

/// The contact-set replace's connections: one per replace in flight, each with its prepared
/// statements. Checked only for being open when handed out (no round trip), unless idle for
/// [`IDLE_BEFORE_PING`]: then pinged, as the other pools' connections are.
fn write_pool(config: tokio_postgres::Config, size: usize, timeout: Duration) -> Result<Pool, StoreError> {
    let manager = Manager::from_config(
        config,
        tokio_postgres::NoTls,
        ManagerConfig { recycling_method: RecyclingMethod::Fast },
    );
    Pool::builder(manager)
        .max_size(size.max(1))
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(timeout))
        .create_timeout(Some(timeout))
        .recycle_timeout(Some(timeout))
        .pre_recycle(deadpool_postgres::Hook::async_fn(move |client, metrics| {
            Box::pin(async move {
                // `last_used` counts from the last hand-out, so this may ping a little early, never late.
                if metrics.last_used() < IDLE_BEFORE_PING {
                    return Ok(());
                }
                // deadpool's recycle timeout does not cover hooks: bound the ping here.
                match tokio::time::timeout(timeout, client.simple_query("")).await {
                    Ok(answer) => answer.map(drop).map_err(deadpool_postgres::HookError::Backend),
                    Err(_) => Err(deadpool_postgres::HookError::message("ping timed out")),
                }
            })
        }))
        .build()
        .map_err(|e| StoreError::Other(format!("write pool: {e}")))
}
