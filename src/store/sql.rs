//! The SQL both backends share. Postgres and SQLite accept the same statements here (`$n` parameters,
//! `ON CONFLICT`, `RETURNING`); what differs is passed in: the statement that opens a write
//! transaction (SQLite must take its write lock up front with `BEGIN IMMEDIATE`, or two writers
//! deadlock on the upgrade) and the row-lock suffix (`FOR UPDATE`, which SQLite does not have and does
//! not need once the write lock is held). Each backend also provides the two hot paths of its own:
//! `contact_rows()`, the read of [`CONTACT_SET_SELECT`] decoded with [`ContactRow::decode`]
//! (Postgres: multiplexed connections, see `read_pool.rs`; SQLite: the main pool), and
//! `replace_set()`, the contact-set replace (Postgres: one pipelined round trip, see
//! `pg_replace.rs`; SQLite: statement by statement in `sqlite.rs`).
//!
//! The shared code is a macro rather than a function generic over `sqlx::Database` because the
//! generic version needs a where-clause per bound and decoded type on every function; the macro
//! expands to plain concrete code for each backend, which keeps static dispatch and readable errors.

use chrono::{DateTime, Utc};

use super::{ApiKey, ChannelMapping, Property, RevisionSummary, Scope, StoreError};
use crate::domain::contact_set::{
    Address, Contact, ContactPerson, ContactSet, Phone, PhoneTechType, ProfileType,
};

#[derive(sqlx::FromRow)]
pub(super) struct KeyRow {
    id: String,
    tenant_id: String,
    name: String,
    scopes: String,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<KeyRow> for ApiKey {
    fn from(r: KeyRow) -> Self {
        ApiKey {
            id: r.id,
            tenant_id: r.tenant_id,
            name: r.name,
            scopes: r.scopes.split(',').filter_map(Scope::parse).collect(),
            created_at: r.created_at,
            revoked_at: r.revoked_at,
        }
    }
}

pub(super) fn scopes_column(scopes: &[Scope]) -> String {
    scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")
}

/// A property LEFT JOINed to one of its channel mappings (null channel: the property has none).
#[derive(sqlx::FromRow)]
pub(super) struct PropertyRow {
    id: String,
    name: Option<String>,
    contact_set_revision: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    channel: Option<String>,
    channel_property_id: Option<String>,
}

/// Groups the rows (ordered by property id, then channel) into properties.
pub(super) fn assemble_properties(rows: Vec<PropertyRow>) -> Vec<Property> {
    let mut properties: Vec<Property> = Vec::new();
    for r in rows {
        if properties.last().is_none_or(|p| p.property_id != r.id) {
            properties.push(Property {
                property_id: r.id,
                name: r.name,
                channel_mappings: Vec::new(),
                contact_set_revision: r.contact_set_revision,
                created_at: r.created_at,
                updated_at: r.updated_at,
            });
        }
        if let (Some(channel), Some(channel_property_id), Some(p)) =
            (r.channel, r.channel_property_id, properties.last_mut())
        {
            p.channel_mappings.push(ChannelMapping { channel, channel_property_id });
        }
    }
    properties
}

/// Properties with their mappings in one statement (one consistent snapshot); `{filter}` selects
/// the properties, in a derived table so that LIMIT counts properties rather than mappings.
pub(super) fn property_select(filter: &str) -> String {
    format!(
        "SELECT p.id, p.name, p.contact_set_revision, p.created_at, p.updated_at, m.channel, m.channel_property_id \
         FROM (SELECT id, name, contact_set_revision, created_at, updated_at FROM properties {filter}) p \
         LEFT JOIN property_channel_mappings m ON m.tenant_id = $1 AND m.property_id = p.id \
         ORDER BY p.id, m.channel"
    )
}

/// One row of `property_contacts` LEFT JOINed to its property: all contact columns are null for a
/// property without contacts.
pub(super) struct ContactRow {
    pub(super) contact_set_revision: i64,
    position: Option<i32>,
    profiles: Option<String>,
    person_name: Option<String>,
    person_gender: Option<String>,
    person_job_title: Option<String>,
    person_language: Option<String>,
    email: Option<String>,
    address_line: Option<String>,
    city_name: Option<String>,
    postal_code: Option<String>,
    country_code: Option<String>,
    address_language: Option<String>,
    state_prov_code: Option<String>,
    phone_number: Option<String>,
    tech_type: Option<i32>,
    extension: Option<String>,
}

/// Typed access to a result row by position, over each backend's row type.
pub(super) trait Columns {
    type Error;
    fn int8(&self, i: usize) -> Result<i64, Self::Error>;
    fn int4(&self, i: usize) -> Result<Option<i32>, Self::Error>;
    fn text(&self, i: usize) -> Result<Option<String>, Self::Error>;
}

impl ContactRow {
    /// Decodes by position, in [`CONTACT_SET_SELECT`]'s column order: the hottest read of the service,
    /// and looking 17 columns up by name per row was a sixth of its row-decoding time.
    pub(super) fn decode<C: Columns>(row: &C) -> Result<Self, C::Error> {
        Ok(ContactRow {
            contact_set_revision: row.int8(0)?,
            position: row.int4(1)?,
            profiles: row.text(2)?,
            person_name: row.text(3)?,
            person_gender: row.text(4)?,
            person_job_title: row.text(5)?,
            person_language: row.text(6)?,
            email: row.text(7)?,
            address_line: row.text(8)?,
            city_name: row.text(9)?,
            postal_code: row.text(10)?,
            country_code: row.text(11)?,
            address_language: row.text(12)?,
            state_prov_code: row.text(13)?,
            phone_number: row.text(14)?,
            tech_type: row.int4(15)?,
            extension: row.text(16)?,
        })
    }
}

/// The whole current set in ONE statement, so it is one consistent snapshot even while a replace
/// commits (two queries could pair the contacts of one revision with the phones of the next): one
/// row per phone, contacts repeated, ordered by contact then phone position. [`ContactRow`] decodes
/// the columns by position: keep the two in the same order.
pub(super) const CONTACT_SET_SELECT: &str = "SELECT p.contact_set_revision, c.position, c.profiles, \
     c.person_name, c.person_gender, c.person_job_title, c.person_language, c.email, c.address_line, \
     c.city_name, c.postal_code, c.country_code, c.address_language, c.state_prov_code, \
     ph.phone_number, ph.tech_type, ph.extension \
     FROM properties p \
     LEFT JOIN property_contacts c ON c.tenant_id = p.tenant_id AND c.property_id = p.id \
     LEFT JOIN property_contact_phones ph ON ph.tenant_id = c.tenant_id AND ph.property_id = c.property_id \
       AND ph.contact_position = c.position \
     WHERE p.tenant_id = $1 AND p.id = $2 ORDER BY c.position, ph.position";

/// Stored values were canonical when written; failing to read one back means a broken database.
fn stored<T>(what: &str, value: Option<T>) -> Result<T, StoreError> {
    value.ok_or_else(|| StoreError::Other(format!("stored contact lacks {what}")))
}

fn parse_stored<T: std::str::FromStr>(what: &str, value: &str) -> Result<T, StoreError> {
    value.parse().map_err(|_| StoreError::Other(format!("stored {what} `{value}` is not valid")))
}

/// Rebuilds a contact set from the rows of [`CONTACT_SET_SELECT`].
pub(super) fn assemble_contact_set(rows: Vec<ContactRow>) -> Result<ContactSet, StoreError> {
    let mut contacts: Vec<Contact> = Vec::new();
    let mut current = None;
    for mut r in rows {
        let Some(position) = r.position else { continue };
        let phone = match (r.phone_number.take(), r.tech_type) {
            (Some(phone_number), Some(code)) => Some(Phone {
                phone_number,
                tech_type: u64::try_from(code)
                    .ok()
                    .and_then(PhoneTechType::from_code)
                    .ok_or_else(|| StoreError::Other(format!("stored tech type {code}")))?,
                extension: r.extension.take(),
            }),
            _ => None,
        };
        if current != Some(position) {
            contacts.push(contact_from_row(r)?);
            current = Some(position);
        }
        if let (Some(phone), Some(contact)) = (phone, contacts.last_mut()) {
            contact.phones.push(phone);
        }
    }
    Ok(ContactSet { contacts })
}

/// The contact columns of one row (phones are added by the caller).
fn contact_from_row(r: ContactRow) -> Result<Contact, StoreError> {
    let profiles = stored("profiles", r.profiles)?
        .split(',')
        .map(|p| parse_stored::<ProfileType>("profile type", p))
        .collect::<Result<Vec<_>, _>>()?;
    let address = match r.country_code {
        None => None,
        Some(country) => Some(Address {
            address_line: stored("address_line", r.address_line)?,
            city_name: stored("city_name", r.city_name)?,
            postal_code: stored("postal_code", r.postal_code)?,
            country_code: parse_stored("country", &country)?,
            language_code: parse_stored("language", &stored("address_language", r.address_language)?)?,
            state_prov_code: r.state_prov_code,
        }),
    };
    let language = stored("person_language", r.person_language)?;
    Ok(Contact {
        profiles,
        person: ContactPerson {
            name: stored("person_name", r.person_name)?,
            gender: r.person_gender.as_deref().map(|g| parse_stored("gender", g)).transpose()?,
            job_title: parse_stored("job title", &stored("person_job_title", r.person_job_title)?)?,
            language_code: crate::domain::contact_set::LanguageCode::parse_spoken(&language)
                .map_err(|_| StoreError::Other(format!("stored language `{language}`")))?,
        },
        phones: Vec::new(),
        email: stored("email", r.email)?,
        address,
    })
}

pub(super) fn profiles_column(profiles: &[ProfileType]) -> String {
    profiles.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(",")
}

#[derive(sqlx::FromRow)]
pub(super) struct RevisionRow {
    revision: Option<i64>,
    created_at: Option<DateTime<Utc>>,
    created_by: Option<String>,
    contact_count: Option<i32>,
}

impl RevisionRow {
    /// `None` for the all-null row of a property without revisions.
    pub(super) fn into_summary(self) -> Option<RevisionSummary> {
        Some(RevisionSummary {
            revision: self.revision?,
            created_at: self.created_at?,
            created_by: self.created_by?,
            contact_count: i64::from(self.contact_count?),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct RevisionSnapshotRow {
    pub(super) revision: i64,
    pub(super) created_at: DateTime<Utc>,
    pub(super) created_by: String,
    pub(super) contact_count: i32,
    pub(super) contacts: sqlx::types::Json<Vec<Contact>>,
}

/// Implements [`super::Store`] for `$store`: a struct with a `pool: sqlx::Pool<$db>` field and the
/// inherent methods where the backends differ (`run_migrations`, `contact_rows`, `replace_set`,
/// `client_pool_status`, `close_client_pools`).
macro_rules! impl_sql_store {
    ($store:ty, $db:ty, begin_write = $begin:literal) => {
        use $crate::domain::contact_set::ContactSet;
        use $crate::store::sql::{
            assemble_contact_set, assemble_properties, property_select, scopes_column, ContactRow, KeyRow,
            PropertyRow, RevisionRow, RevisionSnapshotRow,
        };
        use $crate::store::{
            ApiKey, ContactSetRevision, NewApiKey, Property, PropertyChanges, ReplaceOutcome,
            RevisionSummary, Store, StoreResult, StoredContactSet, Written,
        };

        type Conn = <$db as sqlx::Database>::Connection;

        impl $store {
            async fn begin_write(&self) -> StoreResult<sqlx::Transaction<'static, $db>> {
                Ok(self.pool.begin_with($begin).await?)
            }
        }

        async fn load_property(conn: &mut Conn, tenant: &str, id: &str) -> StoreResult<Option<Property>> {
            let rows: Vec<PropertyRow> = sqlx::query_as(&property_select("WHERE tenant_id = $1 AND id = $2"))
                .bind(tenant)
                .bind(id)
                .fetch_all(&mut *conn)
                .await?;
            Ok(assemble_properties(rows).pop())
        }

        impl Store for $store {
            async fn migrate(&self) -> StoreResult<()> {
                self.run_migrations().await
            }

            async fn ping(&self) -> StoreResult<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            fn pool_status(&self) -> Vec<$crate::store::PoolStatus> {
                let main = $crate::store::PoolStatus {
                    name: "main",
                    size: self.pool.size(),
                    idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
                    max: self.pool.options().get_max_connections(),
                };
                std::iter::once(main).chain(self.client_pool_status()).collect()
            }

            async fn close(&self) {
                self.close_client_pools();
                self.pool.close().await
            }

            async fn count_keys(&self) -> StoreResult<i64> {
                let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM api_keys")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(n)
            }

            async fn create_key(&self, key: NewApiKey) -> StoreResult<ApiKey> {
                let now = chrono::Utc::now();
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO tenants (id, created_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
                )
                .bind(&key.tenant_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                let row: KeyRow = sqlx::query_as(
                    "INSERT INTO api_keys (id, tenant_id, name, secret_hash, scopes, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) \
                     RETURNING id, tenant_id, name, scopes, created_at, revoked_at",
                )
                .bind(&key.id)
                .bind(&key.tenant_id)
                .bind(&key.name)
                .bind(&key.secret_hash)
                .bind(scopes_column(&key.scopes))
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(row.into())
            }

            async fn list_keys(&self) -> StoreResult<Vec<ApiKey>> {
                let rows: Vec<KeyRow> = sqlx::query_as(
                    "SELECT id, tenant_id, name, scopes, created_at, revoked_at FROM api_keys \
                     ORDER BY tenant_id, created_at, id",
                )
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(ApiKey::from).collect())
            }

            async fn revoke_key(&self, id: &str) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                )
                .bind(id)
                .bind(chrono::Utc::now())
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn find_key(&self, secret_hash: &str) -> StoreResult<Option<ApiKey>> {
                let row: Option<KeyRow> = sqlx::query_as(
                    "SELECT id, tenant_id, name, scopes, created_at, revoked_at FROM api_keys \
                     WHERE secret_hash = $1 AND revoked_at IS NULL",
                )
                .bind(secret_hash)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(ApiKey::from))
            }

            async fn put_property(
                &self,
                tenant: &str,
                id: &str,
                changes: PropertyChanges,
            ) -> StoreResult<(Property, Written)> {
                let now = chrono::Utc::now();
                let mut tx = self.begin_write().await?;
                // Insert-or-nothing first: racing creators cannot both "create".
                let inserted = sqlx::query(
                    "INSERT INTO properties (tenant_id, id, name, contact_set_revision, created_at, updated_at) \
                     VALUES ($1, $2, $3, 0, $4, $4) ON CONFLICT (tenant_id, id) DO NOTHING",
                )
                .bind(tenant)
                .bind(id)
                .bind(changes.name.clone().flatten())
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if !inserted {
                    let keep_name = changes.name.is_none();
                    sqlx::query(
                        "UPDATE properties SET name = CASE WHEN $3 THEN name ELSE $4 END, updated_at = $5 \
                         WHERE tenant_id = $1 AND id = $2",
                    )
                    .bind(tenant)
                    .bind(id)
                    .bind(keep_name)
                    .bind(changes.name.flatten())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                if let Some(mappings) = changes.channel_mappings {
                    sqlx::query(
                        "DELETE FROM property_channel_mappings WHERE tenant_id = $1 AND property_id = $2",
                    )
                    .bind(tenant)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                    if !mappings.is_empty() {
                        let mut insert = sqlx::QueryBuilder::<$db>::new(
                            "INSERT INTO property_channel_mappings \
                             (tenant_id, property_id, channel, channel_property_id) ",
                        );
                        insert.push_values(mappings, |mut row, m| {
                            row.push_bind(tenant)
                                .push_bind(id)
                                .push_bind(m.channel)
                                .push_bind(m.channel_property_id);
                        });
                        insert.build().execute(&mut *tx).await?;
                    }
                }
                let property = load_property(&mut tx, tenant, id)
                    .await?
                    .ok_or_else(|| $crate::store::StoreError::Other("property vanished".into()))?;
                tx.commit().await?;
                let written = if inserted { Written::Created } else { Written::Updated };
                Ok((property, written))
            }

            async fn get_property(&self, tenant: &str, id: &str) -> StoreResult<Option<Property>> {
                let mut conn = self.pool.acquire().await?;
                load_property(&mut conn, tenant, id).await
            }

            async fn list_properties(
                &self,
                tenant: &str,
                after: Option<&str>,
                limit: u32,
            ) -> StoreResult<Vec<Property>> {
                let rows: Vec<PropertyRow> =
                    sqlx::query_as(&property_select("WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"))
                        .bind(tenant)
                        .bind(after.unwrap_or(""))
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await?;
                Ok(assemble_properties(rows))
            }

            async fn delete_property(&self, tenant: &str, id: &str) -> StoreResult<bool> {
                let mut tx = self.begin_write().await?;
                // CRM contacts linking the property change with it: unlinked, version bumped and
                // a revision recorded, in this transaction (the cascade alone would not bump them).
                let author = $crate::store::crm_sql::PROPERTY_DELETED_AUTHOR;
                crm_impl::unlink_property(&mut tx, tenant, id, author).await?;
                let done = sqlx::query("DELETE FROM properties WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(done.rows_affected() == 1)
            }

            async fn replace_contact_set(
                &self,
                tenant: &str,
                property_id: &str,
                set: &ContactSet,
                expected_revision: Option<i64>,
                author: &str,
            ) -> StoreResult<ReplaceOutcome> {
                self.replace_set(tenant, property_id, set, expected_revision, author).await
            }

            async fn get_contact_set(
                &self,
                tenant: &str,
                property_id: &str,
            ) -> StoreResult<Option<StoredContactSet>> {
                let rows = self.contact_rows(tenant, property_id).await?;
                let Some(revision) = rows.first().map(|r| r.contact_set_revision) else {
                    return Ok(None);
                };
                let set = assemble_contact_set(rows)?;
                Ok(Some(StoredContactSet { revision, set }))
            }

            async fn list_contact_set_revisions(
                &self,
                tenant: &str,
                property_id: &str,
                before: Option<i64>,
                limit: u32,
            ) -> StoreResult<Option<Vec<RevisionSummary>>> {
                // LEFT JOIN from the property tells "no history yet" from "no such property".
                let rows: Vec<RevisionRow> = sqlx::query_as(
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
                .fetch_all(&self.pool)
                .await?;
                if rows.is_empty() {
                    return Ok(None);
                }
                Ok(Some(rows.into_iter().filter_map(RevisionRow::into_summary).collect()))
            }

            async fn get_contact_set_revision(
                &self,
                tenant: &str,
                property_id: &str,
                revision: i64,
            ) -> StoreResult<Option<ContactSetRevision>> {
                let row: Option<RevisionSnapshotRow> = sqlx::query_as(
                    "SELECT revision, created_at, created_by, contact_count, contacts \
                     FROM contact_set_revisions WHERE tenant_id = $1 AND property_id = $2 AND revision = $3",
                )
                .bind(tenant)
                .bind(property_id)
                .bind(revision)
                .fetch_optional(&self.pool)
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
        }
    };
}

pub(super) use impl_sql_store;
