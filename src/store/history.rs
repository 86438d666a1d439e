//! Retention of history: CRM revisions, contact-set revisions and merged tombstones older than a
//! horizon are deleted in small batches, each its own transaction whose rows are claimed
//! ([`SqlConn::CLAIM_ROWS`]), so two processes pruning at once share the work.
//!
//! What stays whatever its age: each CRM contact's current revision and each property's current
//! contact-set revision (the history copy of what is served).

use std::future::Future;

use chrono::{DateTime, Utc};

use super::backend::{Backend, SqlStore};
use super::error::StoreResult;
use super::query::{query, SqlConn};

/// The kinds of history that retention prunes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum History {
    CrmRevisions,
    ContactSetRevisions,
    /// Merged contacts (410 tombstones), with their own revisions, notes and fields.
    Tombstones,
}

impl History {
    pub const ALL: [History; 3] = [History::CrmRevisions, History::ContactSetRevisions, History::Tombstones];

    pub fn as_str(self) -> &'static str {
        match self {
            History::CrmRevisions => "crm_revisions",
            History::ContactSetRevisions => "contact_set_revisions",
            History::Tombstones => "tombstones",
        }
    }
}

/// History-retention use cases.
pub trait HistoryStore: Send + Sync {
    /// Deletes up to `batch` rows of `kind` from before `before`, in one transaction; the number
    /// deleted.
    fn prune_history(
        &self,
        kind: History,
        before: DateTime<Utc>,
        batch: u32,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
}

impl<B: Backend> HistoryStore for SqlStore<B> {
    #[tracing::instrument(skip_all, fields(kind = kind.as_str()))]
    async fn prune_history(&self, kind: History, before: DateTime<Utc>, batch: u32) -> StoreResult<u64> {
        let mut tx = self.backend.begin_write().await?;
        let result = prune(&mut tx, kind, before, batch).await;
        Self::settle(tx, result, |_| true).await
    }
}

async fn prune<C: SqlConn>(
    conn: &mut C,
    kind: History,
    before: DateTime<Utc>,
    batch: u32,
) -> StoreResult<u64> {
    let claim = C::CLAIM_ROWS;
    let limit = i64::from(batch);
    match kind {
        History::CrmRevisions => {
            let rows: Vec<(i64, i64)> = query(format!(
                "SELECT r.contact_id, r.version FROM crm_contact_revisions r WHERE r.changed_at < $1 \
                 AND r.version < (SELECT c.version FROM crm_contacts c WHERE c.id = r.contact_id) \
                 ORDER BY r.changed_at LIMIT $2{claim}"
            ))
            .bind(before)
            .bind(limit)
            .fetch_all(&mut *conn)
            .await?;
            delete_pairs(conn, "crm_contact_revisions", "contact_id", "version", rows).await
        }
        History::ContactSetRevisions => {
            let rows: Vec<(String, String, i64)> = query(format!(
                "SELECT r.tenant_id, r.property_id, r.revision FROM contact_set_revisions r \
                 WHERE r.created_at < $1 AND r.revision < (SELECT p.contact_set_revision FROM properties p \
                   WHERE p.tenant_id = r.tenant_id AND p.id = r.property_id) \
                 ORDER BY r.created_at LIMIT $2{claim}"
            ))
            .bind(before)
            .bind(limit)
            .fetch_all(&mut *conn)
            .await?;
            if rows.is_empty() {
                return Ok(0);
            }
            let mut delete = query("DELETE FROM contact_set_revisions WHERE ");
            for (i, (tenant, property, revision)) in rows.into_iter().enumerate() {
                delete.push(if i == 0 { "(" } else { " OR (" });
                delete.push("tenant_id = ").push_bind(tenant).push(" AND property_id = ").push_bind(property);
                delete.push(" AND revision = ").push_bind(revision).push(")");
            }
            Ok(delete.execute(&mut *conn).await?)
        }
        History::Tombstones => {
            let rows: Vec<(i64,)> = query(format!(
                "SELECT id FROM crm_contacts WHERE merged_into IS NOT NULL AND updated_at < $1 \
                 ORDER BY updated_at LIMIT $2{claim}"
            ))
            .bind(before)
            .bind(limit)
            .fetch_all(&mut *conn)
            .await?;
            if rows.is_empty() {
                return Ok(0);
            }
            let mut delete = query("DELETE FROM crm_contacts WHERE id IN (");
            delete.push_bind_list(rows.into_iter().map(|r| r.0)).push(")");
            Ok(delete.execute(&mut *conn).await?)
        }
    }
}

async fn delete_pairs<C: SqlConn>(
    conn: &mut C,
    table: &str,
    a: &str,
    b: &str,
    rows: Vec<(i64, i64)>,
) -> StoreResult<u64> {
    if rows.is_empty() {
        return Ok(0);
    }
    let mut delete = query(format!("DELETE FROM {table} WHERE "));
    for (i, (x, y)) in rows.into_iter().enumerate() {
        delete.push(if i == 0 { "(" } else { " OR (" });
        delete.push(format!("{a} = ")).push_bind(x).push(format!(" AND {b} = ")).push_bind(y).push(")");
    }
    Ok(delete.execute(&mut *conn).await?)
}
