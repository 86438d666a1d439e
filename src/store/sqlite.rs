//! Embedded SQLite, the zero-setup default: one file, WAL mode, created on first start.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::types::Json;
use sqlx::{Row, SqlitePool};

use super::sql::{impl_sql_store, profiles_column, Columns, CONTACT_SET_SELECT};
use super::{PoolStatus, StoreError};
use crate::domain::contact_set::{Contact, ProfileType};

/// Store backed by an SQLite file.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    pub async fn connect(
        url: &str,
        max_connections: u32,
        acquire_timeout: Duration,
    ) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Other(format!("invalid DATABASE_URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL + NORMAL is durable across application crashes, and only loses the last commits
            // on power loss; the usual choice for an embedded service store.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(acquire_timeout)
            .connect_with(options)
            .await?;
        Ok(SqliteStore { pool })
    }

    async fn run_migrations(&self) -> Result<(), StoreError> {
        sqlx::migrate!("./migrations/sqlite")
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Other(format!("migration failed: {e}")))
    }

    /// SQLite has no network round trip to save: the hot read uses the main pool.
    async fn contact_rows(&self, tenant: &str, property_id: &str) -> Result<Vec<ContactRow>, StoreError> {
        let rows =
            sqlx::query(CONTACT_SET_SELECT).bind(tenant).bind(property_id).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(ContactRow::decode).collect::<Result<_, _>>()?)
    }

    /// The replace, statement by statement in one `BEGIN IMMEDIATE` transaction: in-process SQLite
    /// has no round trips to save.
    async fn replace_set(
        &self,
        tenant: &str,
        property_id: &str,
        set: &ContactSet,
        expected_revision: Option<i64>,
        author: &str,
    ) -> StoreResult<ReplaceOutcome> {
        let now = chrono::Utc::now();
        let mut tx = self.begin_write().await?;
        // The If-Match check is part of the bump; the write lock (BEGIN IMMEDIATE) serialises replaces.
        let bumped: Option<(i64,)> = sqlx::query_as(
            "UPDATE properties SET contact_set_revision = contact_set_revision + 1, updated_at = $3 \
             WHERE tenant_id = $1 AND id = $2 AND ($4 IS NULL OR contact_set_revision = $4) \
             RETURNING contact_set_revision",
        )
        .bind(tenant)
        .bind(property_id)
        .bind(now)
        .bind(expected_revision)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((revision,)) = bumped else {
            let current: Option<(i64,)> = sqlx::query_as(
                "SELECT contact_set_revision FROM properties WHERE tenant_id = $1 AND id = $2",
            )
            .bind(tenant)
            .bind(property_id)
            .fetch_optional(&mut *tx)
            .await?;
            // A dropped transaction only queues its ROLLBACK; end it now so the write lock
            // is not held until the connection's next use.
            tx.rollback().await?;
            return Ok(match current {
                None => ReplaceOutcome::PropertyNotFound,
                Some((current,)) => ReplaceOutcome::RevisionMismatch { current },
            });
        };
        // The phones go with their contacts (ON DELETE CASCADE): one statement, not two.
        sqlx::query("DELETE FROM property_contacts WHERE tenant_id = $1 AND property_id = $2")
            .bind(tenant)
            .bind(property_id)
            .execute(&mut *tx)
            .await?;
        if !set.contacts.is_empty() {
            let mut insert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                "INSERT INTO property_contacts (tenant_id, property_id, position, profiles, \
                 is_general, person_name, person_gender, person_job_title, person_language, email, \
                 address_line, city_name, postal_code, country_code, address_language, state_prov_code) ",
            );
            insert.push_values(set.contacts.iter().enumerate(), |mut row, (i, c): (usize, &Contact)| {
                let a = c.address.as_ref();
                row.push_bind(tenant)
                    .push_bind(property_id)
                    .push_bind(i as i32)
                    .push_bind(profiles_column(&c.profiles))
                    .push_bind(c.profiles.contains(&ProfileType::General))
                    .push_bind(c.person.name.as_str())
                    .push_bind(c.person.gender.map(|g| g.as_str()))
                    .push_bind(c.person.job_title.as_str())
                    .push_bind(c.person.language_code.as_str())
                    .push_bind(c.email.as_str())
                    .push_bind(a.map(|a| a.address_line.as_str()))
                    .push_bind(a.map(|a| a.city_name.as_str()))
                    .push_bind(a.map(|a| a.postal_code.as_str()))
                    .push_bind(a.map(|a| a.country_code.as_str()))
                    .push_bind(a.map(|a| a.language_code.as_str()))
                    .push_bind(a.and_then(|a| a.state_prov_code.as_deref()));
            });
            insert.build().execute(&mut *tx).await?;
            let phones = set
                .contacts
                .iter()
                .enumerate()
                .flat_map(|(i, c)| c.phones.iter().enumerate().map(move |(j, p)| (i, j, p)));
            let mut insert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                "INSERT INTO property_contact_phones (tenant_id, property_id, contact_position, \
                 position, phone_number, tech_type, extension) ",
            );
            insert.push_values(phones, |mut row, (i, j, p)| {
                row.push_bind(tenant)
                    .push_bind(property_id)
                    .push_bind(i as i32)
                    .push_bind(j as i32)
                    .push_bind(p.phone_number.as_str())
                    .push_bind(i32::from(p.tech_type.code()))
                    .push_bind(p.extension.as_deref());
            });
            insert.build().execute(&mut *tx).await?;
        }
        sqlx::query(
            "INSERT INTO contact_set_revisions \
             (tenant_id, property_id, revision, created_at, created_by, contact_count, contacts) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(tenant)
        .bind(property_id)
        .bind(revision)
        .bind(now)
        .bind(author)
        .bind(set.contacts.len() as i32)
        .bind(Json(&set.contacts))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ReplaceOutcome::Replaced { revision })
    }

    fn client_pool_status(&self) -> Vec<PoolStatus> {
        Vec::new()
    }

    fn close_client_pools(&self) {}
}

impl Columns for SqliteRow {
    type Error = sqlx::Error;

    fn int8(&self, i: usize) -> Result<i64, sqlx::Error> {
        self.try_get(i)
    }
    fn int4(&self, i: usize) -> Result<Option<i32>, sqlx::Error> {
        self.try_get(i)
    }
    fn text(&self, i: usize) -> Result<Option<String>, sqlx::Error> {
        self.try_get(i)
    }
}

impl_sql_store!(SqliteStore, sqlx::Sqlite, begin_write = "BEGIN IMMEDIATE");
super::crm_sql::impl_crm_store!(
    SqliteStore,
    sqlx::Sqlite,
    lock_row = "",
    begin_read = "BEGIN",
    explain = "EXPLAIN QUERY PLAN"
);
super::customers_sql::impl_customer_store!(SqliteStore, sqlx::Sqlite);
