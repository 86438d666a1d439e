//! Search terms for contacts stored before search existed: given at start-up, a batch per write
//! transaction (see `SqlStore::backfill_search`), up to the id the migration recorded in
//! `crm_search_backfill`.

use super::queries::fetch_contacts;
use super::search::index_new_contacts;
use crate::domain::crm::Contact;
use crate::store::error::StoreResult;
use crate::store::query::{query, SqlConn};

/// Contacts looked at per round of [`backfill_batch`].
const BACKFILL_BATCH: i64 = 500;

/// The highest contact id the backfill must still look at, its mark locked for the caller's
/// transaction; `None` once the backfill has finished. The lock makes two processes starting on
/// one database take the batches in turn: each sees the terms the other committed and skips those
/// contacts, rather than both writing the same terms (a unique violation that failed a start).
pub(super) async fn lock_backfill_limit<C: SqlConn>(conn: &mut C) -> StoreResult<Option<i64>> {
    let mark: Option<(i64,)> =
        query(format!("SELECT upto FROM crm_search_backfill{}", C::LOCK_ROWS)).fetch_optional(conn).await?;
    Ok(mark.map(|(upto,)| upto))
}

/// Records that the backfill has finished.
pub(super) async fn backfill_finished<C: SqlConn>(conn: &mut C) -> StoreResult<()> {
    query("DELETE FROM crm_search_backfill").execute(conn).await?;
    Ok(())
}

/// Indexes the live contacts without terms among the next [`BACKFILL_BATCH`] ids above `after` (up
/// to `upto`), in the caller's transaction. Returns the last id looked at, or `None` when none is
/// left. A contact whose names hold no letter or digit has no terms; it is simply passed.
///
/// Two index lookups per batch: the next ids in id order, then which of them have terms. (One
/// anti-join, `NOT EXISTS` over the terms, was planned by Postgres as a merge anti-join reading the
/// terms table from its start every batch: quadratic, 18 minutes at a million contacts.)
pub(super) async fn backfill_batch<C: SqlConn>(
    conn: &mut C,
    after: i64,
    upto: i64,
) -> StoreResult<Option<i64>> {
    let page: Vec<(i64, String)> = query(
        "SELECT id, tenant_id FROM crm_contacts WHERE id > $1 AND id <= $2 AND merged_into IS NULL \
         ORDER BY id LIMIT $3",
    )
    .bind(after)
    .bind(upto)
    .bind(BACKFILL_BATCH)
    .fetch_all(&mut *conn)
    .await?;
    let Some(last) = page.last().map(|(id, _)| *id) else { return Ok(None) };
    let mut indexed = query("SELECT DISTINCT contact_id FROM crm_contact_terms WHERE contact_id IN (");
    indexed.push_bind_list(page.iter().map(|(id, _)| *id));
    indexed.push(")");
    let indexed: Vec<(i64,)> = indexed.fetch_all(&mut *conn).await?;
    let indexed: std::collections::HashSet<i64> = indexed.into_iter().map(|(id,)| id).collect();
    let batch: Vec<&(i64, String)> = page.iter().filter(|(id, _)| !indexed.contains(id)).collect();
    let mut tenants: Vec<&str> = batch.iter().map(|(_, t)| t.as_str()).collect();
    tenants.sort_unstable();
    tenants.dedup();
    for tenant in tenants {
        let ids: Vec<i64> = batch.iter().filter(|(_, t)| t == tenant).map(|(id, _)| *id).collect();
        let contacts = fetch_contacts(&mut *conn, tenant, &ids).await?;
        let live: Vec<&Contact> = contacts.iter().map(|(c, _)| c).collect();
        // Under the mark's lock these contacts have no terms: nothing to delete first.
        index_new_contacts(&mut *conn, tenant, &live).await?;
    }
    Ok(Some(last))
}
