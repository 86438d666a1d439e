//! The audit log: every committed write, export and erasure leaves one entry in its own transaction
//! ([`record`], called by [`super::changes::record`] for every write); admins page through a
//! tenant's entries in commit order ([`AuditStore::list_audit`]); old entries are pruned
//! ([`AuditStore::prune_audit`]).
//!
//! Entries name the key (from the request context: [`crate::request_context::key`]), the operation,
//! the resource id and the request id; never contact data. Paging is in `(tx, id)` order over
//! finished transactions, as the change feed is (see [`super::changes`]).

use std::future::Future;

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;
use sqlx::types::Json;

use super::backend::{Backend, SqlStore};
use super::error::StoreResult;
use super::query::{query, Sql, SqlConn};
use crate::domain::audit::{AuditAction, AuditEntry};
use crate::domain::change::Cursor;
use crate::request_context;

/// Audit-log use cases.
pub trait AuditStore: Send + Sync {
    /// Up to `limit` entries of the tenant after `after` (from the oldest kept one without it), in
    /// commit order.
    fn list_audit(
        &self,
        tenant: &str,
        after: Option<Cursor>,
        limit: u32,
    ) -> impl Future<Output = StoreResult<Vec<AuditEntry>>> + Send;

    /// Deletes up to `batch` entries from before `before` in one transaction; the number deleted.
    /// Safe to run from several processes at once: each claims rows the others are not deleting.
    fn prune_audit(&self, before: DateTime<Utc>, batch: u32)
        -> impl Future<Output = StoreResult<u64>> + Send;
}

/// The columns an insert fills, in the order [`bind_entry`] binds them after its first `$n`.
pub(crate) const COLUMNS: &str =
    "tenant_id, occurred_at, key_id, key_name, operation, resource_type, resource_id, request_id, detail";

/// Who made the current request: the authenticated key and the request id (empty outside a
/// request); `actor` names the key when no key is known (a write outside a request).
pub(crate) struct Origin {
    pub key_id: String,
    pub key_name: String,
    pub request_id: String,
}

impl Origin {
    pub(crate) fn current(actor: &str) -> Self {
        let (key_id, key_name) = match request_context::key() {
            Some(key) => (key.id, key.name),
            None => (String::new(), actor.to_owned()),
        };
        Origin { key_id, key_name, request_id: request_context::request_id() }
    }
}

/// Appends `($n, ...)` for one entry to `sql`.
pub(crate) fn push_entry<'q>(
    sql: &mut Sql<'q>,
    tenant: &'q str,
    at: DateTime<Utc>,
    origin: Origin,
    action: &AuditAction,
) {
    sql.push_values([origin], |row, origin| {
        row.push_bind(tenant)
            .push_bind(at)
            .push_bind(origin.key_id)
            .push_bind(origin.key_name)
            .push_bind(action.operation)
            .push_bind(action.resource_type)
            .push_bind(action.resource_id.clone())
            .push_bind(origin.request_id)
            .push_bind(action.detail.as_ref().map(Json));
    });
}

/// Records `action` by the current request's key (`actor` outside a request), in the transaction
/// of the use case it describes.
pub(crate) async fn record<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    actor: &str,
    at: DateTime<Utc>,
    action: &AuditAction,
) -> StoreResult<()> {
    let mut sql = query(format!("INSERT INTO audit_entries ({COLUMNS}) "));
    push_entry(&mut sql, tenant, at, Origin::current(actor), action);
    sql.execute(conn).await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct EntryRow {
    tx: i64,
    id: i64,
    occurred_at: DateTime<Utc>,
    key_id: String,
    key_name: String,
    operation: String,
    resource_type: String,
    resource_id: String,
    request_id: String,
    detail: Option<Json<Box<RawValue>>>,
}

impl From<EntryRow> for AuditEntry {
    fn from(r: EntryRow) -> Self {
        AuditEntry {
            id: Cursor { tx: r.tx, id: r.id },
            occurred_at: r.occurred_at,
            key_id: r.key_id,
            key_name: r.key_name,
            operation: r.operation,
            resource_type: r.resource_type,
            resource_id: r.resource_id,
            request_id: r.request_id,
            detail: r.detail.map(|d| d.0),
        }
    }
}

impl<B: Backend> AuditStore for SqlStore<B> {
    #[tracing::instrument(skip_all)]
    async fn list_audit(
        &self,
        tenant: &str,
        after: Option<Cursor>,
        limit: u32,
    ) -> StoreResult<Vec<AuditEntry>> {
        let mut conn = self.backend.acquire().await?;
        let after = after.unwrap_or(Cursor::START);
        let sql = format!(
            "SELECT tx, id, occurred_at, key_id, key_name, operation, resource_type, resource_id, request_id, \
             detail FROM audit_entries WHERE tenant_id = $1 AND {} AND {} ORDER BY tx, id LIMIT $4",
            <B::Db as super::query::Driver>::AFTER_POSITION,
            <B::Db as super::query::Driver>::SETTLED_EVENTS
        );
        let rows: Vec<EntryRow> = query(sql)
            .bind(tenant)
            .bind(after.tx)
            .bind(after.id)
            .bind(i64::from(limit))
            .fetch_all(&mut conn)
            .await?;
        Ok(rows.into_iter().map(AuditEntry::from).collect())
    }

    #[tracing::instrument(skip_all)]
    async fn prune_audit(&self, before: DateTime<Utc>, batch: u32) -> StoreResult<u64> {
        let mut tx = self.backend.begin_write().await?;
        let result = prune(&mut tx, before, batch).await;
        Self::settle(tx, result, |_| true).await
    }
}

async fn prune<C: SqlConn>(conn: &mut C, before: DateTime<Utc>, batch: u32) -> StoreResult<u64> {
    let ids: Vec<(i64,)> = query(format!(
        "SELECT id FROM audit_entries WHERE {} ORDER BY id LIMIT $2{}",
        super::pruning::older_than("audit_entries"),
        C::CLAIM_ROWS
    ))
    .bind(before)
    .bind(i64::from(batch))
    .fetch_all(&mut *conn)
    .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let mut delete = query("DELETE FROM audit_entries WHERE id IN (");
    delete.push_bind_list(ids.iter().map(|r| r.0)).push(")");
    Ok(delete.execute(&mut *conn).await?)
}
