//! A batch of contact writes (`POST /api/v3/contacts/batch`) in one transaction: each item runs
//! inside its own savepoint, so a failed item is undone alone and the others carry on; an atomic
//! batch with any failure is then rolled back whole. Each stored item is the single write it
//! stands for (its revision, search terms and change event included), minus a commit per item.

use super::contacts::{create_in, replace_in};
use super::{CrmResult, Refusal};
use crate::domain::crm::Contact;
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

/// Runs every item in the caller's write transaction, each in a savepoint.
pub(super) async fn run_batch<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    items: Vec<BatchItem>,
    author: &str,
) -> StoreResult<Vec<BatchResult>> {
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        query("SAVEPOINT batch_item").execute(&mut *conn).await?;
        let outcome = run_item(conn, tenant, item, author).await;
        let result = match outcome {
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
        };
        results.push(result);
    }
    Ok(results)
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
