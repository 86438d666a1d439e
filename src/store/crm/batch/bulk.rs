//! The creates of a batch, written together: the stored-data rules checked for each draft (one
//! property query for all), then one multi-row INSERT per table (chunked under the bind limits),
//! the created contacts built from the drafts and the ids handed out (as a single create does), and
//! their search terms, revisions and events in bulk. The same rows, revisions and events as that
//! many single creates.

use std::collections::HashSet;

use sqlx::types::Json;

use super::BatchResult;
use crate::domain::change::{Change, ChangeType};
use crate::domain::crm::{codes, ContactDraft, Operation};
use crate::store::changes;
use crate::store::crm::queries::{insert_revisions, ItemIds};
use crate::store::crm::search::index_new_contacts;
use crate::store::crm::writes::created;
use crate::store::crm::Refusal;
use crate::store::error::{StoreError, StoreResult};
use crate::store::query::{query, rows_per_statement, Row, SqlConn};
use crate::store::write::now;
use crate::validation::{ErrorKind, FieldError};

/// Revisions per INSERT: each carries a whole contact, so fewer than the bind limit allows.
const REVISIONS_PER_INSERT: usize = 200;

/// Runs `INSERT INTO <head> VALUES ...` over `rows`, as many statements as
/// [`SqlConn::MAX_BINDS`] needs; with `ids`, the new rows' ids in `rows`' order (ids are handed
/// out in VALUES order, statement after statement; RETURNING's own order is not promised, so each
/// statement's are sorted), else none.
async fn insert_rows<'a, C: SqlConn, T>(
    conn: &mut C,
    head: &str,
    binds_per_row: usize,
    rows: &'a [T],
    ids: bool,
    bind: impl Fn(&mut Row<'_, 'a>, &'a T) + Copy,
) -> StoreResult<Vec<i64>> {
    let mut returned_ids = Vec::new();
    for chunk in rows.chunks(rows_per_statement::<C>(binds_per_row)) {
        let mut qb = query(format!("INSERT INTO {head} "));
        qb.push_values(chunk, |row, item| bind(row, item));
        if !ids {
            qb.execute(&mut *conn).await?;
            continue;
        }
        qb.push(" RETURNING id");
        let mut returned: Vec<(i64,)> = qb.fetch_all(&mut *conn).await?;
        returned.sort_unstable();
        returned_ids.extend(returned.into_iter().map(|(id,)| id));
    }
    Ok(returned_ids)
}

/// Checks and creates every draft; `(index, result)` in the order given.
pub(super) async fn create_all<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    mut drafts: Vec<(usize, ContactDraft)>,
    author: &str,
) -> StoreResult<Vec<(usize, BatchResult)>> {
    let known = known_properties(conn, tenant, &drafts).await?;
    let mut results: Vec<(usize, BatchResult)> = Vec::new();
    let mut valid: Vec<(usize, ContactDraft)> = Vec::new();
    for (i, mut draft) in drafts.drain(..) {
        let mut errors = Vec::new();
        for (k, id) in draft.property_ids.iter().flatten().enumerate() {
            if !known.contains(id) {
                errors.push(FieldError::new(
                    &format!("/propertyIds/{k}"),
                    ErrorKind::Invalid,
                    codes::PROPERTY_UNKNOWN,
                    "no property with this id",
                ));
            }
        }
        for t in draft.telephones.iter_mut().flatten() {
            if let Err(e) = t.resolve(None) {
                errors.push(e);
            }
        }
        if errors.is_empty() {
            valid.push((i, draft));
        } else {
            results.push((i, BatchResult::Refused(Refusal::Invalid(errors))));
        }
    }
    if valid.is_empty() {
        return Ok(results);
    }
    let at = now();
    let mut ids: Vec<i64> = Vec::with_capacity(valid.len());
    for chunk in valid.chunks(rows_per_statement::<C>(15)) {
        let mut qb = query(
            "INSERT INTO crm_contacts (tenant_id, contact_type, title, first_name, last_name, company_name, \
             account_id, job_title, gender, language, order_references, version, created_at, updated_at, \
             external_id) ",
        );
        qb.push_values(chunk, |row, (_, d)| {
            row.push_bind(tenant)
                .push_bind(d.contact_type.as_str())
                .push_bind(d.title.as_deref())
                .push_bind(d.first_name.as_deref())
                .push_bind(d.last_name.as_deref())
                .push_bind(d.company_name.as_deref())
                .push_bind(d.account_id.as_deref())
                .push_bind(d.job_title.as_deref())
                .push_bind(d.gender.map(|g| g.as_str()))
                .push_bind(d.language.as_deref())
                .push_bind(Json(d.order_references.clone().unwrap_or_default()))
                .push_bind(1i64)
                .push_bind(at)
                .push_bind(at);
            row.push_bind(d.external_id.as_deref());
        });
        qb.push(" RETURNING id");
        let mut returned: Vec<(i64,)> = qb.fetch_all(&mut *conn).await?;
        // Identities are handed out in VALUES order; RETURNING's order is not promised.
        returned.sort_unstable();
        ids.extend(returned.into_iter().map(|(id,)| id));
    }
    if ids.len() != valid.len() {
        return Err(StoreError::Other("bulk insert returned another number of ids".into()));
    }
    let with_ids: Vec<(i64, &ContactDraft)> = ids.iter().copied().zip(valid.iter().map(|(_, d)| d)).collect();
    let mut item_ids = write_collections(conn, tenant, &with_ids).await?.into_iter();
    // Built from the drafts and the ids handed out, as a single create builds its contact.
    let mut indexes = Vec::with_capacity(valid.len());
    let mut contacts = Vec::with_capacity(valid.len());
    for ((i, draft), id) in valid.into_iter().zip(ids) {
        let items = item_ids.next().unwrap_or_default();
        indexes.push(i);
        contacts.push(created(id, draft, items, at)?);
    }
    let refs: Vec<_> = contacts.iter().collect();
    index_new_contacts(&mut *conn, tenant, &refs).await?;
    for chunk in refs.chunks(REVISIONS_PER_INSERT.min(rows_per_statement::<C>(7))) {
        let revisions: Vec<_> = chunk.iter().map(|c| (*c, Operation::Create)).collect();
        insert_revisions(&mut *conn, tenant, &revisions, author).await?;
    }
    let events: Vec<_> = contacts
        .iter()
        .map(|c| (c.updated_at, Change::contact(ChangeType::ContactCreated, c.id, c.version)))
        .collect();
    changes::record_many(&mut *conn, tenant, author, &events).await?;
    for (i, contact) in indexes.into_iter().zip(contacts) {
        results.push((i, BatchResult::Created(Box::new(contact))));
    }
    results.sort_by_key(|(i, _)| *i);
    Ok(results)
}

/// The property ids the drafts name that exist in the tenant, locked against deletion as a single
/// create locks them ([`SqlConn::KEY_SHARE`]).
async fn known_properties<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    drafts: &[(usize, ContactDraft)],
) -> StoreResult<HashSet<String>> {
    let named: HashSet<&str> =
        drafts.iter().flat_map(|(_, d)| d.property_ids.iter().flatten()).map(String::as_str).collect();
    if named.is_empty() {
        return Ok(HashSet::new());
    }
    let mut qb = query("SELECT id FROM properties WHERE tenant_id = ");
    qb.push_bind(tenant).push(" AND id IN (").push_bind_list(named).push(")").push(C::KEY_SHARE);
    let rows: Vec<(String,)> = qb.fetch_all(&mut *conn).await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// The collections of every created contact, one INSERT per table (per bind-limit chunk); the ids
/// of each contact's items, in `contacts`' order.
async fn write_collections<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    contacts: &[(i64, &ContactDraft)],
) -> StoreResult<Vec<ItemIds>> {
    let emails: Vec<_> = contacts
        .iter()
        .flat_map(|(id, d)| d.email_addresses.iter().flatten().map(move |e| (*id, e)))
        .collect();
    let email_ids = insert_rows(
        conn,
        "crm_contact_emails (tenant_id, contact_id, email_address, type, is_primary)",
        5,
        &emails,
        true,
        |row, (id, e)| {
            row.push_bind(tenant)
                .push_bind(*id)
                .push_bind(e.email_address.as_str())
                .push_bind(e.kind.as_deref())
                .push_bind(e.primary);
        },
    )
    .await?;
    let phones: Vec<_> =
        contacts.iter().flat_map(|(id, d)| d.telephones.iter().flatten().map(move |t| (*id, t))).collect();
    let phone_ids = insert_rows(
        conn,
        "crm_contact_telephones (tenant_id, contact_id, number, e164, type, extension, country_code, is_primary)",
        8,
        &phones,
        true,
        |row, (id, t)| {
            row.push_bind(tenant)
                .push_bind(*id)
                .push_bind(t.number.as_str())
                .push_bind(t.e164.as_deref().unwrap_or_default())
                .push_bind(t.kind.as_deref())
                .push_bind(t.extension.as_deref())
                .push_bind(t.country_code.as_deref())
                .push_bind(t.primary);
        },
    )
    .await?;
    let addresses: Vec<_> =
        contacts.iter().flat_map(|(id, d)| d.addresses.iter().flatten().map(move |a| (*id, a))).collect();
    let address_ids = insert_rows(
        conn,
        "crm_contact_addresses (tenant_id, contact_id, address_line1, address_line2, city, postcode, \
         state_province, country_code, is_primary)",
        9,
        &addresses,
        true,
        |row, (id, a)| {
            row.push_bind(tenant)
                .push_bind(*id)
                .push_bind(a.address_line1.as_str())
                .push_bind(a.address_line2.as_deref())
                .push_bind(a.city.as_str())
                .push_bind(a.postcode.as_deref())
                .push_bind(a.state_province.as_deref())
                .push_bind(a.country_code.as_str())
                .push_bind(a.primary);
        },
    )
    .await?;
    let properties: Vec<_> =
        contacts.iter().flat_map(|(id, d)| d.property_ids.iter().flatten().map(move |p| (*id, p))).collect();
    insert_rows(
        conn,
        "crm_contact_properties (tenant_id, contact_id, property_id)",
        3,
        &properties,
        false,
        |row, (id, p)| {
            row.push_bind(tenant).push_bind(*id).push_bind(p.as_str());
        },
    )
    .await?;
    let fields: Vec<_> =
        contacts.iter().flat_map(|(id, d)| d.custom_fields.iter().flatten().map(move |f| (*id, f))).collect();
    insert_rows(
        conn,
        "crm_contact_custom_fields (tenant_id, contact_id, name, field_type, value)",
        5,
        &fields,
        false,
        |row, (id, f)| {
            row.push_bind(tenant)
                .push_bind(*id)
                .push_bind(f.name.as_str())
                .push_bind(f.field_type.as_str())
                .push_bind(f.value.as_str());
        },
    )
    .await?;
    if email_ids.len() != emails.len()
        || phone_ids.len() != phones.len()
        || address_ids.len() != addresses.len()
    {
        return Err(StoreError::Other("bulk insert returned another number of ids".into()));
    }
    // Each contact's items are consecutive in the rows inserted, in the drafts' order.
    let (mut e, mut t, mut a) = (email_ids.into_iter(), phone_ids.into_iter(), address_ids.into_iter());
    Ok(contacts
        .iter()
        .map(|(_, d)| ItemIds {
            emails: e.by_ref().take(d.email_addresses.as_ref().map_or(0, Vec::len)).collect(),
            telephones: t.by_ref().take(d.telephones.as_ref().map_or(0, Vec::len)).collect(),
            addresses: a.by_ref().take(d.addresses.as_ref().map_or(0, Vec::len)).collect(),
        })
        .collect())
}
