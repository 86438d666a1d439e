//! `POST /api/v3/contacts/batch`: many creates, overwrites and upserts in one request.
//!
//! The answer lists every item in order with its HTTP-like `status`, its `outcome`, the contact
//! `id` and `version` when stored, and its `errors` (JSON pointers into the batch body). HTTP
//! status: the items' common status when they all share one, else 207; an atomic batch with any
//! failed item stores nothing and answers 422 (its valid items say `NOT_STORED`, status 424).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::auth::Writer;
use crate::domain::crm_batch::{BatchItemOutcome, BatchRequest};
use crate::error::{ApiError, ApiResult};
use crate::extract::Json;
use crate::state::AppState;
use crate::store::crm::{BatchResult, Refusal};
use crate::store::{Store, EXTERNAL_ID_TAKEN};
use crate::validation::{ErrorKind, FieldError};

/// One item of the answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchItemResponse {
    index: usize,
    status: u16,
    outcome: BatchItemOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    merged_into: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<FieldError>,
}

/// Body of the answer.
#[derive(Debug, Serialize)]
pub struct BatchResponse {
    atomic: bool,
    items: Vec<BatchItemResponse>,
}

impl BatchItemResponse {
    fn new(index: usize, status: StatusCode, outcome: BatchItemOutcome) -> Self {
        BatchItemResponse {
            index,
            status: status.as_u16(),
            outcome,
            id: None,
            version: None,
            merged_into: None,
            errors: Vec::new(),
        }
    }

    fn failed(index: usize, status: StatusCode, errors: Vec<FieldError>) -> Self {
        BatchItemResponse { errors, ..Self::new(index, status, BatchItemOutcome::Failed) }
    }
}

/// Errors found by the store point into the item; the answer points into the batch.
fn in_item(index: usize, errors: Vec<FieldError>) -> Vec<FieldError> {
    errors
        .into_iter()
        .map(|mut e| {
            e.pointer = format!("/items/{index}{}", e.pointer);
            e
        })
        .collect()
}

fn item_response(index: usize, result: BatchResult, rolled_back: bool) -> BatchItemResponse {
    match result {
        // A rolled-back item names no id: the contact it would have been does not exist.
        BatchResult::Created(_) | BatchResult::Updated(_) if rolled_back => {
            BatchItemResponse::new(index, StatusCode::FAILED_DEPENDENCY, BatchItemOutcome::NotStored)
        }
        BatchResult::Created(c) => BatchItemResponse {
            id: Some(c.id),
            version: Some(c.version),
            ..BatchItemResponse::new(index, StatusCode::CREATED, BatchItemOutcome::Created)
        },
        BatchResult::Updated(c) => BatchItemResponse {
            id: Some(c.id),
            version: Some(c.version),
            ..BatchItemResponse::new(index, StatusCode::OK, BatchItemOutcome::Updated)
        },
        BatchResult::Refused(Refusal::Invalid(errors)) => {
            BatchItemResponse::failed(index, StatusCode::UNPROCESSABLE_ENTITY, in_item(index, errors))
        }
        BatchResult::Refused(Refusal::Gone { merged_into }) => BatchItemResponse {
            merged_into: Some(merged_into),
            ..BatchItemResponse::failed(index, StatusCode::GONE, Vec::new())
        },
        BatchResult::Refused(Refusal::VersionMismatch { .. }) => {
            BatchItemResponse::failed(index, StatusCode::PRECONDITION_FAILED, Vec::new())
        }
        BatchResult::Refused(Refusal::NotFound | Refusal::ItemNotFound(_)) => BatchItemResponse::failed(
            index,
            StatusCode::NOT_FOUND,
            vec![FieldError::new(
                &format!("/items/{index}/id"),
                ErrorKind::Invalid,
                "not_found",
                "no such contact",
            )],
        ),
        BatchResult::Conflict(name) => {
            let (pointer, detail) = if name == EXTERNAL_ID_TAKEN {
                ("externalId", "another contact of the tenant has this externalId")
            } else {
                ("", "conflicts with stored data")
            };
            BatchItemResponse::failed(
                index,
                StatusCode::CONFLICT,
                vec![FieldError::new(
                    &format!("/items/{index}/{pointer}"),
                    ErrorKind::Invalid,
                    "conflict",
                    detail,
                )],
            )
        }
    }
}

/// Stores up to 1,000 contact writes; see the module documentation for the answer.
#[tracing::instrument(skip_all)]
pub async fn batch_contacts<S: Store>(
    State(state): State<AppState<S>>,
    Writer(caller): Writer,
    Json(body): Json<BatchRequest>,
) -> ApiResult<Response> {
    let (atomic, parsed) = body.parse().map_err(ApiError::Validation)?;
    let any_invalid = parsed.iter().any(Result::is_err);
    let mut valid = Vec::new();
    let mut slots = Vec::with_capacity(parsed.len());
    for item in parsed {
        match item {
            Ok(item) => {
                slots.push(Ok(valid.len()));
                valid.push(item);
            }
            Err(errors) => slots.push(Err(errors)),
        }
    }
    // An atomic batch with an invalid item never reaches the store.
    let (results, rolled_back) = if atomic && any_invalid {
        (Vec::new(), true)
    } else {
        let results = state.store.batch_contacts(&caller.tenant_id, valid, atomic, &caller.key_name).await?;
        let failed = results.iter().any(|r| !r.stored());
        (results, atomic && failed)
    };
    let mut results: Vec<Option<BatchResult>> = results.into_iter().map(Some).collect();
    let items: Vec<BatchItemResponse> = slots
        .into_iter()
        .enumerate()
        .map(|(index, slot)| match slot {
            Err(errors) => BatchItemResponse::failed(index, StatusCode::UNPROCESSABLE_ENTITY, errors),
            Ok(i) => match results.get_mut(i).and_then(Option::take) {
                Some(result) => item_response(index, result, rolled_back),
                // Valid, but the batch was refused before the store for another item.
                None => {
                    BatchItemResponse::new(index, StatusCode::FAILED_DEPENDENCY, BatchItemOutcome::NotStored)
                }
            },
        })
        .collect();
    let status = if rolled_back {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        match items.first().map(|i| i.status) {
            Some(first) if items.iter().all(|i| i.status == first) => {
                StatusCode::from_u16(first).unwrap_or(StatusCode::MULTI_STATUS)
            }
            Some(_) => StatusCode::MULTI_STATUS,
            None => StatusCode::OK,
        }
    };
    Ok((status, axum::Json(BatchResponse { atomic, items })).into_response())
}
