//! Webhook subscriptions (admin scope): `POST/GET /api/v1/webhooks`, `DELETE
//! /api/v1/webhooks/{webhook_id}`, the attempt list `GET .../deliveries` and a re-send
//! `POST .../deliveries/{delivery_id}/retry`.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::auth::Admin;
use crate::domain::change::parse_types;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;
use crate::store::webhooks::{DeliveryAttempt, NewWebhook, Outcome, Webhook};
use crate::store::Store;
use crate::validation::{ErrorKind, FieldError};
use crate::webhooks::{signing, target};

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 500;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    url: String,
    #[serde(default)]
    types: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct WebhookResponse {
    id: String,
    url: String,
    types: Vec<String>,
    created_at: DateTime<Utc>,
    /// Only in the answer to the subscription's creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

impl From<Webhook> for WebhookResponse {
    fn from(w: Webhook) -> Self {
        WebhookResponse { id: w.id, url: w.url, types: w.types, created_at: w.created_at, secret: None }
    }
}

#[derive(Debug, Serialize)]
pub struct WebhookList {
    items: Vec<WebhookResponse>,
}

#[derive(Debug, Serialize)]
pub struct DeliveryResponse {
    id: i64,
    webhook_id: String,
    event_id: String,
    event_type: String,
    attempted_at: DateTime<Utc>,
    status_code: Option<i32>,
    error: Option<String>,
    latency_ms: i64,
    outcome: String,
}

impl From<DeliveryAttempt> for DeliveryResponse {
    fn from(a: DeliveryAttempt) -> Self {
        DeliveryResponse {
            id: a.id,
            webhook_id: a.webhook_id,
            event_id: a.event_id,
            event_type: a.event_type,
            attempted_at: a.attempted_at,
            status_code: a.status_code,
            error: a.error,
            latency_ms: a.latency_ms,
            outcome: a.outcome,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    limit: Option<u32>,
    before: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct DeliveryList {
    items: Vec<DeliveryResponse>,
    /// The `before` of the next (older) page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<i64>,
}

fn invalid(pointer: &str, code: &'static str, detail: impl Into<String>) -> FieldError {
    FieldError::new(pointer, ErrorKind::Invalid, code, detail)
}

/// Subscribes a URL to the tenant's events (all, or `types`). 201 with the signing secret, which is
/// never shown again.
#[tracing::instrument(skip_all)]
pub async fn create_webhook<S: Store>(
    State(state): State<AppState<S>>,
    Admin(caller): Admin,
    Json(body): Json<CreateWebhookRequest>,
) -> ApiResult<Response> {
    let mut errors = Vec::new();
    let url = target::parse_target(body.url.trim())
        .map_err(|r| errors.push(invalid("/url", r.code, r.detail)))
        .ok();
    let types = parse_types(body.types.iter().map(String::as_str))
        .map_err(|unknown| {
            errors.push(invalid(
                "/types",
                "unknown_event_type",
                format!("unknown event types: {}", unknown.join(", ")),
            ))
        })
        .unwrap_or_default();
    // The address check resolves the name, so it only runs on an otherwise valid request.
    if let (Some(url), true) = (&url, errors.is_empty()) {
        if let Err(r) = target::check_target(url, state.webhooks.allow_private).await {
            errors.push(invalid("/url", r.code, r.detail));
        }
    }
    let Some(url) = url.filter(|_| errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };
    let id = format!("wh_{}", uuid::Uuid::now_v7().simple());
    let secret = signing::generate_secret();
    let created = state
        .store
        .create_webhook(&NewWebhook {
            id: &id,
            tenant_id: &caller.tenant_id,
            url: url.as_str(),
            types: &types,
            secret: &secret,
            now: Utc::now(),
        })
        .await?;
    let mut body = WebhookResponse::from(created);
    body.secret = Some(secret);
    let mut resp = (StatusCode::CREATED, axum::Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/webhooks/{id}")) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

#[tracing::instrument(skip_all)]
pub async fn list_webhooks<S: Store>(
    State(state): State<AppState<S>>,
    Admin(caller): Admin,
) -> ApiResult<axum::Json<WebhookList>> {
    let items = state.store.list_webhooks(&caller.tenant_id).await?;
    Ok(axum::Json(WebhookList { items: items.into_iter().map(WebhookResponse::from).collect() }))
}

/// Removes a subscription and its attempt history; deliveries stop.
#[tracing::instrument(skip_all, fields(webhook_id = %webhook_id))]
pub async fn delete_webhook<S: Store>(
    State(state): State<AppState<S>>,
    Admin(caller): Admin,
    Path(webhook_id): Path<String>,
) -> ApiResult<StatusCode> {
    if state.store.delete_webhook(&caller.tenant_id, &webhook_id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("webhook"))
    }
}

/// A subscription's attempts, newest first.
#[tracing::instrument(skip_all, fields(webhook_id = %webhook_id))]
pub async fn list_deliveries<S: Store>(
    State(state): State<AppState<S>>,
    Admin(caller): Admin,
    Path(webhook_id): Path<String>,
    Query(q): Query<DeliveriesQuery>,
) -> ApiResult<axum::Json<DeliveryList>> {
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(
            "limit",
            "limit_out_of_range",
            format!("`limit` must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let items = state
        .store
        .list_deliveries(&caller.tenant_id, &webhook_id, q.before, limit)
        .await?
        .ok_or(ApiError::NotFound("webhook"))?;
    let next = (items.len() == limit as usize).then(|| items.last().map(|a| a.id)).flatten();
    Ok(axum::Json(DeliveryList { items: items.into_iter().map(DeliveryResponse::from).collect(), next }))
}

/// Sends an attempt's event again, now, and answers with the new attempt (201).
///
/// Synchronous: the caller asked for this one send and wants its result, and a delivery is bounded
/// by `WEBHOOK_TIMEOUT_MS`, well inside the request timeout. It is one extra send outside the
/// subscription's order: the worker's cursor and retry state are left as they are, so a re-send of
/// the head event does not stop the worker from sending it too (receivers dedupe on `webhook-id`).
#[tracing::instrument(skip_all, fields(webhook_id = %webhook_id, delivery_id))]
pub async fn retry_delivery<S: Store>(
    State(state): State<AppState<S>>,
    Admin(caller): Admin,
    Path((webhook_id, delivery_id)): Path<(String, i64)>,
) -> ApiResult<Response> {
    let (webhook, _, event) = state
        .store
        .find_delivery(&caller.tenant_id, &webhook_id, delivery_id)
        .await?
        .ok_or(ApiError::NotFound("delivery"))?;
    let event = event.ok_or_else(|| {
        ApiError::Conflict("the event of this delivery has been pruned from the change feed".into())
    })?;
    let sent = state.webhooks.sender.send(&webhook.url, &webhook.secret, &event).await;
    let outcome = if sent.delivered { Outcome::Delivered } else { Outcome::Failed };
    crate::webhooks::worker::count(outcome);
    let attempt = state
        .store
        .record_extra_attempt(&webhook.id, &caller.tenant_id, &event, &sent.result, outcome)
        .await?
        .ok_or(ApiError::NotFound("webhook"))?;
    Ok((StatusCode::CREATED, axum::Json(DeliveryResponse::from(attempt))).into_response())
}
