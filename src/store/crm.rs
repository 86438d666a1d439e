//! Storage of CRM contacts (API.md section 6).
//!
//! One method per use case, each one transaction. Every write locks the contact row first (Postgres
//! `SELECT ... FOR UPDATE`; SQLite holds its database write lock from `BEGIN IMMEDIATE`), so
//! concurrent writes to one contact serialise; it then checks `If-Match`, changes what it changes,
//! bumps `version` and appends a revision with the whole contact, all before commit.
//!
//! The SQL is shared by both backends; see [`super::crm_sql`].

use std::future::Future;

use super::StoreResult;
use crate::domain::crm::{
    Conditional, Contact, ContactDraft, ContactQuery, CustomField, IfMatch, ItemDraft, ItemKind, ListStamp,
    Note, NoteDraft, Revision,
};
use crate::validation::FieldError;

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
    pub stamp: ListStamp,
    pub etag: String,
    /// `None` when the conditional matched (answer 304).
    pub contacts: Option<Vec<Contact>>,
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

    /// One contact (a fixed six queries in one snapshot), plus its revisions when asked.
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

    /// Removes a contact with everything hanging off it.
    fn delete_contact(
        &self,
        tenant: &str,
        id: i64,
        if_match: Option<&IfMatch>,
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
    ) -> impl Future<Output = CrmResult<Vec<Note>>> + Send;

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
    ) -> impl Future<Output = CrmResult<Vec<Revision>>> + Send;

    /// Merges `secondary` into `primary` in one transaction (API.md section 6, Merge).
    fn merge_contacts(
        &self,
        tenant: &str,
        primary: i64,
        secondary: i64,
        author: &str,
    ) -> impl Future<Output = StoreResult<MergeOutcome>> + Send;
}
