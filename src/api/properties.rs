//! The property registry (`/api/v1/properties`): which properties a tenant has and how each is
//! listed on the channels.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::auth::{Admin, Reader};
use crate::domain::property::PutPropertyRequest;
use crate::error::{ApiError, ApiResult};
use crate::extract::{if_match, Json, Path, Query};
use crate::state::AppState;
use crate::store::{Property, Stale, Store, Written};
use crate::validation::ids::valid_id;

/// Default and largest page size of the property list.
const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 200;

/// Create or update a property (admin). 201 + `Location` on create, 200 on update; `ETag` on
/// both. With `If-Match`, the write is made only if the property exists and has one of the tags
/// listed (else 412 and nothing changes).
#[tracing::instrument(skip_all, fields(property_id = %property_id))]
pub async fn put_property<S: Store>(
    State(state): State<AppState<S>>,
    Admin(caller): Admin,
    Path(property_id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<PutPropertyRequest>,
) -> ApiResult<Response> {
    let precondition = if_match(&headers)?;
    let changes = body.parse(&property_id).map_err(ApiError::Validation)?;
    let (property, written) = state
        .store
        .put_property(&caller.tenant_id, &property_id, changes, precondition.as_ref(), &caller.key_name)
        .await?
        .map_err(stale)?;
    Ok(match written {
        Written::Created => {
            let location = format!("/api/v1/properties/{property_id}");
            let mut resp = with_etag(StatusCode::CREATED, property);
            if let Ok(v) = HeaderValue::from_str(&location) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            resp
        }
        Written::Updated => with_etag(StatusCode::OK, property),
    })
}

/// The property with its `ETag`.
fn with_etag(status: StatusCode, property: Property) -> Response {
    let tag = format!("\"{}\"", property.entity_tag());
    let mut resp = (status, axum::Json(property)).into_response();
    if let Ok(v) = HeaderValue::from_str(&tag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

/// 412 for a stale `If-Match`, also when the property does not exist (RFC 9110 §13.1.1: no
/// current representation satisfies it, `*` included). A DELETE of a missing one is 404 instead
/// (the store reports it as not deleted).
fn stale(s: Stale) -> ApiError {
    let current = match s.current {
        Some(tag) => format!("\"{tag}\""),
        None => "none (the property does not exist)".to_owned(),
    };
    ApiError::PreconditionFailed { current }
}

#[tracing::instrument(skip_all, fields(property_id = %property_id))]
pub async fn get_property<S: Store>(
    State(state): State<AppState<S>>,
    Reader(caller): Reader,
    Path(property_id): Path<String>,
) -> ApiResult<Response> {
    let property = state.store.get_property(&caller.tenant_id, &property_id).await?;
    property.map(|p| with_etag(StatusCode::OK, p)).ok_or(ApiError::NotFound("property"))
}

/// Removes a property with its contact set and history (admin), honouring `If-Match` (412).
#[tracing::instrument(skip_all, fields(property_id = %property_id))]
pub async fn delete_property<S: Store>(
    State(state): State<AppState<S>>,
    Admin(caller): Admin,
    Path(property_id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let precondition = if_match(&headers)?;
    let deleted = state
        .store
        .delete_property(&caller.tenant_id, &property_id, precondition.as_ref(), &caller.key_name)
        .await?
        .map_err(stale)?;
    if deleted {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("property"))
    }
}

#[derive(Debug, Deserialize)]
pub struct ListPropertiesQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ListPropertiesResponse {
    items: Vec<Property>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// Properties of the caller's tenant in id order, `limit` at a time (clamped to 1..=200).
#[tracing::instrument(skip_all)]
pub async fn list_properties<S: Store>(
    State(state): State<AppState<S>>,
    Reader(caller): Reader,
    Query(q): Query<ListPropertiesQuery>,
) -> ApiResult<axum::Json<ListPropertiesResponse>> {
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let after = q.cursor.as_deref().map(decode_cursor).transpose()?;
    // One extra row tells whether another page exists.
    let mut items = state.store.list_properties(&caller.tenant_id, after.as_deref(), limit + 1).await?;
    let next_cursor = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(|p| encode_cursor(&p.property_id))
    } else {
        None
    };
    Ok(axum::Json(ListPropertiesResponse { items, next_cursor }))
}

fn encode_cursor(last_id: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(last_id)
}

fn decode_cursor(cursor: &str) -> Result<String, ApiError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|id| valid_id(id))
        .ok_or_else(|| ApiError::bad_request("cursor", "cursor_invalid", "cursor is not one this API issued"))
}
