//! Customer billing and service contacts (API.md section 7, seed 002):
//! `POST` and `GET /api/v1/customers/{customer_id}/contacts`.
//!
//! A compatibility dialect: seed 002's `{status, request_tracking_id}` success and
//! `{status: "Failure", error: {code, message, errors: [{message}]}, request_tracking_id}` failure
//! envelope on every answer, a `Request-Tracking-Id` echoed in body and header, and HTTP Basic (the
//! key as password, any user name) next to `Bearer`.
//!
//! The tracking id is the `Request-Tracking-Id` header's when it is present and valid, else the
//! body's `request_tracking_id` (POST, once the body was read and the id in it is valid), else a
//! fresh UUID. Credentials are checked before the body is read, so a 401 or 403 echoes the
//! header's id or a generated one.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::auth::{authenticate, bearer_token, Caller};
use crate::domain::customer::{
    field_path, malformed_json, ContactsRequest, CustomerContact, CustomerId, InvalidRequest, TrackingId,
    TRACKING_ID_HEADER,
};
use crate::error::ApiError;
use crate::extract::{json_body, parse_document, DocumentError};
use crate::state::AppState;
use crate::store::customers::StoredCustomer;
use crate::store::{Scope, Store, Written};
use crate::validation::{Errors, FieldError};

/// Why a request failed: a shared error, or the violations of the request (400).
enum Failure {
    Api(ApiError),
    Invalid(Vec<FieldError>),
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure::Api(e)
    }
}

#[derive(Serialize)]
struct Success<'a, T: Serialize> {
    status: &'static str,
    request_tracking_id: &'a str,
    #[serde(flatten)]
    data: T,
}

#[derive(Serialize)]
struct FailureBody<'a> {
    status: &'static str,
    error: ErrorBody,
    request_tracking_id: &'a str,
}

#[derive(Serialize)]
struct ErrorBody {
    /// The HTTP status as a string, as seed 002 sends it.
    code: String,
    message: &'static str,
    errors: Vec<ErrorMessage>,
}

#[derive(Serialize)]
struct ErrorMessage {
    message: String,
}

/// `GET`'s data: the customer and its contacts, billing first.
#[derive(Serialize)]
struct CustomerData<'a> {
    customer_id: &'a str,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    contacts: Vec<ContactData<'a>>,
}

#[derive(Serialize)]
struct ContactData<'a> {
    #[serde(flatten)]
    contact: &'a CustomerContact,
    updated_at: DateTime<Utc>,
}

#[derive(Serialize)]
struct NoData {}

fn with_tracking_header(mut resp: Response, tracking_id: &TrackingId) -> Response {
    // Tracking ids are printable ASCII by construction, so this never fails.
    if let Ok(v) = HeaderValue::from_str(tracking_id.as_str()) {
        resp.headers_mut().insert(TRACKING_ID_HEADER, v);
    }
    resp
}

fn success<T: Serialize>(tracking_id: &TrackingId, data: T) -> Response {
    let body = Success { status: "Success", request_tracking_id: tracking_id.as_str(), data };
    with_tracking_header((StatusCode::OK, axum::Json(body)).into_response(), tracking_id)
}

/// Renders a failure in seed 002's envelope, with the headers the shared error carries
/// (`Retry-After`, and on 401 a challenge for each accepted scheme).
fn failure(f: Failure, tracking_id: &TrackingId) -> Response {
    let (status, messages, api_error) = match f {
        Failure::Invalid(errors) => {
            crate::observability::count_validation_failures(&errors);
            // `contacts[1].work_phone: must have 4 to 20 digits`, as seed 002's clients read it.
            let messages =
                errors.iter().map(|e| format!("{}: {}", field_path(&e.pointer), e.detail)).collect();
            (StatusCode::BAD_REQUEST, messages, None)
        }
        Failure::Api(e) => {
            let messages = match &e {
                ApiError::Internal(msg) => {
                    tracing::error!(error = %msg, "internal error");
                    vec!["internal error".to_owned()]
                }
                ApiError::Unauthorized => vec![
                    "missing or invalid credentials: send Authorization: Bearer <key>, or Basic with the key as password"
                        .to_owned(),
                ],
                ApiError::Unavailable => vec!["the store is unavailable; retry later".to_owned()],
                ApiError::Validation(errors) | ApiError::BadRequest { errors, .. } if !errors.is_empty() => {
                    errors.iter().map(|f| format!("{}: {}", f.pointer, f.detail)).collect()
                }
                other => vec![other.to_string()],
            };
            // Any 4xx with field errors is a validation failure in this dialect.
            let status =
                if matches!(e, ApiError::Validation(_)) { StatusCode::BAD_REQUEST } else { e.status() };
            (status, messages, Some(e))
        }
    };
    let message = match status {
        StatusCode::BAD_REQUEST => "Validation Error",
        StatusCode::INTERNAL_SERVER_ERROR | StatusCode::SERVICE_UNAVAILABLE => "Service Error",
        s => s.canonical_reason().unwrap_or("Error"),
    };
    let body = FailureBody {
        status: "Failure",
        error: ErrorBody {
            code: status.as_u16().to_string(),
            message,
            errors: messages.into_iter().map(|message| ErrorMessage { message }).collect(),
        },
        request_tracking_id: tracking_id.as_str(),
    };
    let mut resp = with_tracking_header((status, axum::Json(body)).into_response(), tracking_id);
    if let Some(e) = api_error {
        e.add_headers(resp.headers_mut());
        if matches!(e, ApiError::Unauthorized) {
            resp.headers_mut().append(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"property-contacts\""),
            );
        }
    }
    resp
}

/// Renders an error raised outside the handler (the request timeout) in this route's envelope, with
/// the tracking id of the request's header if it had a valid one.
pub fn render_error(e: ApiError, tracking_header: Option<&HeaderValue>) -> Response {
    let tracking_id = TrackingId::from_header(tracking_header.map(HeaderValue::as_bytes))
        .ok()
        .flatten()
        .unwrap_or_else(TrackingId::generate);
    failure(Failure::Api(e), &tracking_id)
}

/// The key in `Authorization`: `Bearer <key>`, or `Basic base64(user:key)` with any user name.
pub(crate) fn presented_key(headers: &HeaderMap) -> Option<String> {
    if let Some(key) = bearer_token(headers) {
        return Some(key.to_owned());
    }
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (_user, key) = decoded.split_once(':')?;
    Some(key.to_owned()).filter(|k| !k.is_empty())
}

async fn customer_caller<S: Store>(
    state: &AppState<S>,
    headers: &HeaderMap,
    scope: Scope,
) -> Result<Caller, ApiError> {
    let caller = authenticate(state, presented_key(headers).as_deref()).await?;
    caller.require(scope)?;
    Ok(caller)
}

/// The header's tracking id, or its violation.
fn header_tracking_id(headers: &HeaderMap) -> Result<Option<TrackingId>, FieldError> {
    TrackingId::from_header(headers.get(TRACKING_ID_HEADER).map(HeaderValue::as_bytes))
}

fn customer_id(path: Result<Path<String>, PathRejection>) -> Result<CustomerId, FieldError> {
    CustomerId::parse(path.as_ref().map(|Path(id)| id.as_str()).unwrap_or_default())
}

/// `POST /api/v1/customers/{customer_id}/contacts` (write scope): replace the customer's contact of
/// each type sent, creating the customer on its first write.
#[tracing::instrument(skip_all, fields(tracking_id = tracing::field::Empty))]
pub async fn upsert_customer_contacts<S: Store>(
    State(state): State<AppState<S>>,
    path: Result<Path<String>, PathRejection>,
    req: Request,
) -> Response {
    let from_header = header_tracking_id(req.headers());
    // Until the body is read, the header's id (or a fresh one) is the one to echo.
    let mut tracking_id = from_header.clone().ok().flatten();
    let result = async {
        let caller = customer_caller(&state, req.headers(), Scope::Write).await?;
        let dry = crate::api::dry_run::requested(req.uri())?;
        let bytes = json_body(req, &state).await?;
        let body: Value = parse_document(&bytes).map_err(|e| match e {
            DocumentError::Malformed(e) => Failure::Invalid(vec![malformed_json(e)]),
            DocumentError::Nul(errors) => Failure::Invalid(errors),
        })?;
        // Header, path and body are all checked, so one answer lists everything wrong.
        let mut errors = Errors::new();
        errors.extend(from_header.err());
        let customer_id = customer_id(path).map_err(|e| errors.extend([e])).ok();
        let parsed = ContactsRequest::parse(&body);
        let body_tracking_id = match &parsed {
            Ok(r) => r.request_tracking_id.clone(),
            Err(InvalidRequest { request_tracking_id, .. }) => request_tracking_id.clone(),
        };
        tracking_id = tracking_id.take().or(body_tracking_id);
        let request = parsed.map_err(|invalid| errors.extend(invalid.errors)).ok();
        let (customer_id, request) =
            errors.finish_some(customer_id.zip(request)).map_err(Failure::Invalid)?;
        let upsert = state.store.upsert_customer_contacts(
            &caller.tenant_id,
            &customer_id,
            &request.contacts,
            &caller.key_name,
        );
        let written = crate::store::dry_run::run_if(dry, upsert).await.map_err(ApiError::from)?;
        if dry {
            return Ok::<_, Failure>(());
        }
        let outcome = if written == Written::Created { "created" } else { "updated" };
        metrics::counter!("customer_contact_writes_total", "outcome" => outcome).increment(1);
        tracing::info!(
            customer_id = customer_id.as_str(),
            contacts = request.contacts.contacts().len(),
            outcome,
            "customer contacts written"
        );
        Ok::<_, Failure>(())
    }
    .await;
    let tracking_id = tracking_id.unwrap_or_else(TrackingId::generate);
    tracing::Span::current().record("tracking_id", tracking_id.as_str());
    match result {
        Ok(()) => success(&tracking_id, NoData {}),
        Err(f) => failure(f, &tracking_id),
    }
}

/// `GET /api/v1/customers/{customer_id}/contacts` (read scope): the customer's stored contacts,
/// billing first; 404 for a customer the caller's tenant does not have.
#[tracing::instrument(skip_all, fields(tracking_id = tracing::field::Empty))]
pub async fn get_customer_contacts<S: Store>(
    State(state): State<AppState<S>>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    let from_header = header_tracking_id(&headers);
    let tracking_id = from_header.clone().ok().flatten().unwrap_or_else(TrackingId::generate);
    tracing::Span::current().record("tracking_id", tracking_id.as_str());
    let result = async {
        let caller = customer_caller(&state, &headers, Scope::Read).await?;
        let mut errors = Errors::new();
        errors.extend(from_header.err());
        let customer_id = customer_id(path).map_err(|e| errors.extend([e])).ok();
        let customer_id = errors.finish_some(customer_id).map_err(Failure::Invalid)?;
        let customer = state
            .store
            .get_customer_contacts(&caller.tenant_id, &customer_id)
            .await
            .map_err(ApiError::from)?
            .ok_or(ApiError::NotFound("customer"))?;
        Ok::<_, Failure>(customer)
    }
    .await;
    match result {
        Ok(customer) => success(&tracking_id, customer_data(&customer)),
        Err(f) => failure(f, &tracking_id),
    }
}

fn customer_data(c: &StoredCustomer) -> CustomerData<'_> {
    CustomerData {
        customer_id: &c.customer_id,
        created_at: c.created_at,
        updated_at: c.updated_at,
        contacts: c
            .contacts
            .iter()
            .map(|s| ContactData { contact: &s.contact, updated_at: s.updated_at })
            .collect(),
    }
}
