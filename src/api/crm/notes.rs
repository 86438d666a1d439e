//! `/api/v3/contacts/{id}/notes` and `/api/v3/contacts/{id}/customFields`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::pages::{paged, PageQuery, NOTES_DEFAULT_LIMIT, NOTES_MAX_LIMIT};
use super::{contact_path, if_match, with_contact_validators, with_location};
use crate::auth::{Reader, Writer};
use crate::domain::crm::{parse_custom_fields, CustomFieldRequest, NoteRequest};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;
use crate::store::Store;
use crate::validation::ids::DecimalId;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListNotesQuery {
    note_id: Option<i64>,
    after: Option<i64>,
    limit: Option<u32>,
}

/// The contact's notes, oldest first; with `noteId`, a list of just that note (404 if none).
#[tracing::instrument(skip_all, fields(contact_id = id))]
pub async fn list_notes<S: Store>(
    State(state): State<AppState<S>>,
    Reader(caller): Reader,
    Path(DecimalId(id)): Path<DecimalId>,
    Query(q): Query<ListNotesQuery>,
) -> ApiResult<Response> {
    let page = PageQuery { after: q.after, limit: q.limit }.page(NOTES_DEFAULT_LIMIT, NOTES_MAX_LIMIT);
    let notes = state.store.list_notes(&caller.tenant_id, id, q.note_id, page).await??;
    let kept = q.note_id.map(|n| format!("noteId={n}&")).unwrap_or_default();
    Ok(paged(&format!("{}/notes", contact_path(id)), &kept, page, notes))
}

/// Records a note; `author` defaults to the API key's name. 201 + `Location`.
#[tracing::instrument(skip_all, fields(contact_id = id))]
pub async fn add_note<S: Store>(
    State(state): State<AppState<S>>,
    Writer(caller): Writer,
    Path(DecimalId(id)): Path<DecimalId>,
    headers: HeaderMap,
    Json(body): Json<NoteRequest>,
) -> ApiResult<Response> {
    let note = body.parse(&caller.key_name).map_err(ApiError::Validation)?;
    let (contact, note) = state
        .store
        .add_note(&caller.tenant_id, id, note, if_match(&headers)?.as_ref(), &caller.key_name)
        .await??;
    let location = format!("{}/notes?noteId={}", contact_path(id), note.id);
    Ok(with_location(with_contact_validators(StatusCode::CREATED, &contact, axum::Json(note)), &location))
}

/// The contact's custom fields, with the contact's validators.
#[tracing::instrument(skip_all, fields(contact_id = id))]
pub async fn get_custom_fields<S: Store>(
    State(state): State<AppState<S>>,
    Reader(caller): Reader,
    Path(DecimalId(id)): Path<DecimalId>,
) -> ApiResult<Response> {
    let (contact, _) = state.store.get_contact(&caller.tenant_id, id, false).await??;
    Ok(with_contact_validators(StatusCode::OK, &contact, axum::Json(&contact.custom_fields)))
}

/// Replaces the contact's custom fields with the list sent.
#[tracing::instrument(skip_all, fields(contact_id = id))]
pub async fn replace_custom_fields<S: Store>(
    State(state): State<AppState<S>>,
    Writer(caller): Writer,
    Path(DecimalId(id)): Path<DecimalId>,
    headers: HeaderMap,
    Json(body): Json<Vec<CustomFieldRequest>>,
) -> ApiResult<Response> {
    let fields = parse_custom_fields(body).map_err(ApiError::Validation)?;
    let contact = state
        .store
        .replace_custom_fields(&caller.tenant_id, id, fields, if_match(&headers)?.as_ref(), &caller.key_name)
        .await??;
    Ok(with_contact_validators(StatusCode::OK, &contact, axum::Json(&contact.custom_fields)))
}
