//! `PATCH /api/v3/contacts/{id}`: a JSON Merge Patch (RFC 7396), validated and stored as the `PUT`
//! it amounts to (see [`crate::domain::crm_patch`]).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;

use super::{if_match, with_contact_validators};
use crate::auth::Writer;
use crate::domain::crm_patch::{patched_request, MERGE_PATCH_JSON};
use crate::error::{ApiError, ApiResult};
use crate::extract::{parse_document, require_identity_encoding, DocumentError, Path};
use crate::state::AppState;
use crate::store::Store;
use crate::validation::ids::DecimalId;
use crate::validation::{ErrorKind, FieldError};

/// A merge-patch body: 415 unless `application/merge-patch+json`, 413 over the limit, 400 when not
/// one JSON document, 422 when a string holds NUL.
pub struct MergePatch(pub serde_json::Value);

impl<S: Send + Sync> FromRequest<S> for MergePatch {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_merge_patch = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<mime::Mime>().ok())
            .is_some_and(|m| m.essence_str() == MERGE_PATCH_JSON);
        if !is_merge_patch {
            return Err(ApiError::UnsupportedMediaType);
        }
        require_identity_encoding(req.headers())?;
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadRequest { detail: "could not read the request body".into(), errors: vec![] }
            }
        })?;
        match parse_document(&bytes) {
            Ok(doc) => Ok(MergePatch(doc)),
            Err(DocumentError::Nul(errors)) => Err(ApiError::Validation(errors)),
            Err(DocumentError::Malformed(e)) => Err(ApiError::BadRequest {
                detail: format!("malformed JSON: {e}"),
                errors: vec![FieldError::new("", ErrorKind::Invalid, "malformed_json", e.to_string())],
            }),
        }
    }
}

/// Changes only the members sent: `null` clears one, a collection sent replaces the stored list
/// (`null` empties it). Same validation, revision, change event and `If-Match` as the `PUT`.
#[tracing::instrument(skip_all, fields(contact_id = id))]
pub async fn patch_contact<S: Store>(
    State(state): State<AppState<S>>,
    Writer(caller): Writer,
    Path(DecimalId(id)): Path<DecimalId>,
    headers: HeaderMap,
    MergePatch(patch): MergePatch,
) -> ApiResult<Response> {
    let precondition = if_match(&headers)?;
    let contact = state
        .store
        .patch_contact(
            &caller.tenant_id,
            id,
            |stored| patched_request(stored, &patch)?.parse(Some(id)),
            precondition.as_ref(),
            &caller.key_name,
        )
        .await??;
    Ok(with_contact_validators(StatusCode::OK, &contact, axum::Json(&contact)))
}
