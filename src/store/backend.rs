//! What a backend gives the repositories: its pools and how it opens transactions. The
//! repositories ([`SqlStore`] and its use cases in the aggregate modules) are written once over it.

use std::future::Future;

use super::error::StoreResult;
use super::query::Driver;
use super::session::{Conn, Tx};

/// Connection-pool occupancy, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// `main` (sqlx, every repository), `write` (SQLite: its one writer connection) or, on
    /// Postgres, `pipeline` (the tokio-postgres connections of the contact-set hot paths).
    pub name: &'static str,
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

impl PoolStatus {
    /// The occupancy of a sqlx pool.
    pub(super) fn of<DB: sqlx::Database>(name: &'static str, pool: &sqlx::Pool<DB>) -> Self {
        PoolStatus {
            name,
            size: pool.size(),
            idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
            max: pool.options().get_max_connections(),
        }
    }
}

/// One database: Postgres or the embedded SQLite file.
pub trait Backend: Clone + Send + Sync + 'static {
    /// The sqlx driver that runs [`super::query::Sql`].
    type Db: Driver;

    /// A pooled connection, for reads outside a transaction.
    fn acquire(&self) -> impl Future<Output = StoreResult<Conn<Self::Db>>> + Send;
    /// Opens a transaction that will write; concurrent writers of one row serialise on its lock
    /// (Postgres) or on the database's one writer (SQLite).
    fn begin_write(&self) -> impl Future<Output = StoreResult<Tx<Self::Db>>> + Send;
    /// Opens a read-only transaction that sees one consistent snapshot.
    fn begin_read(&self) -> impl Future<Output = StoreResult<Tx<Self::Db>>> + Send;

    fn migrate(&self) -> impl Future<Output = StoreResult<()>> + Send;
    /// How many pooled connections exist and how many are idle, per pool.
    fn pool_status(&self) -> Vec<PoolStatus>;
    /// Closes every pool.
    fn close(&self) -> impl Future<Output = ()> + Send;
}

/// The store: every use case of every aggregate, over one backend. [`super::PgStore`] and
/// [`super::SqliteStore`] name its two instances.
#[derive(Clone)]
pub struct SqlStore<B> {
    pub(super) backend: B,
}

impl<B: Backend> SqlStore<B> {
    pub(super) fn new(backend: B) -> Self {
        SqlStore { backend }
    }

    /// Runs a use case's transaction body, then commits when it succeeded and rolls back right
    /// away when it did not (a dropped transaction only queues its ROLLBACK until the connection is
    /// next used, holding its locks meanwhile). `done` tells success from a refusal.
    pub(super) async fn settle<T>(
        tx: Tx<B::Db>,
        result: StoreResult<T>,
        done: impl FnOnce(&T) -> bool,
    ) -> StoreResult<T> {
        match result {
            Ok(value) if done(&value) => {
                tx.commit().await?;
                Ok(value)
            }
            other => {
                // The refusal or error is what the caller needs; a failed rollback closes the
                // connection anyway.
                let _ = tx.rollback().await;
                other
            }
        }
    }
}
