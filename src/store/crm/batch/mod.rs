//! A batch of contact writes (`POST /api/v3/contacts/batch`) in one transaction. The creates are
//! written together ([`bulk`]); overwrites run one by one, each inside its own savepoint, so a
//! failed item is undone alone and the others carry on; an atomic batch with any failure is then
//! rolled back whole (by the caller). Each stored item leaves what the single write would (its
//! revision, search terms and change event), minus a commit per item.

mod bulk;

use std::collections::HashSet;

use super::writes::{create_in, replace_in};
use super::{CrmResult, Refusal};
use crate::domain::crm::{Contact, ContactDraft};
use crate::domain::crm_batch::{BatchItem, BatchTarget};
use crate::store::error::{StoreError, StoreResult};
use crate::store::query::{query, SqlConn};

/// How one item of a batch ended in the store.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchResult {
    Created(Box<Contact>),
    Updated(Box<Contact>),
    Refused(Refusal),
    /// A named constraint refused it (another contact has its `externalId`).
    Conflict(&'static str),
}

impl BatchResult {
    /// Whether the item was stored (or would be, in an atomic batch that fails).
    pub fn stored(&self) -> bool {
        matches!(self, BatchResult::Created(_) | BatchResult::Updated(_))
    }
}

/// Runs every item in the caller's write transaction. Creates (and upserts of external ids not
/// stored yet) are written together: one multi-row statement per table for all of them, after the
/// rules that need stored data are checked for each; should that statement hit a constraint (an
/// external id stored meanwhile), the creates run one by one instead. Overwrites, and upserts that
/// repeat an external id of the batch, run one by one after them, each in its own savepoint.
pub(super) async fn run_batch<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    items: Vec<BatchItem>,
    author: &str,
) -> StoreResult<Vec<BatchResult>> {
    let stored = stored_external_ids(conn, tenant, &items).await?;
    let mut results: Vec<Option<BatchResult>> = (0..items.len()).map(|_| None).collect();
    let mut creates = Vec::new();
    let mut one_by_one = Vec::new();
    let mut new_externals = HashSet::new();
    for (i, item) in items.into_iter().enumerate() {
        match &item.target {
            BatchTarget::Create => creates.push((i, item)),
            BatchTarget::Upsert(e) if !stored.contains(e) && new_externals.insert(e.clone()) => {
                creates.push((i, item))
            }
            _ => one_by_one.push((i, item)),
        }
    }
    if !creates.is_empty() {
        query("SAVEPOINT batch_bulk").execute(&mut *conn).await?;
        let drafts: Vec<(usize, ContactDraft)> =
            creates.iter().map(|(i, it)| (*i, it.draft.clone())).collect();
        match bulk::create_all(conn, tenant, drafts, author).await {
            Ok(created) => {
                query("RELEASE SAVEPOINT batch_bulk").execute(&mut *conn).await?;
                for (i, result) in created {
                    results[i] = Some(result);
                }
            }
            Err(StoreError::Conflict(_)) => {
                query("ROLLBACK TO SAVEPOINT batch_bulk").execute(&mut *conn).await?;
                query("RELEASE SAVEPOINT batch_bulk").execute(&mut *conn).await?;
                one_by_one.splice(0..0, creates);
            }
            Err(other) => return Err(other),
        }
    }
    for (i, item) in one_by_one {
        results[i] = Some(run_one(conn, tenant, item, author).await?);
    }
    results
        .into_iter()
        .map(|r| r.ok_or_else(|| StoreError::Other("batch item without a result".into())))
        .collect()
}

/// The external ids of the batch's upserts that are stored already (locked for the transaction).
async fn stored_external_ids<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    items: &[BatchItem],
) -> StoreResult<HashSet<String>> {
    let externals: Vec<&str> = items
        .iter()
        .filter_map(|i| match &i.target {
            BatchTarget::Upsert(e) => Some(e.as_str()),
            _ => None,
        })
        .collect();
    if externals.is_empty() {
        return Ok(HashSet::new());
    }
    let mut qb = query("SELECT external_id FROM crm_contacts WHERE tenant_id = ");
    qb.push_bind(tenant).push(" AND external_id IN (").push_bind_list(externals).push(")").push(C::LOCK_ROWS);
    let rows: Vec<(String,)> = qb.fetch_all(&mut *conn).await?;
    Ok(rows.into_iter().map(|(e,)| e).collect())
}

/// One item in its own savepoint.
async fn run_one<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    item: BatchItem,
    author: &str,
) -> StoreResult<BatchResult> {
    query("SAVEPOINT batch_item").execute(&mut *conn).await?;
    Ok(match run_item(conn, tenant, item, author).await {
        Ok(Ok((contact, created))) => {
            query("RELEASE SAVEPOINT batch_item").execute(&mut *conn).await?;
            if created {
                BatchResult::Created(Box::new(contact))
            } else {
                BatchResult::Updated(Box::new(contact))
            }
        }
        Ok(Err(refusal)) => {
            undo(conn).await?;
            BatchResult::Refused(refusal)
        }
        Err(StoreError::Conflict(name)) => {
            undo(conn).await?;
            BatchResult::Conflict(name)
        }
        Err(other) => return Err(other),
    })
}

async fn undo<C: SqlConn>(conn: &mut C) -> StoreResult<()> {
    query("ROLLBACK TO SAVEPOINT batch_item").execute(&mut *conn).await?;
    query("RELEASE SAVEPOINT batch_item").execute(&mut *conn).await?;
    Ok(())
}

/// One item: the contact after it and whether it was created.
async fn run_item<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    item: BatchItem,
    author: &str,
) -> CrmResult<(Contact, bool)> {
    let existing = match &item.target {
        BatchTarget::Create => None,
        BatchTarget::Update(id) => Some(*id),
        BatchTarget::Upsert(external) => {
            let row: Option<(i64,)> = query(format!(
                "SELECT id FROM crm_contacts WHERE tenant_id = $1 AND external_id = $2{}",
                C::LOCK_ROWS
            ))
            .bind(tenant)
            .bind(external.as_str())
            .fetch_optional(&mut *conn)
            .await?;
            row.map(|(id,)| id)
        }
    };
    Ok(match existing {
        Some(id) => replace_in(conn, tenant, id, item.draft, None, author).await?.map(|c| (c, false)),
        None => create_in(conn, tenant, item.draft, author).await?.map(|c| (c, true)),
    })
}
