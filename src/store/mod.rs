//! Storage: one coarse trait with a method per use case, implemented once per backend.
//!
//! Both backends share their SQL (see [`sql`]); they differ in connection set-up, migrations, how a
//! write transaction takes its lock, and the two hot paths of the contact set: on Postgres its read
//! and its replace run on tokio-postgres connections of their own (`read_pool.rs`, pipelined reads;
//! `pg_replace.rs`, a replace in one round trip). sqlx and tokio-postgres types never cross this
//! boundary.

use std::future::Future;

use chrono::{DateTime, Utc};

use crate::domain::contact_set::ContactSet;

pub mod crm;
mod crm_sql;
pub mod customers;
mod customers_sql;
mod pg_replace;
mod postgres;
mod read_pool;
mod sql;
mod sqlite;

pub use crm::CrmStore;
pub use customers::CustomerStore;
pub use postgres::{PgPoolSizes, PgStore};
pub use sqlite::SqliteStore;

/// Errors a store reports; handlers map them to HTTP answers.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached (connection refused, pool timed out): retry later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A named uniqueness or reference constraint was violated.
    #[error("constraint violated: {0}")]
    Conflict(&'static str),
    /// Anything else: a bug or a broken database.
    #[error("store error: {0}")]
    Other(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable(e.to_string())
            }
            sqlx::Error::Database(db) if ends_session(db.as_ref()) => StoreError::Unavailable(e.to_string()),
            sqlx::Error::Database(db) => match known_constraint(db.as_ref()) {
                Some(name) => StoreError::Conflict(name),
                None => StoreError::Other(e.to_string()),
            },
            _ => StoreError::Other(e.to_string()),
        }
    }
}

/// Whether the server is ending this session (SQLSTATE class 57, operator intervention: shutdown,
/// restart, `pg_terminate_backend`; class 08: connection exception): the connection is gone and a
/// retry later may succeed, unlike an error in the statement.
pub(crate) fn ends_session(db: &dyn sqlx::error::DatabaseError) -> bool {
    db.code().is_some_and(|c| session_ending_code(&c))
}

/// Whether a SQLSTATE is one of [`ends_session`]'s classes.
pub(crate) fn session_ending_code(code: &str) -> bool {
    code.starts_with("57") || code.starts_with("08")
}

/// A channel listing (channel + channel property id) already mapped to another property.
pub const CHANNEL_LISTING_TAKEN: &str = "channel_mappings_channel_listing_key";

/// Constraints the API maps to 409, with the column list SQLite names instead (it reports no names).
const KNOWN_CONSTRAINTS: &[(&str, &str)] = &[(
    CHANNEL_LISTING_TAKEN,
    "property_channel_mappings.tenant_id, property_channel_mappings.channel, property_channel_mappings.channel_property_id",
)];

/// The [`KNOWN_CONSTRAINTS`] entry named `name` (Postgres names the constraint it enforced).
pub(crate) fn known_constraint_name(name: &str) -> Option<&'static str> {
    KNOWN_CONSTRAINTS.iter().map(|(known, _)| *known).find(|known| *known == name)
}

fn known_constraint(db: &dyn sqlx::error::DatabaseError) -> Option<&'static str> {
    KNOWN_CONSTRAINTS
        .iter()
        .find(|(name, columns)| match db.constraint() {
            Some(c) => c == *name,
            None => db.message().ends_with(columns),
        })
        .map(|(name, _)| *name)
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Scopes a key can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    Read,
    Write,
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Write, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == s.trim())
    }
}

/// A stored API key, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiKey {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl serde::Serialize for Scope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// What `create_key` stores: the hash of a freshly generated secret.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub secret_hash: String,
    pub scopes: Vec<Scope>,
}

/// A property of a tenant, with its channel listings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Property {
    pub property_id: String,
    pub name: Option<String>,
    pub channel_mappings: Vec<ChannelMapping>,
    pub contact_set_revision: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChannelMapping {
    pub channel: String,
    pub channel_property_id: String,
}

/// A validated create-or-update of a property; `None` members keep what is stored.
#[derive(Debug, Clone, Default)]
pub struct PropertyChanges {
    pub name: Option<Option<String>>,
    pub channel_mappings: Option<Vec<ChannelMapping>>,
}

/// Whether a write created the row or changed an existing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Created,
    Updated,
}

/// A property's current contact set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredContactSet {
    /// 0 until the first set is stored.
    pub revision: i64,
    pub set: ContactSet,
}

/// How a contact-set replace ended; the non-`Replaced` outcomes changed nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplaceOutcome {
    Replaced {
        revision: i64,
    },
    PropertyNotFound,
    /// `expected_revision` was given and is not the stored one.
    RevisionMismatch {
        current: i64,
    },
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

/// Connection-pool occupancy, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// `main` (every transaction), or on Postgres `read` (the contact-set reads) and `write` (the
    /// contact-set replaces).
    pub name: &'static str,
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

/// The storage operations the service needs; one method is one use case and one transaction.
pub trait Store: CrmStore + CustomerStore + Clone + Send + Sync + 'static {
    /// Runs the backend's embedded migrations.
    fn migrate(&self) -> impl Future<Output = StoreResult<()>> + Send;
    /// Cheap round trip used by `/readyz`.
    fn ping(&self) -> impl Future<Output = StoreResult<()>> + Send;
    /// How many pooled connections exist and how many are idle, per pool.
    fn pool_status(&self) -> Vec<PoolStatus>;
    /// Closes the pools so shutdown does not leave connections behind.
    fn close(&self) -> impl Future<Output = ()> + Send;

    fn count_keys(&self) -> impl Future<Output = StoreResult<i64>> + Send;
    /// Stores a key, creating its tenant on first use.
    fn create_key(&self, key: NewApiKey) -> impl Future<Output = StoreResult<ApiKey>> + Send;
    fn list_keys(&self) -> impl Future<Output = StoreResult<Vec<ApiKey>>> + Send;
    /// Marks a key revoked; false when no live key has that id.
    fn revoke_key(&self, id: &str) -> impl Future<Output = StoreResult<bool>> + Send;
    /// The live (not revoked) key whose secret hashes to `secret_hash`.
    fn find_key(&self, secret_hash: &str) -> impl Future<Output = StoreResult<Option<ApiKey>>> + Send;

    fn put_property(
        &self,
        tenant: &str,
        id: &str,
        changes: PropertyChanges,
    ) -> impl Future<Output = StoreResult<(Property, Written)>> + Send;
    fn get_property(
        &self,
        tenant: &str,
        id: &str,
    ) -> impl Future<Output = StoreResult<Option<Property>>> + Send;
    /// Properties ordered by id, starting after `after`.
    fn list_properties(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: u32,
    ) -> impl Future<Output = StoreResult<Vec<Property>>> + Send;
    /// Removes a property with everything hanging off it; false when it did not exist.
    fn delete_property(&self, tenant: &str, id: &str) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Replaces a property's whole contact set and records it as a new revision, in one
    /// transaction with a fixed number of statements.
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
}
