//! Search terms for contacts stored before search existed: given at start-up, a batch per write
//! transaction (see `SqlStore::backfill_search`).

use super::queries::fetch_contacts;
use super::search::index_contacts;
use crate::domain::crm::Contact;
use crate::store::error::StoreResult;
use crate::store::query::{query, SqlConn};

/// Contacts indexed per round of [`backfill_batch`].
const BACKFILL_BATCH: i64 = 500;

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
