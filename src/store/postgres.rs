//! PostgreSQL, the production store.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgPool};

use super::read_pool::{ReadPool, IDLE_BEFORE_PING};
use super::sql::{impl_sql_store, Columns};
use super::{PoolStatus, StoreError};

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
pub struct PgStore {
    pool: PgPool,
    reads: ReadPool,
    writes: Pool,
}

impl PgStore {
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
        Ok(PgStore { pool, reads, writes })
    }

    /// Wraps an existing pool (tests point it at a private schema); the tokio-postgres connections
    /// use the same options (and `PGPASSWORD`, the pool's password not being readable), two each.
    pub fn from_pool(pool: PgPool) -> Self {
        let password = std::env::var("PGPASSWORD").ok();
        let acquire_timeout = pool.options().get_acquire_timeout();
        let config = client_config(&pool.connect_options(), password.as_deref(), acquire_timeout);
        let reads = ReadPool::new(config.clone(), 2, acquire_timeout);
        let writes = write_pool(config, 2, acquire_timeout).expect("a pool of two connections builds");
        PgStore { pool, reads, writes }
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
        super::pg_replace::replace(&client, tenant, property_id, set, expected_revision, author).await
    }

    fn client_pool_status(&self) -> Vec<PoolStatus> {
        let writes = self.writes.status();
        let write = PoolStatus {
            name: "write",
            size: u32::try_from(writes.size).unwrap_or(u32::MAX),
            idle: u32::try_from(writes.available).unwrap_or(u32::MAX),
            max: u32::try_from(writes.max_size).unwrap_or(u32::MAX),
        };
        vec![self.reads.status(), write]
    }

    fn close_client_pools(&self) {
        self.reads.close();
        self.writes.close();
    }
}

/// The tokio-postgres settings matching the sqlx pool's `options` (host, port or socket, user,
/// database, application name and `options`, which carry a test's `search_path`); `password` comes
/// separately, as sqlx does not hand it back. `timeout` bounds a connect.
fn client_config(
    options: &PgConnectOptions,
    password: Option<&str>,
    timeout: Duration,
) -> tokio_postgres::Config {
    let mut config = tokio_postgres::Config::new();
    match options.get_socket() {
        Some(dir) => config.host_path(dir),
        None => config.host(options.get_host()),
    };
    config
        .port(options.get_port())
        .user(options.get_username())
        .dbname(options.get_database().unwrap_or(options.get_username()))
        .connect_timeout(timeout);
    if let Some(name) = options.get_application_name() {
        config.application_name(name);
    }
    if let Some(opts) = options.get_options() {
        config.options(opts);
    }
    if let Some(password) = password {
        config.password(password);
    }
    config
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

/// The URL's password, percent-decoded, else `PGPASSWORD` (as sqlx reads them).
fn url_password(url: &str) -> Option<String> {
    let from_url = url::Url::parse(url).ok().and_then(|u| {
        u.password().map(|p| percent_encoding::percent_decode_str(p).decode_utf8_lossy().into_owned())
    });
    from_url.or_else(|| std::env::var("PGPASSWORD").ok())
}

/// The store's view of a tokio-postgres error: the session ending (SQLSTATE classes 57 and 08, a
/// closed connection, I/O) is Unavailable (503); a known constraint is a Conflict; anything else (an
/// error in a statement, a parameter that does not encode) is a bug or a broken database (500).
pub(super) fn client_error(e: &tokio_postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(db) if super::session_ending_code(db.code().code()) => StoreError::Unavailable(db.to_string()),
        Some(db) => match db.constraint().and_then(super::known_constraint_name) {
            Some(name) => StoreError::Conflict(name),
            None => StoreError::Other(db.to_string()),
        },
        None if e.is_closed() || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>()) => {
            StoreError::Unavailable(format!("database connection: {e}"))
        }
        None => StoreError::Other(e.to_string()),
    }
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
