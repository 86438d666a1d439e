//! Group commit for the one writer connection of the embedded store: write transactions queued
//! for the writer run one after another inside one database transaction, each in a savepoint of
//! its own, and commit together.
//!
//! Why: a commit copies every page it changed into the log, and back-to-back writes change mostly
//! the same pages (the tails of the events and audit tables and of their indexes, the sequence
//! row, the aggregate's own table): a customer POST wrote 12 log frames alone, which dominated its
//! cost once the change feed and the audit log were added. Writers that share a commit write each
//! such page once.
//!
//! The rules:
//! - A member's work is its own: one that fails, rolls back or is abandoned returns to its
//!   savepoint and the others commit without it.
//! - A member's commit answers only once the group's `COMMIT` has, with that outcome, so nothing is
//!   reported stored before it is; if the `COMMIT` fails, every member of the group hears so.
//! - A group never waits for writers that were not queued yet: the member ending its turn commits
//!   at once when nobody is queued behind it (a lone writer pays nothing), otherwise a closer task
//!   queues behind the writers waiting then and commits when its turn comes. [`MAX_GROUP`]
//!   members commit at once whatever is queued.
//! - Commit and rollback run on tasks of their own, so a request that goes away mid-way cannot
//!   leave the group half-ended; an abandoned turn is rolled back and ended the same way.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use sqlx::pool::PoolConnection;
use sqlx::Pool;
use tokio::sync::{oneshot, Mutex, OwnedMutexGuard};

use super::error::{StoreError, StoreResult};
use super::query::{query, Driver};

/// Members whose savepoints one `COMMIT` takes at most.
const MAX_GROUP: usize = 64;

/// What a released member hears of its group's `COMMIT`.
type Outcome = Result<(), String>;

/// The writer connection's queue and the group open on it.
pub(super) struct GroupWriter<DB: Driver> {
    pool: Pool<DB>,
    begin: &'static str,
    slot: Arc<Mutex<Slot<DB>>>,
    /// Turns (and closers) waiting for the slot.
    queued: Arc<AtomicUsize>,
    /// Group commits made (tests check that queued writers share them).
    commits: Arc<AtomicU64>,
}

impl<DB: Driver> Clone for GroupWriter<DB> {
    fn clone(&self) -> Self {
        GroupWriter {
            pool: self.pool.clone(),
            begin: self.begin,
            slot: self.slot.clone(),
            queued: self.queued.clone(),
            commits: self.commits.clone(),
        }
    }
}

struct Slot<DB: Driver> {
    /// The writer connection, while a group's transaction is open on it.
    open: Option<PoolConnection<DB>>,
    /// Members whose savepoints were released into the open group, waiting for its commit.
    released: Vec<oneshot::Sender<Outcome>>,
    /// A closer is queued for the open group.
    closer_queued: bool,
}

/// One writer's turn: the slot held, a savepoint open in the group's transaction.
pub(super) struct Turn<DB: Driver> {
    slot: Option<OwnedMutexGuard<Slot<DB>>>,
    writer: GroupWriter<DB>,
    /// `SAVEPOINT member` ran and neither `RELEASE` nor a rollback to it has finished.
    in_savepoint: bool,
    /// Made by [`Drop`] to end an abandoned turn: if that fails too, the slot is let go.
    abandoned: bool,
}

impl<DB: Driver> GroupWriter<DB> {
    /// A group writer over `pool` (one connection), opening groups with `begin`.
    pub(super) fn new(pool: Pool<DB>, begin: &'static str) -> Self {
        GroupWriter {
            pool,
            begin,
            slot: Arc::new(Mutex::new(Slot { open: None, released: Vec::new(), closer_queued: false })),
            queued: Arc::default(),
            commits: Arc::default(),
        }
    }

    /// The group commits made so far.
    #[cfg(test)]
    pub(super) fn commits(&self) -> u64 {
        self.commits.load(Ordering::SeqCst)
    }

    /// Waits for the writer's turn and opens a savepoint, in the open group or a new one. Runs on a
    /// task of its own: a caller that gives up leaves the turn to be ended there.
    pub(super) async fn turn(&self) -> sqlx::Result<Turn<DB>> {
        let writer = self.clone();
        tokio::spawn(async move {
            let slot = writer.wait_for_slot().await;
            let mut turn = Turn { slot: Some(slot), writer, in_savepoint: false, abandoned: false };
            turn.open().await?;
            Ok(turn)
        })
        .await
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "writer turn task failed");
            Err(sqlx::Error::WorkerCrashed)
        })
    }

    async fn wait_for_slot(&self) -> OwnedMutexGuard<Slot<DB>> {
        self.queued.fetch_add(1, Ordering::SeqCst);
        let slot = self.slot.clone().lock_owned().await;
        self.queued.fetch_sub(1, Ordering::SeqCst);
        slot
    }

    /// Commits the open group when its turn comes (see the module comment).
    async fn close_group(self) {
        let mut slot = self.wait_for_slot().await;
        slot.closer_queued = false;
        self.finish(&mut slot).await;
    }

    /// Commits the open group, if any, and tells its members; the connection goes back to the
    /// pool (so the checkpointer can take the writer's turn between groups).
    async fn finish(&self, slot: &mut Slot<DB>) {
        let Some(mut conn) = slot.open.take() else { return };
        self.commits.fetch_add(1, Ordering::SeqCst);
        if !slot.released.is_empty() {
            metrics::histogram!("sqlite_group_commit_members").record(slot.released.len() as f64);
        }
        match DB::execute(&mut *conn, query("COMMIT")).await {
            Ok(_) => tell(slot, Ok(())),
            Err(e) => {
                let _ = DB::execute(&mut *conn, query("ROLLBACK")).await;
                tracing::warn!(error = %e, members = slot.released.len(), "group commit failed");
                tell(slot, Err(e.to_string()));
            }
        }
    }

    /// Ends the open group without committing it, after its transaction may have been lost; every
    /// member released into it hears `why`.
    async fn abort(slot: &mut Slot<DB>, why: &sqlx::Error) {
        let Some(mut conn) = slot.open.take() else { return };
        let _ = DB::execute(&mut *conn, query("ROLLBACK")).await;
        tracing::warn!(error = %why, members = slot.released.len(), "group transaction lost");
        tell(slot, Err(why.to_string()));
    }
}

/// Tells every member released into the slot's group how it ended.
fn tell<DB: Driver>(slot: &mut Slot<DB>, outcome: Outcome) {
    for member in slot.released.drain(..) {
        let _ = member.send(outcome.clone());
    }
}

impl<DB: Driver> Turn<DB> {
    fn slot(&mut self) -> &mut Slot<DB> {
        self.slot.as_mut().expect("a turn holds the slot until it ends")
    }

    /// The writer connection, inside this turn's savepoint.
    pub(super) fn conn(&mut self) -> &mut DB::Connection {
        self.slot().open.as_deref_mut().expect("an open turn has the group's connection")
    }

    async fn open(&mut self) -> sqlx::Result<()> {
        let pool = self.writer.pool.clone();
        let begin = self.writer.begin;
        let slot = self.slot();
        if slot.open.is_none() {
            let mut conn = pool.acquire().await?;
            DB::execute(&mut *conn, query(begin)).await?;
            slot.open = Some(conn);
        }
        DB::execute(self.conn(), query("SAVEPOINT member")).await?;
        self.in_savepoint = true;
        Ok(())
    }

    /// Releases the savepoint into the group and waits for the group's commit.
    pub(super) async fn commit(mut self) -> StoreResult<()> {
        let (told, outcome) = oneshot::channel();
        tokio::spawn(async move {
            match DB::execute(self.conn(), query("RELEASE member")).await {
                Ok(_) => {
                    self.in_savepoint = false;
                    self.slot().released.push(told);
                }
                Err(e) => {
                    // Whether the savepoint survived is unknown: the group cannot be trusted.
                    GroupWriter::abort(self.slot(), &e).await;
                    let _ = told.send(Err(e.to_string()));
                }
            }
            self.end().await;
        });
        match outcome.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(why)) => {
                Err(StoreError::Unavailable(format!("the commit failed, nothing was stored: {why}")))
            }
            Err(_) => Err(StoreError::OutcomeUnknown("the group commit ended without an answer".into())),
        }
    }

    /// Rolls this turn's work back to its savepoint and ends the turn; the group goes on.
    pub(super) async fn rollback(mut self) -> StoreResult<()> {
        tokio::spawn(async move {
            let undone = self.undo().await;
            self.end().await;
            undone
        })
        .await
        .map_err(|e| StoreError::Other(format!("rollback task failed: {e}")))?
        .map_err(StoreError::from)
    }

    async fn undo(&mut self) -> sqlx::Result<()> {
        if !self.in_savepoint {
            return Ok(());
        }
        let undone = match DB::execute(self.conn(), query("ROLLBACK TO member")).await {
            Ok(_) => DB::execute(self.conn(), query("RELEASE member")).await.map(drop),
            Err(e) => Err(e),
        };
        if let Err(e) = &undone {
            // The transaction may be gone with this turn's work in it: end it for everyone.
            GroupWriter::abort(self.slot(), e).await;
        }
        self.in_savepoint = false;
        undone
    }

    /// Gives the slot up: the group stays open for the writers queued behind, with a closer queued
    /// after them, or commits now when nobody waits (see the module comment).
    async fn end(&mut self) {
        let Some(mut slot) = self.slot.take() else { return };
        if slot.open.is_none() || slot.closer_queued && slot.released.len() < MAX_GROUP {
            return;
        }
        if self.writer.queued.load(Ordering::SeqCst) > 0 && slot.released.len() < MAX_GROUP {
            slot.closer_queued = true;
            tokio::spawn(self.writer.clone().close_group());
            return;
        }
        self.writer.finish(&mut slot).await;
    }
}

impl<DB: Driver> Drop for Turn<DB> {
    /// An abandoned turn (its request went away, or its owner returned early) is rolled back and
    /// ended on a task, so the group's other members still commit.
    fn drop(&mut self) {
        let Some(slot) = self.slot.take() else { return };
        // Outside a runtime (the process is ending) the slot is simply let go.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        if self.abandoned {
            return;
        }
        let writer = self.writer.clone();
        let mut turn = Turn { slot: Some(slot), writer, in_savepoint: self.in_savepoint, abandoned: true };
        runtime.spawn(async move {
            let _ = turn.undo().await;
            turn.end().await;
        });
    }
}
