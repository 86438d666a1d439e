//! Storage: one trait per aggregate with a method per use case, written once over a [`Backend`].
//!
//! Layout: one module per aggregate ([`keys`], [`properties`], [`contact_sets`], [`crm`],
//! [`customers`], [`changes`], [`idempotency`], [`webhooks`], [`audit`], [`privacy`], [`history`])
//! holds its trait, its types and its SQL; [`postgres`]
//! and [`sqlite`] hold what differs per database (pools, migrations, transactions, the contact
//! set's hot paths); [`query`] is how the aggregates run SQL on either one.
//!
//! Which query goes where:
//! - Every repository statement is sqlx, through [`query::Sql`], written once for both backends
//!   with `$n` placeholders. A new query goes there, in its aggregate's module.
//! - On Postgres, only the contact set's read and replace run on tokio-postgres
//!   (`postgres/pipeline.rs`, `postgres/replace.rs`), because they need pipelining, which sqlx
//!   cannot do: concurrent reads share a connection, and the replace sends its six statements in one
//!   round trip. A query joins them only if a benchmark shows it needs the same.
//!
//! sqlx and tokio-postgres types never cross this module's boundary.

use std::future::Future;

pub mod audit;
mod backend;
pub mod changes;
pub mod contact_sets;
pub mod crm;
pub mod customers;
pub mod dry_run;
mod error;
mod group_commit;
pub mod history;
pub mod idempotency;
pub mod keys;
mod postgres;
pub mod privacy;
pub mod properties;
mod pruning;
mod query;
mod session;
mod sqlite;
pub mod webhooks;
mod write;

pub use audit::AuditStore;
pub use backend::{Backend, PoolStatus, SqlStore};
pub use changes::{ChangeStore, EventPage, Feed};
pub use contact_sets::{
    ContactSetPaths, ContactSetRevision, ContactSetStore, ReplaceOutcome, RevisionSummary, StoredContactSet,
};
pub use crm::CrmStore;
pub use customers::CustomerStore;
pub use error::{StoreError, StoreResult, CHANNEL_LISTING_TAKEN, EXTERNAL_ID_TAKEN, WEBHOOK_LIMIT_REACHED};
pub use history::{History, HistoryStore};
pub use idempotency::IdempotencyStore;
pub use keys::{ApiKey, KeyStore, NewApiKey, Scope};
pub use postgres::{PgBackend, PgPoolSizes, PgStore};
pub use privacy::PrivacyStore;
pub use properties::{ChannelMapping, Property, PropertyChanges, PropertyStore, Stale};
pub use sqlite::{Durability, SqliteBackend, SqliteSettings, SqliteStore};
pub use webhooks::WebhookStore;
pub use write::Written;

/// Every aggregate's traits, for callers that use a concrete store.
pub mod prelude {
    pub use super::{
        AuditStore, ChangeStore, ContactSetStore, CrmStore, CustomerStore, HistoryStore, IdempotencyStore,
        KeyStore, PrivacyStore, PropertyStore, Store, WebhookStore,
    };
}

/// The whole store the service needs.
pub trait Store:
    KeyStore
    + PropertyStore
    + ContactSetStore
    + CrmStore
    + CustomerStore
    + ChangeStore
    + IdempotencyStore
    + WebhookStore
    + AuditStore
    + PrivacyStore
    + HistoryStore
    + Clone
    + Send
    + Sync
    + 'static
{
    /// Runs the backend's embedded migrations.
    fn migrate(&self) -> impl Future<Output = StoreResult<()>> + Send;
    /// Cheap round trip used by `/readyz`.
    fn ping(&self) -> impl Future<Output = StoreResult<()>> + Send;
    /// How many pooled connections exist and how many are idle, per pool.
    fn pool_status(&self) -> Vec<PoolStatus>;
    /// Closes the pools so shutdown does not leave connections behind.
    fn close(&self) -> impl Future<Output = ()> + Send;
}

impl<B: ContactSetPaths> Store for SqlStore<B> {
    async fn migrate(&self) -> StoreResult<()> {
        self.backend.migrate().await?;
        self.backfill_search().await
    }

    async fn ping(&self) -> StoreResult<()> {
        let mut conn = self.backend.acquire().await?;
        query::query("SELECT 1").execute(&mut conn).await?;
        Ok(())
    }

    fn pool_status(&self) -> Vec<PoolStatus> {
        self.backend.pool_status()
    }

    async fn close(&self) {
        self.backend.close().await
    }
}
