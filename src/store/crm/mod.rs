//! Storage of CRM contacts (API.md section 6).
//!
//! One method per use case, each one transaction. Every write locks the contact row first (Postgres
//! `SELECT ... FOR UPDATE`; SQLite holds its database write lock from `BEGIN IMMEDIATE`), so
//! concurrent writes to one contact serialise; it then checks `If-Match`, changes what it changes,
//! bumps `version` and appends a revision with the whole contact, all before commit.
//!
//! Layout: [`rows`] (the tables' rows and how they join into contacts), [`queries`] (statements
//! the use cases share), [`contacts`] (the use cases), [`merge`].
//!
//! Statement counts: see [`rows`] (a contact is read whole in one query, its collections as JSON
//! columns).

use std::future::Future;

use super::backend::{Backend, SqlStore};
use super::error::StoreResult;
use super::query::SqlConn;
use crate::domain::crm::{
    Conditional, Contact, ContactDraft, ContactQuery, CustomField, IfMatch, ItemDraft, ItemKind, ListStamp,
    Note, NoteDraft, Revision,
};
use crate::domain::crm_batch::BatchItem;
use crate::domain::crm_cursor::Cursor;
use crate::domain::crm_duplicates::Duplicate;
use crate::validation::FieldError;

mod backfill;
mod batch;
mod contacts;
mod duplicates;
mod merge;
pub(crate) mod queries;
mod rows;
mod search;
mod writes;

pub use batch::BatchResult;
pub(crate) use queries::unlink_property;

/// Turns a refusal into an early `Ok(Err(..))` return; the caller's transaction is rolled back.
macro_rules! refuse_on {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(refusal) => return Ok(Err(refusal)),
        }
    };
}
use refuse_on;

/// Why a CRM use case changed nothing; handlers map each to an HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No such contact in the tenant (404).
    NotFound,
    /// No such address, email, telephone or note on the contact (404).
    ItemNotFound(&'static str),
    /// The contact was merged into another one (410 with `mergedInto`).
    Gone { merged_into: i64 },
    /// `If-Match` names another version (412).
    VersionMismatch { current: i64 },
    /// A rule that needs stored data failed: unknown property, unreadable national number (422).
    Invalid(Vec<FieldError>),
}

/// The result of a CRM use case: a store failure, a refusal, or the value.
pub type CrmResult<T> = StoreResult<Result<T, Refusal>>;

/// One page of the contact list, or `None` contacts when the client's copy is current.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactPage {
    /// What everything matched adds up to; `None` on a cursor page (`after`), which skips it.
    pub stamp: Option<ListStamp>,
    /// Empty on a cursor page.
    pub etag: String,
    /// `None` when the conditional matched (answer 304).
    pub contacts: Option<Vec<Contact>>,
    /// Where the next page starts (`after`), when one follows and the order is one a cursor can
    /// follow (`sort=id`; with `q`, relevance then ascending id).
    pub next: Option<Cursor>,
}

/// How many revisions `includeRevisions=true` adds to a contact: the newest.
pub const INCLUDED_REVISIONS: i64 = 10;

/// A page of a contact's history or notes: items after `after` (a version or note id), oldest
/// first, at most `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub after: Option<i64>,
    pub limit: u32,
}

impl Page {
    /// Rows to fetch: one more than the page, to know whether another follows.
    fn fetch(self) -> i64 {
        i64::from(self.limit) + 1
    }

    /// Trims the fetched rows to the page; `next` is the cursor of the page after, if any.
    fn cut<T>(self, mut items: Vec<T>, cursor: impl Fn(&T) -> i64) -> Paged<T> {
        let more = items.len() > self.limit as usize;
        items.truncate(self.limit as usize);
        let next = if more { items.last().map(cursor) } else { None };
        Paged { items, next }
    }
}

/// One page and the cursor of the next.
#[derive(Debug, Clone, PartialEq)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub next: Option<i64>,
}

/// How a merge ended.
#[derive(Debug, Clone, PartialEq)]
pub enum MergeOutcome {
    /// The secondary is a tombstone now; the primary after the merge.
    Merged { primary: Box<Contact>, message: String },
    /// Nothing changed (missing, already merged, or the same contact twice).
    NoOp { message: String },
}

/// CRM contact use cases; one method is one use case and one transaction.
pub trait CrmStore: Send + Sync {
    /// Creates a contact with its collections; version 1 and a `CREATE` revision.
    fn create_contact(
        &self,
        tenant: &str,
        draft: ContactDraft,
        author: &str,
    ) -> impl Future<Output = CrmResult<Contact>> + Send;

    /// One contact (one query, no transaction), plus its revisions when asked (then in one read
    /// transaction).
    fn get_contact(
        &self,
        tenant: &str,
        id: i64,
        include_revisions: bool,
    ) -> impl Future<Output = CrmResult<(Contact, Option<Vec<Revision>>)>> + Send;

    /// A page of live contacts: one aggregate query (count, newest `updatedAt`, ETag material);
    /// when `cond` says the client is current it stops there, else one page query and one query
    /// per collection for the whole page.
    fn list_contacts(
        &self,
        tenant: &str,
        query: &ContactQuery,
        cond: &Conditional,
    ) -> impl Future<Output = StoreResult<ContactPage>> + Send;

    /// Overwrites every scalar; replaces each collection the draft carries and keeps the others.
    fn replace_contact(
        &self,
        tenant: &str,
        id: i64,
        draft: ContactDraft,
        if_match: Option<&IfMatch>,
        author: &str,
    ) -> impl Future<Output = CrmResult<Contact>> + Send;

    /// A JSON Merge Patch: `patch` turns the stored contact into the overwrite it amounts to, which
    /// is then stored as [`replace_contact`](CrmStore::replace_contact) stores one. The contact is read
    /// under its row lock, in the same transaction, so no write slips between the read and the
    /// overwrite; a patch refused by `patch` (422) changes nothing.
    fn patch_contact<P>(
        &self,
        tenant: &str,
        id: i64,
        patch: P,
        if_match: Option<&IfMatch>,
        author: &str,
    ) -> impl Future<Output = CrmResult<Contact>> + Send
    where
        P: FnOnce(&Contact) -> Result<ContactDraft, Vec<FieldError>> + Send;

    /// Removes a contact with everything hanging off it; the `contact.deleted` event carries the
    /// version it had.
    fn delete_contact(
        &self,
        tenant: &str,
        id: i64,
        if_match: Option<&IfMatch>,
        author: &str,
    ) -> impl Future<Output = CrmResult<()>> + Send;

    /// Adds an address, email or telephone; the first of its collection, or one sent with
    /// `primary: true`, becomes the primary. Returns the contact and the new item's id.
    fn add_contact_item(
        &self,
        tenant: &str,
        id: i64,
        item: ItemDraft,
        if_match: Option<&IfMatch>,
        author: &str,
    ) -> impl Future<Output = CrmResult<(Contact, i64)>> + Send;

    /// Overwrites one item; `primary: true` makes it the primary (a primary is never demoted here).
    fn update_contact_item(
        &self,
        tenant: &str,
        id: i64,
        item_id: i64,
        item: ItemDraft,
        if_match: Option<&IfMatch>,
        author: &str,
    ) -> impl Future<Output = CrmResult<Contact>> + Send;

    /// Deletes one item; deleting the primary promotes the oldest remaining one.
    fn delete_contact_item(
        &self,
        tenant: &str,
        id: i64,
        kind: ItemKind,
        item_id: i64,
        if_match: Option<&IfMatch>,
        author: &str,
    ) -> impl Future<Output = CrmResult<Contact>> + Send;

    /// Makes one item the primary of its collection (clear, then set, in one transaction).
    fn set_primary_contact_item(
        &self,
        tenant: &str,
        id: i64,
        kind: ItemKind,
        item_id: i64,
        if_match: Option<&IfMatch>,
        author: &str,
    ) -> impl Future<Output = CrmResult<Contact>> + Send;

    /// Records a note (a write to the contact: version bump and revision).
    fn add_note(
        &self,
        tenant: &str,
        id: i64,
        note: NoteDraft,
        if_match: Option<&IfMatch>,
        author: &str,
    ) -> impl Future<Output = CrmResult<(Contact, Note)>> + Send;

    /// The contact's notes, oldest first, or only `note_id`.
    fn list_notes(
        &self,
        tenant: &str,
        id: i64,
        note_id: Option<i64>,
        page: Page,
    ) -> impl Future<Output = CrmResult<Paged<Note>>> + Send;

    /// Replaces the contact's custom fields with `fields`.
    fn replace_custom_fields(
        &self,
        tenant: &str,
        id: i64,
        fields: Vec<CustomField>,
        if_match: Option<&IfMatch>,
        author: &str,
    ) -> impl Future<Output = CrmResult<Contact>> + Send;

    /// Every version of the contact, oldest first.
    fn list_contact_revisions(
        &self,
        tenant: &str,
        id: i64,
        page: Page,
    ) -> impl Future<Output = CrmResult<Paged<Revision>>> + Send;

    /// Merges `secondary` into `primary` in one transaction (API.md section 6, Merge).
    fn merge_contacts(
        &self,
        tenant: &str,
        primary: i64,
        secondary: i64,
        author: &str,
    ) -> impl Future<Output = StoreResult<MergeOutcome>> + Send;

    /// The merge's dry run: the same transaction as [`CrmStore::merge_contacts`], always rolled
    /// back, so the answer is the primary as the merge would leave it and nothing is stored (no
    /// revision, no event).
    fn preview_merge(
        &self,
        tenant: &str,
        primary: i64,
        secondary: i64,
        author: &str,
    ) -> impl Future<Output = StoreResult<MergeOutcome>> + Send;

    /// Stores a batch of creates, overwrites and upserts in one transaction, each item in its own
    /// savepoint; `atomic` commits only when every item succeeded. Results in item order.
    fn batch_contacts(
        &self,
        tenant: &str,
        items: Vec<BatchItem>,
        atomic: bool,
        author: &str,
    ) -> impl Future<Output = StoreResult<Vec<BatchResult>>> + Send;

    /// Other live contacts of the tenant that may be the same person as `id`, best first.
    fn find_duplicates(
        &self,
        tenant: &str,
        id: i64,
    ) -> impl Future<Output = CrmResult<Vec<Duplicate>>> + Send;
}

impl<B: Backend> SqlStore<B> {
    /// Gives every live contact stored before search existed its search terms; run after the
    /// migrations, one write transaction per batch so writers are never blocked for long. Done
    /// once: the last batch removes the mark the migration left.
    pub(crate) async fn backfill_search(&self) -> StoreResult<()> {
        let mut after = 0;
        loop {
            let mut tx = self.backend.begin_write().await?;
            let result = async {
                let Some(upto) = backfill::lock_backfill_limit(&mut tx).await? else { return Ok(None) };
                let last = backfill::backfill_batch(&mut tx, after, upto).await?;
                if last.is_none() {
                    backfill::backfill_finished(&mut tx).await?;
                }
                Ok(last)
            }
            .await;
            match Self::settle(tx, result, |_| true).await? {
                Some(last) => after = last,
                None => return Ok(()),
            }
        }
    }

    /// The query plans of a list request (aggregate unless it is a cursor page, page, and the
    /// collections query of a 20-contact page), one text per query. For the index tests.
    #[doc(hidden)]
    pub async fn explain_contact_list(&self, tenant: &str, list: &ContactQuery) -> StoreResult<Vec<String>> {
        let mut conn = self.backend.acquire().await?;
        explain_list(&mut conn, tenant, list).await
    }
}

async fn explain_list<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    list: &ContactQuery,
) -> StoreResult<Vec<String>> {
    let ids: Vec<i64> = (1..=20).collect();
    let mut statements = Vec::new();
    // A cursor page runs no aggregate (see `list_contacts`).
    if list.after.is_none() {
        statements.push(queries::stamp_query(C::EXPLAIN, tenant, &list.filter));
    }
    statements.push(queries::page_query(C::EXPLAIN, tenant, list));
    statements.push(queries::children_query::<C>(C::EXPLAIN, &ids));
    let mut plans = Vec::new();
    for statement in statements {
        plans.push(statement.fetch_plan(&mut *conn).await?.join("\n"));
    }
    Ok(plans)
}
