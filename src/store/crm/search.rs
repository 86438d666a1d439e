//! The search terms of CRM contacts (`crm_contact_terms`, see [`crate::domain::crm_search`]):
//! rewritten from the contact as it is after each write, inside that write's transaction, so a
//! committed contact is always found by what it holds now and a rolled-back write leaves nothing.

use crate::domain::crm::Contact;
use crate::store::error::StoreResult;
use crate::store::query::{query, rows_per_statement, SqlConn};

/// Replaces the terms of `contacts` with the ones they hold now.
pub(super) async fn index_contacts<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    contacts: &[&Contact],
) -> StoreResult<()> {
    if contacts.is_empty() {
        return Ok(());
    }
    drop_terms(conn, &contacts.iter().map(|c| c.id).collect::<Vec<_>>()).await?;
    index_new_contacts(conn, tenant, contacts).await
}

/// Writes the terms of contacts just created, which have none yet: three binds a term, as few
/// statements as [`SqlConn::MAX_BINDS`] allows.
pub(super) async fn index_new_contacts<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    contacts: &[&Contact],
) -> StoreResult<()> {
    let rows: Vec<(i64, String)> =
        contacts.iter().flat_map(|c| c.search_terms().into_iter().map(move |t| (c.id, t))).collect();
    for chunk in rows.chunks(rows_per_statement::<C>(3)) {
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
