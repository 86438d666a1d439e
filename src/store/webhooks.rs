//! Webhook subscriptions and their delivery attempts.
//!
//! Two sides use this aggregate. The management routes create, list and delete subscriptions and
//! read their attempts. The delivery workers (`crate::webhooks::worker`) share the sending: a
//! worker takes a due subscription's lease ([`WebhookStore::claim_due_webhook`]), reads the events
//! after its cursor, sends them one by one, and records each attempt in the same transaction that
//! moves the cursor or schedules the retry. No transaction is open while a request is in flight:
//! the lease is what keeps the subscription this worker's meanwhile.

use std::future::Future;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use sqlx::types::Json;

use super::audit;
use super::backend::{Backend, SqlStore};
use super::changes::{self, events_after};
use super::error::{StoreError, StoreResult, WEBHOOK_LIMIT_REACHED};
use super::query::{query, Driver, SqlConn};
use crate::domain::audit::AuditAction;
use crate::domain::change::{ChangeType, Cursor, Event};

/// Most subscriptions a tenant may hold: each costs the delivery loop work on every event, and the
/// list route answers them all in one page.
pub const MAX_WEBHOOKS: i64 = 100;

/// A subscription as the management routes show it (the secret is only shown at creation).
#[derive(Debug, Clone)]
pub struct Webhook {
    pub id: String,
    pub tenant_id: String,
    pub url: String,
    pub types: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// A subscription to create.
#[derive(Debug, Clone)]
pub struct NewWebhook<'a> {
    pub id: &'a str,
    pub tenant_id: &'a str,
    pub url: &'a str,
    pub types: &'a [ChangeType],
    pub secret: &'a str,
    pub now: DateTime<Utc>,
}

/// What became of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver answered 2xx.
    Delivered,
    /// A retry asked for through the API failed; it is not retried automatically.
    Failed,
    /// Failed; the worker tries the event again later.
    Retrying,
    /// Failed, and the event has been failing for longer than the retry window: the worker gave up
    /// on it and moved on.
    Abandoned,
    /// Events were pruned from the change feed before the subscription reached them: the worker
    /// moved past them (the entry's event is the newest pruned one, of type [`PRUNED_EVENT_TYPE`]).
    Skipped,
}

/// The `event_type` of a [`Outcome::Skipped`] entry.
pub const PRUNED_EVENT_TYPE: &str = "feed.pruned";

/// The events a subscription has to deliver next.
#[derive(Debug)]
pub struct WebhookBatch {
    /// The tenant's prune horizon when it lies past the subscription's cursor: events between them
    /// were pruned before they were delivered.
    pub pruned_up_to: Option<Cursor>,
    pub events: Vec<Event>,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Failed => "failed",
            Outcome::Retrying => "retrying",
            Outcome::Abandoned => "abandoned",
            Outcome::Skipped => "skipped",
        }
    }
}

/// One attempt as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryAttempt {
    pub id: i64,
    pub webhook_id: String,
    pub event_id: String,
    pub event_type: String,
    pub attempted_at: DateTime<Utc>,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub latency_ms: i64,
    pub outcome: String,
}

/// What an attempt found, to record.
#[derive(Debug, Clone)]
pub struct AttemptResult {
    pub attempted_at: DateTime<Utc>,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub latency_ms: i64,
}

/// A subscription a worker holds the lease of, with what it needs to deliver.
#[derive(Debug, Clone)]
pub struct ClaimedWebhook {
    pub id: String,
    pub tenant_id: String,
    pub url: String,
    pub types: Vec<ChangeType>,
    pub secret: String,
    pub cursor: Cursor,
    /// Failed attempts of the head event so far.
    pub attempts: u32,
    /// When the head event first failed, if it has.
    pub first_failed_at: Option<DateTime<Utc>>,
}

/// After a failed attempt: try the head event again at a time, or give up on it.
#[derive(Debug, Clone, Copy)]
pub enum AfterFailure {
    RetryAt(DateTime<Utc>),
    Abandon,
}

/// Webhook use cases; each method is one transaction (or one read).
pub trait WebhookStore: Send + Sync {
    /// Stores a subscription whose feed position is the tenant's newest finished event, so it
    /// receives what happens from now on.
    fn create_webhook(&self, new: &NewWebhook<'_>) -> impl Future<Output = StoreResult<Webhook>> + Send;
    /// The tenant's subscriptions, oldest first.
    fn list_webhooks(&self, tenant: &str) -> impl Future<Output = StoreResult<Vec<Webhook>>> + Send;
    /// Deletes a subscription and its attempts; false when the tenant has no such subscription.
    fn delete_webhook(&self, tenant: &str, id: &str) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Up to `limit` attempts of a subscription, newest first, older than attempt `before` when
    /// given; `None` when the tenant has no such subscription.
    fn list_deliveries(
        &self,
        tenant: &str,
        webhook_id: &str,
        before: Option<i64>,
        limit: u32,
    ) -> impl Future<Output = StoreResult<Option<Vec<DeliveryAttempt>>>> + Send;
    /// A subscription's attempt with its subscription (secret included, for a re-send) and its
    /// event (`None` once pruned from the feed); `None` when the tenant has no such attempt.
    fn find_delivery(
        &self,
        tenant: &str,
        webhook_id: &str,
        delivery_id: i64,
    ) -> impl Future<Output = StoreResult<Option<(ClaimedWebhook, DeliveryAttempt, Option<Event>)>>> + Send;
    /// Records an attempt made outside the worker's order (the retry route): it moves no cursor.
    /// `None` when the subscription was deleted meanwhile.
    fn record_extra_attempt(
        &self,
        webhook_id: &str,
        tenant: &str,
        event: &Event,
        result: &AttemptResult,
        outcome: Outcome,
    ) -> impl Future<Output = StoreResult<Option<DeliveryAttempt>>> + Send;

    /// Takes the lease of one due subscription whose lease is free or expired, until
    /// `leased_until`, for `worker`. Of several workers claiming at once, each gets another one.
    fn claim_due_webhook(
        &self,
        now: DateTime<Utc>,
        leased_until: DateTime<Utc>,
        worker: &str,
    ) -> impl Future<Output = StoreResult<Option<ClaimedWebhook>>> + Send;
    /// Up to `limit` finished events after `after` of the given types (all when empty), and the
    /// tenant's prune horizon if events after `after` were pruned.
    fn webhook_events(
        &self,
        tenant: &str,
        after: Cursor,
        limit: u32,
        types: &[ChangeType],
    ) -> impl Future<Output = StoreResult<WebhookBatch>> + Send;
    /// Records that the events up to `horizon` were pruned before delivery (a [`Outcome::Skipped`]
    /// entry) and, if the lease is still `worker`'s, moves the cursor there; whether it was.
    fn record_pruned(
        &self,
        webhook: &ClaimedWebhook,
        worker: &str,
        horizon: Cursor,
        at: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Records a run of successful attempts (in feed order) and, if the lease is still `worker`'s,
    /// moves the cursor past the last one, clears the retry state and extends the lease to
    /// `leased_until`; whether the lease was still ours (when not, the worker stops: another one
    /// holds the subscription). One transaction for the run, so a busy subscription costs the
    /// one SQLite writer a transaction per run, not per event.
    fn record_delivered(
        &self,
        webhook: &ClaimedWebhook,
        worker: &str,
        delivered: &[(&Event, AttemptResult)],
        leased_until: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Records a failed attempt and, if the lease is still `worker`'s, schedules the retry (or
    /// moves past the event, when abandoned) and gives the lease up.
    fn record_failed(
        &self,
        webhook: &ClaimedWebhook,
        worker: &str,
        event: &Event,
        result: &AttemptResult,
        after: AfterFailure,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Gives the lease up, the subscription due again at `next_attempt_at`.
    fn release_webhook(
        &self,
        id: &str,
        worker: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Deletes up to `batch` delivery attempts made before `before`, oldest first; the number
    /// deleted. Idempotent, so several processes may run it at once.
    fn prune_deliveries(
        &self,
        before: DateTime<Utc>,
        batch: u32,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
}

/// Both backends keep microseconds; cutting every bound time there keeps comparisons exact.
fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(t)
}

#[derive(sqlx::FromRow)]
struct WebhookRow {
    id: String,
    tenant_id: String,
    url: String,
    types: Json<Vec<String>>,
    created_at: DateTime<Utc>,
}

impl From<WebhookRow> for Webhook {
    fn from(r: WebhookRow) -> Self {
        Webhook { id: r.id, tenant_id: r.tenant_id, url: r.url, types: r.types.0, created_at: r.created_at }
    }
}

#[derive(sqlx::FromRow)]
struct ClaimRow {
    id: String,
    tenant_id: String,
    url: String,
    types: Json<Vec<String>>,
    secret: String,
    cursor_tx: i64,
    cursor_id: i64,
    attempts: i32,
    first_failed_at: Option<DateTime<Utc>>,
}

impl From<ClaimRow> for ClaimedWebhook {
    fn from(r: ClaimRow) -> Self {
        ClaimedWebhook {
            id: r.id,
            tenant_id: r.tenant_id,
            url: r.url,
            // Names were checked when stored; one unknown (from a newer version) filters nothing
            // rather than everything.
            types: r.types.0.iter().filter_map(|t| t.parse().ok()).collect(),
            secret: r.secret,
            cursor: Cursor { tx: r.cursor_tx, id: r.cursor_id },
            attempts: u32::try_from(r.attempts).unwrap_or(0),
            first_failed_at: r.first_failed_at,
        }
    }
}

const WEBHOOK_COLUMNS: &str = "id, tenant_id, url, types, created_at";
const CLAIM_COLUMNS: &str =
    "id, tenant_id, url, types, secret, cursor_tx, cursor_id, attempts, first_failed_at";
const ATTEMPT_COLUMNS: &str =
    "id, webhook_id, event_id, event_type, attempted_at, status_code, error, latency_ms, outcome";

/// The columns an attempt is inserted with (a run of them, in `record_delivered`).
const ATTEMPT_INSERT_COLUMNS: &str =
    "webhook_id, tenant_id, event_id, event_type, attempted_at, status_code, error, latency_ms, outcome";

/// Inserts an attempt of a subscription that still exists (a deleted one records nothing).
const INSERT_ATTEMPT: &str = "INSERT INTO webhook_deliveries \
     (webhook_id, tenant_id, event_id, event_type, attempted_at, status_code, error, latency_ms, outcome) \
     SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 WHERE EXISTS (SELECT 1 FROM webhooks WHERE id = $1) \
     RETURNING id, webhook_id, event_id, event_type, attempted_at, status_code, error, latency_ms, outcome";

async fn insert_attempt<C: SqlConn>(
    conn: &mut C,
    webhook_id: &str,
    tenant: &str,
    event: &Event,
    result: &AttemptResult,
    outcome: Outcome,
) -> StoreResult<Option<DeliveryAttempt>> {
    Ok(query(INSERT_ATTEMPT)
        .bind(webhook_id)
        .bind(tenant)
        .bind(event.id.to_string())
        .bind(event.kind.as_str())
        .bind(micros(result.attempted_at))
        .bind(result.status_code.map(i32::from))
        .bind(result.error.as_deref())
        .bind(result.latency_ms)
        .bind(outcome.as_str())
        .fetch_optional(conn)
        .await?)
}

impl<B: Backend> WebhookStore for SqlStore<B> {
    #[tracing::instrument(skip_all)]
    async fn create_webhook(&self, new: &NewWebhook<'_>) -> StoreResult<Webhook> {
        let mut tx = self.backend.begin_write().await?;
        let result = async {
            // Concurrent creates of one tenant queue on its row (Postgres; SQLite has one writer),
            // so the count below is exact.
            let _: Option<(String,)> =
                query(format!("SELECT id FROM tenants WHERE id = $1{}", <B::Db as Driver>::LOCK_ROWS))
                    .bind(new.tenant_id)
                    .fetch_optional(&mut tx)
                    .await?;
            let (held,): (i64,) = query("SELECT COUNT(*) FROM webhooks WHERE tenant_id = $1")
                .bind(new.tenant_id)
                .fetch_one(&mut tx)
                .await?;
            if held >= MAX_WEBHOOKS {
                return Err(StoreError::Conflict(WEBHOOK_LIMIT_REACHED));
            }
            // The newest finished event: every event that becomes visible later sorts after it
            // (see the events migration), so the subscription misses nothing from now on.
            let newest: Option<(i64, i64)> = query(format!(
                "SELECT tx, id FROM events WHERE tenant_id = $1 AND {} ORDER BY tx DESC, id DESC LIMIT 1",
                <B::Db as Driver>::SETTLED_EVENTS
            ))
            .bind(new.tenant_id)
            .fetch_optional(&mut tx)
            .await?;
            let at = newest.map(|(tx, id)| Cursor { tx, id }).unwrap_or(Cursor::START);
            let types: Vec<&str> = new.types.iter().map(|t| t.as_str()).collect();
            let now = micros(new.now);
            let row: WebhookRow = query(format!(
                "INSERT INTO webhooks (id, tenant_id, url, types, secret, created_at, cursor_tx, cursor_id, \
                 next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $6) RETURNING {WEBHOOK_COLUMNS}"
            ))
            .bind(new.id)
            .bind(new.tenant_id)
            .bind(new.url)
            .bind(Json(&types))
            .bind(new.secret)
            .bind(now)
            .bind(at.tx)
            .bind(at.id)
            .fetch_one(&mut tx)
            .await?;
            let action = AuditAction::new("webhook.created", "webhook", new.id);
            audit::record(&mut tx, new.tenant_id, "", now, &action).await?;
            Ok(Webhook::from(row))
        }
        .await;
        Self::settle(tx, result, |_| true).await
    }

    #[tracing::instrument(skip_all)]
    async fn list_webhooks(&self, tenant: &str) -> StoreResult<Vec<Webhook>> {
        let mut conn = self.backend.acquire().await?;
        let rows: Vec<WebhookRow> = query(format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE tenant_id = $1 ORDER BY created_at, id"
        ))
        .bind(tenant)
        .fetch_all(&mut conn)
        .await?;
        Ok(rows.into_iter().map(Webhook::from).collect())
    }

    #[tracing::instrument(skip_all)]
    async fn delete_webhook(&self, tenant: &str, id: &str) -> StoreResult<bool> {
        let mut tx = self.backend.begin_write().await?;
        let result = async {
            let deleted = query("DELETE FROM webhooks WHERE tenant_id = $1 AND id = $2")
                .bind(tenant)
                .bind(id)
                .execute(&mut tx)
                .await?;
            if deleted == 1 {
                let action = AuditAction::new("webhook.deleted", "webhook", id);
                audit::record(&mut tx, tenant, "", crate::store::write::now(), &action).await?;
            }
            Ok::<_, StoreError>(deleted)
        }
        .await;
        Ok(Self::settle(tx, result, |n| *n == 1).await? == 1)
    }

    #[tracing::instrument(skip_all)]
    async fn list_deliveries(
        &self,
        tenant: &str,
        webhook_id: &str,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Option<Vec<DeliveryAttempt>>> {
        let mut tx = self.backend.begin_read().await?;
        let result = async {
            let found: Option<(String,)> = query("SELECT id FROM webhooks WHERE tenant_id = $1 AND id = $2")
                .bind(tenant)
                .bind(webhook_id)
                .fetch_optional(&mut tx)
                .await?;
            if found.is_none() {
                return Ok(None);
            }
            let rows: Vec<DeliveryAttempt> = query(format!(
                "SELECT {ATTEMPT_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 AND id < $2 \
                 ORDER BY id DESC LIMIT $3"
            ))
            .bind(webhook_id)
            .bind(before.unwrap_or(i64::MAX))
            .bind(i64::from(limit))
            .fetch_all(&mut tx)
            .await?;
            Ok(Some(rows))
        }
        .await;
        Self::settle(tx, result, |_| true).await
    }

    #[tracing::instrument(skip_all)]
    async fn find_delivery(
        &self,
        tenant: &str,
        webhook_id: &str,
        delivery_id: i64,
    ) -> StoreResult<Option<(ClaimedWebhook, DeliveryAttempt, Option<Event>)>> {
        let mut tx = self.backend.begin_read().await?;
        let result = async {
            let webhook: Option<ClaimRow> =
                query(format!("SELECT {CLAIM_COLUMNS} FROM webhooks WHERE tenant_id = $1 AND id = $2"))
                    .bind(tenant)
                    .bind(webhook_id)
                    .fetch_optional(&mut tx)
                    .await?;
            let Some(webhook) = webhook else { return Ok(None) };
            let attempt: Option<DeliveryAttempt> = query(format!(
                "SELECT {ATTEMPT_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 AND id = $2"
            ))
            .bind(webhook_id)
            .bind(delivery_id)
            .fetch_optional(&mut tx)
            .await?;
            let Some(attempt) = attempt else { return Ok(None) };
            let event = match attempt.event_id.parse::<Cursor>() {
                Ok(at) => {
                    // The one event at `at`: the first after the position just before it.
                    let before = Cursor { tx: at.tx, id: at.id - 1 };
                    events_after(&mut tx, tenant, Some(before), 1, &[])
                        .await?
                        .into_iter()
                        .find(|e| e.id == at)
                }
                Err(()) => None,
            };
            Ok(Some((ClaimedWebhook::from(webhook), attempt, event)))
        }
        .await;
        Self::settle(tx, result, |_| true).await
    }

    #[tracing::instrument(skip_all)]
    async fn record_extra_attempt(
        &self,
        webhook_id: &str,
        tenant: &str,
        event: &Event,
        result: &AttemptResult,
        outcome: Outcome,
    ) -> StoreResult<Option<DeliveryAttempt>> {
        let mut tx = self.backend.begin_write().await?;
        let recorded = insert_attempt(&mut tx, webhook_id, tenant, event, result, outcome).await;
        Self::settle(tx, recorded, |_| true).await
    }

    #[tracing::instrument(skip_all)]
    async fn claim_due_webhook(
        &self,
        now: DateTime<Utc>,
        leased_until: DateTime<Utc>,
        worker: &str,
    ) -> StoreResult<Option<ClaimedWebhook>> {
        let mut tx = self.backend.begin_write().await?;
        // One statement: the inner SELECT skips rows another worker is claiming right now
        // (Postgres), and the outer UPDATE takes the lease of the one it found.
        let claimed: StoreResult<Option<ClaimRow>> = query(format!(
            "UPDATE webhooks SET leased_until = $1, leased_by = $2 WHERE id = (SELECT id FROM webhooks \
             WHERE (leased_until IS NULL OR leased_until < $3) AND next_attempt_at <= $3 \
             ORDER BY next_attempt_at LIMIT 1{}) RETURNING {CLAIM_COLUMNS}",
            <B::Db as Driver>::CLAIM_ROWS
        ))
        .bind(micros(leased_until))
        .bind(worker)
        .bind(micros(now))
        .fetch_optional(&mut tx)
        .await
        .map_err(StoreError::from);
        Ok(Self::settle(tx, claimed, |_| true).await?.map(ClaimedWebhook::from))
    }

    #[tracing::instrument(skip_all)]
    async fn webhook_events(
        &self,
        tenant: &str,
        after: Cursor,
        limit: u32,
        types: &[ChangeType],
    ) -> StoreResult<WebhookBatch> {
        let mut tx = self.backend.begin_read().await?;
        let result = async {
            let pruned_up_to = changes::pruned_after(Some(after), changes::horizon(&mut tx, tenant).await?);
            let events = events_after(&mut tx, tenant, Some(after), limit, types).await?;
            Ok(WebhookBatch { pruned_up_to, events })
        }
        .await;
        Self::settle(tx, result, |_| true).await
    }

    #[tracing::instrument(skip_all)]
    async fn record_pruned(
        &self,
        webhook: &ClaimedWebhook,
        worker: &str,
        horizon: Cursor,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut tx = self.backend.begin_write().await?;
        let recorded = async {
            // The lease holder alone moves the cursor, and records the skip once.
            let moved = query(
                "UPDATE webhooks SET cursor_tx = $1, cursor_id = $2, attempts = 0, first_failed_at = NULL \
                 WHERE id = $3 AND leased_by = $4 AND (cursor_tx, cursor_id) < ($1, $2)",
            )
            .bind(horizon.tx)
            .bind(horizon.id)
            .bind(webhook.id.as_str())
            .bind(worker)
            .execute(&mut tx)
            .await?;
            if moved == 1 {
                query(format!(
                    "INSERT INTO webhook_deliveries ({ATTEMPT_INSERT_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, NULL, $6, 0, $7)"
                ))
                .bind(webhook.id.as_str())
                .bind(webhook.tenant_id.as_str())
                .bind(horizon.to_string())
                .bind(PRUNED_EVENT_TYPE)
                .bind(micros(at))
                .bind(format!(
                    "events up to {horizon} were pruned from the change feed (CHANGES_RETENTION_DAYS) \
                     before they could be delivered; resync the receiver's copy from the API"
                ))
                .bind(Outcome::Skipped.as_str())
                .execute(&mut tx)
                .await?;
            }
            Ok(moved == 1)
        }
        .await;
        Self::settle(tx, recorded, |_| true).await
    }

    #[tracing::instrument(skip_all, fields(events = delivered.len()))]
    async fn record_delivered(
        &self,
        webhook: &ClaimedWebhook,
        worker: &str,
        delivered: &[(&Event, AttemptResult)],
        leased_until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let Some((last, _)) = delivered.last() else { return Ok(true) };
        let mut tx = self.backend.begin_write().await?;
        let recorded = async {
            let mut attempts =
                query(format!("INSERT INTO webhook_deliveries ({ATTEMPT_INSERT_COLUMNS}) SELECT * FROM ("));
            attempts.push_values(delivered, |row, (event, result)| {
                row.push_bind(webhook.id.as_str())
                    .push_bind(webhook.tenant_id.as_str())
                    .push_bind(event.id.to_string())
                    .push_bind(event.kind.as_str())
                    .push_bind(micros(result.attempted_at))
                    .push_bind(result.status_code.map(i32::from))
                    .push_bind(result.error.as_deref())
                    .push_bind(result.latency_ms)
                    .push_bind(Outcome::Delivered.as_str());
            });
            // A deleted subscription records nothing.
            attempts.push(") AS run WHERE EXISTS (SELECT 1 FROM webhooks WHERE id = ");
            attempts.push_bind(webhook.id.as_str()).push(")");
            attempts.execute(&mut tx).await?;
            // Only the lease holder moves the cursor, and only forward.
            let moved = query(
                "UPDATE webhooks SET cursor_tx = $1, cursor_id = $2, attempts = 0, first_failed_at = NULL, \
                 leased_until = $3 WHERE id = $4 AND leased_by = $5 AND leased_until >= $6 \
                 AND (cursor_tx, cursor_id) < ($1, $2)",
            )
            .bind(last.id.tx)
            .bind(last.id.id)
            .bind(micros(leased_until))
            .bind(webhook.id.as_str())
            .bind(worker)
            .bind(micros(Utc::now()))
            .execute(&mut tx)
            .await?;
            Ok(moved == 1)
        }
        .await;
        Self::settle(tx, recorded, |_| true).await
    }

    #[tracing::instrument(skip_all)]
    async fn record_failed(
        &self,
        webhook: &ClaimedWebhook,
        worker: &str,
        event: &Event,
        result: &AttemptResult,
        after: AfterFailure,
    ) -> StoreResult<()> {
        let mut tx = self.backend.begin_write().await?;
        let at = micros(result.attempted_at);
        let recorded = async {
            let outcome = match after {
                AfterFailure::RetryAt(_) => Outcome::Retrying,
                AfterFailure::Abandon => Outcome::Abandoned,
            };
            insert_attempt(&mut tx, &webhook.id, &webhook.tenant_id, event, result, outcome).await?;
            let update = match after {
                AfterFailure::RetryAt(next) => query(
                    "UPDATE webhooks SET attempts = attempts + 1, next_attempt_at = $1, \
                     first_failed_at = COALESCE(first_failed_at, $2), leased_until = NULL, leased_by = NULL \
                     WHERE id = $3 AND leased_by = $4",
                )
                .bind(micros(next))
                .bind(at)
                .bind(webhook.id.as_str())
                .bind(worker),
                // Past the event: the next one starts with a clean retry state, due at once.
                AfterFailure::Abandon => query(
                    "UPDATE webhooks SET cursor_tx = $1, cursor_id = $2, attempts = 0, first_failed_at = NULL, \
                     next_attempt_at = $3, leased_until = NULL, leased_by = NULL \
                     WHERE id = $4 AND leased_by = $5 AND (cursor_tx, cursor_id) < ($1, $2)",
                )
                .bind(event.id.tx)
                .bind(event.id.id)
                .bind(at)
                .bind(webhook.id.as_str())
                .bind(worker),
            };
            update.execute(&mut tx).await?;
            Ok(())
        }
        .await;
        Self::settle(tx, recorded, |_| true).await
    }

    #[tracing::instrument(skip_all)]
    async fn release_webhook(
        &self,
        id: &str,
        worker: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.backend.begin_write().await?;
        let result = query(
            "UPDATE webhooks SET leased_until = NULL, leased_by = NULL, next_attempt_at = $1 \
             WHERE id = $2 AND leased_by = $3",
        )
        .bind(micros(next_attempt_at))
        .bind(id)
        .bind(worker)
        .execute(&mut tx)
        .await
        .map_err(StoreError::from);
        Self::settle(tx, result, |_| true).await.map(|_| ())
    }

    #[tracing::instrument(skip_all)]
    async fn prune_deliveries(&self, before: DateTime<Utc>, batch: u32) -> StoreResult<u64> {
        let mut tx = self.backend.begin_write().await?;
        let result = query(
            "DELETE FROM webhook_deliveries WHERE id IN \
             (SELECT id FROM webhook_deliveries WHERE attempted_at < $1 ORDER BY attempted_at LIMIT $2)",
        )
        .bind(micros(before))
        .bind(i64::from(batch))
        .execute(&mut tx)
        .await
        .map_err(StoreError::from);
        Self::settle(tx, result, |_| true).await
    }
}
