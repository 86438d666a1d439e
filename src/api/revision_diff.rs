//! Comparing and restoring contact-set revisions (native):
//! `GET /api/v1/properties/{id}/contacts/revisions/{a}/diff/{b}` and
//! `POST /api/v1/properties/{id}/contacts/revisions/{n}/restore`.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::api::contact_sets::{etag, if_match_revisions, replace, Replaced};
use crate::api::dry_run::DryRunQuery;
use crate::auth::{Reader, Writer};
use crate::domain::contact_set::ContactSet;
use crate::domain::contact_set_diff::{diff, ContactChange};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Path, Query};
use crate::state::AppState;
use crate::store::{dry_run, Store};
use crate::validation::ids::DecimalId;
use crate::validation::ParseOptions;

/// Body of the diff.
#[derive(Debug, Serialize)]
pub struct RevisionDiffResponse {
    from: i64,
    to: i64,
    /// Per contact: added, removed, or changed (with its fields); unchanged ones are left out.
    contacts: Vec<ContactChange>,
}

async fn revision_set<S: Store>(
    state: &AppState<S>,
    tenant: &str,
    property_id: &str,
    revision: i64,
) -> Result<ContactSet, ApiError> {
    let found = state.store.get_contact_set_revision(tenant, property_id, revision).await?;
    Ok(found.ok_or(ApiError::NotFound("revision"))?.set)
}

/// What changed from revision `a` to revision `b` (either may be the older one).
#[tracing::instrument(skip_all, fields(property_id = %property_id))]
pub async fn diff_contact_set_revisions<S: Store>(
    State(state): State<AppState<S>>,
    Reader(caller): Reader,
    Path((property_id, DecimalId(a), DecimalId(b))): Path<(String, DecimalId, DecimalId)>,
) -> ApiResult<axum::Json<RevisionDiffResponse>> {
    let older = revision_set(&state, &caller.tenant_id, &property_id, a).await?;
    let newer = revision_set(&state, &caller.tenant_id, &property_id, b).await?;
    Ok(axum::Json(RevisionDiffResponse { from: a, to: b, contacts: diff(&older, &newer) }))
}

/// Body of a restore.
#[derive(Debug, Serialize)]
pub struct RestoreResponse {
    /// The revision now current: a new one equal to `restored_from`, or the current one when the
    /// set already equals it (`changed: false`).
    revision: i64,
    changed: bool,
    restored_from: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    dry_run: Option<bool>,
}

/// Stores a new revision equal to revision `n` (write scope): the same replace as a PUT, so it
/// honours `If-Match` (the current revision's ETag) and records `contact_set.replaced`. The old
/// set is validated against today's rules first: one that passes neither the Booking nor the SU
/// route's rules is 422 with the Booking rules' violations, and nothing changes.
#[tracing::instrument(skip_all, fields(property_id = %property_id, revision = n))]
pub async fn restore_contact_set_revision<S: Store>(
    State(state): State<AppState<S>>,
    Writer(caller): Writer,
    Path((property_id, DecimalId(n))): Path<(String, DecimalId)>,
    headers: HeaderMap,
    Query(dry): Query<DryRunQuery>,
) -> ApiResult<Response> {
    let accepted = if_match_revisions(&headers)?;
    let old = revision_set(&state, &caller.tenant_id, &property_id, n).await?;
    let set = revalidate(&old)?;
    let restore = replace("restore", &state, &caller, &property_id, &set, accepted.as_deref());
    let Replaced { revision, changed } = dry_run::run_if(dry.dry_run, restore).await?;
    let body = RestoreResponse { revision, changed, restored_from: n, dry_run: dry.dry_run.then_some(true) };
    let mut resp = axum::Json(body).into_response();
    if !dry.dry_run {
        if let Ok(v) = HeaderValue::from_str(&etag(revision)) {
            resp.headers_mut().insert(header::ETAG, v);
        }
    }
    Ok(resp)
}

/// A stored set parsed again as a request body would be, under either route's rules (each route
/// may have written it).
fn revalidate(old: &ContactSet) -> Result<ContactSet, ApiError> {
    let body = serde_json::json!({ "contacts": old.contacts });
    ContactSet::parse(&body, &ParseOptions::BOOKING)
        .or_else(|booking| {
            let su = ParseOptions { extra_root_members: &[], ..ParseOptions::SU };
            ContactSet::parse(&body, &su).map_err(|_| booking)
        })
        .map_err(ApiError::Validation)
}
