//! The SQL both backends share. Postgres and SQLite accept the same statements here (`$n` parameters,
//! `ON CONFLICT`, `RETURNING`); what differs is passed in: the statement that opens a write
//! transaction (SQLite must take its write lock up front with `BEGIN IMMEDIATE`, or two writers
//! deadlock on the upgrade) and the row-lock suffix (`FOR UPDATE`, which SQLite does not have and does
//! not need once the write lock is held).
//!
//! The shared code is a macro rather than a function generic over `sqlx::Database` because the
//! generic version needs a where-clause per bound and decoded type on every function; the macro
//! expands to plain concrete code for each backend, which keeps static dispatch and readable errors.

use chrono::{DateTime, Utc};

use super::{ApiKey, ChannelMapping, Property, Scope};

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
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

#[derive(sqlx::FromRow)]
pub(super) struct PropertyRow {
    pub(super) id: String,
    name: Option<String>,
    contact_set_revision: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
pub(super) struct MappingRow {
    property_id: String,
    channel: String,
    channel_property_id: String,
}

/// Joins properties (ordered by id) with their mappings (ordered by property id, channel).
pub(super) fn assemble_properties(
    rows: Vec<PropertyRow>,
    mappings: Vec<MappingRow>,
) -> Vec<Property> {
    let mut mappings = mappings.into_iter().peekable();
    rows.into_iter()
        .map(|r| {
            let mut channel_mappings = Vec::new();
            while let Some(m) = mappings.next_if(|m| m.property_id == r.id) {
                channel_mappings.push(ChannelMapping {
                    channel: m.channel,
                    channel_property_id: m.channel_property_id,
                });
            }
            Property {
                property_id: r.id,
                name: r.name,
                channel_mappings,
                contact_set_revision: r.contact_set_revision,
                created_at: r.created_at,
                updated_at: r.updated_at,
            }
        })
        .collect()
}

pub(super) const PROPERTY_COLUMNS: &str = "id, name, contact_set_revision, created_at, updated_at";

/// Implements [`super::Store`] for `$store` (a struct with a `pool: sqlx::Pool<$db>` field and an
/// inherent `run_migrations`).
macro_rules! impl_sql_store {
    ($store:ty, $db:ty, begin_write = $begin:literal, lock_row = $lock:literal) => {
        use $crate::store::sql::{
            assemble_properties, scopes_column, KeyRow, MappingRow, PropertyRow, PROPERTY_COLUMNS,
        };
        use $crate::store::{
            ApiKey, NewApiKey, Property, PropertyChanges, Store, StoreResult, Written,
        };

        type Conn = <$db as sqlx::Database>::Connection;

        impl $store {
            async fn begin_write(&self) -> StoreResult<sqlx::Transaction<'static, $db>> {
                Ok(self.pool.begin_with($begin).await?)
            }
        }

        async fn load_property(conn: &mut Conn, tenant: &str, id: &str) -> StoreResult<Option<Property>> {
            let row: Option<PropertyRow> = sqlx::query_as(&format!(
                "SELECT {PROPERTY_COLUMNS} FROM properties WHERE tenant_id = $1 AND id = $2"
            ))
            .bind(tenant)
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
            let Some(row) = row else { return Ok(None) };
            let mappings: Vec<MappingRow> = sqlx::query_as(
                "SELECT property_id, channel, channel_property_id FROM property_channel_mappings \
                 WHERE tenant_id = $1 AND property_id = $2 ORDER BY channel",
            )
            .bind(tenant)
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
            Ok(assemble_properties(vec![row], mappings).pop())
        }

        impl Store for $store {
            async fn migrate(&self) -> StoreResult<()> {
                self.run_migrations().await
            }

            async fn ping(&self) -> StoreResult<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn close(&self) {
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
                let after = after.unwrap_or("");
                let mut conn = self.pool.acquire().await?;
                let rows: Vec<PropertyRow> = sqlx::query_as(&format!(
                    "SELECT {PROPERTY_COLUMNS} FROM properties WHERE tenant_id = $1 AND id > $2 \
                     ORDER BY id LIMIT $3"
                ))
                .bind(tenant)
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await?;
                let Some(last) = rows.last().map(|r| r.id.clone()) else {
                    return Ok(Vec::new());
                };
                // The page is a contiguous id range, so one range query fetches all its mappings.
                let mappings: Vec<MappingRow> = sqlx::query_as(
                    "SELECT property_id, channel, channel_property_id FROM property_channel_mappings \
                     WHERE tenant_id = $1 AND property_id > $2 AND property_id <= $3 \
                     ORDER BY property_id, channel",
                )
                .bind(tenant)
                .bind(after)
                .bind(last)
                .fetch_all(&mut *conn)
                .await?;
                Ok(assemble_properties(rows, mappings))
            }

            async fn delete_property(&self, tenant: &str, id: &str) -> StoreResult<bool> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query("DELETE FROM properties WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

pub(super) use impl_sql_store;
