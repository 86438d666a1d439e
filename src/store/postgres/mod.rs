//! PostgreSQL, the production store: sqlx for the repositories, one tokio-postgres pool for the
//! contact set's two hot paths (see `store/mod.rs` for which query goes where).

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgPool, Postgres};

use super::backend::{Backend, PoolStatus, SqlStore};
use super::contact_sets::rows::ContactRow;
use super::contact_sets::{ContactSetPaths, ReplaceOutcome};
use super::error::{StoreError, StoreResult};
use super::session::{Conn, Limits, Tx};
use crate::domain::contact_set::ContactSet;

mod client;
mod pipeline;
mod replace;

use client::{client_config, url_password, IDLE_BEFORE_PING};
use pipeline::Pipelines;

/// The production store.
pub type PgStore = SqlStore<PgBackend>;

/// How many connections the store holds, and how long it waits for them and for the server. A
/// process holds up to `max_connections + pipeline_connections`.
#[derive(Debug, Clone, Copy)]
pub struct PgPoolSizes {
    /// The sqlx pool: every query but the contact set's read and replace.
    pub max_connections: u32,
    /// The tokio-postgres pool of the contact set's read and replace (see `pipeline.rs`): one
    /// connection shared by every read, the others one replace each.
    pub pipeline_connections: u32,
    /// Bounds waiting for a pooled connection (and opening one).
    pub acquire_timeout: Duration,
    /// Bounds every wait for the server once a statement is sent.
    pub query_timeout: Duration,
}

/// Postgres: a sqlx pool for the repositories and the hot paths' tokio-postgres pool.
#[derive(Clone)]
pub struct PgBackend {
    pool: PgPool,
    limits: Limits,
    pipelines: Pipelines,
}

impl SqlStore<PgBackend> {
    /// Connects lazily: the service starts (and `/livez` answers) even while Postgres is down, and a
    /// request fails within `acquire_timeout` instead of hanging.
    pub fn connect(url: &str, sizes: PgPoolSizes) -> Result<Self, StoreError> {
        let options: PgConnectOptions =
            url.parse().map_err(|e: sqlx::Error| StoreError::Other(format!("invalid DATABASE_URL: {e}")))?;
        let options = options.application_name("property-contacts");
        let password = url_password(url);
        Self::build(options, password.as_deref(), sizes)
    }

    /// A store on the options of an existing pool (tests point it at a private schema), with pools
    /// of its own: 4 sqlx connections and 3 pipeline connections (the read lease and two for
    /// replaces). The password comes from `PGPASSWORD`, the pool's not being readable.
    pub fn from_pool(pool: PgPool) -> Self {
        let options = (*pool.connect_options()).clone();
        let sizes = PgPoolSizes {
            max_connections: pool.options().get_max_connections(),
            pipeline_connections: 3,
            acquire_timeout: pool.options().get_acquire_timeout(),
            query_timeout: Duration::from_secs(5),
        };
        let password = std::env::var("PGPASSWORD").ok();
        Self::build(options, password.as_deref(), sizes).expect("a store on a pool's options builds")
    }

    fn build(
        options: PgConnectOptions,
        password: Option<&str>,
        sizes: PgPoolSizes,
    ) -> Result<Self, StoreError> {
        let limits = Limits { query_timeout: sizes.query_timeout, health: Default::default() };
        let pool = sqlx_pool(&limits, sizes).connect_lazy_with(options.clone());
        let config = client_config(&options, password, sizes.acquire_timeout);
        let pipelines = Pipelines::new(
            config,
            sizes.pipeline_connections as usize,
            sizes.acquire_timeout,
            sizes.query_timeout,
        )?;
        Ok(SqlStore::new(PgBackend { pool, limits, pipelines }))
    }
}

/// The sqlx pool and its checks. sqlx already pings every connection when it is released, so under
/// load a fresh acquire needs no second ping (one round trip per request saved). A connection is
/// still checked when it sat idle for a while (the server may have restarted meanwhile) or was idle
/// when another turned out dead (the same cause most likely ended it too); every check is bounded.
fn sqlx_pool(limits: &Limits, sizes: PgPoolSizes) -> PgPoolOptions {
    let health = limits.health.clone();
    let ping_timeout = sizes.query_timeout.min(sizes.acquire_timeout);
    PgPoolOptions::new()
        .max_connections(sizes.max_connections)
        .acquire_timeout(sizes.acquire_timeout)
        .test_before_acquire(false)
        .before_acquire(move |conn, meta| {
            let suspect = meta.idle_for >= IDLE_BEFORE_PING || health.suspect(meta.idle_for);
            Box::pin(async move {
                if !suspect {
                    return Ok(true);
                }
                // A dead or silent connection is closed and another one tried.
                Ok(matches!(tokio::time::timeout(ping_timeout, conn.ping()).await, Ok(Ok(()))))
            })
        })
}

impl Backend for PgBackend {
    type Db = Postgres;

    async fn acquire(&self) -> StoreResult<Conn<Postgres>> {
        Conn::acquire(&self.pool, &self.limits).await
    }

    async fn begin_write(&self) -> StoreResult<Tx<Postgres>> {
        Tx::begin(&self.pool, "BEGIN", &self.limits).await
    }

    async fn begin_read(&self) -> StoreResult<Tx<Postgres>> {
        Tx::begin(&self.pool, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", &self.limits).await
    }

    async fn migrate(&self) -> StoreResult<()> {
        sqlx::migrate!("./migrations/postgres")
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Other(format!("migration failed: {e}")))
    }

    fn pool_status(&self) -> Vec<PoolStatus> {
        vec![PoolStatus::of("main", &self.pool), self.pipelines.status()]
    }

    async fn close(&self) {
        self.pipelines.close();
        self.pool.close().await;
    }
}

impl ContactSetPaths for PgBackend {
    async fn contact_rows(&self, tenant: &str, property_id: &str) -> StoreResult<Vec<ContactRow>> {
        let rows = self.pipelines.contact_rows(tenant, property_id).await?;
        rows.iter()
            .enumerate()
            .map(|(i, row)| ContactRow::decode(row, i == 0))
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
        self.pipelines.replace(tenant, property_id, set, expected_revision, author).await
    }
}
