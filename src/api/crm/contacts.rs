//! `/api/v3/contacts[/{id}]`, `/revisions` and `/merge`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::pages::{paged, PageQuery, REVISIONS_DEFAULT_LIMIT, REVISIONS_MAX_LIMIT};
use super::{
    conditional, contact_path, if_match, not_modified, set_validators, with_contact_validators, with_location,
};
use crate::api::dry_run::DryRunQuery;
use crate::api::json_stream;
use crate::auth::{Reader, Writer};
use crate::domain::crm::{
    contact_etag, contact_with_revisions_etag, Contact, ContactRequest, ListContactsQuery, MergeRequest,
};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;
use crate::store::crm::MergeOutcome;
use crate::store::{dry_run, Store};
use crate::validation::ids::DecimalId;

/// Spring-style page metadata. A cursor page (`after`) has no totals: counting everything matched
/// would make a page deep in a long list cost more than the first.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PageInfo {
    size: u32,
    number: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    total_elements: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total_pages: Option<i64>,
}

/// Body of `GET /api/v3/contacts`.
#[derive(Debug, Serialize)]
pub struct ContactPageResponse {
    content: Vec<Contact>,
    page: PageInfo,
    /// The `after` cursor of the next page, while one follows (see [`crate::domain::crm_cursor`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

/// Live contacts of the tenant matching every filter given, one page at a time. Honours
/// `If-None-Match` / `If-Modified-Since` over everything matched (all pages), except on cursor
/// pages, which carry no validators.
#[tracing::instrument(skip_all)]
pub async fn list_contacts<S: Store>(
    State(state): State<AppState<S>>,
    Reader(caller): Reader,
    headers: HeaderMap,
    Query(q): Query<ListContactsQuery>,
) -> ApiResult<Response> {
    let query = q
        .parse()
        .map_err(|errors| ApiError::BadRequest { detail: "invalid query parameter(s)".into(), errors })?;
    let page = state.store.list_contacts(&caller.tenant_id, &query, &conditional(&headers)).await?;
    let last_modified = page.stamp.and_then(|s| s.last_modified);
    let Some(content) = page.contacts else {
        return Ok(not_modified(&page.etag, last_modified));
    };
    let size = i64::from(query.size);
    let body = ContactPageResponse {
        content,
        page: PageInfo {
            size: query.size,
            number: query.page,
            total_elements: page.stamp.map(|s| s.total),
            total_pages: page.stamp.map(|s| (s.total + size - 1) / size),
        },
        next: page.next.map(|c| c.encode()),
    };
    let mut resp = axum::Json(body).into_response();
    if page.stamp.is_some() {
        set_validators(resp.headers_mut(), &page.etag, last_modified);
    }
    Ok(resp)
}

/// Creates a contact, collections included. 201 + `Location`.
#[tracing::instrument(skip_all)]
pub async fn create_contact<S: Store>(
    State(state): State<AppState<S>>,
    Writer(caller): Writer,
    Query(dry): Query<DryRunQuery>,
    Json(body): Json<ContactRequest>,
) -> ApiResult<Response> {
    let draft = body.parse(None).map_err(ApiError::Validation)?;
    let create = state.store.create_contact(&caller.tenant_id, draft, &caller.key_name);
    let contact = dry_run::run_if(dry.dry_run, create).await??;
    let path = contact_path(contact.id);
    Ok(with_location(with_contact_validators(StatusCode::CREATED, &contact, axum::Json(&contact)), &path))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetContactQuery {
    #[serde(default)]
    include_revisions: bool,
}

/// One contact; 304 when the client's copy is current, 410 when merged away. With
/// `includeRevisions=true` the ETag is `"<version>-r"`, so the two representations never share a
/// validator; `If-Match` on writes accepts either form.
#[tracing::instrument(skip_all, fields(contact_id = id))]
pub async fn get_contact<S: Store>(
    State(state): State<AppState<S>>,
    Reader(caller): Reader,
    Path(DecimalId(id)): Path<DecimalId>,
    headers: HeaderMap,
    Query(q): Query<GetContactQuery>,
) -> ApiResult<Response> {
    let (contact, revisions) = state.store.get_contact(&caller.tenant_id, id, q.include_revisions).await??;
    // The body with revisions is another representation, so it gets its own entity tag.
    let etag = if q.include_revisions {
        contact_with_revisions_etag(contact.version)
    } else {
        contact_etag(contact.version)
    };
    if conditional(&headers).not_modified(&etag, Some(contact.updated_at)) {
        return Ok(not_modified(&etag, Some(contact.updated_at)));
    }
    let updated_at = contact.updated_at;
    let mut resp = match revisions {
        // Up to 10 snapshots: streamed, like the history pages.
        Some(revisions) => json_stream::object_with_array(&contact, "revisions", revisions)?,
        None => axum::Json(contact).into_response(),
    };
    set_validators(resp.headers_mut(), &etag, Some(updated_at));
    Ok(resp)
}

/// Overwrites a contact: every scalar replaced, collections in the body replaced, others kept.
#[tracing::instrument(skip_all, fields(contact_id = id))]
pub async fn replace_contact<S: Store>(
    State(state): State<AppState<S>>,
    Writer(caller): Writer,
    Path(DecimalId(id)): Path<DecimalId>,
    headers: HeaderMap,
    Query(dry): Query<DryRunQuery>,
    Json(body): Json<ContactRequest>,
) -> ApiResult<Response> {
    let draft = body.parse(Some(id)).map_err(ApiError::Validation)?;
    let precondition = if_match(&headers)?;
    let overwrite =
        state.store.replace_contact(&caller.tenant_id, id, draft, precondition.as_ref(), &caller.key_name);
    let contact = dry_run::run_if(dry.dry_run, overwrite).await??;
    Ok(with_contact_validators(StatusCode::OK, &contact, axum::Json(&contact)))
}

/// Deletes a contact with everything hanging off it. 204.
#[tracing::instrument(skip_all, fields(contact_id = id))]
pub async fn delete_contact<S: Store>(
    State(state): State<AppState<S>>,
    Writer(caller): Writer,
    Path(DecimalId(id)): Path<DecimalId>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    state
        .store
        .delete_contact(&caller.tenant_id, id, if_match(&headers)?.as_ref(), &caller.key_name)
        .await??;
    Ok(StatusCode::NO_CONTENT)
}

/// A page of a contact's versions, oldest first (see [`super::pages`]).
#[tracing::instrument(skip_all, fields(contact_id = id))]
pub async fn list_contact_revisions<S: Store>(
    State(state): State<AppState<S>>,
    Reader(caller): Reader,
    Path(DecimalId(id)): Path<DecimalId>,
    Query(q): Query<PageQuery>,
) -> ApiResult<Response> {
    let page = q.page(REVISIONS_DEFAULT_LIMIT, REVISIONS_MAX_LIMIT);
    let revisions = state.store.list_contact_revisions(&caller.tenant_id, id, page).await??;
    Ok(paged(&format!("{}/revisions", contact_path(id)), "", page, revisions))
}

/// Body of `POST /api/v3/contacts/merge`.
#[derive(Debug, Serialize)]
pub struct MergeResponse {
    success: bool,
    message: String,
}

/// Merges the secondary contact into the primary one; a no-op answers `success: false`. So does a
/// merge that would leave the primary with more than a collection's maximum (20 addresses, emails
/// or telephones; 100 custom fields, property links or order references, counted after dropping
/// duplicates): it is refused whole and changes nothing, so no item is ever silently dropped.
#[tracing::instrument(skip_all)]
pub async fn merge_contacts<S: Store>(
    State(state): State<AppState<S>>,
    Writer(caller): Writer,
    Query(dry): Query<DryRunQuery>,
    Json(body): Json<MergeRequest>,
) -> ApiResult<axum::Json<MergeResponse>> {
    let merge = state.store.merge_contacts(
        &caller.tenant_id,
        body.primary_contact_id,
        body.secondary_contact_id,
        &caller.key_name,
    );
    let outcome = dry_run::run_if(dry.dry_run, merge).await?;
    let response = match outcome {
        MergeOutcome::Merged { message, .. } => MergeResponse { success: true, message },
        MergeOutcome::NoOp { message } => MergeResponse { success: false, message },
    };
    if !dry.dry_run {
        let outcome = if response.success { "merged" } else { "no_op" };
        metrics::counter!("crm_merges_total", "outcome" => outcome).increment(1);
    }
    Ok(axum::Json(response))
}
