//! The search terms of CRM contacts (`crm_contact_terms`, see [`crate::domain::crm_search`]):
//! brought in line with the contact as it is after each write, inside that write's transaction, so
//! a committed contact is always found by what it holds now and a rolled-back write leaves nothing.

use crate::domain::crm::Contact;
use crate::store::error::StoreResult;
use crate::store::query::{query, rows_per_statement, SqlConn};

/// Brings the terms of a stored contact in line with what it holds now: the terms it lost go, the
/// new ones come, and the ones it kept are not touched. A write changes a term or two, and
/// deleting and inserting every term on each write cost a telephone add as many index writes as
/// the contact has terms (on Postgres each one a dead row for vacuum).
pub(super) async fn reindex_contact<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    contact: &Contact,
) -> StoreResult<()> {
    let terms = contact.search_terms();
    if terms.len() >= C::MAX_BINDS {
        // Too many to name in one statement: start afresh.
        drop_terms(conn, &[contact.id]).await?;
        return index_new_contacts(conn, tenant, &[contact]).await;
    }
    let mut stale = query("DELETE FROM crm_contact_terms WHERE contact_id = $1").bind(contact.id);
    if terms.is_empty() {
        stale.execute(&mut *conn).await?;
        return Ok(());
    }
    stale.push(" AND term NOT IN (").push_bind_list(terms.iter().map(String::as_str)).push(")");
    // Both as one statement when their binds fit (the delete's and three a term): a writable CTE
    // on Postgres (the two touch different rows: the terms it lost, the terms it has), one text on
    // SQLite.
    if 4 * terms.len() + 1 > C::MAX_BINDS {
        stale.execute(&mut *conn).await?;
        return insert_terms(conn, tenant, contact.id, &terms, KEEP_EXISTING).await;
    }
    let mut both = stale.within(if C::WRITABLE_CTE { "WITH stale AS ({inner}) " } else { "{inner}; " });
    both.push("INSERT INTO crm_contact_terms (tenant_id, contact_id, term) ");
    both.push_values(&terms, |row, term| {
        row.push_bind(tenant).push_bind(contact.id).push_bind(term.as_str());
    });
    both.push(KEEP_EXISTING);
    both.execute(&mut *conn).await?;
    Ok(())
}

/// Ends a terms insert that may meet terms the contact already has.
const KEEP_EXISTING: &str = " ON CONFLICT (contact_id, term) DO NOTHING";

/// Writes the terms of contacts just created, which have none yet: three binds a term, as few
/// statements as [`SqlConn::MAX_BINDS`] allows.
pub(super) async fn index_new_contacts<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    contacts: &[&Contact],
) -> StoreResult<()> {
    let rows: Vec<(i64, String)> =
        contacts.iter().flat_map(|c| c.search_terms().into_iter().map(move |t| (c.id, t))).collect();
    insert_rows(conn, tenant, &rows, "").await
}

async fn insert_terms<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    id: i64,
    terms: &std::collections::BTreeSet<String>,
    suffix: &str,
) -> StoreResult<()> {
    let rows: Vec<(i64, String)> = terms.iter().map(|t| (id, t.clone())).collect();
    insert_rows(conn, tenant, &rows, suffix).await
}

/// `(contact_id, term)` rows in as few statements as [`SqlConn::MAX_BINDS`] allows, each ending
/// with `suffix`.
async fn insert_rows<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    rows: &[(i64, String)],
    suffix: &str,
) -> StoreResult<()> {
    for chunk in rows.chunks(rows_per_statement::<C>(3)) {
        let mut qb = query("INSERT INTO crm_contact_terms (tenant_id, contact_id, term) ");
        qb.push_values(chunk, |row, (id, term)| {
            row.push_bind(tenant).push_bind(*id).push_bind(term.as_str());
        });
        qb.push(suffix);
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
