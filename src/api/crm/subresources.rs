//! The three contact collections with ids and a primary item: `addresses`, `emailAddresses` and
//! `telephones`, each with add, update, delete and set-primary. One generic handler per verb,
//! instantiated per collection through [`ItemResource`].

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{contact_path, if_match, with_contact_validators, with_location};
use crate::auth::Writer;
use crate::domain::crm::{AddressRequest, Contact, EmailRequest, ItemDraft, ItemKind, TelephoneRequest};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};
use crate::state::AppState;
use crate::store::Store;
use crate::validation::ids::DecimalId;
use crate::validation::FieldError;

/// One collection: its request body, how it parses and where it sits in the contact.
pub trait ItemResource: Send + Sync + 'static {
    type Request: DeserializeOwned + Send + 'static;
    const KIND: ItemKind;
    /// The path segment (`addresses`, `emailAddresses`, `telephones`).
    const SEGMENT: &'static str;
    fn parse(request: Self::Request) -> Result<ItemDraft, Vec<FieldError>>;
    /// The item `item_id` of `contact`, rendered.
    fn find(contact: &Contact, item_id: i64) -> Option<Value>;
}

fn render<T: serde::Serialize>(item: Option<&T>) -> Option<Value> {
    item.and_then(|i| serde_json::to_value(i).ok())
}

/// `/api/v3/contacts/{id}/addresses`.
pub struct Addresses;
/// `/api/v3/contacts/{id}/emailAddresses`.
pub struct EmailAddresses;
/// `/api/v3/contacts/{id}/telephones`.
pub struct Telephones;

impl ItemResource for Addresses {
    type Request = AddressRequest;
    const KIND: ItemKind = ItemKind::Address;
    const SEGMENT: &'static str = "addresses";
    fn parse(request: AddressRequest) -> Result<ItemDraft, Vec<FieldError>> {
        request.parse()
    }
    fn find(contact: &Contact, item_id: i64) -> Option<Value> {
        render(contact.addresses.iter().find(|a| a.id == item_id))
    }
}

impl ItemResource for EmailAddresses {
    type Request = EmailRequest;
    const KIND: ItemKind = ItemKind::Email;
    const SEGMENT: &'static str = "emailAddresses";
    fn parse(request: EmailRequest) -> Result<ItemDraft, Vec<FieldError>> {
        request.parse()
    }
    fn find(contact: &Contact, item_id: i64) -> Option<Value> {
        render(contact.email_addresses.iter().find(|e| e.id == item_id))
    }
}

impl ItemResource for Telephones {
    type Request = TelephoneRequest;
    const KIND: ItemKind = ItemKind::Telephone;
    const SEGMENT: &'static str = "telephones";
    fn parse(request: TelephoneRequest) -> Result<ItemDraft, Vec<FieldError>> {
        request.parse()
    }
    fn find(contact: &Contact, item_id: i64) -> Option<Value> {
        render(contact.telephones.iter().find(|t| t.id == item_id))
    }
}

/// The item as stored after the write, with the contact's new validators.
fn item_response<R: ItemResource>(
    status: StatusCode,
    contact: &Contact,
    item_id: i64,
) -> ApiResult<Response> {
    let item =
        R::find(contact, item_id).ok_or_else(|| ApiError::Internal("written item not in contact".into()))?;
    Ok(with_contact_validators(status, contact, axum::Json(item)))
}

/// Adds an item; 201 + `Location`. The first of a collection, or one sent with `primary: true`,
/// becomes the primary.
#[tracing::instrument(skip_all, fields(contact_id = id, kind = %R::KIND))]
pub async fn add_item<S: Store, R: ItemResource>(
    State(state): State<AppState<S>>,
    Writer(caller): Writer,
    Path(DecimalId(id)): Path<DecimalId>,
    headers: HeaderMap,
    Json(body): Json<R::Request>,
) -> ApiResult<Response> {
    let item = R::parse(body).map_err(ApiError::Validation)?;
    let (contact, item_id) = state
        .store
        .add_contact_item(&caller.tenant_id, id, item, if_match(&headers)?.as_ref(), &caller.key_name)
        .await??;
    let location = format!("{}/{}/{item_id}", contact_path(id), R::SEGMENT);
    Ok(with_location(item_response::<R>(StatusCode::CREATED, &contact, item_id)?, &location))
}

/// Overwrites an item; `primary: true` makes it the primary.
#[tracing::instrument(skip_all, fields(contact_id = id, item_id, kind = %R::KIND))]
pub async fn update_item<S: Store, R: ItemResource>(
    State(state): State<AppState<S>>,
    Writer(caller): Writer,
    Path((DecimalId(id), DecimalId(item_id))): Path<(DecimalId, DecimalId)>,
    headers: HeaderMap,
    Json(body): Json<R::Request>,
) -> ApiResult<Response> {
    let item = R::parse(body).map_err(ApiError::Validation)?;
    let contact = state
        .store
        .update_contact_item(
            &caller.tenant_id,
            id,
            item_id,
            item,
            if_match(&headers)?.as_ref(),
            &caller.key_name,
        )
        .await??;
    item_response::<R>(StatusCode::OK, &contact, item_id)
}

/// Deletes an item; deleting the primary promotes the oldest remaining one. 204.
#[tracing::instrument(skip_all, fields(contact_id = id, item_id, kind = %R::KIND))]
pub async fn delete_item<S: Store, R: ItemResource>(
    State(state): State<AppState<S>>,
    Writer(caller): Writer,
    Path((DecimalId(id), DecimalId(item_id))): Path<(DecimalId, DecimalId)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let contact = state
        .store
        .delete_contact_item(
            &caller.tenant_id,
            id,
            R::KIND,
            item_id,
            if_match(&headers)?.as_ref(),
            &caller.key_name,
        )
        .await??;
    Ok(with_contact_validators(StatusCode::NO_CONTENT, &contact, ()))
}

/// Makes an item the primary of its collection.
#[tracing::instrument(skip_all, fields(contact_id = id, item_id, kind = %R::KIND))]
pub async fn set_primary_item<S: Store, R: ItemResource>(
    State(state): State<AppState<S>>,
    Writer(caller): Writer,
    Path((DecimalId(id), DecimalId(item_id))): Path<(DecimalId, DecimalId)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let contact = state
        .store
        .set_primary_contact_item(
            &caller.tenant_id,
            id,
            R::KIND,
            item_id,
            if_match(&headers)?.as_ref(),
            &caller.key_name,
        )
        .await??;
    item_response::<R>(StatusCode::OK, &contact, item_id)
}
