//! The search terms of CRM contacts (`crm_contact_terms`, see [`crate::domain::crm_search`]):
//! rewritten from the contact as it is after each write, inside that write's transaction, so a
//! committed contact is always found by what it holds now and a rolled-back write leaves nothing.

use super::queries::fetch_contacts;
use crate::domain::crm::Contact;
use crate::domain::crm_search::contact_terms;
use crate::store::error::StoreResult;
use crate::store::query::{query, SqlConn};

/// Term rows per INSERT: three binds each, well under either backend's bind limit.
const TERMS_PER_INSERT: usize = 1000;
/// Contacts indexed per round of [`backfill`].
const BACKFILL_BATCH: i64 = 500;

/// Replaces the terms of `contacts` with the ones they hold now: two statements per 1,000 terms.
pub(super) async fn index_contacts<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    contacts: &[&Contact],
) -> StoreResult<()> {
    if contacts.is_empty() {
        return Ok(());
    }
    drop_terms(conn, &contacts.iter().map(|c| c.id).collect::<Vec<_>>()).await?;
    let rows: Vec<(i64, String)> =
        contacts.iter().flat_map(|c| contact_terms(c).into_iter().map(move |t| (c.id, t))).collect();
    for chunk in rows.chunks(TERMS_PER_INSERT) {
        let mut qb = query("INSERT INTO crm_contact_terms (tenant_id, contact_id, term) ");
        qb.push_values(chunk, |row, (id, term)| {
            row.push_bind(tenant).push_bind(*id).push_bind(term.as_str());
        });
        qb.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Removes the terms of `ids` (a merged-away secondary is never found again).
pub(super) async fn drop_terms<C: SqlConn>(conn: &mut C, ids: &[i64]) -> StoreResult<()> {
    let mut qb = query("DELETE FROM crm_contact_terms WHERE contact_id IN (");
    qb.push_bind_list(ids.iter().copied());
    qb.push(")");
    qb.execute(&mut *conn).await?;
    Ok(())
}

/// Indexes one batch of live contacts above id `after` that have no terms yet (those stored before
/// search existed), in the caller's transaction. Returns the last id looked at, or `None` when none
/// is left. A contact whose names hold no letter or digit has no terms and is looked at again on
/// the next start (cheap: such contacts are rare).
pub(super) async fn backfill_batch<C: SqlConn>(conn: &mut C, after: i64) -> StoreResult<Option<i64>> {
    let batch: Vec<(i64, String)> = query(
        "SELECT c.id, c.tenant_id FROM crm_contacts c WHERE c.id > $1 AND c.merged_into IS NULL \
         AND NOT EXISTS (SELECT 1 FROM crm_contact_terms t WHERE t.contact_id = c.id) \
         ORDER BY c.id LIMIT $2",
    )
    .bind(after)
    .bind(BACKFILL_BATCH)
    .fetch_all(&mut *conn)
    .await?;
    let Some(last) = batch.last().map(|(id, _)| *id) else { return Ok(None) };
    let mut tenants: Vec<&str> = batch.iter().map(|(_, t)| t.as_str()).collect();
    tenants.sort_unstable();
    tenants.dedup();
    for tenant in tenants {
        let ids: Vec<i64> = batch.iter().filter(|(_, t)| t == tenant).map(|(id, _)| *id).collect();
        let contacts = fetch_contacts(&mut *conn, tenant, &ids).await?;
        let live: Vec<&Contact> = contacts.iter().map(|(c, _)| c).collect();
        index_contacts(&mut *conn, tenant, &live).await?;
    }
    Ok(Some(last))
}
