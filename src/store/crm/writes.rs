//! The contact writes a single request and a batch item share, each inside the caller's write
//! transaction: a create, and an overwrite (PUT, PATCH, or a batch update).

use chrono::{DateTime, Utc};
use sqlx::types::Json;

use super::queries::{
    check_stored_rules, finish, lock, primary_country, record_loaded, write_collections, Held, ItemIds,
};
use super::{refuse_on, CrmResult};
use crate::domain::crm::{
    AddressDraft, Contact, ContactDraft, EmailDraft, IfMatch, Operation, TelephoneDraft,
};
use crate::store::error::{StoreError, StoreResult};
use crate::store::query::{query, SqlConn};
use crate::store::write::now;

/// A create inside the caller's write transaction (a single create, or one item of a batch).
pub(super) async fn create_in<C: SqlConn>(
    tx: &mut C,
    tenant: &str,
    mut draft: ContactDraft,
    author: &str,
) -> CrmResult<Contact> {
    let mut phones = draft.telephones.take().unwrap_or_default();
    refuse_on!(check_stored_rules(&mut *tx, tenant, draft.property_ids.as_deref(), &mut phones, None).await?);
    draft.telephones = Some(phones);
    let at = now();
    let (id,): (i64,) = query(
        "INSERT INTO crm_contacts (tenant_id, contact_type, title, first_name, last_name, company_name, \
         account_id, job_title, gender, language, order_references, version, created_at, updated_at, \
         external_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1, $12, $12, $13) RETURNING id",
    )
    .bind(tenant)
    .bind(draft.contact_type.as_str())
    .bind(draft.title.as_deref())
    .bind(draft.first_name.as_deref())
    .bind(draft.last_name.as_deref())
    .bind(draft.company_name.as_deref())
    .bind(draft.account_id.as_deref())
    .bind(draft.job_title.as_deref())
    .bind(draft.gender.map(|g| g.as_str()))
    .bind(draft.language.as_deref())
    .bind(Json(draft.order_references.clone().unwrap_or_default()))
    .bind(at)
    .bind(draft.external_id.as_deref())
    .fetch_one(&mut *tx)
    .await?;
    let ids = write_collections(&mut *tx, tenant, id, &draft, Held::Nothing).await?;
    // Built from what was just written rather than read back: a query fewer in the writer's
    // turn. `a_created_contact_reads_back_as_answered` holds the two equal.
    let contact = created(id, draft, ids, at)?;
    record_loaded(&mut *tx, tenant, &contact, Operation::Create, author).await?;
    Ok(Ok(contact))
}

/// The contact a create stored: the draft, with the ids the inserts handed out and the order a
/// read gives (items by id, which is the draft's order; property ids sorted).
pub(super) fn created(id: i64, draft: ContactDraft, ids: ItemIds, at: DateTime<Utc>) -> StoreResult<Contact> {
    fn zip<D, T>(drafts: Option<Vec<D>>, ids: Vec<i64>, item: impl Fn(D, i64) -> T) -> StoreResult<Vec<T>> {
        let drafts = drafts.unwrap_or_default();
        if drafts.len() != ids.len() {
            return Err(StoreError::Other("an insert returned another number of ids".into()));
        }
        Ok(drafts.into_iter().zip(ids).map(|(d, id)| item(d, id)).collect())
    }
    let mut property_ids = draft.property_ids.unwrap_or_default();
    property_ids.sort_unstable();
    property_ids.dedup();
    Ok(Contact {
        id,
        contact_type: draft.contact_type,
        title: draft.title,
        first_name: draft.first_name,
        last_name: draft.last_name,
        company_name: draft.company_name,
        account_id: draft.account_id,
        job_title: draft.job_title,
        gender: draft.gender,
        language: draft.language,
        external_id: draft.external_id,
        property_ids,
        order_references: draft.order_references.unwrap_or_default(),
        email_addresses: zip(draft.email_addresses, ids.emails, EmailDraft::stored)?,
        telephones: zip(draft.telephones, ids.telephones, TelephoneDraft::stored)?,
        addresses: zip(draft.addresses, ids.addresses, AddressDraft::stored)?,
        custom_fields: draft.custom_fields.unwrap_or_default(),
        version: 1,
        created_at: at,
        updated_at: at,
    })
}

/// An overwrite inside the caller's write transaction (a PUT, or one item of a batch).
pub(super) async fn replace_in<C: SqlConn>(
    tx: &mut C,
    tenant: &str,
    id: i64,
    draft: ContactDraft,
    if_match: Option<&IfMatch>,
    author: &str,
) -> CrmResult<Contact> {
    refuse_on!(lock(&mut *tx, tenant, id, if_match).await?);
    overwrite(tx, tenant, id, draft, author).await
}

/// The overwrite of a locked contact: every scalar, and each collection the draft carries.
pub(super) async fn overwrite<C: SqlConn>(
    tx: &mut C,
    tenant: &str,
    id: i64,
    mut draft: ContactDraft,
    author: &str,
) -> CrmResult<Contact> {
    // Telephones sent without addresses are read with the stored primary address.
    let stored_country = if draft.addresses.is_none() { primary_country(&mut *tx, id).await? } else { None };
    let mut phones = draft.telephones.take();
    refuse_on!(
        check_stored_rules(
            &mut *tx,
            tenant,
            draft.property_ids.as_deref(),
            phones.as_deref_mut().unwrap_or_default(),
            stored_country,
        )
        .await?
    );
    draft.telephones = phones;
    query(
        "UPDATE crm_contacts SET contact_type = $3, title = $4, first_name = $5, last_name = $6, \
         company_name = $7, account_id = $8, job_title = $9, gender = $10, language = $11, \
         order_references = COALESCE($12, order_references), external_id = $13 \
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant)
    .bind(id)
    .bind(draft.contact_type.as_str())
    .bind(draft.title.as_deref())
    .bind(draft.first_name.as_deref())
    .bind(draft.last_name.as_deref())
    .bind(draft.company_name.as_deref())
    .bind(draft.account_id.as_deref())
    .bind(draft.job_title.as_deref())
    .bind(draft.gender.map(|g| g.as_str()))
    .bind(draft.language.as_deref())
    .bind(draft.order_references.as_ref().map(Json))
    .bind(draft.external_id.as_deref())
    .execute(&mut *tx)
    .await?;
    write_collections(&mut *tx, tenant, id, &draft, Held::Stored).await?;
    let contact = refuse_on!(finish(&mut *tx, tenant, id, Operation::Replace, author).await?);
    Ok(Ok(contact))
}
