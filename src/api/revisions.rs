//! Contact-set history (native): `GET /api/v1/properties/{id}/contacts/revisions[/{n}]`.

use axum::extract::State;
use serde::{Deserialize, Serialize};

use crate::auth::Reader;
use crate::domain::contact_set::Contact;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Path, Query};
use crate::state::AppState;
use crate::store::{RevisionSummary, Store};
use crate::validation::ids::DecimalId;

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 500;

#[derive(Debug, Deserialize)]
pub struct ListRevisionsQuery {
    limit: Option<u32>,
    /// Only revisions older than this one (the `next_before` of the previous page).
    before: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct ListRevisionsResponse {
    items: Vec<RevisionSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_before: Option<i64>,
}

/// The property's contact-set revisions, newest first.
#[tracing::instrument(skip_all, fields(property_id = %property_id))]
pub async fn list_contact_set_revisions<S: Store>(
    State(state): State<AppState<S>>,
    Reader(caller): Reader,
    Path(property_id): Path<String>,
    Query(q): Query<ListRevisionsQuery>,
) -> ApiResult<axum::Json<ListRevisionsResponse>> {
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let mut items = state
        .store
        .list_contact_set_revisions(&caller.tenant_id, &property_id, q.before, limit + 1)
        .await?
        .ok_or(ApiError::NotFound("property"))?;
    let next_before = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(|r| r.revision)
    } else {
        None
    };
    Ok(axum::Json(ListRevisionsResponse { items, next_before }))
}

#[derive(Debug, Serialize)]
pub struct RevisionResponse {
    #[serde(flatten)]
    summary: RevisionSummary,
    contacts: Vec<Contact>,
}

/// One past contact set, whole.
#[tracing::instrument(skip_all, fields(property_id = %property_id, revision))]
pub async fn get_contact_set_revision<S: Store>(
    State(state): State<AppState<S>>,
    Reader(caller): Reader,
    Path((property_id, DecimalId(revision))): Path<(String, DecimalId)>,
) -> ApiResult<axum::Json<RevisionResponse>> {
    let found = state
        .store
        .get_contact_set_revision(&caller.tenant_id, &property_id, revision)
        .await?
        .ok_or(ApiError::NotFound("revision"))?;
    Ok(axum::Json(RevisionResponse { summary: found.summary, contacts: found.set.contacts }))
}
