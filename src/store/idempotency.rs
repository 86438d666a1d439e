//! Idempotency keys: the first answer to a POST, kept per tenant and key, so that a repeat of the
//! same request gets that answer again instead of doing the work twice (the HTTP side is
//! [`crate::idempotency`]).
//!
//! A key's life: [`IdempotencyStore::claim_idempotency_key`] makes the request the key's owner
//! (`running`); the request is served; its answer is stored with
//! [`IdempotencyStore::complete_idempotency_key`] (`done`) or, when it is not worth keeping, the
//! claim is dropped with [`IdempotencyStore::release_idempotency_key`]. Rows past the retention
//! count as absent at once and are deleted later by
//! [`IdempotencyStore::prune_idempotency_keys`].
//!
//! Every claim carries a random token, and completing or releasing needs it: a request whose claim
//! was taken over (see [`KeyClaim::lease`]) can no longer touch the key.
//!
//! Statement counts: a claim whose key is already answered (a replay) or still running is one read
//! on a pooled connection. Otherwise it is one write transaction: an upsert that inserts the claim,
//! or replaces an expired or abandoned row, and, only when it did neither, a read of the row it
//! locked. Complete, release and each prune batch are one statement in a transaction of its own.

use std::future::Future;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use sqlx::types::Json;

use super::backend::{Backend, SqlStore};
use super::error::{StoreError, StoreResult};
use super::query::query;

/// A request asking for a key.
#[derive(Debug, Clone)]
pub struct KeyClaim<'a> {
    pub tenant: &'a str,
    pub key: &'a str,
    /// SHA-256 of the request (method, path and query, body): the same key with another
    /// fingerprint is another request.
    pub fingerprint: &'a [u8],
    /// The claim's clock, passed in so that tests can age rows without waiting.
    pub now: DateTime<Utc>,
    /// How long an answer is kept; an older row counts as absent and is replaced.
    pub retention: TimeDelta,
    /// How long a claim may stay `running` before it counts as abandoned (its process died) and
    /// a repeat of the same request may take it over. It must outlast the longest a request can
    /// run, or two copies of one request could both do the work.
    pub lease: TimeDelta,
}

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is this request's now: serve it, then complete or release the claim.
    Claimed(ClaimToken),
    /// The same request was answered before: its answer.
    Answered(KeptAnswer),
    /// The same request is being served right now.
    InProgress,
    /// The key was used for another request.
    OtherRequest,
}

/// Names one claim of a key; needed to complete or release it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimToken(String);

/// A kept answer: what a replay sends back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptAnswer {
    pub status: u16,
    /// The headers worth sending again, in order, repeated names kept.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Idempotency-key use cases; each method is one transaction.
pub trait IdempotencyStore: Send + Sync {
    /// Claims `claim.key` for the request, or says why not. Race-free: of any number of claims of
    /// one absent key at once, exactly one gets [`Claim::Claimed`].
    fn claim_idempotency_key(&self, claim: &KeyClaim<'_>) -> impl Future<Output = StoreResult<Claim>> + Send;

    /// Stores the answer of a claim; false when the claim is no longer this token's.
    fn complete_idempotency_key(
        &self,
        tenant: &str,
        key: &str,
        token: &ClaimToken,
        answer: &KeptAnswer,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Gives a claim up, so that a repeat can do the work; false when it is no longer this token's.
    fn release_idempotency_key(
        &self,
        tenant: &str,
        key: &str,
        token: &ClaimToken,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Deletes at most `limit` rows created before `created_before`, oldest first; how many it
    /// deleted. Idempotent, so processes sharing a database may all run it.
    fn prune_idempotency_keys(
        &self,
        created_before: DateTime<Utc>,
        limit: u32,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
}

const RUNNING: &str = "running";
const DONE: &str = "done";

const SELECT_KEY: &str = "SELECT fingerprint, state, created_at, status, headers, body \
     FROM idempotency_keys WHERE tenant_id = $1 AND idempotency_key = $2";

/// Inserts the claim, or takes over a row that counts as absent: expired ($6), or running past
/// its lease ($7) for the same request. The WHERE is the same rule as [`judge`]'s, applied under
/// the row's lock, so two takeovers of one row cannot both succeed. When it changes nothing, the
/// conflicting row stays locked for the transaction (Postgres locks it even when the WHERE is
/// false; SQLite's write transaction holds the database), so the read that follows sees it as it
/// is.
const UPSERT_CLAIM: &str = "INSERT INTO idempotency_keys \
     (tenant_id, idempotency_key, fingerprint, state, token, created_at) \
     VALUES ($1, $2, $3, 'running', $4, $5) \
     ON CONFLICT (tenant_id, idempotency_key) DO UPDATE SET \
     fingerprint = excluded.fingerprint, state = excluded.state, token = excluded.token, \
     created_at = excluded.created_at, status = NULL, headers = NULL, body = NULL \
     WHERE idempotency_keys.created_at < $6 \
     OR (idempotency_keys.state = 'running' AND idempotency_keys.created_at < $7 \
     AND idempotency_keys.fingerprint = excluded.fingerprint) \
     RETURNING token";

const COMPLETE: &str = "UPDATE idempotency_keys SET state = 'done', status = $4, headers = $5, body = $6 \
     WHERE tenant_id = $1 AND idempotency_key = $2 AND token = $3 AND state = 'running'";

const RELEASE: &str = "DELETE FROM idempotency_keys \
     WHERE tenant_id = $1 AND idempotency_key = $2 AND token = $3 AND state = 'running'";

/// A bounded batch, oldest first (the `created_at` index). The outer `created_at` test is checked
/// again on the row it deletes, so a row replaced by a fresh claim since the inner select is kept.
const PRUNE: &str = "DELETE FROM idempotency_keys WHERE created_at < $1 \
     AND (tenant_id, idempotency_key) IN (SELECT tenant_id, idempotency_key FROM idempotency_keys \
     WHERE created_at < $1 ORDER BY created_at LIMIT $2)";

#[derive(sqlx::FromRow)]
struct KeyRow {
    fingerprint: Vec<u8>,
    state: String,
    created_at: DateTime<Utc>,
    status: Option<i32>,
    headers: Option<Json<Vec<(String, String)>>>,
    body: Option<Vec<u8>>,
}

/// The bounds of one claim, cut to microseconds (what both backends store), so the comparisons in
/// SQL and in [`judge`] agree to the last digit.
struct Bounds {
    now: DateTime<Utc>,
    expired_before: DateTime<Utc>,
    abandoned_before: DateTime<Utc>,
}

impl Bounds {
    fn of(claim: &KeyClaim<'_>) -> Bounds {
        let now = claim.now.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(claim.now);
        Bounds { now, expired_before: now - claim.retention, abandoned_before: now - claim.lease }
    }
}

/// What a stored row means for a claim; `None` when it counts as absent (expired, or abandoned
/// by a request with the same fingerprint), so the claim may replace it.
fn judge(row: KeyRow, fingerprint: &[u8], bounds: &Bounds) -> StoreResult<Option<Claim>> {
    if row.created_at < bounds.expired_before {
        return Ok(None);
    }
    if row.fingerprint != fingerprint {
        return Ok(Some(Claim::OtherRequest));
    }
    match row.state.as_str() {
        RUNNING if row.created_at < bounds.abandoned_before => Ok(None),
        RUNNING => Ok(Some(Claim::InProgress)),
        DONE => {
            let (Some(status), Some(Json(headers)), Some(body)) = (row.status, row.headers, row.body) else {
                return Err(StoreError::Other("a done idempotency key lacks its answer".into()));
            };
            let status = u16::try_from(status)
                .map_err(|_| StoreError::Other(format!("stored status {status} is not an HTTP status")))?;
            Ok(Some(Claim::Answered(KeptAnswer { status, headers, body })))
        }
        other => Err(StoreError::Other(format!("idempotency key in unknown state `{other}`"))),
    }
}

impl<B: Backend> IdempotencyStore for SqlStore<B> {
    #[tracing::instrument(skip_all)]
    async fn claim_idempotency_key(&self, claim: &KeyClaim<'_>) -> StoreResult<Claim> {
        let bounds = Bounds::of(claim);
        // A replay, or a repeat while the first is running, is answered from a plain read: it
        // needs no write (and on SQLite, no turn of the one writer). A row read here can only
        // change by expiring, being taken over after its lease, or being completed or released,
        // and each of those leaves this read's answer a safe one (at worst a 409 that a retry
        // resolves).
        let mut conn = self.backend.acquire().await?;
        let row: Option<KeyRow> =
            query(SELECT_KEY).bind(claim.tenant).bind(claim.key).fetch_optional(&mut conn).await?;
        drop(conn);
        if let Some(row) = row {
            if let Some(found) = judge(row, claim.fingerprint, &bounds)? {
                return Ok(found);
            }
        }
        let token = ClaimToken(uuid::Uuid::new_v4().simple().to_string());
        let mut tx = self.backend.begin_write().await?;
        let result = async {
            let claimed: Option<(String,)> = query(UPSERT_CLAIM)
                .bind(claim.tenant)
                .bind(claim.key)
                .bind(claim.fingerprint)
                .bind(token.0.as_str())
                .bind(bounds.now)
                .bind(bounds.expired_before)
                .bind(bounds.abandoned_before)
                .fetch_optional(&mut tx)
                .await?;
            if claimed.is_some() {
                return Ok(Claim::Claimed(token.clone()));
            }
            let row: KeyRow = query(SELECT_KEY).bind(claim.tenant).bind(claim.key).fetch_one(&mut tx).await?;
            // The upsert's WHERE and `judge` are one rule, so `None` cannot happen under the lock;
            // should it, a 409 (retry) is the answer that can do no harm.
            Ok(judge(row, claim.fingerprint, &bounds)?.unwrap_or(Claim::InProgress))
        }
        .await;
        Self::settle(tx, result, |_| true).await
    }

    #[tracing::instrument(skip_all)]
    async fn complete_idempotency_key(
        &self,
        tenant: &str,
        key: &str,
        token: &ClaimToken,
        answer: &KeptAnswer,
    ) -> StoreResult<bool> {
        let mut tx = self.backend.begin_write().await?;
        let result = query(COMPLETE)
            .bind(tenant)
            .bind(key)
            .bind(token.0.as_str())
            .bind(i32::from(answer.status))
            .bind(Json(&answer.headers))
            .bind(answer.body.as_slice())
            .execute(&mut tx)
            .await
            .map_err(Into::into);
        Ok(Self::settle(tx, result, |_| true).await? == 1)
    }

    #[tracing::instrument(skip_all)]
    async fn release_idempotency_key(
        &self,
        tenant: &str,
        key: &str,
        token: &ClaimToken,
    ) -> StoreResult<bool> {
        let mut tx = self.backend.begin_write().await?;
        let result = query(RELEASE)
            .bind(tenant)
            .bind(key)
            .bind(token.0.as_str())
            .execute(&mut tx)
            .await
            .map_err(Into::into);
        Ok(Self::settle(tx, result, |_| true).await? == 1)
    }

    #[tracing::instrument(skip_all)]
    async fn prune_idempotency_keys(&self, created_before: DateTime<Utc>, limit: u32) -> StoreResult<u64> {
        let mut tx = self.backend.begin_write().await?;
        let result = query(PRUNE)
            .bind(created_before)
            .bind(i64::from(limit))
            .execute(&mut tx)
            .await
            .map_err(Into::into);
        Self::settle(tx, result, |_| true).await
    }
}
