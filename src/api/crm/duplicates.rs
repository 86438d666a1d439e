//! Cleaning up duplicates: `GET /api/v3/contacts/{id}/duplicates` (suggestions, best first) and
//! `POST /api/v3/contacts/merge/preview` (the merge's dry run: the primary as the merge would
//! leave it; nothing stored, no revision, no event).

use axum::extract::State;
use serde::Serialize;

use crate::auth::{Reader, Writer};
use crate::domain::crm::{Contact, MergeRequest};
use crate::domain::crm_duplicates::Duplicate;
use crate::error::ApiResult;
use crate::extract::{Json, Path};
use crate::state::AppState;
use crate::store::crm::MergeOutcome;
use crate::store::Store;
use crate::validation::ids::DecimalId;

/// Body of `GET /api/v3/contacts/{id}/duplicates`.
#[derive(Debug, Serialize)]
pub struct DuplicatesResponse {
    content: Vec<Duplicate>,
}

/// Other live contacts of the tenant that may be the same person, best first.
#[tracing::instrument(skip_all, fields(contact_id = id))]
pub async fn list_duplicates<S: Store>(
    State(state): State<AppState<S>>,
    Reader(caller): Reader,
    Path(DecimalId(id)): Path<DecimalId>,
) -> ApiResult<axum::Json<DuplicatesResponse>> {
    let content = state.store.find_duplicates(&caller.tenant_id, id).await??;
    Ok(axum::Json(DuplicatesResponse { content }))
}

/// Body of `POST /api/v3/contacts/merge/preview`.
#[derive(Debug, Serialize)]
pub struct MergePreviewResponse {
    /// Whether the merge would happen (`false`: it would be a no-op, see `message`).
    success: bool,
    message: String,
    /// The primary as the merge would leave it.
    #[serde(skip_serializing_if = "Option::is_none")]
    contact: Option<Box<Contact>>,
}

/// The merge run and rolled back: what `POST /api/v3/contacts/merge` would answer, and the
/// merged contact. Needs write scope, as the merge does.
#[tracing::instrument(skip_all)]
pub async fn preview_merge<S: Store>(
    State(state): State<AppState<S>>,
    Writer(caller): Writer,
    Json(body): Json<MergeRequest>,
) -> ApiResult<axum::Json<MergePreviewResponse>> {
    let outcome = state
        .store
        .preview_merge(
            &caller.tenant_id,
            body.primary_contact_id,
            body.secondary_contact_id,
            &caller.key_name,
        )
        .await?;
    Ok(axum::Json(match outcome {
        MergeOutcome::Merged { primary, message } => {
            MergePreviewResponse { success: true, message: preview_message(&message), contact: Some(primary) }
        }
        MergeOutcome::NoOp { message } => MergePreviewResponse { success: false, message, contact: None },
    }))
}

/// The merge's message in the conditional: nothing was merged.
fn preview_message(message: &str) -> String {
    format!("dry run, nothing was changed: {}", message.replacen("was merged", "would be merged", 1))
}
