//! The store's own connection and transaction types over sqlx's, which add what a service needs
//! under faults:
//! - every wait for the server is bounded (`query_timeout`): a frozen or unreachable server gives
//!   an error (503) instead of holding the request;
//! - a pooled connection found dead on its first statement (the server restarted or ended the
//!   session while it sat in the pool) is replaced and the statement run again, once: nothing of it
//!   ran. The pool then pings every connection that was idle since, before handing it out
//!   ([`Health`]), so the retry gets a live one;
//! - a commit marks the request as having a commit in flight ([`crate::in_flight`]), so the request
//!   timeout waits for the commit's real outcome rather than answering "nothing stored".

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::{Pool, Transaction};

use super::error::{session_ending_code, StoreError, StoreResult};
use super::group_commit::{GroupWriter, Turn};
use super::query::{Driver, Record, Sql, SqlConn};

/// When a pool last saw a dead connection, so that connections idle since then are checked.
#[derive(Debug)]
pub struct Health {
    started: Instant,
    /// Milliseconds after `started` of the last dead connection seen (0: never).
    dead_seen_ms: AtomicU64,
}

impl Default for Health {
    fn default() -> Self {
        Health { started: Instant::now(), dead_seen_ms: AtomicU64::new(0) }
    }
}

impl Health {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX).max(1)
    }

    pub(super) fn saw_dead(&self) {
        self.dead_seen_ms.store(self.now_ms(), Ordering::SeqCst);
    }

    /// Whether a connection idle for `idle_for` was already idle when a dead one was seen (the
    /// same cause, a restart or a mass termination, most likely ended it too).
    pub(super) fn suspect(&self, idle_for: Duration) -> bool {
        let dead = self.dead_seen_ms.load(Ordering::SeqCst);
        let idle_since =
            self.now_ms().saturating_sub(u64::try_from(idle_for.as_millis()).unwrap_or(u64::MAX));
        dead != 0 && idle_since <= dead
    }
}

/// Whether an error says the connection is gone (I/O, or the server ending the session), as
/// opposed to an error in the statement.
pub(super) fn is_dead(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|c| session_ending_code(&c)),
        _ => false,
    }
}

/// What a session needs of its pool.
#[derive(Clone)]
pub(super) struct Limits {
    pub(super) query_timeout: Duration,
    pub(super) health: Arc<Health>,
}

fn timed_out(after: Duration) -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("the database did not answer within {} ms", after.as_millis()),
    ))
}

async fn bounded<T>(after: Duration, fut: impl Future<Output = sqlx::Result<T>>) -> sqlx::Result<T> {
    tokio::time::timeout(after, fut).await.unwrap_or_else(|_| Err(timed_out(after)))
}

/// A pooled connection, for reads outside a transaction.
pub struct Conn<DB: Driver> {
    conn: PoolConnection<DB>,
    pool: Pool<DB>,
    limits: Limits,
    /// No statement has run on it yet (a dead connection is only retried then).
    fresh: bool,
}

impl<DB: Driver> Conn<DB> {
    pub(super) async fn acquire(pool: &Pool<DB>, limits: &Limits) -> StoreResult<Self> {
        let conn = pool.acquire().await?;
        Ok(Conn { conn, pool: pool.clone(), limits: limits.clone(), fresh: true })
    }

    /// Replaces a connection found dead (see the module comment).
    async fn replace_dead(&mut self, e: &sqlx::Error) -> sqlx::Result<()> {
        self.limits.health.saw_dead();
        tracing::info!(error = %e, "pooled connection was dead; retrying on another");
        let after = self.limits.query_timeout;
        self.conn =
            tokio::time::timeout(after, self.pool.acquire()).await.map_err(|_| timed_out(after))??;
        Ok(())
    }
}

/// Runs `$run` on a [`Conn`]; if it was fresh and turns out dead, once more on another connection.
macro_rules! on_live_connection {
    ($self:ident, $sql:ident, $run:expr) => {{
        let after = $self.limits.query_timeout;
        if !std::mem::take(&mut $self.fresh) {
            bounded(after, $run(&mut *$self.conn, $sql)).await
        } else {
            let again = $sql.clone();
            match bounded(after, $run(&mut *$self.conn, $sql)).await {
                Err(e) if is_dead(&e) => {
                    $self.replace_dead(&e).await?;
                    bounded(after, $run(&mut *$self.conn, again)).await
                }
                other => other,
            }
        }
    }};
}

/// A transaction of the store.
pub struct Tx<DB: Driver> {
    inner: Inner<DB>,
    query_timeout: Duration,
}

enum Inner<DB: Driver> {
    /// A database transaction of its own.
    Own(Transaction<'static, DB>),
    /// A savepoint in a group commit ([`super::group_commit`]).
    Member(Turn<DB>),
}

impl<DB: Driver> Inner<DB> {
    fn conn(&mut self) -> &mut DB::Connection {
        match self {
            Inner::Own(tx) => tx,
            Inner::Member(turn) => turn.conn(),
        }
    }
}

impl<DB: Driver> Tx<DB> {
    /// Opens a transaction with `begin` (`BEGIN` with the backend's options). A pooled connection
    /// that is dead fails the `BEGIN` itself, before anything of the use case was sent: then once
    /// more, on another connection.
    pub(super) async fn begin(pool: &Pool<DB>, begin: &'static str, limits: &Limits) -> StoreResult<Self> {
        let after = limits.query_timeout;
        let open = || {
            // On a task of its own, which the caller never cancels: sqlx counts a transaction only
            // once its BEGIN is answered, so a BEGIN dropped in flight (a request gone, or this bound
            // running out) would hand the connection back to the pool inside a transaction. The task
            // finishes the BEGIN and, if nobody waits any more, drops the transaction, rolling it back.
            let pool = pool.clone();
            let task = tokio::spawn(async move { pool.begin_with(begin).await });
            async move {
                match tokio::time::timeout(after, task).await {
                    Ok(Ok(opened)) => opened,
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "begin task failed");
                        Err(sqlx::Error::WorkerCrashed)
                    }
                    Err(_) => Err(timed_out(after)),
                }
            }
        };
        let tx = match open().await {
            Err(e) if is_dead(&e) => {
                limits.health.saw_dead();
                tracing::info!(error = %e, "pooled connection was dead; retrying on another");
                open().await?
            }
            other => other?,
        };
        Ok(Tx { inner: Inner::Own(tx), query_timeout: after })
    }

    /// Takes the group writer's turn: waiting for it is bounded by `acquire_timeout` as a pool's
    /// queue is, and the savepoint by `query_timeout`.
    pub(super) async fn member(
        writer: &GroupWriter<DB>,
        acquire_timeout: Duration,
        limits: &Limits,
    ) -> StoreResult<Self> {
        let after = limits.query_timeout;
        match tokio::time::timeout(acquire_timeout + after, writer.turn()).await {
            Ok(turn) => Ok(Tx { inner: Inner::Member(turn?), query_timeout: after }),
            Err(_) => Err(StoreError::Unavailable("timed out waiting for the writer".into())),
        }
    }

    /// Commits. Once the COMMIT is sent its outcome is the answer, so the request is marked as
    /// having a commit in flight; a server that does not answer leaves the outcome unknown.
    /// In a dry run ([`super::dry_run`]) it rolls back instead and reports success.
    pub async fn commit(self) -> StoreResult<()> {
        if super::dry_run::active() {
            return self.rollback().await;
        }
        let after = self.query_timeout;
        crate::in_flight::commit_sent();
        let committed = match self.inner {
            Inner::Own(tx) => tokio::time::timeout(after, async { Ok(tx.commit().await?) }).await,
            Inner::Member(turn) => tokio::time::timeout(after, turn.commit()).await,
        };
        committed.unwrap_or_else(|_| {
            Err(StoreError::OutcomeUnknown(format!(
                "the database did not confirm the commit within {} ms",
                after.as_millis()
            )))
        })
    }

    /// Rolls back now rather than when the connection is next used.
    pub async fn rollback(self) -> StoreResult<()> {
        let after = self.query_timeout;
        match self.inner {
            Inner::Own(tx) => Ok(bounded(after, tx.rollback()).await?),
            Inner::Member(turn) => tokio::time::timeout(after, turn.rollback())
                .await
                .unwrap_or_else(|_| Err(StoreError::from(timed_out(after)))),
        }
    }
}

impl<DB: Driver> SqlConn for Conn<DB> {
    const LOCK_ROWS: &'static str = DB::LOCK_ROWS;
    const KEY_SHARE: &'static str = DB::KEY_SHARE;
    const EXPLAIN: &'static str = DB::EXPLAIN;
    const CLAIM_ROWS: &'static str = DB::CLAIM_ROWS;
    const SETTLED_EVENTS: &'static str = DB::SETTLED_EVENTS;
    const AFTER_POSITION: &'static str = DB::AFTER_POSITION;
    const WRITABLE_CTE: bool = DB::WRITABLE_CTE;
    const BYTES_CONTAINS: &'static str = DB::BYTES_CONTAINS;
    const JSON_ROWS: &'static str = DB::JSON_ROWS;
    const MAX_BINDS: usize = DB::MAX_BINDS;

    async fn execute(&mut self, sql: Sql<'_>) -> sqlx::Result<u64> {
        on_live_connection!(self, sql, DB::execute)
    }
    async fn fetch_all<R: Record>(&mut self, sql: Sql<'_>) -> sqlx::Result<Vec<R>> {
        on_live_connection!(self, sql, DB::fetch_all)
    }
    async fn fetch_optional<R: Record>(&mut self, sql: Sql<'_>) -> sqlx::Result<Option<R>> {
        on_live_connection!(self, sql, DB::fetch_optional)
    }
    async fn fetch_plan(&mut self, sql: Sql<'_>) -> sqlx::Result<Vec<String>> {
        on_live_connection!(self, sql, DB::fetch_plan)
    }
}

impl<DB: Driver> SqlConn for Tx<DB> {
    const LOCK_ROWS: &'static str = DB::LOCK_ROWS;
    const KEY_SHARE: &'static str = DB::KEY_SHARE;
    const EXPLAIN: &'static str = DB::EXPLAIN;
    const CLAIM_ROWS: &'static str = DB::CLAIM_ROWS;
    const SETTLED_EVENTS: &'static str = DB::SETTLED_EVENTS;
    const AFTER_POSITION: &'static str = DB::AFTER_POSITION;
    const WRITABLE_CTE: bool = DB::WRITABLE_CTE;
    const BYTES_CONTAINS: &'static str = DB::BYTES_CONTAINS;
    const JSON_ROWS: &'static str = DB::JSON_ROWS;
    const MAX_BINDS: usize = DB::MAX_BINDS;

    async fn execute(&mut self, sql: Sql<'_>) -> sqlx::Result<u64> {
        bounded(self.query_timeout, DB::execute(self.inner.conn(), sql)).await
    }
    async fn fetch_all<R: Record>(&mut self, sql: Sql<'_>) -> sqlx::Result<Vec<R>> {
        bounded(self.query_timeout, DB::fetch_all(self.inner.conn(), sql)).await
    }
    async fn fetch_optional<R: Record>(&mut self, sql: Sql<'_>) -> sqlx::Result<Option<R>> {
        bounded(self.query_timeout, DB::fetch_optional(self.inner.conn(), sql)).await
    }
    async fn fetch_plan(&mut self, sql: Sql<'_>) -> sqlx::Result<Vec<String>> {
        bounded(self.query_timeout, DB::fetch_plan(self.inner.conn(), sql)).await
    }
}
