//! The property registry: a tenant's properties with their channel listings.

use std::future::Future;

use chrono::{DateTime, Utc};

use super::backend::{Backend, SqlStore};
use super::changes;
use super::crm::unlink_property;
use super::error::{StoreError, StoreResult};
use super::query::{query, Sql, SqlConn};
use super::write::{now, Written};
use crate::domain::change::{Change, ChangeType};
pub use crate::domain::property::{ChannelMapping, PropertyChanges};
use crate::validation::entity_tag::IfMatch;

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

impl Property {
    /// The opaque part of its strong entity tag: a digest of its representation, so any change a
    /// client can see (name, mappings, the set's revision, `updated_at`) gives another tag.
    pub fn entity_tag(&self) -> String {
        use sha2::{Digest, Sha256};
        let json = serde_json::to_vec(self).expect("a property serialises");
        hex::encode(&Sha256::digest(json)[..8])
    }
}

/// A write refused by its `If-Match`: nothing changed. `current` is the property's tag, `None`
/// when it does not exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stale {
    pub current: Option<String>,
}

/// Property use cases. `if_match` (the write's precondition) is checked under the property's row
/// lock, in the write's transaction.
pub trait PropertyStore: Send + Sync {
    fn put_property(
        &self,
        tenant: &str,
        id: &str,
        changes: PropertyChanges,
        if_match: Option<&IfMatch>,
        actor: &str,
    ) -> impl Future<Output = StoreResult<Result<(Property, Written), Stale>>> + Send;
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
    /// Removes a property with everything hanging off it; false when it did not exist (whatever
    /// `if_match` says).
    fn delete_property(
        &self,
        tenant: &str,
        id: &str,
        if_match: Option<&IfMatch>,
        actor: &str,
    ) -> impl Future<Output = StoreResult<Result<bool, Stale>>> + Send;
}

/// A property LEFT JOINed to one of its channel mappings (null channel: the property has none).
#[derive(sqlx::FromRow)]
struct PropertyRow {
    id: String,
    name: Option<String>,
    contact_set_revision: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    channel: Option<String>,
    channel_property_id: Option<String>,
}

/// Groups the rows (ordered by property id, then channel) into properties.
fn assemble_properties(rows: Vec<PropertyRow>) -> Vec<Property> {
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

/// Properties with their mappings in one statement (one consistent snapshot); `filter` selects
/// the properties, in a derived table so that LIMIT counts properties rather than mappings.
fn property_select(filter: &str) -> Sql<'static> {
    query(format!(
        "SELECT p.id, p.name, p.contact_set_revision, p.created_at, p.updated_at, m.channel, m.channel_property_id \
         FROM (SELECT id, name, contact_set_revision, created_at, updated_at FROM properties {filter}) p \
         LEFT JOIN property_channel_mappings m ON m.tenant_id = $1 AND m.property_id = p.id \
         ORDER BY p.id, m.channel"
    ))
}

async fn load_property(conn: &mut impl SqlConn, tenant: &str, id: &str) -> StoreResult<Option<Property>> {
    let rows: Vec<PropertyRow> =
        property_select("WHERE tenant_id = $1 AND id = $2").bind(tenant).bind(id).fetch_all(conn).await?;
    Ok(assemble_properties(rows).pop())
}

/// `Err(Stale)` when `if_match` is given and the property (read under its row lock) does not
/// satisfy it; a property that does not exist satisfies no `If-Match`, `*` included.
async fn check_if_match<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    id: &str,
    if_match: Option<&IfMatch>,
) -> StoreResult<Result<(), Stale>> {
    let Some(if_match) = if_match else { return Ok(Ok(())) };
    let lock = format!("WHERE tenant_id = $1 AND id = $2{}", C::LOCK_ROWS);
    let rows: Vec<PropertyRow> = property_select(&lock).bind(tenant).bind(id).fetch_all(conn).await?;
    let current = assemble_properties(rows).pop().map(|p| p.entity_tag());
    Ok(match &current {
        Some(tag) if if_match.matches(tag) => Ok(()),
        _ => Err(Stale { current }),
    })
}

async fn write_property(
    conn: &mut impl SqlConn,
    tenant: &str,
    id: &str,
    changes: PropertyChanges,
    actor: &str,
) -> StoreResult<(Property, Written)> {
    let now = now();
    // Insert-or-nothing first: racing creators cannot both "create".
    let inserted = query(
        "INSERT INTO properties (tenant_id, id, name, contact_set_revision, created_at, updated_at) \
         VALUES ($1, $2, $3, 0, $4, $4) ON CONFLICT (tenant_id, id) DO NOTHING",
    )
    .bind(tenant)
    .bind(id)
    .bind(changes.name.clone().flatten())
    .bind(now)
    .execute(&mut *conn)
    .await?
        == 1;
    if !inserted {
        let keep_name = changes.name.is_none();
        query(
            "UPDATE properties SET name = CASE WHEN $3 THEN name ELSE $4 END, updated_at = $5 \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant)
        .bind(id)
        .bind(keep_name)
        .bind(changes.name.flatten())
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    if let Some(mappings) = changes.channel_mappings {
        query("DELETE FROM property_channel_mappings WHERE tenant_id = $1 AND property_id = $2")
            .bind(tenant)
            .bind(id)
            .execute(&mut *conn)
            .await?;
        if !mappings.is_empty() {
            let mut insert = query(
                "INSERT INTO property_channel_mappings (tenant_id, property_id, channel, channel_property_id) ",
            );
            insert.push_values(mappings, |row, m| {
                row.push_bind(tenant).push_bind(id).push_bind(m.channel).push_bind(m.channel_property_id);
            });
            insert.execute(&mut *conn).await?;
        }
    }
    let property = load_property(conn, tenant, id)
        .await?
        .ok_or_else(|| StoreError::Other("property vanished".into()))?;
    let kind = if inserted { ChangeType::PropertyCreated } else { ChangeType::PropertyUpdated };
    changes::record(conn, tenant, actor, now, &Change::property(kind, id)).await?;
    Ok((property, if inserted { Written::Created } else { Written::Updated }))
}

/// `changedBy` of the revisions a property delete records on the contacts that linked it.
pub(super) const PROPERTY_DELETED_AUTHOR: &str = "property-deleted";

impl<B: Backend> PropertyStore for SqlStore<B> {
    async fn put_property(
        &self,
        tenant: &str,
        id: &str,
        changes: PropertyChanges,
        if_match: Option<&IfMatch>,
        actor: &str,
    ) -> StoreResult<Result<(Property, Written), Stale>> {
        let mut tx = self.backend.begin_write().await?;
        let result = async {
            if let Err(stale) = check_if_match(&mut tx, tenant, id, if_match).await? {
                return Ok(Err(stale));
            }
            write_property(&mut tx, tenant, id, changes, actor).await.map(Ok)
        }
        .await;
        Self::settle(tx, result, Result::is_ok).await
    }

    async fn get_property(&self, tenant: &str, id: &str) -> StoreResult<Option<Property>> {
        let mut conn = self.backend.acquire().await?;
        load_property(&mut conn, tenant, id).await
    }

    async fn list_properties(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Property>> {
        let mut conn = self.backend.acquire().await?;
        let rows: Vec<PropertyRow> = property_select("WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3")
            .bind(tenant)
            .bind(after.unwrap_or(""))
            .bind(i64::from(limit))
            .fetch_all(&mut conn)
            .await?;
        Ok(assemble_properties(rows))
    }

    async fn delete_property(
        &self,
        tenant: &str,
        id: &str,
        if_match: Option<&IfMatch>,
        actor: &str,
    ) -> StoreResult<Result<bool, Stale>> {
        let mut tx = self.backend.begin_write().await?;
        let result = async {
            match check_if_match(&mut tx, tenant, id, if_match).await? {
                Err(Stale { current: None }) => return Ok(Ok(false)),
                Err(stale) => return Ok(Err(stale)),
                Ok(()) => {}
            }
            // CRM contacts linking the property change with it: unlinked, version bumped and a
            // revision recorded, in this transaction (the cascade alone would not bump them).
            unlink_property(&mut tx, tenant, id, PROPERTY_DELETED_AUTHOR).await?;
            let deleted = query("DELETE FROM properties WHERE tenant_id = $1 AND id = $2")
                .bind(tenant)
                .bind(id)
                .execute(&mut tx)
                .await?;
            if deleted == 1 {
                changes::record(
                    &mut tx,
                    tenant,
                    actor,
                    now(),
                    &Change::property(ChangeType::PropertyDeleted, id),
                )
                .await?;
            }
            Ok(Ok(deleted == 1))
        }
        .await;
        Self::settle(tx, result, Result::is_ok).await
    }
}
