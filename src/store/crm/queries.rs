//! The statements the CRM use cases share: reading contacts whole, locking, writing collections and
//! revisions. Each runs on the caller's connection, inside its transaction.

use sqlx::types::Json;

use super::refuse_on;
use super::rows::{
    assemble, children_columns, order_by, Children, ChildrenRow, ContactTreeRow, StampRow, CONTACT_COLUMNS,
};
use super::{CrmResult, Refusal};
use crate::domain::change::{Change, ChangeType};
use crate::domain::crm::{
    AddressDraft, Contact, ContactDraft, ContactFilter, ContactQuery, CustomField, EmailDraft, IfMatch,
    ItemDraft, ListStamp, Operation, TelephoneDraft,
};
use crate::domain::crm_search::SearchQuery;
use crate::store::changes;
use crate::store::error::StoreResult;
use crate::store::query::{query, Sql, SqlConn};
use crate::store::write::now;
use crate::validation::{ErrorKind, FieldError};

/// Appends the WHERE clause of a list request; every filter has an index led by tenant.
pub(super) fn push_filter<'a>(qb: &mut Sql<'a>, tenant: &'a str, f: &'a ContactFilter) {
    qb.push(" WHERE c.tenant_id = ").push_bind(tenant).push(" AND c.merged_into IS NULL");
    // The collection filters are `c.id IN (...)`, not a correlated EXISTS: SQLite runs an EXISTS once
    // per contact of the tenant, while IN lets it (and Postgres) start from the filter's index.
    if let Some(email) = &f.email_address {
        qb.push(" AND c.id IN (SELECT x.contact_id FROM crm_contact_emails x WHERE x.tenant_id = ")
            .push_bind(tenant)
            .push(" AND lower(x.email_address) = lower(")
            .push_bind(email.as_str())
            .push("))");
    }
    if let Some(name) = &f.first_name {
        qb.push(" AND lower(c.first_name) = lower(").push_bind(name.as_str()).push(")");
    }
    if let Some(name) = &f.last_name {
        qb.push(" AND lower(c.last_name) = lower(").push_bind(name.as_str()).push(")");
    }
    if let Some(e164) = &f.telephone {
        qb.push(" AND c.id IN (SELECT x.contact_id FROM crm_contact_telephones x WHERE x.tenant_id = ")
            .push_bind(tenant)
            .push(" AND x.e164 = ")
            .push_bind(e164.as_str())
            .push(")");
    }
    if let Some(account) = &f.account_id {
        qb.push(" AND c.account_id = ").push_bind(account.as_str());
    }
    if let Some(t) = f.contact_type {
        qb.push(" AND c.contact_type = ").push_bind(t.as_str());
    }
    if let Some(p) = &f.property_id {
        qb.push(" AND c.id IN (SELECT x.contact_id FROM crm_contact_properties x WHERE x.tenant_id = ")
            .push_bind(tenant)
            .push(" AND x.property_id = ")
            .push_bind(p.as_str())
            .push(")");
    }
    if let Some(since) = f.modified_since {
        qb.push(" AND c.updated_at >= ").push_bind(since);
    }
    if let Some(external) = &f.external_id {
        qb.push(" AND c.external_id = ").push_bind(external.as_str());
    }
    if let Some(search) = &f.search {
        // One index range per word over (tenant_id, term): every word must prefix some term.
        for w in &search.words {
            qb.push(" AND c.id IN (SELECT t.contact_id FROM crm_contact_terms t WHERE t.tenant_id = ")
                .push_bind(tenant)
                .push(" AND t.term >= ")
                .push_bind(w.word.as_str());
            if let Some(upper) = &w.upper {
                qb.push(" AND t.term < ").push_bind(upper.as_str());
            }
            qb.push(")");
        }
    }
}

/// Appends a search's relevance: how many of its words are whole terms of the contact (exact
/// matches rank before prefix matches). One probe of the terms' primary key per word.
fn push_relevance<'a>(qb: &mut Sql<'a>, search: &'a SearchQuery) {
    qb.push("(SELECT COUNT(*) FROM crm_contact_terms r WHERE r.contact_id = c.id AND r.term IN (");
    qb.push_bind_list(search.words.iter().map(|w| w.word.as_str()));
    qb.push("))");
}

pub(super) fn stamp_query<'a>(prefix: &str, tenant: &'a str, f: &'a ContactFilter) -> Sql<'a> {
    let mut qb = query(prefix.to_owned());
    qb.push(
        "SELECT COUNT(*) AS total, MAX(c.updated_at) AS last_modified, \
         CAST(COALESCE(SUM(c.version), 0) AS BIGINT) AS version_sum, \
         CAST(COALESCE(SUM(c.id), 0) AS BIGINT) AS id_sum FROM crm_contacts c",
    );
    push_filter(&mut qb, tenant, f);
    qb
}

pub(super) fn page_query<'a>(prefix: &str, tenant: &'a str, q: &'a ContactQuery) -> Sql<'a> {
    let mut qb = query(prefix.to_owned());
    qb.push(format!("SELECT {CONTACT_COLUMNS} FROM crm_contacts c"));
    push_filter(&mut qb, tenant, &q.filter);
    // Cursor paging: the rows after the cursor in the order below (id, or relevance then id).
    if let Some(after) = &q.after {
        match (&q.filter.search, after.relevance) {
            (Some(search), Some(relevance)) => {
                qb.push(" AND (");
                push_relevance(&mut qb, search);
                qb.push(" < ").push_bind(relevance).push(" OR (");
                push_relevance(&mut qb, search);
                qb.push(" = ").push_bind(relevance).push(" AND c.id > ").push_bind(after.id).push("))");
            }
            _ if q.sort.descending => {
                qb.push(" AND c.id < ").push_bind(after.id);
            }
            _ => {
                qb.push(" AND c.id > ").push_bind(after.id);
            }
        }
    }
    qb.push(" ORDER BY ");
    if let Some(search) = &q.filter.search {
        push_relevance(&mut qb, search);
        qb.push(" DESC, ");
    }
    // One row more than the page tells whether another page follows.
    qb.push(format!("{} LIMIT ", order_by(q.sort.field, q.sort.descending)))
        .push_bind(i64::from(q.size) + 1)
        .push(" OFFSET ")
        .push_bind(q.offset());
    qb
}

/// The collections of the contacts `ids`, in one query (see [`children_columns`]).
pub(super) fn children_query<'a, C: SqlConn>(prefix: &str, ids: &'a [i64]) -> Sql<'a> {
    // The five subqueries name the same ids: bound once, their placeholders written in each.
    let mut list = query("");
    list.push_bind_list(ids.iter().copied());
    list.within(&format!("{prefix}SELECT {}", children_columns::<C>("x.contact_id IN ({inner})")))
}

/// The collections of the contacts `ids`, each ordered by contact and then by age.
pub(super) async fn fetch_children<C: SqlConn>(conn: &mut C, ids: &[i64]) -> StoreResult<Children> {
    let mut children = Children::default();
    if !ids.is_empty() {
        children_query::<C>("", ids).fetch_one::<ChildrenRow>(&mut *conn).await?.parse_into(&mut children)?;
    }
    Ok(children)
}

/// Contacts by id (tombstones included), in id order, whole: one query.
pub(crate) async fn fetch_contacts<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    ids: &[i64],
) -> StoreResult<Vec<(Contact, Option<i64>)>> {
    let mut qb = query(format!(
        "SELECT {CONTACT_COLUMNS}, {} FROM crm_contacts c WHERE c.tenant_id = ",
        children_columns::<C>("x.contact_id = c.id")
    ));
    qb.push_bind(tenant).push(" AND c.id IN (");
    qb.push_bind_list(ids.iter().copied());
    qb.push(") ORDER BY c.id");
    let rows: Vec<ContactTreeRow> = qb.fetch_all(&mut *conn).await?;
    let mut children = Children::default();
    let mut contacts = Vec::with_capacity(rows.len());
    for row in rows {
        row.children.parse_into(&mut children)?;
        contacts.push(row.contact);
    }
    assemble(contacts, children)
}

/// One live contact, whole.
pub(super) async fn load_contact<C: SqlConn>(conn: &mut C, tenant: &str, id: i64) -> CrmResult<Contact> {
    let mut found = fetch_contacts(conn, tenant, &[id]).await?;
    Ok(match found.pop() {
        None => Err(Refusal::NotFound),
        Some((_, Some(merged_into))) => Err(Refusal::Gone { merged_into }),
        Some((contact, None)) => Ok(contact),
    })
}

/// Checks a live contact exists without loading it (reads of notes and revisions).
pub(super) async fn check_live<C: SqlConn>(conn: &mut C, tenant: &str, id: i64) -> CrmResult<()> {
    let row: Option<(Option<i64>,)> =
        query("SELECT merged_into FROM crm_contacts WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(match row {
        None => Err(Refusal::NotFound),
        Some((Some(merged_into),)) => Err(Refusal::Gone { merged_into }),
        Some((None,)) => Ok(()),
    })
}

/// Locks the contact row for the rest of the transaction and checks `If-Match`.
pub(super) async fn lock<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    id: i64,
    if_match: Option<&IfMatch>,
) -> CrmResult<i64> {
    let row: Option<(i64, Option<i64>)> = query(format!(
        "SELECT version, merged_into FROM crm_contacts WHERE tenant_id = $1 AND id = $2{}",
        C::LOCK_ROWS
    ))
    .bind(tenant)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match row {
        None => Err(Refusal::NotFound),
        Some((_, Some(merged_into))) => Err(Refusal::Gone { merged_into }),
        Some((version, None)) => match if_match {
            Some(m) if !m.allows(version) => Err(Refusal::VersionMismatch { current: version }),
            _ => Ok(version),
        },
    })
}

/// Bumps the version, reloads the contact and appends its revision.
pub(super) async fn finish<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    id: i64,
    op: Operation,
    author: &str,
) -> CrmResult<Contact> {
    query("UPDATE crm_contacts SET version = version + 1, updated_at = $3 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant)
        .bind(id)
        .bind(now())
        .execute(&mut *conn)
        .await?;
    record(conn, tenant, id, op, author).await
}

/// Reloads the contact, appends its current version as a revision and records the change
/// (`contact.created` for a create, else `contact.updated`).
pub(super) async fn record<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    id: i64,
    op: Operation,
    author: &str,
) -> CrmResult<Contact> {
    let contact = refuse_on!(load_contact(conn, tenant, id).await?);
    record_loaded(conn, tenant, &contact, op, author).await?;
    Ok(Ok(contact))
}

/// Indexes `contact` as it is now, appends it as a revision and records the change.
pub(super) async fn record_loaded<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    contact: &Contact,
    op: Operation,
    author: &str,
) -> StoreResult<()> {
    match op {
        Operation::AddNote | Operation::ReplaceCustomFields => {}
        Operation::Create => super::search::index_new_contacts(conn, tenant, &[contact]).await?,
        _ => super::search::reindex_contact(conn, tenant, contact).await?,
    }
    let kind = if op == Operation::Create { ChangeType::ContactCreated } else { ChangeType::ContactUpdated };
    let change = Change::contact(kind, contact.id, contact.version);
    let revisions = [(contact, op)];
    let revision = revisions_insert(tenant, &revisions, author);
    changes::record_after(conn, Some(revision), tenant, author, contact.updated_at, &change).await
}

pub(super) async fn insert_revisions<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    revisions: &[(&Contact, Operation)],
    author: &str,
) -> StoreResult<()> {
    revisions_insert(tenant, revisions, author).execute(&mut *conn).await?;
    Ok(())
}

fn revisions_insert<'q>(
    tenant: &'q str,
    revisions: &'q [(&'q Contact, Operation)],
    author: &'q str,
) -> Sql<'q> {
    let mut qb = query(
        "INSERT INTO crm_contact_revisions \
         (tenant_id, contact_id, version, operation, changed_at, changed_by, contact) ",
    );
    qb.push_values(revisions, |row, (c, op)| {
        row.push_bind(tenant)
            .push_bind(c.id)
            .push_bind(c.version)
            .push_bind(op.as_str())
            .push_bind(c.updated_at)
            .push_bind(author)
            .push_bind(Json(*c));
    });
    qb
}

/// Contacts loaded and revisions inserted per statement when a property delete unlinks
/// many contacts; keeps every statement well under the backends' bind-parameter limits.
pub(super) const UNLINK_BATCH: usize = 1000;

/// Runs in the transaction of a property delete, before the property row goes: removes
/// every link to the property, bumps `version` and `updatedAt` of each live contact that
/// had one and records an `UNLINK_PROPERTY` revision of it (as it is after the unlink)
/// by `author`, so conditional reads see the change.
///
/// Locks in the order contact writes do (contacts, then the property), so the two
/// cannot deadlock over the contacts already linked: first the linked contacts in id
/// order, then the property row, which stops new links to it (their check takes
/// [`SqlConn::KEY_SHARE`]); the bump then re-reads the links, catching any committed
/// in between. Statements: two locks, the bump, the unlink, and per
/// [`UNLINK_BATCH`] contacts the one-query load and one revision insert.
pub(crate) async fn unlink_property<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    property_id: &str,
    author: &str,
) -> StoreResult<()> {
    query(format!(
        "SELECT id FROM crm_contacts WHERE tenant_id = $1 AND merged_into IS NULL AND id IN \
         (SELECT contact_id FROM crm_contact_properties WHERE tenant_id = $1 AND property_id = $2) \
         ORDER BY id{}",
        C::LOCK_ROWS
    ))
    .bind(tenant)
    .bind(property_id)
    .execute(&mut *conn)
    .await?;
    query(format!("SELECT id FROM properties WHERE tenant_id = $1 AND id = $2{}", C::LOCK_ROWS))
        .bind(tenant)
        .bind(property_id)
        .execute(&mut *conn)
        .await?;
    let bumped: Vec<(i64,)> = query(
        "UPDATE crm_contacts SET version = version + 1, updated_at = $3 \
         WHERE tenant_id = $1 AND merged_into IS NULL AND id IN \
         (SELECT contact_id FROM crm_contact_properties WHERE tenant_id = $1 AND property_id = $2) \
         RETURNING id",
    )
    .bind(tenant)
    .bind(property_id)
    .bind(now())
    .fetch_all(&mut *conn)
    .await?;
    query("DELETE FROM crm_contact_properties WHERE tenant_id = $1 AND property_id = $2")
        .bind(tenant)
        .bind(property_id)
        .execute(&mut *conn)
        .await?;
    let mut ids: Vec<i64> = bumped.into_iter().map(|(id,)| id).collect();
    ids.sort_unstable();
    for batch in ids.chunks(UNLINK_BATCH) {
        let contacts = fetch_contacts(conn, tenant, batch).await?;
        let revisions: Vec<_> = contacts.iter().map(|(c, _)| (c, Operation::UnlinkProperty)).collect();
        if !revisions.is_empty() {
            insert_revisions(conn, tenant, &revisions, author).await?;
        }
    }
    Ok(())
}

/// The country of the stored primary address, which reads national telephone numbers.
pub(super) async fn primary_country<C: SqlConn>(conn: &mut C, id: i64) -> StoreResult<Option<String>> {
    let row: Option<(String,)> =
        query("SELECT country_code FROM crm_contact_addresses WHERE contact_id = $1 AND is_primary")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.map(|(c,)| c))
}

/// The rules that need stored data: `propertyIds` exist in the tenant, and national telephone
/// numbers can be read with a country (`stored_country` unless the body replaces the addresses).
/// Reports every violation.
///
/// The properties found are locked for the transaction, so none can be deleted before the links to
/// it are inserted (which would break their foreign key): [`SqlConn::KEY_SHARE`], on Postgres the
/// lock foreign-key checks take themselves, which only conflicts with deletes and key changes.
/// SQLite needs none: the transaction holds the database write lock, which a delete needs too.
pub(super) async fn check_stored_rules<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    property_ids: Option<&[String]>,
    telephones: &mut [TelephoneDraft],
    stored_country: Option<String>,
) -> StoreResult<Result<(), Refusal>> {
    let mut errors = Vec::new();
    if let Some(ids) = property_ids.filter(|ids| !ids.is_empty()) {
        let mut qb = query("SELECT id FROM properties WHERE tenant_id = ");
        qb.push_bind(tenant).push(" AND id IN (");
        qb.push_bind_list(ids.iter().map(String::as_str));
        qb.push(")").push(C::KEY_SHARE);
        let known: Vec<(String,)> = qb.fetch_all(&mut *conn).await?;
        for (i, id) in ids.iter().enumerate() {
            if !known.iter().any(|(k,)| k == id) {
                errors.push(FieldError::new(
                    &format!("/propertyIds/{i}"),
                    ErrorKind::Invalid,
                    crate::domain::crm::codes::PROPERTY_UNKNOWN,
                    "no property with this id",
                ));
            }
        }
    }
    for t in telephones.iter_mut() {
        if let Err(e) = t.resolve(stored_country.as_deref()) {
            errors.push(e);
        }
    }
    Ok(if errors.is_empty() { Ok(()) } else { Err(Refusal::Invalid(errors)) })
}

/// Runs a multi-row INSERT, answering the new rows' ids in VALUES order: ids are handed out in that
/// order, and sorting them restores it (RETURNING's own order is not promised).
async fn returning_ids<C: SqlConn>(mut qb: Sql<'_>, conn: &mut C) -> StoreResult<Vec<i64>> {
    qb.push(" RETURNING id");
    let rows: Vec<(i64,)> = qb.fetch_all(&mut *conn).await?;
    let mut ids: Vec<i64> = rows.into_iter().map(|(id,)| id).collect();
    ids.sort_unstable();
    Ok(ids)
}

pub(super) async fn insert_emails<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    id: i64,
    items: &[EmailDraft],
) -> StoreResult<Vec<i64>> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let mut qb =
        query("INSERT INTO crm_contact_emails (tenant_id, contact_id, email_address, type, is_primary) ");
    qb.push_values(items, |row, e| {
        row.push_bind(tenant)
            .push_bind(id)
            .push_bind(e.email_address.as_str())
            .push_bind(e.kind.as_deref())
            .push_bind(e.primary);
    });
    returning_ids(qb, conn).await
}

pub(super) async fn insert_telephones<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    id: i64,
    items: &[TelephoneDraft],
) -> StoreResult<Vec<i64>> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let mut qb = query(
        "INSERT INTO crm_contact_telephones \
         (tenant_id, contact_id, number, e164, type, extension, country_code, is_primary) ",
    );
    qb.push_values(items, |row, t| {
        row.push_bind(tenant)
            .push_bind(id)
            .push_bind(t.number.as_str())
            .push_bind(t.e164.as_deref().unwrap_or_default())
            .push_bind(t.kind.as_deref())
            .push_bind(t.extension.as_deref())
            .push_bind(t.country_code.as_deref())
            .push_bind(t.primary);
    });
    returning_ids(qb, conn).await
}

pub(super) async fn insert_addresses<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    id: i64,
    items: &[AddressDraft],
) -> StoreResult<Vec<i64>> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let mut qb = query(
        "INSERT INTO crm_contact_addresses (tenant_id, contact_id, address_line1, address_line2, \
         city, postcode, state_province, country_code, is_primary) ",
    );
    qb.push_values(items, |row, a| {
        row.push_bind(tenant)
            .push_bind(id)
            .push_bind(a.address_line1.as_str())
            .push_bind(a.address_line2.as_deref())
            .push_bind(a.city.as_str())
            .push_bind(a.postcode.as_deref())
            .push_bind(a.state_province.as_deref())
            .push_bind(a.country_code.as_str())
            .push_bind(a.primary);
    });
    returning_ids(qb, conn).await
}

pub(super) async fn insert_properties<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    id: i64,
    items: &[String],
) -> StoreResult<()> {
    if items.is_empty() {
        return Ok(());
    }
    let mut qb = query("INSERT INTO crm_contact_properties (tenant_id, contact_id, property_id) ");
    qb.push_values(items, |row, p| {
        row.push_bind(tenant).push_bind(id).push_bind(p.as_str());
    });
    qb.execute(&mut *conn).await?;
    Ok(())
}

pub(super) async fn insert_custom_fields<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    id: i64,
    items: &[CustomField],
) -> StoreResult<()> {
    if items.is_empty() {
        return Ok(());
    }
    let mut qb =
        query("INSERT INTO crm_contact_custom_fields (tenant_id, contact_id, name, field_type, value) ");
    qb.push_values(items, |row, f| {
        row.push_bind(tenant)
            .push_bind(id)
            .push_bind(f.name.as_str())
            .push_bind(f.field_type.as_str())
            .push_bind(f.value.as_str());
    });
    qb.execute(&mut *conn).await?;
    Ok(())
}

pub(super) async fn clear_collection<C: SqlConn>(conn: &mut C, table: &str, id: i64) -> StoreResult<()> {
    query(format!("DELETE FROM {table} WHERE contact_id = $1")).bind(id).execute(&mut *conn).await?;
    Ok(())
}

/// What a contact holds before its collections are written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Held {
    /// Nothing: the contact was just inserted, so there is nothing to clear.
    Nothing,
    /// Its stored collections, which each collection the draft carries replaces.
    Stored,
}

/// The ids of the items [`write_collections`] inserted, in the draft's order.
#[derive(Debug, Default)]
pub(super) struct ItemIds {
    pub emails: Vec<i64>,
    pub telephones: Vec<i64>,
    pub addresses: Vec<i64>,
}

/// Writes the collections a draft carries, replacing what is stored (`held`).
pub(super) async fn write_collections<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    id: i64,
    d: &ContactDraft,
    held: Held,
) -> StoreResult<ItemIds> {
    let mut ids = ItemIds::default();
    if let Some(items) = &d.email_addresses {
        if held == Held::Stored {
            clear_collection(conn, "crm_contact_emails", id).await?;
        }
        ids.emails = insert_emails(conn, tenant, id, items).await?;
    }
    if let Some(items) = &d.telephones {
        if held == Held::Stored {
            clear_collection(conn, "crm_contact_telephones", id).await?;
        }
        ids.telephones = insert_telephones(conn, tenant, id, items).await?;
    }
    if let Some(items) = &d.addresses {
        if held == Held::Stored {
            clear_collection(conn, "crm_contact_addresses", id).await?;
        }
        ids.addresses = insert_addresses(conn, tenant, id, items).await?;
    }
    if let Some(items) = &d.property_ids {
        if held == Held::Stored {
            clear_collection(conn, "crm_contact_properties", id).await?;
        }
        insert_properties(conn, tenant, id, items).await?;
    }
    if let Some(items) = &d.custom_fields {
        if held == Held::Stored {
            clear_collection(conn, "crm_contact_custom_fields", id).await?;
        }
        insert_custom_fields(conn, tenant, id, items).await?;
    }
    Ok(ids)
}

/// Makes the oldest item primary when a non-empty collection has none.
pub(super) async fn promote_oldest<C: SqlConn>(conn: &mut C, table: &str, id: i64) -> StoreResult<()> {
    query(format!(
        "UPDATE {table} SET is_primary = TRUE \
         WHERE id = (SELECT MIN(id) FROM {table} WHERE contact_id = $1) \
           AND NOT EXISTS (SELECT 1 FROM {table} WHERE contact_id = $1 AND is_primary)"
    ))
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Clears the collection's primary flag, except on `keep`. Runs before a flag is set,
/// so the one-primary index holds after every statement.
pub(super) async fn clear_primary<C: SqlConn>(
    conn: &mut C,
    table: &str,
    id: i64,
    keep: i64,
) -> StoreResult<()> {
    query(format!("UPDATE {table} SET is_primary = FALSE WHERE contact_id = $1 AND is_primary AND id <> $2"))
        .bind(id)
        .bind(keep)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub(super) async fn item_exists<C: SqlConn>(
    conn: &mut C,
    table: &str,
    id: i64,
    item_id: i64,
) -> StoreResult<bool> {
    let row: Option<(i64,)> = query(format!("SELECT id FROM {table} WHERE id = $1 AND contact_id = $2"))
        .bind(item_id)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.is_some())
}

/// The stored-data rules of one item: a telephone's national number needs a country.
pub(super) async fn resolve_item<C: SqlConn>(
    conn: &mut C,
    id: i64,
    item: &mut ItemDraft,
) -> StoreResult<Result<(), Refusal>> {
    if let ItemDraft::Telephone(t) = item {
        if t.e164.is_none() {
            let country = primary_country(conn, id).await?;
            if let Err(e) = t.resolve(country.as_deref()) {
                return Ok(Err(Refusal::Invalid(vec![e])));
            }
        }
    }
    Ok(Ok(()))
}

pub(super) fn stamp_of(row: StampRow) -> ListStamp {
    ListStamp {
        total: row.total,
        last_modified: row.last_modified,
        version_sum: row.version_sum,
        id_sum: row.id_sum,
    }
}
