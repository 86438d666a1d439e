//! Embedded SQLite, the zero-setup default: one file, WAL mode, created on first start.
//!
//! Writers are serialised in the process, not by SQLite: every write transaction runs on the one
//! connection of the writer pool, and requests queue for it in order. With several connections
//! each taking the file's write lock (`BEGIN IMMEDIATE`), a writer that finds it taken sleeps in
//! SQLite's busy handler and retries, so under load some writers waited hundreds of milliseconds
//! while others went ahead. Writers queued together share one commit, each in a savepoint of its
//! own ([`super::group_commit`]). Readers use their own pool; in WAL mode they never wait for the
//! writer.
//!
//! Checkpoints run beside the writer, not in it: SQLite's automatic checkpoint runs inside the
//! commit that crosses the log's size threshold, so one writer in a thousand copied the log into the
//! file (and synced it) while every queued writer waited, which is most of the p99. The writer has
//! `wal_autocheckpoint` off, and a connection of its own checkpoints (`PASSIVE`: it never blocks a
//! reader or the writer) every [`CHECKPOINT_EVERY`].
//!
//! A checkpoint beside a busy writer never finishes, though: commits keep adding frames while it
//! copies, and the log only starts over from its beginning after a checkpoint that copied all of it.
//! So under a steady stream of writes the log grew without bound (2.5 GB in 20 s of customer POSTs,
//! every write slower as it grew). When the log holds more than [`RESTART_LOG_FRAMES`], the
//! checkpointer therefore takes the writer's turn for one more `PASSIVE` pass: no frame arrives
//! while it runs, so it copies the little the pass beside the writer left, and the next write starts
//! the log over. `journal_size_limit` then trims the file back.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::types::Json;
use sqlx::{Row, Sqlite, SqlitePool};

use super::backend::{Backend, PoolStatus, SqlStore};
use super::changes;
use super::contact_sets::rows::{profiles_column, Columns, ContactRow, CONTACT_SET_SELECT};
use super::contact_sets::{why_not_bumped, ContactSetPaths, ReplaceOutcome};
use super::error::{StoreError, StoreResult};
use super::group_commit::GroupWriter;
use super::query::query;
use super::session::{Conn, Limits, Tx};
use super::write::now;
use crate::domain::change::Change;
use crate::domain::contact_set::{Contact, ContactSet, ProfileType};

/// The embedded store.
pub type SqliteStore = SqlStore<SqliteBackend>;

/// How SQLite makes a commit durable (`PRAGMA synchronous` in WAL mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// A commit survives the service crashing, not the machine losing power (the last commits
    /// before it may be lost; the file stays consistent). One `fsync` per checkpoint, not per
    /// commit: the usual choice for an embedded store.
    #[default]
    Normal,
    /// A commit survives a power loss too: an `fsync` of the log at every commit.
    Full,
}

/// How to open the file.
#[derive(Debug, Clone, Copy)]
pub struct SqliteSettings {
    /// Reader connections (writes go through one writer of their own).
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    pub query_timeout: Duration,
    pub durability: Durability,
}

impl Default for SqliteSettings {
    fn default() -> Self {
        SqliteSettings {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(3),
            query_timeout: Duration::from_secs(5),
            durability: Durability::Normal,
        }
    }
}

/// How often the log is copied into the database file. Short enough that the log stays small (a
/// few MB at thousands of commits a second), so reads that look pages up in it stay fast.
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// Log frames (pages) beyond which a checkpoint takes the writer's turn so the log can start over:
/// SQLite's own automatic checkpoint threshold, 4 MB at 4 kB pages.
pub const RESTART_LOG_FRAMES: i64 = 1000;

/// Bytes the log file is trimmed to when it starts over.
const LOG_SIZE_LIMIT: &str = "16777216";

/// An SQLite file: a pool of readers, one writer and the connection that checkpoints.
#[derive(Clone)]
pub struct SqliteBackend {
    reads: SqlitePool,
    writer: SqlitePool,
    /// Write transactions' way to `writer`: they queue and commit in groups.
    group: GroupWriter<Sqlite>,
    checkpointer: SqlitePool,
    limits: Limits,
}

impl SqlStore<SqliteBackend> {
    /// Opens (creating if missing) the file.
    pub async fn connect(url: &str, settings: SqliteSettings) -> Result<Self, StoreError> {
        let SqliteSettings { max_connections, acquire_timeout, query_timeout, durability } = settings;
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Other(format!("invalid DATABASE_URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match durability {
                Durability::Normal => SqliteSynchronous::Normal,
                Durability::Full => SqliteSynchronous::Full,
            })
            .foreign_keys(true)
            // Only another process writing the same file makes SQLite wait for its lock now.
            .busy_timeout(Duration::from_secs(5))
            .pragma("journal_size_limit", LOG_SIZE_LIMIT);
        let one = || SqlitePoolOptions::new().max_connections(1).acquire_timeout(acquire_timeout);
        let writer = one().connect_with(options.clone().pragma("wal_autocheckpoint", "0")).await?;
        let checkpointer = one().connect_with(options.clone()).await?;
        let reads = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(acquire_timeout)
            .connect_with(options)
            .await?;
        tokio::spawn(checkpoint_until_closed(checkpointer.clone(), writer.clone()));
        let limits = Limits { query_timeout, health: Default::default() };
        // Still IMMEDIATE: another process may share the file, and a deferred transaction that
        // upgrades to a writer later could deadlock with it.
        let group = GroupWriter::new(writer.clone(), "BEGIN IMMEDIATE");
        Ok(SqlStore::new(SqliteBackend { reads, writer, group, checkpointer, limits }))
    }
}

/// Copies the log into the file every [`CHECKPOINT_EVERY`] until the store closes, beside the
/// writer, and in the writer's turn when the log has grown past [`RESTART_LOG_FRAMES`].
async fn checkpoint_until_closed(checkpointer: SqlitePool, writer: SqlitePool) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let checkpointed = async {
            let log = checkpoint(&checkpointer).await?;
            if log > RESTART_LOG_FRAMES {
                checkpoint(&writer).await?;
            }
            Ok::<_, sqlx::Error>(())
        };
        match checkpointed.await {
            Ok(()) => {}
            Err(sqlx::Error::PoolClosed) => return,
            Err(e) => tracing::warn!(error = %e, "SQLite checkpoint failed; will retry"),
        }
    }
}

/// One `PASSIVE` checkpoint on a connection of `pool`; the frames the log holds.
async fn checkpoint(pool: &SqlitePool) -> sqlx::Result<i64> {
    // (busy, frames in the log, frames copied); -1 when the file is not in WAL mode.
    let (_, log, _): (i64, i64, i64) =
        sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(pool).await?;
    Ok(log)
}

impl Backend for SqliteBackend {
    type Db = Sqlite;

    async fn acquire(&self) -> StoreResult<Conn<Sqlite>> {
        Conn::acquire(&self.reads, &self.limits).await
    }

    async fn begin_write(&self) -> StoreResult<Tx<Sqlite>> {
        Tx::member(&self.group, self.writer.options().get_acquire_timeout(), &self.limits).await
    }

    async fn begin_read(&self) -> StoreResult<Tx<Sqlite>> {
        Tx::begin(&self.reads, "BEGIN", &self.limits).await
    }

    async fn migrate(&self) -> StoreResult<()> {
        sqlx::migrate!("./migrations/sqlite")
            .run(&self.writer)
            .await
            .map_err(|e| StoreError::Other(format!("migration failed: {e}")))
    }

    fn pool_status(&self) -> Vec<PoolStatus> {
        vec![PoolStatus::of("main", &self.reads), PoolStatus::of("write", &self.writer)]
    }

    async fn close(&self) {
        self.writer.close().await;
        self.reads.close().await;
        self.checkpointer.close().await;
    }
}

impl ContactSetPaths for SqliteBackend {
    async fn contact_rows(&self, tenant: &str, property_id: &str) -> StoreResult<Vec<ContactRow>> {
        let read = sqlx::query(CONTACT_SET_SELECT).bind(tenant).bind(property_id).fetch_all(&self.reads);
        let rows = tokio::time::timeout(self.limits.query_timeout, read)
            .await
            .map_err(|_| StoreError::Unavailable("the database did not answer in time".into()))??;
        Ok(rows
            .iter()
            .enumerate()
            .map(|(i, row)| ContactRow::decode(row, i == 0))
            .collect::<Result<_, _>>()?)
    }

    /// The replace, statement by statement in one `BEGIN IMMEDIATE` transaction: in-process SQLite
    /// has no round trips to save.
    async fn replace_set(
        &self,
        tenant: &str,
        property_id: &str,
        set: &ContactSet,
        expected_revision: Option<i64>,
        author: &str,
    ) -> StoreResult<ReplaceOutcome> {
        let now = now();
        let stored = set.stored_form();
        let fingerprint = stored.fingerprint.as_str();
        let mut tx = Backend::begin_write(self).await?;
        // The If-Match check and the identical-set check are part of the bump; the write lock
        // (BEGIN IMMEDIATE) serialises replaces.
        let bumped: Option<(i64,)> = query(
            "UPDATE properties SET contact_set_revision = contact_set_revision + 1, updated_at = $3, \
             contact_set_hash = $5 \
             WHERE tenant_id = $1 AND id = $2 AND ($4 IS NULL OR contact_set_revision = $4) \
             AND contact_set_hash IS NOT $5 \
             RETURNING contact_set_revision",
        )
        .bind(tenant)
        .bind(property_id)
        .bind(now)
        .bind(expected_revision)
        .bind(fingerprint)
        .fetch_optional(&mut tx)
        .await?;
        let Some((revision,)) = bumped else {
            let current: Option<(i64, Option<String>)> = query(
                "SELECT contact_set_revision, contact_set_hash FROM properties WHERE tenant_id = $1 AND id = $2",
            )
            .bind(tenant)
            .bind(property_id)
            .fetch_optional(&mut tx)
            .await?;
            // A dropped transaction only queues its ROLLBACK; end it now so the write lock
            // is not held until the connection's next use.
            tx.rollback().await?;
            return why_not_bumped(current, expected_revision, fingerprint)
                .ok_or_else(|| StoreError::Other("the bump matched no row under the write lock".into()));
        };
        // The phones go with their contacts (ON DELETE CASCADE): one statement, not two.
        query("DELETE FROM property_contacts WHERE tenant_id = $1 AND property_id = $2")
            .bind(tenant)
            .bind(property_id)
            .execute(&mut tx)
            .await?;
        if !set.contacts.is_empty() {
            let mut insert = query(
                "INSERT INTO property_contacts (tenant_id, property_id, position, profiles, \
                 is_general, person_name, person_gender, person_job_title, person_language, email, \
                 address_line, city_name, postal_code, country_code, address_language, state_prov_code) ",
            );
            insert.push_values(set.contacts.iter().enumerate(), |row, (i, c): (usize, &Contact)| {
                let a = c.address.as_ref();
                row.push_bind(tenant)
                    .push_bind(property_id)
                    .push_bind(i as i32)
                    .push_bind(profiles_column(&c.profiles))
                    .push_bind(c.profiles.contains(&ProfileType::General))
                    .push_bind(c.person.name.as_str())
                    .push_bind(c.person.gender.map(|g| g.as_str()))
                    .push_bind(c.person.job_title.as_str())
                    .push_bind(c.person.language_code.as_str())
                    .push_bind(c.email.as_str())
                    .push_bind(a.map(|a| a.address_line.as_str()))
                    .push_bind(a.map(|a| a.city_name.as_str()))
                    .push_bind(a.map(|a| a.postal_code.as_str()))
                    .push_bind(a.map(|a| a.country_code.as_str()))
                    .push_bind(a.map(|a| a.language_code.as_str()))
                    .push_bind(a.and_then(|a| a.state_prov_code.as_deref()));
            });
            insert.execute(&mut tx).await?;
            let phones = set
                .contacts
                .iter()
                .enumerate()
                .flat_map(|(i, c)| c.phones.iter().enumerate().map(move |(j, p)| (i, j, p)));
            let mut insert = query(
                "INSERT INTO property_contact_phones (tenant_id, property_id, contact_position, \
                 position, phone_number, tech_type, extension) ",
            );
            insert.push_values(phones, |row, (i, j, p)| {
                row.push_bind(tenant)
                    .push_bind(property_id)
                    .push_bind(i as i32)
                    .push_bind(j as i32)
                    .push_bind(p.phone_number.as_str())
                    .push_bind(i32::from(p.tech_type.code()))
                    .push_bind(p.extension.as_deref());
            });
            insert.execute(&mut tx).await?;
        }
        query(
            "INSERT INTO contact_set_revisions \
             (tenant_id, property_id, revision, created_at, created_by, contact_count, contacts) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(tenant)
        .bind(property_id)
        .bind(revision)
        .bind(now)
        .bind(author)
        .bind(set.contacts.len() as i32)
        .bind(Json(&stored.contacts))
        .execute(&mut tx)
        .await?;
        changes::record(&mut tx, tenant, author, now, &Change::contact_set(property_id, revision)).await?;
        tx.commit().await?;
        Ok(ReplaceOutcome::Replaced { revision })
    }
}

impl Columns for SqliteRow {
    type Error = sqlx::Error;

    fn int8(&self, i: usize) -> Result<i64, sqlx::Error> {
        self.try_get(i)
    }
    fn int4(&self, i: usize) -> Result<Option<i32>, sqlx::Error> {
        self.try_get(i)
    }
    fn text(&self, i: usize) -> Result<Option<String>, sqlx::Error> {
        self.try_get(i)
    }
    fn timestamp(&self, i: usize) -> Result<chrono::DateTime<chrono::Utc>, sqlx::Error> {
        self.try_get(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn synchronous(durability: Durability) -> i64 {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("d.db").display());
        let store =
            SqliteStore::connect(&url, SqliteSettings { durability, ..Default::default() }).await.unwrap();
        let mut levels = Vec::new();
        for pool in [&store.backend.writer, &store.backend.reads] {
            let (level,): (i64,) = sqlx::query_as("PRAGMA synchronous").fetch_one(pool).await.unwrap();
            levels.push(level);
        }
        assert_eq!(levels[0], levels[1], "readers and writer agree");
        levels[0]
    }

    #[tokio::test]
    async fn the_log_is_checkpointed_beside_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("d.db").display());
        let store = SqliteStore::connect(&url, SqliteSettings::default()).await.unwrap();
        let writer = &store.backend.writer;
        let (auto,): (i64,) = sqlx::query_as("PRAGMA wal_autocheckpoint").fetch_one(writer).await.unwrap();
        assert_eq!(auto, 0, "the writer never checkpoints in a commit");
        sqlx::query("CREATE TABLE t (v TEXT)").execute(writer).await.unwrap();
        for i in 0..300 {
            sqlx::query("INSERT INTO t VALUES ($1)")
                .bind(format!("{i:0>2000}"))
                .execute(writer)
                .await
                .unwrap();
        }
        let file = dir.path().join("d.db");
        let size = || std::fs::metadata(&file).unwrap().len();
        assert!(size() < 300 * 2000, "the rows are in the log, not yet in the file");
        tokio::time::sleep(CHECKPOINT_EVERY * 4).await;
        assert!(size() > 300 * 2000, "the checkpointer copied the log into the file ({} bytes)", size());
        store.backend.close().await;
    }

    /// Writes that never pause must not grow the log without bound: it starts over once a
    /// checkpoint in the writer's turn has copied all of it.
    #[tokio::test]
    async fn the_log_stays_bounded_under_a_steady_stream_of_writes() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("d.db").display());
        let store = SqliteStore::connect(&url, SqliteSettings::default()).await.unwrap();
        let writer = store.backend.writer.clone();
        sqlx::query("CREATE TABLE t (v TEXT)").execute(&writer).await.unwrap();
        let log = dir.path().join("d.db-wal");
        let mut largest = 0;
        let mut written = 0;
        // Four writers back to back, 8 kB a commit, until 64 MB went through the log.
        while written < 64 << 20 {
            let batch = (0..4).map(|i| {
                let writer = writer.clone();
                async move {
                    sqlx::query("INSERT INTO t VALUES ($1)")
                        .bind(format!("{i:0>8000}"))
                        .execute(&writer)
                        .await
                }
            });
            for r in futures_util::future::join_all(batch).await {
                r.unwrap();
                written += 8000;
            }
            sqlx::query("DELETE FROM t").execute(&writer).await.unwrap();
            largest = largest.max(std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0));
        }
        assert!(largest < 24 << 20, "the log reached {largest} bytes after {written} written");
        store.backend.close().await;
    }

    /// Writers queued behind an open turn share its commit; each keeps its own outcome: one that
    /// fails or is abandoned leaves nothing, the others are stored, and each commit answers only
    /// once its rows are visible to readers.
    #[tokio::test]
    async fn queued_writers_share_one_commit_and_keep_their_own_outcomes() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("d.db").display());
        let store = SqliteStore::connect(&url, SqliteSettings::default()).await.unwrap();
        let backend = store.backend.clone();
        sqlx::query("CREATE TABLE t (v TEXT UNIQUE)").execute(&backend.writer).await.unwrap();
        let insert = |v: &str| query("INSERT INTO t (v) VALUES ($1)").bind(v.to_string());
        let stored = |v: String| {
            let reads = backend.reads.clone();
            async move {
                let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM t WHERE v = $1")
                    .bind(v)
                    .fetch_one(&reads)
                    .await
                    .unwrap();
                n == 1
            }
        };
        let mut first = backend.begin_write().await.unwrap();
        insert("first").execute(&mut first).await.unwrap();
        let commits_before = backend.group.commits();
        let mut writers = Vec::new();
        for i in 0..10 {
            let backend = backend.clone();
            // Writer 3 repeats a stored value: its insert fails and it rolls back.
            let v = if i == 3 { "first".to_string() } else { format!("w{i}") };
            writers.push(tokio::spawn(async move {
                let mut tx = backend.begin_write().await.unwrap();
                match query("INSERT INTO t (v) VALUES ($1)").bind(v.clone()).execute(&mut tx).await {
                    Ok(_) => tx.commit().await.map(|()| Some(v)).unwrap(),
                    Err(_) => tx.rollback().await.map(|()| None).unwrap(),
                }
            }));
        }
        // One writer goes away after its insert, without committing or rolling back.
        let abandoned = {
            let backend = backend.clone();
            tokio::spawn(async move {
                let mut tx = backend.begin_write().await.unwrap();
                query("INSERT INTO t (v) VALUES ('abandoned')").execute(&mut tx).await.unwrap();
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        first.commit().await.unwrap();
        assert!(stored("first".into()).await, "a commit answered before its row was visible");
        let mut committed = 0;
        for writer in writers {
            if let Some(v) = writer.await.unwrap() {
                assert!(stored(v.clone()).await, "{v}: a commit answered before its row was visible");
                committed += 1;
            }
        }
        abandoned.await.unwrap();
        assert_eq!(committed, 9);
        // The one that failed and the abandoned one left nothing, and the writer is free again.
        let mut last = backend.begin_write().await.unwrap();
        insert("last").execute(&mut last).await.unwrap();
        last.commit().await.unwrap();
        let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM t").fetch_one(&backend.reads).await.unwrap();
        assert_eq!(n, 1 + 9 + 1, "exactly the committed writers' rows");
        let commits = backend.group.commits() - commits_before;
        assert!(commits <= 4, "12 writers queued together took {commits} commits");
        store.backend.close().await;
    }

    #[tokio::test]
    async fn durability_sets_synchronous_on_every_connection() {
        // SQLite's codes: 1 NORMAL, 2 FULL.
        assert_eq!(synchronous(Durability::Normal).await, 1);
        assert_eq!(synchronous(Durability::Full).await, 2);
    }
}
