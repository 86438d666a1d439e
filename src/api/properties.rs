//! The property registry (`/api/v1/properties`): which properties a tenant has and how each is
//! listed on the channels.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::{Deserialize, Deserializer, Serialize};

use crate::auth::{Admin, Reader};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;
use crate::store::{ChannelMapping, Property, PropertyChanges, Store, Written};
use crate::validation::ids::{valid_id, ID_RULE, PROPERTY_ID_INVALID};
use crate::validation::{ErrorKind, FieldError};

/// Default and largest page size of the property list.
const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 200;
const MAX_MAPPINGS: usize = 20;

/// Body of `PUT /api/v1/properties/{property_id}`; absent members keep their stored value.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutPropertyRequest {
    #[serde(default, deserialize_with = "present")]
    name: Option<Option<String>>,
    #[serde(default)]
    channel_mappings: Option<Vec<ChannelMapping>>,
}

/// Tells "absent" (outer `None`, via `default`) from "null" (`Some(None)`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

fn valid_channel(c: &str) -> bool {
    (1..=32).contains(&c.len())
        && c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

impl PutPropertyRequest {
    /// Checks every member, reporting all violations at once.
    fn into_changes(self, property_id: &str) -> Result<PropertyChanges, ApiError> {
        let mut errors = Vec::new();
        if !valid_id(property_id) {
            errors.push(FieldError::new(
                "property_id",
                ErrorKind::Invalid,
                PROPERTY_ID_INVALID,
                format!("property_id must be {ID_RULE}"),
            ));
        }
        let name = self.name.map(|n| n.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()));
        if let Some(Some(n)) = &name {
            if n.chars().count() > 200 {
                errors.push(FieldError::new(
                    "/name",
                    ErrorKind::Invalid,
                    "string_too_long",
                    "at most 200 characters",
                ));
            }
        }
        let mappings = self.channel_mappings.map(|ms| {
            if ms.len() > MAX_MAPPINGS {
                errors.push(FieldError::new(
                    "/channel_mappings",
                    ErrorKind::Invalid,
                    "too_many_items",
                    format!("at most {MAX_MAPPINGS} channel mappings"),
                ));
            }
            let mut seen = std::collections::HashSet::new();
            ms.into_iter()
                .enumerate()
                .map(|(i, m)| {
                    let channel = m.channel.trim().to_ascii_lowercase();
                    let listing = m.channel_property_id.trim().to_owned();
                    if !valid_channel(&channel) {
                        errors.push(FieldError::new(
                            &format!("/channel_mappings/{i}/channel"),
                            ErrorKind::Invalid,
                            "channel_invalid",
                            "channel must be 1 to 32 of a-z, 0-9, _ and -",
                        ));
                    } else if !seen.insert(channel.clone()) {
                        errors.push(FieldError::new(
                            &format!("/channel_mappings/{i}/channel"),
                            ErrorKind::Invalid,
                            "channel_repeated",
                            "a property has at most one mapping per channel",
                        ));
                    }
                    if listing.is_empty() || listing.chars().count() > 64 {
                        errors.push(FieldError::new(
                            &format!("/channel_mappings/{i}/channel_property_id"),
                            ErrorKind::Invalid,
                            "channel_property_id_invalid",
                            "channel_property_id must be 1 to 64 characters",
                        ));
                    }
                    ChannelMapping { channel, channel_property_id: listing }
                })
                .collect()
        });
        if errors.is_empty() {
            Ok(PropertyChanges { name, channel_mappings: mappings })
        } else {
            Err(ApiError::Validation(errors))
        }
    }
}

/// Create or update a property (admin). 201 + `Location` on create, 200 on update.
#[tracing::instrument(skip_all, fields(property_id = %property_id))]
pub async fn put_property<S: Store>(
    State(state): State<AppState<S>>,
    Admin(caller): Admin,
    Path(property_id): Path<String>,
    Json(body): Json<PutPropertyRequest>,
) -> ApiResult<Response> {
    let changes = body.into_changes(&property_id)?;
    let (property, written) = state.store.put_property(&caller.tenant_id, &property_id, changes).await?;
    Ok(match written {
        Written::Created => {
            let location = format!("/api/v1/properties/{property_id}");
            let mut resp = (StatusCode::CREATED, axum::Json(property)).into_response();
            if let Ok(v) = HeaderValue::from_str(&location) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            resp
        }
        Written::Updated => (StatusCode::OK, axum::Json(property)).into_response(),
    })
}

#[tracing::instrument(skip_all, fields(property_id = %property_id))]
pub async fn get_property<S: Store>(
    State(state): State<AppState<S>>,
    Reader(caller): Reader,
    Path(property_id): Path<String>,
) -> ApiResult<axum::Json<Property>> {
    let property = state.store.get_property(&caller.tenant_id, &property_id).await?;
    property.map(axum::Json).ok_or(ApiError::NotFound("property"))
}

/// Removes a property with its contact set and history (admin).
#[tracing::instrument(skip_all, fields(property_id = %property_id))]
pub async fn delete_property<S: Store>(
    State(state): State<AppState<S>>,
    Admin(caller): Admin,
    Path(property_id): Path<String>,
) -> ApiResult<StatusCode> {
    if state.store.delete_property(&caller.tenant_id, &property_id).await? {
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
