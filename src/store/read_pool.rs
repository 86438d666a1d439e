//! A lean pool of Postgres connections for the hot one-statement reads (the contact-set GET).
//!
//! sqlx 0.8's pool pings every connection when it is released (`PoolConnection::return_to_pool`, not
//! configurable) to flush whatever a cancelled statement may have left on it. After a read that ran to
//! completion that ping is a wasted round trip, plus a wake-up of a Postgres backend and of a tokio
//! worker: profiled at about a tenth of the service's CPU on the contact-set GET. This pool (deadpool
//! managing plain sqlx connections) is told how each use ended instead: a lease whose statement
//! completed goes back as it is; one that failed below SQL (I/O, protocol) or was dropped mid-flight
//! (request timeout, client gone) is discarded, so no half-read connection is ever reused. A connection
//! idle for a while is pinged before reuse, as in the main pool: the server may have restarted.

use std::time::Duration;

use deadpool::managed::{self, Metrics, Object, PoolError, RecycleError, RecycleResult};
use deadpool::Runtime;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};

use super::{PoolStatus, StoreError};

/// A connection idle for longer than this is pinged before use.
pub(super) const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);

pub(super) struct Manager {
    options: PgConnectOptions,
}

impl managed::Manager for Manager {
    type Type = PgConnection;
    type Error = sqlx::Error;

    async fn create(&self) -> Result<PgConnection, sqlx::Error> {
        self.options.connect().await
    }

    async fn recycle(&self, conn: &mut PgConnection, metrics: &Metrics) -> RecycleResult<sqlx::Error> {
        if metrics.last_used() < IDLE_BEFORE_PING {
            return Ok(());
        }
        conn.ping().await.map_err(RecycleError::Backend)
    }
}

#[derive(Clone)]
pub(super) struct ReadPool {
    pool: managed::Pool<Manager>,
}

impl ReadPool {
    /// Opens nothing yet: connections are made on first use, like the main pool's. `timeout` bounds
    /// the wait for a free connection, the connect and the idle ping alike.
    pub(super) fn new(options: PgConnectOptions, max_size: usize, timeout: Duration) -> Self {
        let pool = managed::Pool::builder(Manager { options })
            .max_size(max_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(timeout))
            .create_timeout(Some(timeout))
            .recycle_timeout(Some(timeout))
            .build()
            .expect("a runtime is set, so the timeouts are valid");
        ReadPool { pool }
    }

    pub(super) async fn lease(&self) -> Result<ReadLease, StoreError> {
        match self.pool.get().await {
            Ok(conn) => Ok(ReadLease { conn: Some(conn), reusable: false }),
            Err(PoolError::Backend(e)) => Err(e.into()),
            Err(e @ (PoolError::Timeout(_) | PoolError::Closed)) => {
                Err(StoreError::Unavailable(format!("read pool: {e}")))
            }
            Err(e) => Err(StoreError::Other(format!("read pool: {e}"))),
        }
    }

    pub(super) fn status(&self) -> PoolStatus {
        let s = self.pool.status();
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        PoolStatus { name: "read", size: clamp(s.size), idle: clamp(s.available), max: clamp(s.max_size) }
    }

    pub(super) fn close(&self) {
        self.pool.close();
    }
}

/// One connection out of the [`ReadPool`]; it goes back only if [`ReadLease::settle`] saw the
/// statement end in a state the protocol recovers from.
pub(super) struct ReadLease {
    conn: Option<Object<Manager>>,
    reusable: bool,
}

impl ReadLease {
    pub(super) fn conn(&mut self) -> &mut PgConnection {
        self.conn.as_mut().expect("a lease holds its connection until dropped")
    }

    /// Records how the statement ended: success or an error in the statement (the server still closes
    /// the exchange with ReadyForQuery) leave the connection reusable; the server ending the session
    /// (it sends an error, then closes) or any failure below SQL does not.
    pub(super) fn settle<T>(&mut self, result: &Result<T, sqlx::Error>) {
        self.reusable = match result {
            Ok(_) => true,
            Err(sqlx::Error::Database(db)) => !super::ends_session(db.as_ref()),
            Err(_) => false,
        };
    }
}

impl Drop for ReadLease {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if !self.reusable {
                // Out of the pool for good; dropping the connection closes its socket.
                drop(Object::take(conn));
            }
        }
    }
}
