//! API keys: stored as the hash of their secret, one tenant each.

use std::future::Future;

use chrono::{DateTime, Utc};

use super::backend::{Backend, SqlStore};
use super::error::StoreResult;
use super::query::query;

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

impl serde::Serialize for Scope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
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

/// What `create_key` stores: the hash of a freshly generated secret.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub secret_hash: String,
    pub scopes: Vec<Scope>,
}

/// Key use cases.
pub trait KeyStore: Send + Sync {
    fn count_keys(&self) -> impl Future<Output = StoreResult<i64>> + Send;
    /// Stores a key, creating its tenant on first use.
    fn create_key(&self, key: NewApiKey) -> impl Future<Output = StoreResult<ApiKey>> + Send;
    fn list_keys(&self) -> impl Future<Output = StoreResult<Vec<ApiKey>>> + Send;
    /// Marks a key revoked; false when no live key has that id.
    fn revoke_key(&self, id: &str) -> impl Future<Output = StoreResult<bool>> + Send;
    /// The live (not revoked) key whose secret hashes to `secret_hash`.
    fn find_key(&self, secret_hash: &str) -> impl Future<Output = StoreResult<Option<ApiKey>>> + Send;
}

#[derive(sqlx::FromRow)]
struct KeyRow {
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

fn scopes_column(scopes: &[Scope]) -> String {
    scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")
}

const KEY_COLUMNS: &str = "id, tenant_id, name, scopes, created_at, revoked_at";

impl<B: Backend> KeyStore for SqlStore<B> {
    async fn count_keys(&self) -> StoreResult<i64> {
        let mut conn = self.backend.acquire().await?;
        let (n,): (i64,) = query("SELECT COUNT(*) FROM api_keys").fetch_one(&mut conn).await?;
        Ok(n)
    }

    async fn create_key(&self, key: NewApiKey) -> StoreResult<ApiKey> {
        let now = Utc::now();
        let mut tx = self.backend.begin_write().await?;
        let result = async {
            query("INSERT INTO tenants (id, created_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING")
                .bind(&key.tenant_id)
                .bind(now)
                .execute(&mut tx)
                .await?;
            let row: KeyRow = query(format!(
                "INSERT INTO api_keys (id, tenant_id, name, secret_hash, scopes, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING {KEY_COLUMNS}"
            ))
            .bind(&key.id)
            .bind(&key.tenant_id)
            .bind(&key.name)
            .bind(&key.secret_hash)
            .bind(scopes_column(&key.scopes))
            .bind(now)
            .fetch_one(&mut tx)
            .await?;
            Ok(ApiKey::from(row))
        }
        .await;
        Self::settle(tx, result, |_| true).await
    }

    async fn list_keys(&self) -> StoreResult<Vec<ApiKey>> {
        let mut conn = self.backend.acquire().await?;
        let rows: Vec<KeyRow> =
            query(format!("SELECT {KEY_COLUMNS} FROM api_keys ORDER BY tenant_id, created_at, id"))
                .fetch_all(&mut conn)
                .await?;
        Ok(rows.into_iter().map(ApiKey::from).collect())
    }

    async fn revoke_key(&self, id: &str) -> StoreResult<bool> {
        let mut tx = self.backend.begin_write().await?;
        let result = query("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id)
            .bind(Utc::now())
            .execute(&mut tx)
            .await
            .map_err(Into::into);
        Ok(Self::settle(tx, result, |_| true).await? == 1)
    }

    async fn find_key(&self, secret_hash: &str) -> StoreResult<Option<ApiKey>> {
        let mut conn = self.backend.acquire().await?;
        let row: Option<KeyRow> = query(format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE secret_hash = $1 AND revoked_at IS NULL"
        ))
        .bind(secret_hash)
        .fetch_optional(&mut conn)
        .await?;
        Ok(row.map(ApiKey::from))
    }
}
