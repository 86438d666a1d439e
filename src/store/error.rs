//! What a store reports when it fails, and how sqlx's errors map onto it.

/// Errors a store reports; handlers map them to HTTP answers.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached (connection refused, pool timed out): retry later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A commit was sent but the server did not confirm it in time: the write may or may not be
    /// stored. Reported as 503 saying so; a client reads the resource back (or repeats an
    /// idempotent write).
    #[error("outcome unknown: {0}")]
    OutcomeUnknown(String),
    /// A named uniqueness or reference constraint was violated.
    #[error("constraint violated: {0}")]
    Conflict(&'static str),
    /// Anything else: a bug or a broken database.
    #[error("store error: {0}")]
    Other(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable(e.to_string())
            }
            sqlx::Error::Database(db) if db.code().is_some_and(|c| session_ending_code(&c)) => {
                StoreError::Unavailable(e.to_string())
            }
            sqlx::Error::Database(db) => match known_constraint(db.as_ref()) {
                Some(name) => StoreError::Conflict(name),
                None => StoreError::Other(e.to_string()),
            },
            _ => StoreError::Other(e.to_string()),
        }
    }
}

/// Whether a SQLSTATE says the server is ending this session (class 57, operator intervention:
/// shutdown, restart, `pg_terminate_backend`; class 08, connection exception): the connection is
/// gone and a retry later may succeed, unlike an error in the statement.
pub(crate) fn session_ending_code(code: &str) -> bool {
    code.starts_with("57") || code.starts_with("08")
}

/// A channel listing (channel + channel property id) already mapped to another property.
pub const CHANNEL_LISTING_TAKEN: &str = "channel_mappings_channel_listing_key";

/// A CRM contact's `externalId` already names another contact of the tenant.
pub const EXTERNAL_ID_TAKEN: &str = "crm_contacts_external_id_key";

/// The tenant already has [`crate::store::webhooks::MAX_WEBHOOKS`] subscriptions (a limit, not a
/// constraint: checked under the tenant's row lock).
pub const WEBHOOK_LIMIT_REACHED: &str = "webhooks_per_tenant";

/// Constraints the API maps to 409, with the column list SQLite names instead (it reports no names).
const KNOWN_CONSTRAINTS: &[(&str, &str)] = &[
    (
        CHANNEL_LISTING_TAKEN,
        "property_channel_mappings.tenant_id, property_channel_mappings.channel, property_channel_mappings.channel_property_id",
    ),
    (EXTERNAL_ID_TAKEN, "crm_contacts.tenant_id, crm_contacts.external_id"),
];

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
