//! The contact set's two hot paths on Postgres, on one pool of tokio-postgres connections
//! (deadpool-postgres, `DATABASE_PIPELINE_CONNECTIONS`).
//!
//! Why not sqlx, which serves everything else: a pooled sqlx connection serves one request at a
//! time, one statement per round trip, and is pinged when released. Here:
//! - every contact-set GET shares one connection of the pool (the *read lease*): concurrent reads
//!   go out back to back and the backend answers them in one wake-up (31k GETs/s on one connection
//!   against 16k on eight sqlx connections, on this machine's 2 cores);
//! - each replace takes a connection of its own and sends its six statements in one round trip
//!   (see `replace.rs`).
//!
//! Faults:
//! - A replace runs on a task of its own that owns its connection, so a request dropped mid-flight
//!   (client gone, request timeout) never hands the connection back with a pipeline pending: the
//!   task waits for the pipeline's end first. The request is marked as having a commit in flight
//!   ([`crate::in_flight`]), so the request timeout waits for the real outcome.
//! - Every wait for the server is bounded by the query timeout. A replace that has no answer by
//!   then asks the server to cancel it and waits briefly for the outcome (cancelled: nothing
//!   stored; committed meanwhile: the real answer); with no answer at all the outcome is unknown,
//!   said so (503), and the connection discarded.
//! - A connection that died in the pool (its task sees the server close it at once) is not handed
//!   out; one that dies between hand-out and `BEGIN`, before anything ran, is replaced and the
//!   replace run again, once. A read that fails because its connection died is run again once.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio_postgres::types::Type;
use tokio_postgres::{NoTls, Row, Statement};

use super::client::{client_error, IDLE_BEFORE_PING};
use super::replace::{self, Failure};
use crate::domain::contact_set::ContactSet;
use crate::store::backend::PoolStatus;
use crate::store::contact_sets::rows::CONTACT_SET_SELECT;
use crate::store::contact_sets::ReplaceOutcome;
use crate::store::error::{StoreError, StoreResult};

/// The hot paths' connections; cloning shares them.
#[derive(Clone)]
pub(super) struct Pipelines(Arc<Shared>);

struct Shared {
    pool: Pool,
    query_timeout: Duration,
    /// The connection every read shares, once opened.
    lease: Mutex<Option<Arc<Lease>>>,
    /// Held while the lease is taken, so concurrent first reads take one connection, not one each.
    leasing: tokio::sync::Mutex<()>,
}

/// The read lease: a pooled connection with the read's prepared statement.
struct Lease {
    /// `None` only while dropping.
    client: Option<Object>,
    /// Set when the connection turned out gone: it is then never handed back to the pool (its
    /// task may not have noticed yet, and the pool would hand it out again).
    dead: AtomicBool,
    select: Statement,
    taken: Instant,
    /// Milliseconds after `taken` of the last use.
    last_used_ms: AtomicU32,
}

impl Pipelines {
    /// `size` connections, opened on first use; `acquire_timeout` bounds waiting for one, opening
    /// one and the ping of one that sat idle.
    pub(super) fn new(
        config: tokio_postgres::Config,
        size: usize,
        acquire_timeout: Duration,
        query_timeout: Duration,
    ) -> Result<Self, StoreError> {
        let manager =
            Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            // One for the read lease, at least one for replaces.
            .max_size(size.max(2))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(acquire_timeout))
            .create_timeout(Some(acquire_timeout))
            .recycle_timeout(Some(acquire_timeout))
            .pre_recycle(deadpool_postgres::Hook::async_fn(move |client, metrics| {
                Box::pin(async move {
                    // `last_used` counts from the last hand-out, so this may ping a little early.
                    if metrics.last_used() < IDLE_BEFORE_PING {
                        return Ok(());
                    }
                    // deadpool's recycle timeout does not cover hooks: bound the ping here.
                    match tokio::time::timeout(acquire_timeout, client.simple_query("")).await {
                        Ok(answer) => answer.map(drop).map_err(deadpool_postgres::HookError::Backend),
                        Err(_) => Err(deadpool_postgres::HookError::message("ping timed out")),
                    }
                })
            }))
            .build()
            .map_err(|e| StoreError::Other(format!("pipeline pool: {e}")))?;
        Ok(Pipelines(Arc::new(Shared {
            pool,
            query_timeout,
            lease: Mutex::new(None),
            leasing: tokio::sync::Mutex::new(()),
        })))
    }

    /// The rows of [`CONTACT_SET_SELECT`] for one property, on the read lease.
    pub(super) async fn contact_rows(&self, tenant: &str, property_id: &str) -> StoreResult<Vec<Row>> {
        match self.read_once(tenant, property_id).await {
            // A read is safe to repeat; the dead lease was given up, so this takes a new one.
            Err(Failure::Dead(_)) => self.read_once(tenant, property_id).await.map_err(Failure::into_store),
            other => other.map_err(Failure::into_store),
        }
    }

    async fn read_once(&self, tenant: &str, property_id: &str) -> Result<Vec<Row>, Failure> {
        let lease = self.0.lease().await.map_err(Failure::Store)?;
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&tenant, &property_id];
        let read = lease.client().query(&lease.select, &params);
        let answer = tokio::time::timeout(self.0.query_timeout, read).await;
        lease.touch();
        match answer {
            Ok(Ok(rows)) => Ok(rows),
            Ok(Err(e)) => {
                let failure = Failure::classify(&e);
                if !matches!(failure, Failure::Store(StoreError::Other(_))) {
                    self.0.give_up(&lease, true);
                }
                Err(failure)
            }
            Err(_) => {
                // A silent server: the reads queued behind this one are as stuck; start afresh.
                self.0.give_up(&lease, true);
                Err(Failure::Store(StoreError::Unavailable(format!(
                    "the database did not answer within {} ms",
                    self.0.query_timeout.as_millis()
                ))))
            }
        }
    }

    /// The replace, on a connection of its own, run on a task of its own (see the module comment).
    pub(super) async fn replace(
        &self,
        tenant: &str,
        property_id: &str,
        set: &ContactSet,
        expected_revision: Option<i64>,
        author: &str,
    ) -> StoreResult<ReplaceOutcome> {
        let job = Arc::new(replace::Job {
            tenant: tenant.to_owned(),
            property_id: property_id.to_owned(),
            set: set.clone(),
            expected_revision,
            author: author.to_owned(),
            origin: crate::store::audit::Origin::current(author),
            // The task below does not inherit the request's task-locals.
            dry_run: crate::store::dry_run::active(),
        });
        for attempt in 0..2 {
            let client = self
                .0
                .pool
                .get()
                .await
                .map_err(|e| StoreError::Unavailable(format!("pipeline connection: {e}")))?;
            crate::in_flight::commit_sent();
            let run = tokio::spawn(run_replace(client, job.clone(), self.0.query_timeout));
            match run.await {
                Ok(Err(Failure::Dead(e))) if attempt == 0 => {
                    tracing::info!(error = %e, "pipeline connection was dead; retrying on another");
                }
                Ok(result) => return result.map_err(Failure::into_store),
                Err(e) => return Err(StoreError::Other(format!("replace task: {e}"))),
            }
        }
        Err(StoreError::Unavailable("pipeline connections keep dying".into()))
    }

    pub(super) fn status(&self) -> PoolStatus {
        let status = self.0.pool.status();
        PoolStatus {
            name: "pipeline",
            size: u32::try_from(status.size).unwrap_or(u32::MAX),
            idle: u32::try_from(status.available).unwrap_or(u32::MAX),
            max: u32::try_from(status.max_size).unwrap_or(u32::MAX),
        }
    }

    pub(super) fn close(&self) {
        self.0.lease.lock().expect("lease lock").take();
        self.0.pool.close();
    }
}

/// The replace on `client` within `timeout`: past three quarters of it, the server is asked to
/// cancel, and the rest is spent waiting for the outcome (see the module comment).
async fn run_replace(
    client: Object,
    job: Arc<replace::Job>,
    timeout: Duration,
) -> Result<ReplaceOutcome, Failure> {
    let (patience, grace) = (timeout * 3 / 4, timeout / 8);
    let mut work = Box::pin(replace::replace(&client, &job));
    if let Ok(result) = tokio::time::timeout(patience, &mut work).await {
        drop(work);
        if matches!(result, Err(Failure::Dead(_)) | Err(Failure::Store(StoreError::Unavailable(_)))) {
            // Gone: keep it from the pool, whose check may not see that yet.
            drop(Object::take(client));
        }
        return result;
    }
    let cancel = client.cancel_token();
    let _ = tokio::time::timeout(grace, cancel.cancel_query(NoTls)).await;
    match tokio::time::timeout(grace, &mut work).await {
        Ok(result) => {
            drop(work);
            // The cancel may still reach the server later and hit whatever runs next on this
            // connection: it does not go back to the pool.
            drop(Object::take(client));
            result
        }
        Err(_) => {
            drop(work);
            // Never back into the pool: its pipeline is still pending.
            drop(Object::take(client));
            Err(Failure::Store(StoreError::OutcomeUnknown(format!(
                "no answer to a contact-set replace within {} ms",
                timeout.as_millis()
            ))))
        }
    }
}

impl Shared {
    /// The read lease: reused while open, pinged after [`IDLE_BEFORE_PING`], taken anew when gone.
    async fn lease(&self) -> StoreResult<Arc<Lease>> {
        if let Some(lease) = self.current() {
            if lease.is_usable(self.query_timeout).await {
                return Ok(lease);
            }
            self.give_up(&lease, true);
        }
        let _leasing = self.leasing.lock().await;
        if let Some(lease) = self.current().filter(|l| !l.client().is_closed()) {
            return Ok(lease);
        }
        let client = self
            .pool
            .get()
            .await
            .map_err(|e| StoreError::Unavailable(format!("pipeline connection: {e}")))?;
        let prepare = client.prepare_typed_cached(CONTACT_SET_SELECT, &[Type::TEXT, Type::TEXT]);
        let select = match tokio::time::timeout(self.query_timeout, prepare).await {
            Ok(Ok(select)) => select,
            Ok(Err(e)) => return Err(client_error(&e)),
            Err(_) => return Err(StoreError::Unavailable("the database did not answer in time".into())),
        };
        let lease = Arc::new(Lease {
            client: Some(client),
            dead: AtomicBool::new(false),
            select,
            taken: Instant::now(),
            last_used_ms: AtomicU32::new(0),
        });
        *self.lease.lock().expect("lease lock") = Some(lease.clone());
        Ok(lease)
    }

    fn current(&self) -> Option<Arc<Lease>> {
        self.lease.lock().expect("lease lock").clone()
    }

    /// Drops `lease`, unless another read already replaced it; `dead` when its connection is
    /// gone. Its connection leaves when the last read on it ends.
    fn give_up(&self, lease: &Arc<Lease>, dead: bool) {
        if dead {
            lease.dead.store(true, Ordering::Relaxed);
        }
        let mut current = self.lease.lock().expect("lease lock");
        if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, lease)) {
            *current = None;
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let (true, Some(client)) = (self.dead.load(Ordering::Relaxed), self.client.take()) {
            drop(Object::take(client));
        }
    }
}

impl Lease {
    fn client(&self) -> &Object {
        self.client.as_ref().expect("a lease has its client until dropped")
    }

    fn touch(&self) {
        let ms = u32::try_from(self.taken.elapsed().as_millis()).unwrap_or(u32::MAX);
        self.last_used_ms.store(ms, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(u64::from(self.last_used_ms.load(Ordering::Relaxed)));
        self.taken.elapsed().saturating_sub(last)
    }

    /// Open, and answering if it sat idle: the server may have restarted meanwhile.
    async fn is_usable(&self, timeout: Duration) -> bool {
        if self.client().is_closed() {
            return false;
        }
        if self.idle_for() < IDLE_BEFORE_PING {
            return true;
        }
        let alive = matches!(tokio::time::timeout(timeout, self.client().simple_query("")).await, Ok(Ok(_)));
        self.touch();
        alive
    }
}
