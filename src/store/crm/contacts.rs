//! The CRM use cases, one transaction each.

use sqlx::types::Json;

use super::batch::{run_batch, BatchResult};
use super::duplicates::duplicate_candidates;
use super::merge::merge;
use super::queries::*;
use super::rows::{
    assemble, item_name, item_table, ContactRow, NoteRow, RevisionRow, StampRow, NOTE_COLUMNS,
};
use super::writes::{create_in, overwrite, replace_in};
use super::{
    refuse_on, ContactPage, CrmResult, CrmStore, MergeOutcome, Page, Paged, Refusal, INCLUDED_REVISIONS,
};
use crate::domain::change::{Change, ChangeType};
use crate::domain::crm::SortField;
use crate::domain::crm::{
    Conditional, Contact, ContactDraft, ContactQuery, CustomField, IfMatch, ItemDraft, ItemKind, Note,
    NoteDraft, Operation, Revision, MAX_ITEMS,
};
use crate::domain::crm_batch::BatchItem;
use crate::domain::crm_cursor::Cursor;
use crate::domain::crm_duplicates::{rank, Duplicate};
use crate::store::backend::{Backend, SqlStore};
use crate::store::changes;
use crate::store::error::StoreResult;
use crate::store::query::query;
use crate::store::write::now;
use crate::validation::{codes, ErrorKind, FieldError};

impl<B: Backend> CrmStore for SqlStore<B> {
    #[tracing::instrument(skip_all)]
    async fn create_contact(&self, tenant: &str, draft: ContactDraft, author: &str) -> CrmResult<Contact> {
        let mut tx = self.backend.begin_write().await?;
        let result = create_in(&mut tx, tenant, draft, author).await;
        Self::settle(tx, result, |r| r.is_ok()).await
    }

    #[tracing::instrument(skip_all, fields(contact_id = id))]
    async fn get_contact(
        &self,
        tenant: &str,
        id: i64,
        include_revisions: bool,
    ) -> CrmResult<(Contact, Option<Vec<Revision>>)> {
        if !include_revisions {
            // One statement, one snapshot: no transaction needed.
            let mut conn = self.backend.acquire().await?;
            return Ok(load_contact(&mut conn, tenant, id).await?.map(|contact| (contact, None)));
        }
        let mut tx = self.backend.begin_read().await?;
        let result: CrmResult<_> = async {
            let contact = refuse_on!(load_contact(&mut tx, tenant, id).await?);
            let revisions = if include_revisions {
                // The newest ones only, oldest first: the whole history is paged at `/revisions`.
                let mut rows: Vec<RevisionRow> = query(
                    "SELECT version, operation, changed_at, changed_by, contact FROM crm_contact_revisions \
                     WHERE tenant_id = $1 AND contact_id = $2 ORDER BY version DESC LIMIT $3",
                )
                .bind(tenant)
                .bind(id)
                .bind(INCLUDED_REVISIONS)
                .fetch_all(&mut tx)
                .await?;
                rows.reverse();
                Some(rows.into_iter().map(Revision::from).collect())
            } else {
                None
            };
            Ok(Ok((contact, revisions)))
        }
        .await;
        Self::settle(tx, result, |r| r.is_ok()).await
    }

    #[tracing::instrument(skip_all, fields(page = query.page, size = query.size))]
    async fn list_contacts(
        &self,
        tenant: &str,
        query: &ContactQuery,
        cond: &Conditional,
    ) -> StoreResult<ContactPage> {
        let mut tx = self.backend.begin_read().await?;
        let result: StoreResult<_> = async {
            // A cursor page skips the aggregate over everything matched (the count and validators):
            // its cost grows with the match, and a cursor page must cost the same however deep it is.
            let (stamp, etag) = if query.after.is_some() {
                (None, String::new())
            } else {
                let stamp =
                    stamp_of(stamp_query("", tenant, &query.filter).fetch_one::<StampRow>(&mut tx).await?);
                let etag = stamp.etag(query);
                if cond.not_modified(&etag, stamp.last_modified) {
                    return Ok(ContactPage { stamp: Some(stamp), etag, contacts: None, next: None });
                }
                (Some(stamp), etag)
            };
            let mut rows: Vec<ContactRow> = if stamp.is_none_or(|s| s.total > query.offset()) {
                page_query("", tenant, query).fetch_all(&mut tx).await?
            } else {
                Vec::new()
            };
            let more = rows.len() > query.size as usize;
            rows.truncate(query.size as usize);
            let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
            let children = fetch_children(&mut tx, &ids).await?;
            let contacts: Vec<Contact> = assemble(rows, children)?.into_iter().map(|(c, _)| c).collect();
            let next = if more { next_cursor(query, contacts.last()) } else { None };
            Ok(ContactPage { stamp, etag, contacts: Some(contacts), next })
        }
        .await;
        Self::settle(tx, result, |_| true).await
    }

    #[tracing::instrument(skip_all, fields(contact_id = id))]
    async fn replace_contact(
        &self,
        tenant: &str,
        id: i64,
        draft: ContactDraft,
        if_match: Option<&IfMatch>,
        author: &str,
    ) -> CrmResult<Contact> {
        let mut tx = self.backend.begin_write().await?;
        let result = replace_in(&mut tx, tenant, id, draft, if_match, author).await;
        Self::settle(tx, result, |r| r.is_ok()).await
    }

    #[tracing::instrument(skip_all, fields(contact_id = id))]
    async fn patch_contact<P>(
        &self,
        tenant: &str,
        id: i64,
        patch: P,
        if_match: Option<&IfMatch>,
        author: &str,
    ) -> CrmResult<Contact>
    where
        P: FnOnce(&Contact) -> Result<ContactDraft, Vec<FieldError>> + Send,
    {
        let mut tx = self.backend.begin_write().await?;
        let result: CrmResult<_> = async {
            refuse_on!(lock(&mut tx, tenant, id, if_match).await?);
            let stored = refuse_on!(load_contact(&mut tx, tenant, id).await?);
            let draft = refuse_on!(patch(&stored).map_err(Refusal::Invalid));
            overwrite(&mut tx, tenant, id, draft, author).await
        }
        .await;
        Self::settle(tx, result, |r| r.is_ok()).await
    }

    #[tracing::instrument(skip_all, fields(contact_id = id))]
    async fn delete_contact(
        &self,
        tenant: &str,
        id: i64,
        if_match: Option<&IfMatch>,
        author: &str,
    ) -> CrmResult<()> {
        let mut tx = self.backend.begin_write().await?;
        let result: CrmResult<_> = async {
            let version = refuse_on!(lock(&mut tx, tenant, id, if_match).await?);
            query("DELETE FROM crm_contacts WHERE tenant_id = $1 AND id = $2")
                .bind(tenant)
                .bind(id)
                .execute(&mut tx)
                .await?;
            let change = Change::contact(ChangeType::ContactDeleted, id, version);
            changes::record(&mut tx, tenant, author, now(), &change).await?;
            Ok(Ok(()))
        }
        .await;
        Self::settle(tx, result, |r| r.is_ok()).await
    }

    #[tracing::instrument(skip_all, fields(contact_id = id, kind = %item.kind()))]
    async fn add_contact_item(
        &self,
        tenant: &str,
        id: i64,
        mut item: ItemDraft,
        if_match: Option<&IfMatch>,
        author: &str,
    ) -> CrmResult<(Contact, i64)> {
        let kind = item.kind();
        let table = item_table(kind);
        let mut tx = self.backend.begin_write().await?;
        let result: CrmResult<_> = async {
            refuse_on!(lock(&mut tx, tenant, id, if_match).await?);
            refuse_on!(resolve_item(&mut tx, id, &mut item).await?);
            let (count,): (i64,) = query(format!("SELECT COUNT(*) FROM {table} WHERE contact_id = $1"))
                .bind(id)
                .fetch_one(&mut tx)
                .await?;
            if count >= MAX_ITEMS as i64 {
                return Ok(Err(Refusal::Invalid(vec![FieldError::new(
                    "",
                    ErrorKind::Invalid,
                    codes::TOO_MANY_ITEMS,
                    format!("a contact has at most {MAX_ITEMS} of these"),
                )])));
            }
            if item.primary() {
                clear_primary(&mut tx, table, id, 0).await?;
            }
            let (item_id,): (i64,) = match &item {
                ItemDraft::Email(e) => query(
                    "INSERT INTO crm_contact_emails (tenant_id, contact_id, email_address, type, is_primary) \
                     VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(tenant)
                .bind(id)
                .bind(e.email_address.as_str())
                .bind(e.kind.as_deref())
                .bind(e.primary),
                ItemDraft::Telephone(t) => query(
                    "INSERT INTO crm_contact_telephones (tenant_id, contact_id, number, e164, type, extension, \
                     country_code, is_primary) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                )
                .bind(tenant)
                .bind(id)
                .bind(t.number.as_str())
                .bind(t.e164.as_deref().unwrap_or_default())
                .bind(t.kind.as_deref())
                .bind(t.extension.as_deref())
                .bind(t.country_code.as_deref())
                .bind(t.primary),
                ItemDraft::Address(a) => query(
                    "INSERT INTO crm_contact_addresses (tenant_id, contact_id, address_line1, address_line2, \
                     city, postcode, state_province, country_code, is_primary) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                )
                .bind(tenant)
                .bind(id)
                .bind(a.address_line1.as_str())
                .bind(a.address_line2.as_deref())
                .bind(a.city.as_str())
                .bind(a.postcode.as_deref())
                .bind(a.state_province.as_deref())
                .bind(a.country_code.as_str())
                .bind(a.primary),
            }
            .fetch_one(&mut tx)
            .await?;
            promote_oldest(&mut tx, table, id).await?;
            let contact = refuse_on!(finish(&mut tx, tenant, id, Operation::AddItem(kind), author).await?);
            Ok(Ok((contact, item_id)))
        }
        .await;
        Self::settle(tx, result, |r| r.is_ok()).await
    }

    #[tracing::instrument(skip_all, fields(contact_id = id, item_id, kind = %item.kind()))]
    async fn update_contact_item(
        &self,
        tenant: &str,
        id: i64,
        item_id: i64,
        mut item: ItemDraft,
        if_match: Option<&IfMatch>,
        author: &str,
    ) -> CrmResult<Contact> {
        let kind = item.kind();
        let table = item_table(kind);
        let mut tx = self.backend.begin_write().await?;
        let result: CrmResult<_> = async {
            refuse_on!(lock(&mut tx, tenant, id, if_match).await?);
            if !item_exists(&mut tx, table, id, item_id).await? {
                return Ok(Err(Refusal::ItemNotFound(item_name(kind))));
            }
            refuse_on!(resolve_item(&mut tx, id, &mut item).await?);
            if item.primary() {
                clear_primary(&mut tx, table, id, item_id).await?;
            }
            // `primary: false` never demotes: a collection keeps its primary until another
            // item is made primary or it is deleted.
            match &item {
                ItemDraft::Email(e) => query(
                    "UPDATE crm_contact_emails SET email_address = $3, type = $4, \
                     is_primary = (is_primary OR $5) WHERE id = $1 AND contact_id = $2",
                )
                .bind(item_id)
                .bind(id)
                .bind(e.email_address.as_str())
                .bind(e.kind.as_deref())
                .bind(e.primary),
                ItemDraft::Telephone(t) => query(
                    "UPDATE crm_contact_telephones SET number = $3, e164 = $4, type = $5, extension = $6, \
                     country_code = $7, is_primary = (is_primary OR $8) WHERE id = $1 AND contact_id = $2",
                )
                .bind(item_id)
                .bind(id)
                .bind(t.number.as_str())
                .bind(t.e164.as_deref().unwrap_or_default())
                .bind(t.kind.as_deref())
                .bind(t.extension.as_deref())
                .bind(t.country_code.as_deref())
                .bind(t.primary),
                ItemDraft::Address(a) => query(
                    "UPDATE crm_contact_addresses SET address_line1 = $3, address_line2 = $4, city = $5, \
                     postcode = $6, state_province = $7, country_code = $8, \
                     is_primary = (is_primary OR $9) WHERE id = $1 AND contact_id = $2",
                )
                .bind(item_id)
                .bind(id)
                .bind(a.address_line1.as_str())
                .bind(a.address_line2.as_deref())
                .bind(a.city.as_str())
                .bind(a.postcode.as_deref())
                .bind(a.state_province.as_deref())
                .bind(a.country_code.as_str())
                .bind(a.primary),
            }
            .execute(&mut tx)
            .await?;
            let contact = refuse_on!(finish(&mut tx, tenant, id, Operation::UpdateItem(kind), author).await?);
            Ok(Ok(contact))
        }
        .await;
        Self::settle(tx, result, |r| r.is_ok()).await
    }

    #[tracing::instrument(skip_all, fields(contact_id = id, item_id, kind = %kind))]
    async fn delete_contact_item(
        &self,
        tenant: &str,
        id: i64,
        kind: ItemKind,
        item_id: i64,
        if_match: Option<&IfMatch>,
        author: &str,
    ) -> CrmResult<Contact> {
        let table = item_table(kind);
        let mut tx = self.backend.begin_write().await?;
        let result: CrmResult<_> = async {
            refuse_on!(lock(&mut tx, tenant, id, if_match).await?);
            let done = query(format!("DELETE FROM {table} WHERE id = $1 AND contact_id = $2"))
                .bind(item_id)
                .bind(id)
                .execute(&mut tx)
                .await?;
            if done == 0 {
                return Ok(Err(Refusal::ItemNotFound(item_name(kind))));
            }
            promote_oldest(&mut tx, table, id).await?;
            let contact = refuse_on!(finish(&mut tx, tenant, id, Operation::DeleteItem(kind), author).await?);
            Ok(Ok(contact))
        }
        .await;
        Self::settle(tx, result, |r| r.is_ok()).await
    }

    #[tracing::instrument(skip_all, fields(contact_id = id, item_id, kind = %kind))]
    async fn set_primary_contact_item(
        &self,
        tenant: &str,
        id: i64,
        kind: ItemKind,
        item_id: i64,
        if_match: Option<&IfMatch>,
        author: &str,
    ) -> CrmResult<Contact> {
        let table = item_table(kind);
        let mut tx = self.backend.begin_write().await?;
        let result: CrmResult<_> = async {
            refuse_on!(lock(&mut tx, tenant, id, if_match).await?);
            if !item_exists(&mut tx, table, id, item_id).await? {
                return Ok(Err(Refusal::ItemNotFound(item_name(kind))));
            }
            clear_primary(&mut tx, table, id, item_id).await?;
            query(format!("UPDATE {table} SET is_primary = TRUE WHERE id = $1 AND contact_id = $2"))
                .bind(item_id)
                .bind(id)
                .execute(&mut tx)
                .await?;
            let contact =
                refuse_on!(finish(&mut tx, tenant, id, Operation::SetPrimaryItem(kind), author).await?);
            Ok(Ok(contact))
        }
        .await;
        Self::settle(tx, result, |r| r.is_ok()).await
    }

    #[tracing::instrument(skip_all, fields(contact_id = id))]
    async fn add_note(
        &self,
        tenant: &str,
        id: i64,
        note: NoteDraft,
        if_match: Option<&IfMatch>,
        author: &str,
    ) -> CrmResult<(Contact, Note)> {
        let mut tx = self.backend.begin_write().await?;
        let result: CrmResult<_> = async {
            refuse_on!(lock(&mut tx, tenant, id, if_match).await?);
            let row: NoteRow = query(format!(
                "INSERT INTO crm_contact_notes (tenant_id, contact_id, content, author, tags, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING {NOTE_COLUMNS}"
            ))
            .bind(tenant)
            .bind(id)
            .bind(note.content.as_str())
            .bind(note.author.as_str())
            .bind(Json(&note.tags))
            .bind(now())
            .fetch_one(&mut tx)
            .await?;
            let contact = refuse_on!(finish(&mut tx, tenant, id, Operation::AddNote, author).await?);
            Ok(Ok((contact, row.into())))
        }
        .await;
        Self::settle(tx, result, |r| r.is_ok()).await
    }

    #[tracing::instrument(skip_all, fields(contact_id = id))]
    async fn list_notes(
        &self,
        tenant: &str,
        id: i64,
        note_id: Option<i64>,
        page: Page,
    ) -> CrmResult<Paged<Note>> {
        let mut tx = self.backend.begin_read().await?;
        let result: CrmResult<_> = async {
            refuse_on!(check_live(&mut tx, tenant, id).await?);
            let rows: Vec<NoteRow> = query(format!(
                "SELECT {NOTE_COLUMNS} FROM crm_contact_notes \
                 WHERE contact_id = $1 AND ($2 IS NULL OR id = $2) AND id > $3 ORDER BY id LIMIT $4"
            ))
            .bind(id)
            .bind(note_id)
            .bind(page.after.unwrap_or(0))
            .bind(page.fetch())
            .fetch_all(&mut tx)
            .await?;
            if note_id.is_some() && rows.is_empty() {
                return Ok(Err(Refusal::ItemNotFound("note")));
            }
            Ok(Ok(page.cut(rows.into_iter().map(Note::from).collect(), |n| n.id)))
        }
        .await;
        Self::settle(tx, result, |r| r.is_ok()).await
    }

    #[tracing::instrument(skip_all, fields(contact_id = id))]
    async fn replace_custom_fields(
        &self,
        tenant: &str,
        id: i64,
        fields: Vec<CustomField>,
        if_match: Option<&IfMatch>,
        author: &str,
    ) -> CrmResult<Contact> {
        let mut tx = self.backend.begin_write().await?;
        let result: CrmResult<_> = async {
            refuse_on!(lock(&mut tx, tenant, id, if_match).await?);
            clear_collection(&mut tx, "crm_contact_custom_fields", id).await?;
            insert_custom_fields(&mut tx, tenant, id, &fields).await?;
            let contact =
                refuse_on!(finish(&mut tx, tenant, id, Operation::ReplaceCustomFields, author).await?);
            Ok(Ok(contact))
        }
        .await;
        Self::settle(tx, result, |r| r.is_ok()).await
    }

    #[tracing::instrument(skip_all, fields(contact_id = id))]
    async fn list_contact_revisions(&self, tenant: &str, id: i64, page: Page) -> CrmResult<Paged<Revision>> {
        let mut tx = self.backend.begin_read().await?;
        let result: CrmResult<_> = async {
            refuse_on!(check_live(&mut tx, tenant, id).await?);
            let rows: Vec<RevisionRow> = query(
                "SELECT version, operation, changed_at, changed_by, contact FROM crm_contact_revisions \
                 WHERE tenant_id = $1 AND contact_id = $2 AND version > $3 ORDER BY version LIMIT $4",
            )
            .bind(tenant)
            .bind(id)
            .bind(page.after.unwrap_or(0))
            .bind(page.fetch())
            .fetch_all(&mut tx)
            .await?;
            Ok(Ok(page.cut(rows.into_iter().map(Revision::from).collect(), |r| r.version)))
        }
        .await;
        Self::settle(tx, result, |r| r.is_ok()).await
    }

    #[tracing::instrument(skip_all, fields(primary, secondary))]
    async fn merge_contacts(
        &self,
        tenant: &str,
        primary: i64,
        secondary: i64,
        author: &str,
    ) -> StoreResult<MergeOutcome> {
        // A refused merge changes nothing, even when refused after moving rows.
        self.run_merge(tenant, primary, secondary, author, |outcome| {
            matches!(outcome, MergeOutcome::Merged { .. })
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(primary, secondary))]
    async fn preview_merge(
        &self,
        tenant: &str,
        primary: i64,
        secondary: i64,
        author: &str,
    ) -> StoreResult<MergeOutcome> {
        // Never committed: the dry run is the real merge, rolled back.
        self.run_merge(tenant, primary, secondary, author, |_| false).await
    }

    #[tracing::instrument(skip_all, fields(items = items.len(), atomic))]
    async fn batch_contacts(
        &self,
        tenant: &str,
        items: Vec<BatchItem>,
        atomic: bool,
        author: &str,
    ) -> StoreResult<Vec<BatchResult>> {
        let mut tx = self.backend.begin_write().await?;
        let result = run_batch(&mut tx, tenant, items, author).await;
        Self::settle(tx, result, |results| !atomic || results.iter().all(BatchResult::stored)).await
    }

    #[tracing::instrument(skip_all, fields(contact_id = id))]
    async fn find_duplicates(&self, tenant: &str, id: i64) -> CrmResult<Vec<Duplicate>> {
        let mut tx = self.backend.begin_read().await?;
        let result: CrmResult<_> = async {
            let contact = refuse_on!(load_contact(&mut tx, tenant, id).await?);
            let ids = duplicate_candidates(&mut tx, tenant, &contact).await?;
            let candidates =
                if ids.is_empty() { Vec::new() } else { fetch_contacts(&mut tx, tenant, &ids).await? };
            let live =
                candidates.into_iter().filter(|(_, merged)| merged.is_none()).map(|(c, _)| c).collect();
            Ok(Ok(rank(&contact, live)))
        }
        .await;
        Self::settle(tx, result, |r| r.is_ok()).await
    }
}

impl<B: Backend> SqlStore<B> {
    /// The merge transaction of `merge_contacts` and `preview_merge`, committed when `commit` says.
    async fn run_merge(
        &self,
        tenant: &str,
        primary: i64,
        secondary: i64,
        author: &str,
        commit: impl FnOnce(&MergeOutcome) -> bool,
    ) -> StoreResult<MergeOutcome> {
        if primary == secondary {
            return Ok(MergeOutcome::NoOp { message: "a contact cannot be merged into itself".into() });
        }
        let mut tx = self.backend.begin_write().await?;
        let result = merge(&mut tx, tenant, primary, secondary, author).await;
        Self::settle(tx, result, commit).await
    }
}

/// The cursor of the page after the one ending with `last`, when the order can be followed by
/// one: ascending or descending id, or (with `q`) relevance then ascending id.
fn next_cursor(query: &ContactQuery, last: Option<&Contact>) -> Option<Cursor> {
    let last = last?;
    if query.sort.field != SortField::Id {
        return None;
    }
    match &query.filter.search {
        None => Some(Cursor { relevance: None, id: last.id }),
        Some(_) if query.sort.descending => None,
        Some(search) => {
            // The same count the SQL orders by: words that are whole terms of the contact.
            let terms = last.search_terms();
            let relevance = search.words.iter().filter(|w| terms.contains(&w.word)).count() as i64;
            Some(Cursor { relevance: Some(relevance), id: last.id })
        }
    }
}
