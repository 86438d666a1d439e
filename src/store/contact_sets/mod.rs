//! Property contact sets (Booking.com's and SU's routes) and their history.
//!
//! The set's read and replace are the service's hottest paths, so each backend runs them its own
//! way ([`ContactSetPaths`]): Postgres pipelines them on tokio-postgres (`postgres/pipeline.rs`),
//! SQLite runs them through sqlx on its reader pool and its one writer. The history is ordinary
//! repository code, written once.

use std::future::Future;

use chrono::{DateTime, Utc};

use super::backend::{Backend, SqlStore};
use super::error::StoreResult;
use super::query::query;
use crate::domain::contact_set::ContactSet;

/// The channel whose listing id is a property's Booking.com hotel id.
pub const BOOKING_CHANNEL: &str = "booking";

pub(crate) mod rows;

use rows::{assemble_contact_set, ContactRow, RevisionRow, RevisionSnapshotRow};

/// A property's current contact set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredContactSet {
    /// 0 until the first set is stored.
    pub revision: i64,
    pub set: ContactSet,
    /// When the property was last written (its set or its registry entry).
    pub updated_at: DateTime<Utc>,
}

/// How a contact-set replace ended; the non-`Replaced` outcomes changed nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplaceOutcome {
    Replaced {
        revision: i64,
    },
    /// The set equals the stored one: nothing was written, no revision, no event.
    Unchanged {
        revision: i64,
    },
    PropertyNotFound,
    /// `expected_revision` was given and is not the stored one.
    RevisionMismatch {
        current: i64,
    },
}

/// Why a replace's bump matched no row, from the property's current `(revision, fingerprint)`
/// read after it: no such property, a stale `If-Match`, or an identical set. `None`: none of them
/// (another replace committed in between), so the replace may run again.
pub(crate) fn why_not_bumped(
    current: Option<(i64, Option<String>)>,
    expected_revision: Option<i64>,
    fingerprint: &str,
) -> Option<ReplaceOutcome> {
    let Some((revision, stored)) = current else {
        return Some(ReplaceOutcome::PropertyNotFound);
    };
    if expected_revision.is_some_and(|expected| expected != revision) {
        Some(ReplaceOutcome::RevisionMismatch { current: revision })
    } else if stored.as_deref() == Some(fingerprint) {
        Some(ReplaceOutcome::Unchanged { revision })
    } else {
        None
    }
}

/// One entry of a property's contact-set history.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RevisionSummary {
    pub revision: i64,
    pub created_at: DateTime<Utc>,
    /// Name of the API key that wrote it.
    pub created_by: String,
    pub contact_count: i64,
}

/// A past contact set, whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactSetRevision {
    pub summary: RevisionSummary,
    pub set: ContactSet,
}

/// Contact-set use cases.
pub trait ContactSetStore: Send + Sync {
    /// Replaces a property's whole contact set, records it as a new revision and records a
    /// `contact_set.replaced` event, in one transaction with a fixed number of statements; a set
    /// equal to the stored one (same fingerprint) changes nothing.
    fn replace_contact_set(
        &self,
        tenant: &str,
        property_id: &str,
        set: &ContactSet,
        expected_revision: Option<i64>,
        author: &str,
    ) -> impl Future<Output = StoreResult<ReplaceOutcome>> + Send;
    /// The current set, read in one statement; `None` when the property does not exist.
    fn get_contact_set(
        &self,
        tenant: &str,
        property_id: &str,
    ) -> impl Future<Output = StoreResult<Option<StoredContactSet>>> + Send;
    /// History newest first, revisions below `before`; `None` when the property does not exist.
    fn list_contact_set_revisions(
        &self,
        tenant: &str,
        property_id: &str,
        before: Option<i64>,
        limit: u32,
    ) -> impl Future<Output = StoreResult<Option<Vec<RevisionSummary>>>> + Send;
    fn get_contact_set_revision(
        &self,
        tenant: &str,
        property_id: &str,
        revision: i64,
    ) -> impl Future<Output = StoreResult<Option<ContactSetRevision>>> + Send;
    /// The property whose `booking` channel mapping is `hotel_id` (Booking.com's own hotel id),
    /// in one lookup on the mapping's unique key; `None` when no property of the tenant has it.
    fn booking_property_id(
        &self,
        tenant: &str,
        hotel_id: &str,
    ) -> impl Future<Output = StoreResult<Option<String>>> + Send;
}

/// The two hot paths, as each backend runs them.
pub trait ContactSetPaths: Backend {
    /// The rows of [`rows::CONTACT_SET_SELECT`] for one property.
    fn contact_rows(
        &self,
        tenant: &str,
        property_id: &str,
    ) -> impl Future<Output = StoreResult<Vec<ContactRow>>> + Send;
    /// The replace, with the `If-Match` check inside its transaction.
    fn replace_set(
        &self,
        tenant: &str,
        property_id: &str,
        set: &ContactSet,
        expected_revision: Option<i64>,
        author: &str,
    ) -> impl Future<Output = StoreResult<ReplaceOutcome>> + Send;
}

impl<B: ContactSetPaths> ContactSetStore for SqlStore<B> {
    async fn replace_contact_set(
        &self,
        tenant: &str,
        property_id: &str,
        set: &ContactSet,
        expected_revision: Option<i64>,
        author: &str,
    ) -> StoreResult<ReplaceOutcome> {
        self.backend.replace_set(tenant, property_id, set, expected_revision, author).await
    }

    async fn get_contact_set(
        &self,
        tenant: &str,
        property_id: &str,
    ) -> StoreResult<Option<StoredContactSet>> {
        let rows = self.backend.contact_rows(tenant, property_id).await?;
        let Some((revision, Some(updated_at))) = rows.first().map(|r| (r.contact_set_revision, r.updated_at))
        else {
            return Ok(None);
        };
        let set = assemble_contact_set(rows)?;
        Ok(Some(StoredContactSet { revision, set, updated_at }))
    }

    async fn list_contact_set_revisions(
        &self,
        tenant: &str,
        property_id: &str,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Option<Vec<RevisionSummary>>> {
        let mut conn = self.backend.acquire().await?;
        // LEFT JOIN from the property tells "no history yet" from "no such property".
        let rows: Vec<RevisionRow> = query(
            "SELECT r.revision, r.created_at, r.created_by, r.contact_count \
             FROM properties p LEFT JOIN contact_set_revisions r \
               ON r.tenant_id = p.tenant_id AND r.property_id = p.id AND r.revision < $3 \
             WHERE p.tenant_id = $1 AND p.id = $2 \
             ORDER BY r.revision DESC LIMIT $4",
        )
        .bind(tenant)
        .bind(property_id)
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&mut conn)
        .await?;
        if rows.is_empty() {
            return Ok(None);
        }
        // The all-null row of a property without revisions yields no summary.
        let summary = |r: RevisionRow| {
            Some(RevisionSummary {
                revision: r.revision?,
                created_at: r.created_at?,
                created_by: r.created_by?,
                contact_count: i64::from(r.contact_count?),
            })
        };
        Ok(Some(rows.into_iter().filter_map(summary).collect()))
    }

    async fn get_contact_set_revision(
        &self,
        tenant: &str,
        property_id: &str,
        revision: i64,
    ) -> StoreResult<Option<ContactSetRevision>> {
        let mut conn = self.backend.acquire().await?;
        let row: Option<RevisionSnapshotRow> = query(
            "SELECT revision, created_at, created_by, contact_count, contacts \
             FROM contact_set_revisions WHERE tenant_id = $1 AND property_id = $2 AND revision = $3",
        )
        .bind(tenant)
        .bind(property_id)
        .bind(revision)
        .fetch_optional(&mut conn)
        .await?;
        Ok(row.map(|r| ContactSetRevision {
            summary: RevisionSummary {
                revision: r.revision,
                created_at: r.created_at,
                created_by: r.created_by,
                contact_count: i64::from(r.contact_count),
            },
            set: ContactSet { contacts: r.contacts.0 },
        }))
    }

    async fn booking_property_id(&self, tenant: &str, hotel_id: &str) -> StoreResult<Option<String>> {
        let mut conn = self.backend.acquire().await?;
        // `channel_mappings_channel_listing_key` (tenant_id, channel, channel_property_id) serves it.
        let row: Option<(String,)> = query(
            "SELECT property_id FROM property_channel_mappings \
             WHERE tenant_id = $1 AND channel = $2 AND channel_property_id = $3",
        )
        .bind(tenant)
        .bind(BOOKING_CHANNEL)
        .bind(hotel_id)
        .fetch_optional(&mut conn)
        .await?;
        Ok(row.map(|(id,)| id))
    }
}
